//! Turns readings into signed messages and puts them on the disk queue before anything is sent.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use disk_queue::DiskQueue;
use serde::{Deserialize, Serialize};
use signed_message::{Claims, SigningKey};
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::sensor::Measurements;
use crate::sequence::SequenceStore;

/// A signed message waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    pub seq: u64,
    /// The compact JWS, exactly as sent.
    pub jws: String,
}

/// Signs readings of one device with its key and sequence counter.
#[derive(Debug)]
pub struct Signer {
    device: Uuid,
    key: SigningKey,
    seq: SequenceStore,
}

impl Signer {
    pub fn new(device: Uuid, key: SigningKey, seq: SequenceStore) -> Signer {
        Signer { device, key, seq }
    }

    /// Reserves the next sequence number (durably) and signs `data` with it.
    pub fn sign(&self, data: Measurements) -> Result<QueuedMessage, GatewayError> {
        let seq = self.seq.reserve()?;
        let mut claims = Claims::new(self.device, seq, now_ms());
        claims.data = data;
        let jws = self
            .key
            .sign(&claims)
            .map_err(|source| GatewayError::Sign { seq, source })?;
        Ok(QueuedMessage { seq, jws })
    }
}

/// Signs and queues every reading from `rx` until the channel closes (all sensors stopped).
pub async fn run(
    signer: Arc<Signer>,
    mut rx: mpsc::Receiver<Measurements>,
    queue: Arc<DiskQueue<QueuedMessage>>,
    metrics: Arc<Metrics>,
    wake_sender: Arc<Notify>,
) -> Result<(), GatewayError> {
    while let Some(data) = rx.recv().await {
        metrics.read.fetch_add(1, Relaxed);
        let (signer, queue) = (Arc::clone(&signer), Arc::clone(&queue));
        // Two fsyncs (sequence, queue): off the async threads.
        let depth = tokio::task::spawn_blocking(move || -> Result<u64, GatewayError> {
            let msg = signer.sign(data)?;
            queue.push(std::slice::from_ref(&msg))?;
            Ok(queue.len()?)
        })
        .await
        .map_err(|e| GatewayError::Task(format!("signing task: {e}")))??;
        metrics.signed.fetch_add(1, Relaxed);
        metrics.queue_depth.store(depth, Relaxed);
        wake_sender.notify_one();
    }
    Ok(())
}

/// Wall-clock time in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
