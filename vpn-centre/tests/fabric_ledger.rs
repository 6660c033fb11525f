//! The centre on `FabricRegistry` against the live Fabric network, as the Org1 admin: enrolment writes the leased virtual IP to the ledger, bans from the dashboard and auto-ban commit there.
//!
//! The ledger is shared and never reset: every device here has a fresh UUID and placeholder
//! virtual IP, and each centre leases from its own random IPv6 /64, so no run collides with
//! another. What the centre wrote is read back through the contract as Org1's client (the
//! centre's own peer, so a committed write is visible at once) and as Org2's client (the other
//! peer, after its commit).

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::centre::Centre;
use common::dashboard_server::{FORM, send, session};
use common::sample;
use device_record::{DeviceRecord, DeviceRequest, NodeType};
use fabric_client::Contract;
use hyper::StatusCode;
use test_support::fabric::{LiveNetwork, unique_network, unique_uuid, unique_virtual_ip};
use test_support::wait::until;
use vpn_centre::autoban::AutoBanPolicy;
use vpn_centre::fabric_registry::FabricRegistry;
use vpn_centre::registry::{CentreRegistry, RegistryError};
use vpn_pki::{Cidr, EnrolmentLedger};
use warnings_api::EnrolBody;
use warnings_api::{ClientError, TlsIdentity, WarningClient, WarningFilter};

struct World {
    _dir: tempfile::TempDir,
    /// Org1's admin: registers devices, as an operator's `sf2c-registry` would.
    admin: Contract,
    /// Org1's client: the centre's peer, read-only.
    reader: Contract,
    /// Org2's client: the other organisation's peer, read-only.
    other_org: Contract,
    pool: Cidr,
    centre: Centre<FabricRegistry>,
}

async fn world(policy: AutoBanPolicy) -> World {
    let dir = tempfile::tempdir().unwrap();
    let net = LiveNetwork::get();
    let registry = FabricRegistry::from_settings(&net.settings("Org1", "admin")).unwrap();
    let pool = unique_network::<Cidr>();
    let centre = Centre::start_leasing(dir.path(), policy, Arc::new(registry), vec![pool]).await;
    World {
        _dir: dir,
        admin: net.contract("Org1", "admin").await,
        reader: net.contract("Org1", "client").await,
        other_org: net.contract("Org2", "client").await,
        pool,
        centre,
    }
}

async fn get(contract: &Contract, uuid: &str) -> DeviceRecord {
    let bytes = contract
        .evaluate("GetDevice", &[uuid.as_bytes()])
        .await
        .unwrap();
    DeviceRecord::from_json(&bytes).unwrap()
}

impl World {
    /// Registers a fresh device of `node_type` at a fresh placeholder IP; returns its UUID and IP.
    async fn register(&self, node_type: NodeType) -> (String, String) {
        let (uuid, ip) = (unique_uuid(), unique_virtual_ip());
        let request = DeviceRequest {
            uuid: uuid.clone(),
            node_type,
            virtual_ip: ip.clone(),
            public_key: rcgen::KeyPair::generate().unwrap().public_key_pem(),
            labels: Default::default(),
        };
        self.admin
            .submit("RegisterDevice", &[serde_json::to_vec(&request).unwrap()])
            .await
            .unwrap();
        (uuid, ip)
    }

    async fn on_ledger(&self, uuid: &str) -> DeviceRecord {
        get(&self.reader, uuid).await
    }

    /// Waits until Org2's peer shows `uuid` as `expected` describes.
    async fn on_other_peer(&self, uuid: &str, expected: impl Fn(&DeviceRecord) -> bool) {
        let seen = until(
            Duration::from_secs(10),
            Duration::from_millis(50),
            || async {
                let record = get(&self.other_org, uuid).await;
                expected(&record).then_some(())
            },
        )
        .await;
        assert!(
            seen.is_some(),
            "Org2's peer never showed the change to {uuid}"
        );
    }

    fn client(&self) -> WarningClient {
        WarningClient::new(&self.centre.url).unwrap()
    }

    async fn token(&self, uuid: &str) -> String {
        let ttl = Duration::from_secs(600);
        self.centre.pki.issue_token(uuid, ttl).await.unwrap().secret
    }
}

fn body(token: &str, uuid: &str, key: &rcgen::KeyPair) -> EnrolBody {
    EnrolBody {
        token: token.to_string(),
        uuid: uuid.to_string(),
        public_key: Some(key.public_key_pem()),
        csr: None,
    }
}

fn refusal(e: ClientError) -> (u16, String) {
    match e {
        ClientError::Refused { status, body } => (status.as_u16(), body.error),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

async fn count(client: &WarningClient) -> Result<u64, ClientError> {
    client.count(&WarningFilter::default()).await
}

fn refused_by_tls(result: Result<u64, ClientError>) -> bool {
    matches!(result, Err(ClientError::Unreachable { .. }))
}

fn forbidden(result: Result<u64, ClientError>) -> bool {
    matches!(result, Err(ClientError::Refused { status, .. }) if status == StatusCode::FORBIDDEN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_writes_the_leased_virtual_ip_to_the_ledger_once_per_token() {
    let w = world(AutoBanPolicy::default()).await;
    let (gw, placeholder) = w.register(NodeType::Gateway).await;
    let token = w.token(&gw).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let answer = w.client().enrol(&body(&token, &gw, &key)).await.unwrap();
    let leased = answer.virtual_ip.v6.expect("an IPv6 lease");
    assert_eq!(
        answer.virtual_ip.v4, None,
        "only an IPv6 pool is configured"
    );

    let record = w.on_ledger(&gw).await;
    assert_ne!(record.virtual_ip, placeholder, "IP not updated");
    let ip: IpAddr = record.virtual_ip.parse().unwrap();
    assert_eq!(ip, leased);
    assert!(w.pool.contains(ip), "{ip} is not from {}", w.pool);
    assert_eq!(record.version, 2, "registered, then enrolled: {record:?}");
    // Everything but the IP is as registered.
    assert_eq!(record.node_type, NodeType::Gateway);
    assert!(!record.banned);
    w.on_other_peer(&gw, |r| r.virtual_ip == record.virtual_ip)
        .await;
    // The same record through the centre's own views, and its history shows both writes.
    let registry = w.centre.registry.as_ref();
    assert_eq!(registry.get(&gw).await.unwrap().as_ref(), Some(&record));
    assert_eq!(
        EnrolmentLedger::get_device(registry, &gw)
            .await
            .unwrap()
            .as_ref(),
        Some(&record)
    );
    let history = registry.history(&gw).await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0].record.as_ref().unwrap().virtual_ip, placeholder);
    assert_eq!(history[1].record.as_ref(), Some(&record));
    assert!(registry.list().await.unwrap().contains(&record));

    // The token is single use, and the refusal writes nothing.
    let again = rcgen::KeyPair::generate().unwrap();
    let (status, error) = refusal(
        w.client()
            .enrol(&body(&token, &gw, &again))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 403, "{error}");
    assert!(error.contains("already used"), "{error}");
    assert_eq!(w.on_ledger(&gw).await.version, 2);

    // The enrolled gateway reaches the validators' listener, where gateways are not admitted.
    let identity = TlsIdentity {
        ca_pem: answer.ca,
        cert_pem: answer.certificate,
        key_pem: key.serialize_pem(),
    };
    assert!(forbidden(count(&w.centre.client(&identity)).await));

    // An unknown device is "not found", not an unreachable ledger.
    let unknown = unique_uuid();
    assert_eq!(registry.get(&unknown).await.unwrap(), None);
    assert_eq!(
        registry.ban(&unknown, "x").await,
        Err(RegistryError::NotFound(unknown.clone()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_and_banned_devices_cannot_enrol() {
    let w = world(AutoBanPolicy::default()).await;
    let key = rcgen::KeyPair::generate().unwrap();

    let unknown = unique_uuid();
    let token = w.token(&unknown).await;
    let (status, error) = refusal(
        w.client()
            .enrol(&body(&token, &unknown, &key))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 404, "{error}");
    assert!(error.contains("not registered"), "{error}");

    // Banned on the ledger by an operator, not through the centre.
    let (gw, placeholder) = w.register(NodeType::Gateway).await;
    w.admin
        .submit("BanDevice", &[gw.as_bytes(), b"stolen"])
        .await
        .unwrap();
    let token = w.token(&gw).await;
    let (status, error) = refusal(
        w.client()
            .enrol(&body(&token, &gw, &key))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 403, "{error}");
    assert!(error.contains("banned"), "{error}");
    let record = w.on_ledger(&gw).await;
    assert_eq!(
        (record.virtual_ip.as_str(), record.version),
        (placeholder.as_str(), 2)
    );

    // The refusal consumed nothing: once unbanned, the same token enrols.
    w.admin
        .submit("UnbanDevice", &[gw.as_bytes()])
        .await
        .unwrap();
    let answer = w.client().enrol(&body(&token, &gw, &key)).await.unwrap();
    let record = w.on_ledger(&gw).await;
    assert_eq!(
        Some(record.virtual_ip.parse().unwrap()),
        answer.virtual_ip.v6
    );
    assert!(!record.banned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_ban_is_on_the_ledger_and_revokes_the_certificate() {
    let w = world(AutoBanPolicy::default()).await;
    let (gw, _) = w.register(NodeType::Gateway).await;
    let identity = w.centre.enrol_registered(&gw).await;
    assert!(forbidden(count(&w.centre.client(&identity)).await));

    let (cookie, csrf) = session(w.centre.addr).await;
    let reply = send(
        w.centre.addr,
        "POST",
        &format!("/dashboard/devices/{gw}/ban"),
        &[FORM, ("Cookie", &cookie)],
        &format!("csrf={csrf}&reason=seal+broken"),
    )
    .await;
    assert_eq!(reply.status, 303, "{reply:?}");
    let record = w.on_ledger(&gw).await;
    assert!(record.banned);
    assert_eq!(record.ban_reason.as_deref(), Some("seal broken"));
    w.on_other_peer(&gw, |r| r.banned).await;
    assert!(refused_by_tls(count(&w.centre.client(&identity)).await));

    let reply = send(
        w.centre.addr,
        "POST",
        &format!("/dashboard/devices/{gw}/unban"),
        &[FORM, ("Cookie", &cookie)],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(reply.status, 303, "{reply:?}");
    assert!(!w.on_ledger(&gw).await.banned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_ban_bans_on_the_ledger() {
    let w = world(AutoBanPolicy::default()).await;
    let (gw, _) = w.register(NodeType::Gateway).await;
    let (v1, _) = w.register(NodeType::Validator).await;
    let (v2, _) = w.register(NodeType::Validator).await;
    let target = w.centre.enrol_registered(&gw).await;
    let v1 = w.centre.client(&w.centre.enrol_registered(&v1).await);
    let v2 = w.centre.client(&w.centre.enrol_registered(&v2).await);

    for n in 0..4 {
        let client = if n % 2 == 0 { &v1 } else { &v2 };
        client
            .report(&sample("x", Some(&gw), 1004, 2_000 + n))
            .await
            .unwrap();
    }
    // The centre bans before it answers, on the peer read here: a ban would show already.
    assert!(!w.on_ledger(&gw).await.banned, "tripped early");
    v2.report(&sample("x", Some(&gw), 1004, 3_000))
        .await
        .unwrap();

    let record = w.on_ledger(&gw).await;
    assert!(record.banned);
    assert_eq!(
        record.ban_reason.as_deref(),
        Some("auto-ban: 5 warnings from 2 validators within 60 s")
    );
    w.on_other_peer(&gw, |r| r.banned).await;
    assert!(refused_by_tls(count(&w.centre.client(&target)).await));
}
