//! The validator's view of the device registry: the in-memory cache, kept current from its feed and persisted.

pub mod cache;
pub mod checkpoint;
pub mod fabric_feed;
pub mod feed;
pub mod freshness;
pub mod rate_limit;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use cache::{CachedDevice, RegistryCache};
use checkpoint::{RegistryCheckpoint, RegistryCheckpointError};
use device_record::DeviceRecord;
use feed::RegistryFeed;
use freshness::Freshness;
use rate_limit::TokenBucket;
use tokio::sync::Notify;

use crate::metrics::Metrics;
use crate::validator::now_ms;
use runtime::Shutdown;

/// How the registry asks its feed and how stale it may get.
#[derive(Debug)]
pub struct RegistryRules {
    pub miss_bucket: TokenBucket,
    /// Past this without the ledger confirming the cache, submits are refused (1009).
    pub max_staleness: Duration,
    /// Time between ledger probes while the event stream is up; also a probe's timeout.
    pub probe_interval: Duration,
}

/// The cache, its feed, and the rules for asking the feed.
pub struct Registry {
    pub cache: RegistryCache,
    /// When the ledger last confirmed the cache.
    pub freshness: Freshness,
    feed: Arc<dyn RegistryFeed>,
    miss_bucket: TokenBucket,
    probe_interval: Duration,
    /// Wakes the prober when the event stream opens, so it confirms the cache at once.
    stream_opened: Notify,
    data_dir: PathBuf,
    metrics: Arc<Metrics>,
}

impl Registry {
    /// Builds the registry and restores the persisted checkpoint from `data_dir`, if one exists,
    /// so bans are enforced before the feed is reachable (for as long as `max_staleness` allows
    /// after the checkpoint's cache was last known current).
    pub fn open(
        feed: Arc<dyn RegistryFeed>,
        data_dir: PathBuf,
        rules: RegistryRules,
        metrics: Arc<Metrics>,
    ) -> Result<Self, RegistryCheckpointError> {
        let cache = RegistryCache::new();
        let mut restored_current = None;
        if let Some(cp) = checkpoint::load(&data_dir)? {
            tracing::info!(
                block = cp.block,
                devices = cp.records.len(),
                current_at_ms = cp.current_at_ms,
                "registry restored from checkpoint"
            );
            restored_current = cp.current_at_ms;
            cache.restore(cp.block, cp.tx_id, cp.records);
        }
        Ok(Self {
            cache,
            freshness: Freshness::new(rules.max_staleness, now_ms(), restored_current),
            feed,
            miss_bucket: rules.miss_bucket,
            probe_interval: rules.probe_interval,
            stream_opened: Notify::new(),
            data_dir,
            metrics,
        })
    }

    /// The device from the cache; on a miss, asks the feed once if the rate limit allows.
    pub async fn lookup(&self, uuid: &str) -> Option<Arc<CachedDevice>> {
        if let Some(device) = self.cache.get(uuid) {
            return Some(device);
        }
        if !self.miss_bucket.try_take() {
            self.metrics.lookups_limited.fetch_add(1, Relaxed);
            return None;
        }
        self.metrics.lookups.fetch_add(1, Relaxed);
        // Begun before asking: an event for this device arriving meanwhile wins over the answer.
        let read = self.cache.begin_read(uuid);
        match self.feed.get_device(uuid).await {
            Ok(Some(record)) => self.cache.install_read(&read, record),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(%uuid, error = %e, "registry lookup on cache miss failed");
                None
            }
        }
    }

    /// Persists the cache and last block now. Blocking: call from a blocking thread.
    pub fn save_checkpoint(&self) -> Result<(), RegistryCheckpointError> {
        let (block, tx_id, records) = self.cache.export();
        let Some(block) = block else { return Ok(()) };
        checkpoint::save(
            &self.data_dir,
            &RegistryCheckpoint {
                block,
                tx_id,
                records,
                current_at_ms: self.freshness.current_ms(),
            },
        )
    }

    /// Keeps the cache current until shutdown: loads a snapshot if nothing is cached yet, then follows
    /// the event stream from the last applied block, reconnecting with backoff, checkpointing after
    /// each burst of events.
    pub async fn follow(self: Arc<Self>, mut shutdown: Shutdown) {
        let mut backoff = Backoff::new();
        while !shutdown.is_triggered() {
            let from = match self.cache.last_block() {
                Some(block) => block,
                None => match self.feed.snapshot().await {
                    Ok((records, block)) => {
                        self.install_snapshot(records, block).await;
                        block
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "registry snapshot failed; retrying");
                        self.freshness.stream_down(now_ms(), &e.to_string());
                        backoff.wait(&mut shutdown).await;
                        continue;
                    }
                },
            };
            let mut stream = match self.feed.events_from(from).await {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(from, error = %e, "registry event stream failed; retrying");
                    self.freshness.stream_down(now_ms(), &e.to_string());
                    backoff.wait(&mut shutdown).await;
                    continue;
                }
            };
            self.freshness.stream_up();
            self.stream_opened.notify_one();
            backoff.reset();
            loop {
                let first = tokio::select! {
                    _ = shutdown.wait() => return,
                    next = stream.recv() => next,
                };
                let Some(mut next) = first else { break };
                self.freshness.event(now_ms());
                loop {
                    let (block, event) = next;
                    let applied = self.cache.apply(&event, block);
                    self.metrics.registry_events.fetch_add(1, Relaxed);
                    tracing::debug!(block, uuid = %event.uuid, change = ?event.change, ?applied, "registry event");
                    match stream.try_recv() {
                        Ok(more) => next = more,
                        Err(_) => break,
                    }
                }
                self.checkpoint().await;
            }
            tracing::warn!("registry event stream ended; reconnecting");
            self.freshness.stream_down(
                now_ms(),
                "the event stream ended (connection to the peer lost)",
            );
            backoff.wait(&mut shutdown).await;
        }
    }

    /// Asks the ledger a cheap question every `probe_interval` (and as soon as the event stream
    /// opens) until shutdown: while the stream is up, each answer confirms the cache is current.
    /// A probe slower than the interval counts as failed.
    pub async fn probe(self: Arc<Self>, mut shutdown: Shutdown) {
        loop {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(self.probe_interval) => {}
                _ = self.stream_opened.notified() => {}
            }
            if !self.freshness.stream_is_up() {
                continue;
            }
            match tokio::time::timeout(self.probe_interval, self.feed.probe()).await {
                Ok(Ok(_height)) => self.freshness.probe_ok(now_ms()),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "ledger probe failed");
                    self.freshness.probe_failed(now_ms(), &e.to_string());
                }
                Err(_) => {
                    let error = format!("no answer within {:?}", self.probe_interval);
                    tracing::warn!(%error, "ledger probe failed");
                    self.freshness.probe_failed(now_ms(), &error);
                }
            }
        }
    }

    /// Replaces the cache with a ledger snapshot taken at `block`, marks it current and
    /// checkpoints it: the one way a snapshot enters the cache, at start or when following.
    pub(crate) async fn install_snapshot(self: &Arc<Self>, records: Vec<DeviceRecord>, block: u64) {
        tracing::info!(block, devices = records.len(), "registry snapshot loaded");
        self.cache.load_snapshot(records, block);
        self.freshness.loaded(now_ms());
        self.checkpoint().await;
    }

    async fn checkpoint(self: &Arc<Self>) {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.save_checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "registry checkpoint not saved"),
            Err(e) => tracing::error!(error = %e, "registry checkpoint task failed"),
        }
    }
}

/// Exponential backoff between reconnection attempts, 100 ms to 5 s.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(Duration::from_millis(100))
    }

    fn reset(&mut self) {
        self.0 = Duration::from_millis(100);
    }

    async fn wait(&mut self, shutdown: &mut Shutdown) {
        tokio::select! {
            _ = tokio::time::sleep(self.0) => {}
            _ = shutdown.wait() => {}
        }
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
    }
}
