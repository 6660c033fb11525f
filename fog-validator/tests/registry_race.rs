//! A cache-miss read in flight while an event for the same device arrives: the event wins.
//!
//! A real network cannot hold a peer's answer on cue, so the registry feed here is the
//! controllable test double (`StaticRegistryFeed`): it serves the record to the read, holds the
//! answer at a gate, commits the delete (or ban) as an event the follower applies, then releases
//! the stale answer.

use std::sync::Arc;
use std::time::Duration;

use device_record::{ChangeKind, NodeType};
use fog_validator::metrics::Metrics;
use fog_validator::registry::cache::CachedDevice;
use fog_validator::registry::rate_limit::TokenBucket;
use fog_validator::registry::{Registry, RegistryRules};
use runtime::shutdown::{self, ShutdownTrigger};
use signed_message::Algorithm;
use test_doubles::{StaticRegistryFeed, TestDevice};
use test_support::wait::until;

const LIMIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(5);

struct Running {
    registry: Arc<Registry>,
    feed: Arc<StaticRegistryFeed>,
    _stop: ShutdownTrigger,
    _dir: tempfile::TempDir,
}

/// A registry following an empty feed, its snapshot loaded.
async fn running() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let feed = Arc::new(StaticRegistryFeed::new(vec![]));
    let rules = RegistryRules {
        miss_bucket: TokenBucket::new(100, 100.0),
        max_staleness: Duration::from_secs(30),
        probe_interval: Duration::from_secs(5),
    };
    let registry = Arc::new(
        Registry::open(
            feed.clone(),
            dir.path().to_path_buf(),
            rules,
            Arc::new(Metrics::default()),
        )
        .unwrap(),
    );
    let (stop, shutdown) = shutdown::channel();
    tokio::spawn(registry.clone().follow(shutdown));
    let loaded = until(LIMIT, POLL, || async { registry.cache.last_block() }).await;
    assert!(loaded.is_some(), "no snapshot within {LIMIT:?}");
    Running {
        registry,
        feed,
        _stop: stop,
        _dir: dir,
    }
}

impl Running {
    /// Starts a cache-miss lookup of `uuid` and waits until the feed has read the record and
    /// holds the answer.
    async fn held_lookup(&self, uuid: &str) -> tokio::task::JoinHandle<Option<Arc<CachedDevice>>> {
        self.feed.hold_lookups();
        let registry = self.registry.clone();
        let owned = uuid.to_string();
        let lookup = tokio::spawn(async move { registry.lookup(&owned).await });
        let held = until(LIMIT, POLL, || async {
            (self.feed.held_lookups() == 1).then_some(())
        })
        .await;
        assert!(held.is_some(), "the lookup never reached the feed");
        lookup
    }

    /// Waits until the follower has applied block `block`.
    async fn applied(&self, block: u64) {
        let done = until(LIMIT, POLL, || async {
            self.registry.cache.last_block().filter(|b| *b >= block)
        })
        .await;
        assert!(done.is_some(), "block {block} not applied within {LIMIT:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_arriving_during_a_cache_miss_read_is_not_undone() {
    let r = running().await;
    let device = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    // Registered on the ledger, its event not yet at the validator: only a lookup finds it.
    r.feed.put_unannounced(device.record.clone());
    let lookup = r.held_lookup(&device.uuid).await;

    let block = r.feed.delete(&device.uuid).unwrap();
    r.applied(block).await;
    r.feed.release_lookups();
    let answered = lookup.await.unwrap();

    assert!(
        answered.is_none(),
        "the lookup answered a device deleted while it was in flight: {:?}",
        answered.map(|d| d.record.version)
    );
    assert!(
        r.registry.cache.get(&device.uuid).is_none(),
        "the older read re-inserted the deleted device"
    );
    // The next miss asks the ledger afresh, which no longer has it.
    let lookups = r.feed.lookups();
    assert!(r.registry.lookup(&device.uuid).await.is_none());
    assert_eq!(r.feed.lookups(), lookups + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_arriving_during_a_cache_miss_read_is_what_the_lookup_answers() {
    let r = running().await;
    let device = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    r.feed.put_unannounced(device.record.clone());
    let lookup = r.held_lookup(&device.uuid).await;

    let mut banned = device.record.clone();
    banned.banned = true;
    banned.ban_reason = Some("stolen".into());
    let block = r.feed.commit(ChangeKind::Banned, banned);
    r.applied(block).await;
    r.feed.release_lookups();
    let answered = lookup
        .await
        .unwrap()
        .expect("the banned device is still registered");

    assert!(
        answered.record.banned,
        "the lookup answered the unbanned read"
    );
    let cached = r.registry.cache.get(&device.uuid).unwrap();
    assert!(cached.record.banned && cached.record.version == device.record.version + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_with_no_event_in_between_is_cached() {
    let r = running().await;
    let device = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    r.feed.put_unannounced(device.record.clone());
    let lookup = r.held_lookup(&device.uuid).await;
    // An event for another device does not stop this read from being installed.
    let other = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    let block = r.feed.commit(ChangeKind::Registered, other.record.clone());
    r.applied(block).await;
    r.feed.release_lookups();
    assert!(lookup.await.unwrap().is_some());
    assert!(r.registry.cache.get(&device.uuid).is_some());
}
