//! Delivery of accepted records to the cloud sink: spooled on disk before the client is answered,
//! drained in order and in batches, acknowledged only once the sink has answered.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use disk_queue::{DiskQueue, QueueError};
use sink_api::{SinkClient, SinkError, TelemetryRecord};
use tokio::sync::Notify;

use crate::metrics::Metrics;
use runtime::Shutdown;

/// The spool could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("spool task stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// How the drain task batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Most records per request to the sink.
    pub max_records: usize,
    /// How long to wait for a batch to fill before sending a partial one.
    pub linger: Duration,
}

/// The on-disk spool and its drain task.
pub struct Forwarder {
    queue: Arc<DiskQueue<TelemetryRecord>>,
    wake: Notify,
    metrics: Arc<Metrics>,
}

impl Forwarder {
    /// Opens (or creates) the spool at `path`; records left by a previous run are delivered first.
    pub fn open(path: &Path, metrics: Arc<Metrics>) -> Result<Self, QueueError> {
        Ok(Self {
            queue: Arc::new(DiskQueue::open(path)?),
            wake: Notify::new(),
            metrics,
        })
    }

    /// Stores `records` durably (one transaction); when this returns Ok they will reach the sink.
    pub async fn enqueue(&self, records: Vec<TelemetryRecord>) -> Result<(), SpoolError> {
        self.blocking(move |q| q.push(&records)).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Records waiting in the spool.
    pub fn depth(&self) -> u64 {
        self.queue.len().unwrap_or(0)
    }

    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&DiskQueue<TelemetryRecord>) -> Result<R, QueueError> + Send + 'static,
    ) -> Result<R, SpoolError> {
        let queue = self.queue.clone();
        Ok(tokio::task::spawn_blocking(move || f(&queue)).await??)
    }

    /// Drains the spool to `client` until shutdown. On an unreachable sink the batch is kept and
    /// retried with backoff; a record the sink refuses as invalid is logged and removed, so it cannot
    /// block the ones behind it.
    pub async fn run(
        self: Arc<Self>,
        client: SinkClient,
        policy: BatchPolicy,
        mut shutdown: Shutdown,
    ) {
        let mut backoff = Duration::from_millis(100);
        let mut limit = policy.max_records.max(1);
        while !shutdown.is_triggered() {
            let batch = match self.blocking(move |q| q.peek(limit)).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the spool; retrying");
                    self.pause(&mut shutdown, Duration::from_secs(1)).await;
                    continue;
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.wait() => return,
                }
                // Let a batch fill up rather than sending the first record alone.
                self.pause(&mut shutdown, policy.linger).await;
                continue;
            }
            let last_id = batch.last().map(|(id, _)| *id).unwrap_or(0);
            let (ids, records): (Vec<u64>, Vec<TelemetryRecord>) = batch.into_iter().unzip();
            match client.ingest(&records).await {
                Ok(answer) => {
                    self.metrics.forwarded.fetch_add(answer.stored, Relaxed);
                    self.metrics
                        .forward_duplicates
                        .fetch_add(answer.duplicates, Relaxed);
                    if let Err(e) = self.blocking(move |q| q.ack(last_id)).await {
                        // Not acked: the batch is sent again, and the sink stores it once.
                        tracing::error!(error = %e, "cannot acknowledge delivered records");
                    }
                    backoff = Duration::from_millis(100);
                    limit = policy.max_records.max(1);
                }
                Err(e) if e.is_retryable() => {
                    self.metrics.forward_failures.fetch_add(1, Relaxed);
                    tracing::warn!(error = %e, records = records.len(), retry_in = ?backoff, "cloud sink unavailable; records stay spooled");
                    self.pause(&mut shutdown, backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                Err(e) => self.refused(e, &ids, &records, &mut limit).await,
            }
        }
    }

    async fn refused(
        &self,
        error: SinkError,
        ids: &[u64],
        records: &[TelemetryRecord],
        limit: &mut usize,
    ) {
        let bad = match &error {
            SinkError::Refused { index: Some(i), .. } => ids.get(*i).copied().zip(records.get(*i)),
            _ if ids.len() == 1 => ids.first().copied().zip(records.first()),
            _ => None,
        };
        match bad {
            Some((id, record)) => {
                tracing::error!(error = %error, device = %record.device, seq = record.seq, "cloud sink refused a record; removed from the spool");
                self.metrics.forward_dropped.fetch_add(1, Relaxed);
                if let Err(e) = self.blocking(move |q| q.discard(id).map(|_| ())).await {
                    tracing::error!(error = %e, id, "cannot remove the refused record");
                }
            }
            None => {
                // The whole batch was refused without naming a record: find it by sending one at a time.
                tracing::warn!(error = %error, "cloud sink refused a batch; resending record by record");
                *limit = 1;
            }
        }
    }

    async fn pause(&self, shutdown: &mut Shutdown, duration: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = shutdown.wait() => {}
        }
    }
}
