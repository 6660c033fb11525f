//! Warnings for the VPN Centre: every refusal is queued in memory (bounded) and sent in the background,
//! so reporting never slows request handling; what does not fit is counted as dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::mpsc;
use warnings_api::{NewWarning, WarningClient};

use crate::metrics::Metrics;
use runtime::Shutdown;

/// Most warnings sent in one request.
const MAX_BATCH: usize = 100;

/// The request-side handle: queue a warning, never wait.
#[derive(Clone)]
pub struct WarningReporter {
    tx: mpsc::Sender<NewWarning>,
    metrics: Arc<Metrics>,
}

impl WarningReporter {
    /// A reporter with room for `capacity` pending warnings, and the receiver for [`run`].
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> (Self, mpsc::Receiver<NewWarning>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx, metrics }, rx)
    }

    /// Queues a warning; if the queue is full it is dropped and counted.
    pub fn report(&self, warning: NewWarning) {
        if self.tx.try_send(warning).is_err() {
            self.metrics.warnings_dropped.fetch_add(1, Relaxed);
        }
    }

    /// Warnings waiting to be sent.
    pub fn depth(&self) -> u64 {
        (self.tx.max_capacity() - self.tx.capacity()) as u64
    }
}

/// Sends queued warnings to the VPN Centre in batches until shutdown, retrying while it is unreachable.
/// Without a client (no VPN Centre configured) warnings are only logged.
pub async fn run(
    mut rx: mpsc::Receiver<NewWarning>,
    client: Option<WarningClient>,
    metrics: Arc<Metrics>,
    mut shutdown: Shutdown,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = tokio::select! {
            n = rx.recv_many(&mut batch, MAX_BATCH) => n,
            _ = shutdown.wait() => {
                // Last chance for what is queued; do not wait on an unreachable centre.
                while let Ok(w) = rx.try_recv() { batch.push(w); }
                if let Some(client) = &client && !batch.is_empty() {
                    let send = client.report_batch(&batch);
                    match tokio::time::timeout(Duration::from_secs(2), send).await {
                        Ok(Ok(_)) => { metrics.warnings_sent.fetch_add(batch.len() as u64, Relaxed); }
                        _ => { metrics.warnings_dropped.fetch_add(batch.len() as u64, Relaxed); }
                    }
                }
                return;
            }
        };
        if received == 0 {
            return;
        }
        for w in &batch {
            tracing::info!(code = w.code, offender = %w.offender_address, device = ?w.offender_device, reason = %w.reason, "message refused");
        }
        let Some(client) = &client else {
            batch.clear();
            continue;
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            match client.report_batch(&batch).await {
                Ok(_) => {
                    metrics.warnings_sent.fetch_add(batch.len() as u64, Relaxed);
                    break;
                }
                Err(e) if e.is_retryable() && !shutdown.is_triggered() => {
                    metrics.warnings_failed.fetch_add(1, Relaxed);
                    tracing::warn!(error = %e, warnings = batch.len(), "VPN Centre unreachable; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.wait() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                Err(e) => {
                    metrics.warnings_failed.fetch_add(1, Relaxed);
                    metrics
                        .warnings_dropped
                        .fetch_add(batch.len() as u64, Relaxed);
                    tracing::error!(error = %e, warnings = batch.len(), "VPN Centre refused warnings; dropped");
                    break;
                }
            }
        }
        batch.clear();
    }
}
