//! The centre on `FabricRegistry` against fabric-client's `DoubleNetwork`: enrolment writes the
//! virtual IP to the ledger, a dashboard ban and auto-ban ban on the ledger and revoke certificates.
//!
//! `DoubleNetwork` serves `GatewayDouble`, an in-process TEST DOUBLE of a peer's Gateway service
//! that runs the real device-registry contract on an in-memory ledger, over TLS, with
//! `network.json` and MSP folders. The centre signs as the Org1 admin from `network.json`. These
//! tests do NOT show conformance with a real Fabric peer.

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use common::centre::Centre;
use common::dashboard_server::{FORM, send, session};
use common::sample;
use device_record::{DeviceRecord, DeviceRequest, NodeType};
use fabric_client::double_network::{CHAINCODE, CHANNEL, PEER_HOST};
use fabric_client::{Contract, DoubleNetwork, Gateway, LedgerSettings};
use hyper::StatusCode;
use vpn_centre::autoban::AutoBanPolicy;
use vpn_centre::fabric_registry::FabricRegistry;
use vpn_centre::registry::{RegistryError, RegistryView};
use vpn_centre::{ClientError, WarningClient, WarningFilter};
use vpn_pki::RegistryLedger;

const GW: &str = "5d2a7c41-8e3f-4b6a-9d1c-2f4e6a8b0c13";
const V1: &str = "9c1d3e5f-7a2b-4c4d-8e6f-0a1b2c3d4e5f";
const V2: &str = "2b4d6f8a-1c3e-4a5b-9c7d-e9f0a1b2c3d4";

struct World {
    _dir: tempfile::TempDir,
    net: DoubleNetwork,
    /// A member's read-only view of the ledger, to check what the centre wrote.
    reader: Contract,
    centre: Centre<FabricRegistry>,
}

async fn contract(net: &DoubleNetwork, admin: bool) -> Contract {
    let identity = if admin { net.admin() } else { net.client() };
    Gateway::connect(
        &net.addr.to_string(),
        &net.tls_root_pem,
        PEER_HOST,
        identity,
    )
    .await
    .unwrap()
    .network(CHANNEL)
    .contract(CHAINCODE)
}

fn registry(net: &DoubleNetwork) -> FabricRegistry {
    FabricRegistry::from_settings(&LedgerSettings {
        network: net.network_json.clone(),
        org: "Org1".into(),
        identity: "admin".into(),
    })
    .unwrap()
}

/// Registers `uuid` through the contract as the admin, at `ip`, with a fresh P-256 key.
async fn register(net: &DoubleNetwork, uuid: &str, node_type: NodeType, ip: &str) {
    let key = rcgen::KeyPair::generate().unwrap();
    let request = DeviceRequest {
        uuid: uuid.into(),
        node_type,
        virtual_ip: ip.into(),
        public_key: key.public_key_pem(),
        labels: Default::default(),
    };
    contract(net, true)
        .await
        .submit("RegisterDevice", &[serde_json::to_vec(&request).unwrap()])
        .await
        .unwrap();
}

async fn world(policy: AutoBanPolicy) -> World {
    let dir = tempfile::tempdir().unwrap();
    let fabric = dir.path().join("fabric");
    std::fs::create_dir_all(&fabric).unwrap();
    let net = DoubleNetwork::start(&fabric).await;
    let reader = contract(&net, false).await;
    let centre = Centre::start_on(dir.path(), policy, Arc::new(registry(&net))).await;
    World {
        _dir: dir,
        net,
        reader,
        centre,
    }
}

impl World {
    async fn on_ledger(&self, uuid: &str) -> DeviceRecord {
        let bytes = self
            .reader
            .evaluate("GetDevice", &[uuid.as_bytes()])
            .await
            .unwrap();
        DeviceRecord::from_json(&bytes).unwrap()
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
async fn enrolment_writes_the_leased_virtual_ip_to_the_ledger() {
    let w = world(AutoBanPolicy::default()).await;
    register(&w.net, GW, NodeType::Gateway, "10.99.0.7").await;
    let identity = w.centre.enrol_registered(GW).await;

    let record = w.on_ledger(GW).await;
    let ip: IpAddr = record.virtual_ip.parse().unwrap();
    assert_ne!(record.virtual_ip, "10.99.0.7", "IP not updated");
    assert!(
        matches!(ip, IpAddr::V4(v4) if v4.octets()[..3] == [10, 8, 0]),
        "{ip} is not from the pool"
    );
    assert_eq!(record.version, 2);
    // Everything but the IP is as registered.
    assert_eq!(record.node_type, NodeType::Gateway);
    assert!(!record.banned);
    // The same record through the centre's own views, and its history shows both writes.
    assert_eq!(
        w.centre.registry.get(GW).await.unwrap().as_ref(),
        Some(&record)
    );
    assert_eq!(
        RegistryLedger::get_device(w.centre.registry.as_ref(), GW)
            .await
            .unwrap()
            .as_ref(),
        Some(&record)
    );
    assert_eq!(w.centre.registry.history(GW).await.unwrap().len(), 2);
    // The enrolled gateway reaches the validators' listener, where gateways are not admitted.
    assert!(forbidden(count(&w.centre.client(&identity)).await));

    // An unknown device is "not found", not an unreachable ledger.
    let unknown = "7e6d5c4b-3a29-4181-9f0e-d1c2b3a49586";
    assert_eq!(w.centre.registry.get(unknown).await.unwrap(), None);
    assert_eq!(
        w.centre.registry.ban(unknown, "x").await,
        Err(RegistryError::NotFound(unknown.into()))
    );
    assert_eq!(w.centre.registry.list().await.unwrap(), vec![record]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_ban_is_on_the_ledger_and_revokes_the_certificate() {
    let w = world(AutoBanPolicy::default()).await;
    register(&w.net, GW, NodeType::Gateway, "10.99.0.8").await;
    let identity = w.centre.enrol_registered(GW).await;
    assert!(forbidden(count(&w.centre.client(&identity)).await));

    let (cookie, csrf) = session(w.centre.addr).await;
    let reply = send(
        w.centre.addr,
        "POST",
        &format!("/dashboard/devices/{GW}/ban"),
        &[FORM, ("Cookie", &cookie)],
        &format!("csrf={csrf}&reason=seal+broken"),
    )
    .await;
    assert_eq!(reply.status, 303, "{reply:?}");
    let record = w.on_ledger(GW).await;
    assert!(record.banned);
    assert_eq!(record.ban_reason.as_deref(), Some("seal broken"));
    assert!(refused_by_tls(count(&w.centre.client(&identity)).await));

    let reply = send(
        w.centre.addr,
        "POST",
        &format!("/dashboard/devices/{GW}/unban"),
        &[FORM, ("Cookie", &cookie)],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(reply.status, 303, "{reply:?}");
    assert!(!w.on_ledger(GW).await.banned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_ban_bans_on_the_ledger() {
    let w = world(AutoBanPolicy::default()).await;
    register(&w.net, GW, NodeType::Gateway, "10.99.0.9").await;
    register(&w.net, V1, NodeType::Validator, "10.99.0.10").await;
    register(&w.net, V2, NodeType::Validator, "10.99.0.11").await;
    let target = w.centre.enrol_registered(GW).await;
    let v1 = w.centre.client(&w.centre.enrol_registered(V1).await);
    let v2 = w.centre.client(&w.centre.enrol_registered(V2).await);

    for n in 0..4 {
        let client = if n % 2 == 0 { &v1 } else { &v2 };
        client
            .report(&sample("x", Some(GW), -32001, 2_000 + n))
            .await
            .unwrap();
    }
    assert!(!w.on_ledger(GW).await.banned, "tripped early");
    v2.report(&sample("x", Some(GW), -32001, 3_000))
        .await
        .unwrap();

    let record = w.on_ledger(GW).await;
    assert!(record.banned);
    assert_eq!(
        record.ban_reason.as_deref(),
        Some("auto-ban: 5 warnings from 2 validators within 60 s")
    );
    assert!(refused_by_tls(count(&w.centre.client(&target)).await));
}
