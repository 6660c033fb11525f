//! The validator reading the registry through `FabricRegistryFeed` from the live Fabric network.
//!
//! Registry writes go through the device-registry chaincode as the Org1 admin; the validator reads
//! as the Org2 client, so every change crosses both peers. The ledger is shared and never reset:
//! each test uses fresh devices and only looks for what it wrote.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use device_record::{DeviceRequest, NodeType, RegistryEvent};
use fabric_client::Contract;
use fog_validator::registry::feed::{EventStream, RegistryFeed};
use fog_validator::validator::now_ms;
use fog_validator::{FabricRegistryFeed, RunningValidator, code};
use signed_message::Algorithm;
use support::*;
use test_doubles::TestDevice;
use test_support::fabric::{LiveNetwork, unique_virtual_ip};

/// How long a committed change may take to reach the validator before a test fails.
const PROPAGATION: Duration = Duration::from_secs(10);

async fn register(admin: &Contract, device: &TestDevice) -> u64 {
    let request = DeviceRequest {
        uuid: device.uuid.clone(),
        node_type: NodeType::Gateway,
        virtual_ip: unique_virtual_ip(),
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

/// The validator's feed: the live network.json, Org2, the read-only client identity.
fn feed(net: &LiveNetwork) -> Arc<FabricRegistryFeed> {
    Arc::new(FabricRegistryFeed::from_settings(&net.settings("Org2", "client")).unwrap())
}

/// The first event of `uuid` on `stream` (other writers' events are skipped), with its block.
async fn next_of(stream: &mut EventStream, uuid: &str) -> (u64, RegistryEvent) {
    let wait = async {
        loop {
            let (block, event) = stream.recv().await.expect("event stream ended");
            if event.uuid == uuid {
                return (block, event);
            }
        }
    };
    tokio::time::timeout(PROPAGATION, wait)
        .await
        .unwrap_or_else(|_| panic!("no event of {uuid} within {PROPAGATION:?}"))
}

struct World {
    dir: tempfile::TempDir,
    net: LiveNetwork,
    admin: Contract,
    pki: Pki,
    sink: Sink,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
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
            feed(&self.net),
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
async fn the_validator_follows_registrations_and_enforces_a_ban_within_seconds() {
    let w = world().await;
    let mut a = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let mut b = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    register(&w.admin, &a).await;

    let running = w.validator(&w.dir.path().join("validator")).await;
    // a came with the start-up snapshot.
    assert!(
        cached(&running, &a.uuid),
        "a device registered before start is not loaded"
    );
    assert_eq!(w.send(&running, &mut a).await, None);

    // b is registered while the validator runs: it arrives as an event, before any message asks.
    register(&w.admin, &b).await;
    let arrived = eventually(PROPAGATION, || cached(&running, &b.uuid)).await;
    println!("registration committed -> cached: {arrived:?}");
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
                committed.elapsed() < PROPAGATION,
                "ban not enforced after {PROPAGATION:?}"
            ),
        }
    };
    println!("ban committed -> first refusal (code 1003): {refused_after:?}");
    assert!(
        refused_after < Duration::from_secs(5),
        "ban enforced only after {refused_after:?}"
    );
    // b is untouched by a's ban, and no message needed a lookup: both came from the ledger feed.
    assert_eq!(w.send(&running, &mut b).await, None);
    let lookups = running
        .validator
        .metrics
        .lookups
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(lookups, 0);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_validator_resumes_from_its_checkpoint_and_misses_nothing() {
    let w = world().await;
    let data = w.dir.path().join("validator");
    let mut a = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let b = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    let mut c = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    register(&w.admin, &a).await;

    let running = w.validator(&data).await;
    let b_block = register(&w.admin, &b).await;
    assert!(
        eventually(PROPAGATION, || cached(&running, &b.uuid))
            .await
            .is_some()
    );
    assert_eq!(w.send(&running, &mut a).await, None);
    running.shutdown().await;
    let saved = fog_validator::registry::checkpoint::load(&data)
        .unwrap()
        .unwrap();
    // Other writers share the ledger, so later events may have been applied too.
    assert!(
        saved.block >= b_block,
        "checkpoint at block {} is before b's event (block {b_block})",
        saved.block
    );
    assert!(saved.records.iter().any(|r| r.uuid == b.uuid));

    // While the validator is down: a is banned, c is registered.
    ban(&w.admin, &a).await;
    register(&w.admin, &c).await;

    let running = w.validator(&data).await;
    // Restored from the checkpoint at start, before any event is read.
    assert!(cached(&running, &a.uuid) && cached(&running, &b.uuid));
    let caught_up = eventually(PROPAGATION, || {
        banned(&running, &a.uuid) && cached(&running, &c.uuid)
    })
    .await;
    println!("restart -> caught up with changes made while down: {caught_up:?}");
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
    for d in &devices {
        register(&w.admin, d).await;
    }
    let feed = feed(&w.net);
    let (records, block) = feed.snapshot().await.unwrap();
    for d in &devices {
        let listed = records.iter().find(|r| r.uuid == d.uuid);
        let listed = listed.unwrap_or_else(|| panic!("{} not in the snapshot", d.uuid));
        assert_eq!(listed.public_key, d.record.public_key);
    }

    // Committed after the snapshot, before the follower asks for events: still delivered.
    let late = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    let late_block = register(&w.admin, &late).await;
    let mut events = feed.events_from(block).await.unwrap();
    let (got_block, event) = next_of(&mut events, &late.uuid).await;
    assert_eq!(got_block, late_block);
    assert_eq!(event.version, 1);
    assert_eq!(event.record.unwrap().public_key, late.record.public_key);

    // Resuming from a block replays that block and everything after it, nothing before.
    let mut resumed = feed.events_from(late_block).await.unwrap();
    let (first_block, first) = tokio::time::timeout(PROPAGATION, resumed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first_block, late_block);
    if first.uuid != late.uuid {
        // another writer's transaction came first in the same block
        assert_eq!(next_of(&mut resumed, &late.uuid).await.0, late_block);
    }

    let found = feed.get_device(&devices[1].uuid).await.unwrap().unwrap();
    assert_eq!(found.public_key, devices[1].record.public_key);
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(feed.get_device(&unknown).await.unwrap(), None);
}
