//! The IP pool never hands out an address registered on the live ledger by hand: the centre (on
//! `FabricRegistry` as Org1's admin) learns taken addresses from the chaincode's refusal, from
//! its ledger follower's first listing and from the follower's events, and enrolment moves on to
//! the next free address instead of failing.
//!
//! "By hand" is a registry admin writing `RegisterDevice` with a `virtual_ip` inside the centre's
//! network, as `sf2c-registry register --virtual-ip` does: Org2's admin (another organisation),
//! or Org1's. Each test leases from its own random IPv6 /64, so the shared ledger never collides.

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::centre::Centre;
use device_record::{DeviceRecord, DeviceRequest, NodeType};
use fabric_client::Contract;
use test_support::fabric::{LiveNetwork, unique_network, unique_uuid, unique_virtual_ip};
use test_support::wait::until;
use vpn_centre::autoban::AutoBanPolicy;
use vpn_centre::fabric_registry::FabricRegistry;
use vpn_centre::ledger_follower::{CHECKPOINT_FILE, LedgerFollower};
use vpn_centre::registry::CentreRegistry;
use vpn_pki::Cidr;
use warnings_api::EnrolBody;
use warnings_api::WarningClient;

struct World {
    dir: tempfile::TempDir,
    net: LiveNetwork,
    pool: Cidr,
    centre: Centre<FabricRegistry>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let net = LiveNetwork::get();
    let registry = FabricRegistry::from_settings(&net.settings("Org1", "admin")).unwrap();
    let pool = unique_network::<Cidr>();
    let policy = AutoBanPolicy::default();
    let centre = Centre::start_leasing(dir.path(), policy, Arc::new(registry), vec![pool]).await;
    World {
        dir,
        net,
        pool,
        centre,
    }
}

impl World {
    fn host(&self, n: u128) -> IpAddr {
        self.pool.nth(n).unwrap()
    }

    /// Registers a fresh gateway at `ip` as `org`'s admin; returns its UUID.
    async fn register(&self, org: &str, ip: &str) -> String {
        let uuid = unique_uuid();
        let request = DeviceRequest {
            uuid: uuid.clone(),
            node_type: NodeType::Gateway,
            virtual_ip: ip.to_string(),
            public_key: rcgen::KeyPair::generate().unwrap().public_key_pem(),
            labels: Default::default(),
        };
        let admin: Contract = self.net.contract(org, "admin").await;
        admin
            .submit("RegisterDevice", &[serde_json::to_vec(&request).unwrap()])
            .await
            .unwrap_or_else(|e| panic!("registering {uuid} at {ip} as {org}: {e}"));
        uuid
    }

    async fn on_ledger(&self, uuid: &str) -> DeviceRecord {
        self.centre.registry.get(uuid).await.unwrap().unwrap()
    }

    /// Enrols `uuid` over HTTP; the address it was given.
    async fn enrol(&self, uuid: &str) -> IpAddr {
        let ttl = Duration::from_secs(600);
        let token = self.centre.pki.issue_token(uuid, ttl).await.unwrap().secret;
        let answer = WarningClient::new(&self.centre.url)
            .unwrap()
            .enrol(&EnrolBody {
                token,
                uuid: uuid.to_string(),
                public_key: Some(rcgen::KeyPair::generate().unwrap().public_key_pem()),
                csr: None,
            })
            .await
            .unwrap_or_else(|e| panic!("enrolment of {uuid} failed: {e}"));
        answer.virtual_ip.v6.expect("an IPv6 address")
    }

    async fn holder(&self, ip: IpAddr) -> Option<String> {
        self.centre.pki.ledger_holder(ip).await.unwrap()
    }
}

#[tokio::test]
async fn an_address_the_chaincode_refuses_as_taken_is_skipped_and_remembered() {
    let w = world().await;
    // Another organisation registered a device at the pool's first address by hand.
    let by_hand = w.register("Org2", &w.host(2).to_string()).await;
    let device = w.register("Org1", &unique_virtual_ip()).await;
    assert_eq!(
        w.holder(w.host(2)).await,
        None,
        "the centre cannot know yet"
    );

    let got = w.enrol(&device).await;
    assert_eq!(
        got,
        w.host(3),
        "the taken address is skipped, not a failure"
    );
    assert_eq!(w.on_ledger(&device).await.virtual_ip, w.host(3).to_string());
    assert_eq!(
        w.on_ledger(&by_hand).await.virtual_ip,
        w.host(2).to_string()
    );
    assert_eq!(w.holder(w.host(2)).await.as_deref(), Some(by_hand.as_str()));
    // The next device goes straight past both.
    let next = w.register("Org1", &unique_virtual_ip()).await;
    assert_eq!(w.enrol(&next).await, w.host(4));
}

#[tokio::test]
async fn the_follower_learns_addresses_from_the_listing_and_from_events() {
    let w = world().await;
    let before = w.register("Org1", &w.host(2).to_string()).await;
    let settings = w.net.settings("Org1", "admin");
    let view: Arc<dyn CentreRegistry> = w.centre.registry.clone();
    let follower = LedgerFollower::new(&settings, w.dir.path(), w.centre.pki.clone(), Some(view))
        .unwrap()
        .spawn();
    // The checkpoint is written after the first listing is recorded.
    let checkpoint = w.dir.path().join(CHECKPOINT_FILE);
    let started = until(
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async { checkpoint.exists().then_some(()) },
    )
    .await;
    assert!(started.is_some(), "the follower never started");
    assert_eq!(w.holder(w.host(2)).await.as_deref(), Some(before.as_str()));

    // Registered after the follower started: learnt from the event, before any enrolment.
    let after = w.register("Org2", &w.host(3).to_string()).await;
    let learnt = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { (w.holder(w.host(3)).await.as_deref() == Some(after.as_str())).then_some(()) },
    )
    .await;
    let (_, took) = learnt.expect("the follower never recorded the hand-registered address");
    eprintln!("registration committed → address known to the PKI within {took:?}");

    let device = w.register("Org1", &unique_virtual_ip()).await;
    assert_eq!(w.enrol(&device).await, w.host(4));
    // The device's own hand-registered address in the pool is kept when it enrols.
    assert_eq!(w.enrol(&before).await, w.host(2));
    follower.abort();
}
