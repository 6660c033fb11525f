//! The validator reading the registry through `FabricRegistrySource` from `DoubleNetwork`.
//!
//! `DoubleNetwork` serves fabric-client's `GatewayDouble`, an in-process TEST DOUBLE of a peer's
//! Gateway service that runs the real device-registry contract on an in-memory ledger, over TLS,
//! with `network.json` and MSP folders. Registry writes go through the contract as the Org1
//! admin. These tests show the wiring and the follow/resume logic; they do NOT show conformance
//! with a real Fabric peer.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use device_record::{DeviceRequest, NodeType};
use fabric_client::double_network::{CHAINCODE, CHANNEL, PEER_HOST};
use fabric_client::{Contract, DoubleNetwork, Gateway};
use fog_validator::registry::source::RegistrySource;
use fog_validator::testkit::TestDevice;
use fog_validator::validator::now_ms;
use fog_validator::{FabricRegistrySource, LedgerSettings, RunningValidator, code};
use signed_message::Algorithm;
use std::sync::Arc;
use support::*;

/// The registry administrator's contract on the double.
async fn admin(net: &DoubleNetwork) -> Contract {
    Gateway::connect(
        &net.addr.to_string(),
        &net.tls_root_pem,
        PEER_HOST,
        net.admin(),
    )
    .await
    .unwrap()
    .network(CHANNEL)
    .contract(CHAINCODE)
}

async fn register(admin: &Contract, device: &TestDevice, ip: &str) -> u64 {
    let request = DeviceRequest {
        uuid: device.uuid.clone(),
        node_type: NodeType::Gateway,
        virtual_ip: ip.into(),
        public_key: device.record.public_key.clone(),
        labels: Default::default(),
    };
    let body = serde_json::to_vec(&request).unwrap();
    admin.submit("RegisterDevice", &[body]).await.unwrap().block
}

async fn ban(admin: &Contract, device: &TestDevice) -> u64 {
    admin
        .submit(
            "BanDevice",
            &[device.uuid.as_bytes(), b"tampered enclosure".as_slice()],
        )
        .await
        .unwrap()
        .block
}

/// The validator's source: network.json, Org1, the read-only client identity.
fn source(net: &DoubleNetwork) -> Arc<FabricRegistrySource> {
    let settings = LedgerSettings {
        network: net.network_json.clone(),
        org: "Org1".into(),
        identity: "client".into(),
    };
    Arc::new(FabricRegistrySource::from_settings(&settings).unwrap())
}

struct World {
    dir: tempfile::TempDir,
    net: DoubleNetwork,
    admin: Contract,
    pki: Pki,
    sink: Sink,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let fabric = dir.path().join("fabric");
    std::fs::create_dir_all(&fabric).unwrap();
    let net = DoubleNetwork::start(&fabric).await;
    let admin = admin(&net).await;
    let pki = Pki::start(dir.path()).await;
    let sink = Sink::start(&dir.path().join("sink.db"), 0).await;
    World {
        dir,
        net,
        admin,
        pki,
        sink,
    }
}

impl World {
    async fn validator(&self, data: &Path) -> RunningValidator {
        start(
            &config(&self.pki, data, self.sink.url(), None),
            source(&self.net),
        )
        .await
    }

    /// Sends `device`'s next reading over mutual TLS; returns the JSON-RPC error code, if any.
    async fn send(&self, running: &RunningValidator, device: &mut TestDevice) -> Option<i64> {
        let client = self.pki.client(&device.uuid);
        let message = device.next_message(now_ms());
        error_code(&submit(&client, running.addr, &message).await)
    }
}

fn cached(running: &RunningValidator, uuid: &str) -> bool {
    running.validator.registry.cache.get(uuid).is_some()
}

fn banned(running: &RunningValidator, uuid: &str) -> bool {
    running
        .validator
        .registry
        .cache
        .get(uuid)
        .is_some_and(|d| d.record.banned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_follows_registrations_and_enforces_a_ban_within_a_second() {
    let w = world().await;
    let mut a = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let mut b = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    register(&w.admin, &a, "10.8.1.1").await;

    let running = w.validator(&w.dir.path().join("validator")).await;
    // a came with the start-up snapshot.
    assert!(cached(&running, &a.uuid));
    assert_eq!(w.send(&running, &mut a).await, None);

    // b is registered while the validator runs: it arrives as an event, before any message asks.
    register(&w.admin, &b, "10.8.1.2").await;
    let arrived = eventually(Duration::from_secs(3), || cached(&running, &b.uuid)).await;
    assert!(arrived.is_some(), "registration event not applied");
    assert_eq!(w.send(&running, &mut b).await, None);

    // Ban a; from the commit on, send until the first refusal.
    ban(&w.admin, &a).await;
    let committed = Instant::now();
    let refused_after = loop {
        match w.send(&running, &mut a).await {
            Some(c) => {
                assert_eq!(c, i64::from(code::BANNED));
                break committed.elapsed();
            }
            None => assert!(
                committed.elapsed() < Duration::from_secs(5),
                "ban not enforced after 5 s"
            ),
        }
    };
    println!("ban committed -> first refusal: {refused_after:?}");
    assert!(
        refused_after < Duration::from_secs(1),
        "ban enforced after {refused_after:?}"
    );
    // b is untouched by a's ban.
    assert_eq!(w.send(&running, &mut b).await, None);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_validator_resumes_from_its_checkpoint_and_misses_nothing() {
    let w = world().await;
    let data = w.dir.path().join("validator");
    let mut a = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let b = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    let mut c = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    register(&w.admin, &a, "10.8.2.1").await;

    let running = w.validator(&data).await;
    let b_block = register(&w.admin, &b, "10.8.2.2").await;
    assert!(
        eventually(Duration::from_secs(3), || cached(&running, &b.uuid))
            .await
            .is_some()
    );
    assert_eq!(w.send(&running, &mut a).await, None);
    running.shutdown().await;
    let saved = fog_validator::registry::checkpoint::load(&data)
        .unwrap()
        .unwrap();
    assert_eq!(
        saved.block, b_block,
        "checkpoint is at the last applied event"
    );

    // While the validator is down: a is banned, c is registered.
    ban(&w.admin, &a).await;
    register(&w.admin, &c, "10.8.2.3").await;

    let running = w.validator(&data).await;
    let caught_up = eventually(Duration::from_secs(3), || {
        banned(&running, &a.uuid) && cached(&running, &c.uuid)
    })
    .await;
    assert!(
        caught_up.is_some(),
        "events committed while down not applied"
    );
    // Counted lookups stay zero: c came from the resumed stream, not from a cache miss.
    let lookups = running
        .validator
        .metrics
        .lookups
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(lookups, 0);
    assert_eq!(
        w.send(&running, &mut a).await,
        Some(i64::from(code::BANNED))
    );
    assert_eq!(w.send(&running, &mut c).await, None);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_lists_looks_up_and_streams_what_comes_after_its_snapshot() {
    let w = world().await;
    let devices: Vec<TestDevice> = (0..3)
        .map(|_| TestDevice::new(Algorithm::EdDSA, NodeType::Gateway))
        .collect();
    for (i, d) in devices.iter().enumerate() {
        register(&w.admin, d, &format!("10.8.3.{}", i + 1)).await;
    }
    let source = source(&w.net);
    let (records, block) = source.snapshot().await.unwrap();
    let mut listed: Vec<_> = records.iter().map(|r| r.uuid.clone()).collect();
    listed.sort();
    let mut expected: Vec<_> = devices.iter().map(|d| d.uuid.clone()).collect();
    expected.sort();
    assert_eq!(listed, expected);

    // Committed after the snapshot, before the follower asks for events: still delivered.
    let late = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    let late_block = register(&w.admin, &late, "10.8.3.9").await;
    let mut events = source.events_from(block).await.unwrap();
    let (got_block, event) = tokio::time::timeout(Duration::from_secs(3), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got_block, event.uuid.as_str()),
        (late_block, late.uuid.as_str())
    );
    assert!(event.record.is_some());

    // Resuming from a block replays that block and everything after it.
    let mut resumed = source.events_from(late_block).await.unwrap();
    let (again, event) = tokio::time::timeout(Duration::from_secs(3), resumed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again, event.uuid.as_str()),
        (late_block, late.uuid.as_str())
    );

    let found = source.get_device(&devices[1].uuid).await.unwrap().unwrap();
    assert_eq!(found.virtual_ip, "10.8.3.2");
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(source.get_device(&unknown).await.unwrap(), None);
}
