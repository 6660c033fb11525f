//! The validator's view of the device registry: the in-memory cache, kept current from a source and persisted.

pub mod cache;
pub mod checkpoint;
pub mod fabric_source;
pub mod rate_limit;
pub mod source;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use cache::{CachedDevice, RegistryCache};
use checkpoint::{Checkpoint, CheckpointError};
use rate_limit::TokenBucket;
use source::RegistrySource;

use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// The cache, its source, and the rules for asking the source.
pub struct Registry {
    pub cache: RegistryCache,
    source: Arc<dyn RegistrySource>,
    miss_bucket: TokenBucket,
    data_dir: PathBuf,
    metrics: Arc<Metrics>,
}

impl Registry {
    /// Builds the registry and restores the persisted checkpoint from `data_dir`, if one exists,
    /// so bans are enforced before the source is reachable.
    pub fn open(
        source: Arc<dyn RegistrySource>,
        data_dir: PathBuf,
        miss_bucket: TokenBucket,
        metrics: Arc<Metrics>,
    ) -> Result<Self, CheckpointError> {
        let cache = RegistryCache::new();
        if let Some(cp) = checkpoint::load(&data_dir)? {
            tracing::info!(
                block = cp.block,
                devices = cp.records.len(),
                "registry restored from checkpoint"
            );
            cache.restore(cp.block, cp.tx_id, cp.records);
        }
        Ok(Self {
            cache,
            source,
            miss_bucket,
            data_dir,
            metrics,
        })
    }

    /// The device from the cache; on a miss, asks the source once if the rate limit allows.
    pub async fn lookup(&self, uuid: &str) -> Option<Arc<CachedDevice>> {
        if let Some(device) = self.cache.get(uuid) {
            return Some(device);
        }
        if !self.miss_bucket.try_take() {
            self.metrics.lookups_limited.fetch_add(1, Relaxed);
            return None;
        }
        self.metrics.lookups.fetch_add(1, Relaxed);
        match self.source.get_device(uuid).await {
            Ok(Some(record)) if record.uuid == uuid => Some(self.cache.insert_fetched(record)),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(%uuid, error = %e, "registry lookup on cache miss failed");
                None
            }
        }
    }

    /// Persists the cache and last block now. Blocking: call from a blocking thread.
    pub fn save_checkpoint(&self) -> Result<(), CheckpointError> {
        let (block, tx_id, records) = self.cache.export();
        let Some(block) = block else { return Ok(()) };
        checkpoint::save(
            &self.data_dir,
            &Checkpoint {
                block,
                tx_id,
                records,
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
                None => match self.source.snapshot().await {
                    Ok((records, block)) => {
                        tracing::info!(block, devices = records.len(), "registry snapshot loaded");
                        self.cache.load_snapshot(records, block);
                        self.checkpoint().await;
                        block
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "registry snapshot failed; retrying");
                        backoff.wait(&mut shutdown).await;
                        continue;
                    }
                },
            };
            let mut stream = match self.source.events_from(from).await {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(from, error = %e, "registry event stream failed; retrying");
                    backoff.wait(&mut shutdown).await;
                    continue;
                }
            };
            backoff.reset();
            loop {
                let first = tokio::select! {
                    _ = shutdown.wait() => return,
                    next = stream.recv() => next,
                };
                let Some(mut next) = first else { break };
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
            backoff.wait(&mut shutdown).await;
        }
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
