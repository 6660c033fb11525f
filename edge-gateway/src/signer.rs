//! Turns readings into signed messages and puts them on the disk queue before anything is sent.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
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
use crate::stale;

/// A signed message waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    pub seq: u64,
    /// The compact JWS, exactly as sent.
    pub jws: String,
    /// How often this reading was re-signed after a stale refusal (absent on disk when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resigned: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What [`Signer::resign_into`] did with each stale message.
#[derive(Debug, Default)]
pub struct Resigned {
    /// The new messages, on disk in the queue.
    pub copies: Vec<QueuedMessage>,
    /// Messages that could not be re-signed, with why; the caller parks them.
    pub unusable: Vec<(QueuedMessage, String)>,
}

/// Signs readings of one device with its key and sequence counter.
#[derive(Debug)]
pub struct Signer {
    device: Uuid,
    key: SigningKey,
    seq: SequenceStore,
    // Held from taking a sequence number until the message is queued, so that queue order is
    // sequence order: a validator refuses any seq not above the highest it accepted.
    order: Mutex<()>,
}

impl Signer {
    pub fn new(device: Uuid, key: SigningKey, seq: SequenceStore) -> Signer {
        Signer {
            device,
            key,
            seq,
            order: Mutex::new(()),
        }
    }

    /// Reserves the next sequence number (durably) and signs `data` with it.
    pub fn sign(&self, data: Measurements) -> Result<QueuedMessage, GatewayError> {
        let seq = self.seq.reserve()?;
        let mut claims = Claims::new(self.device, seq, now_ms());
        claims.data = data;
        self.encode(&claims, 0)
    }

    /// Signs `data` and pushes it to `queue` (blocking: two fsyncs).
    pub fn sign_into(
        &self,
        data: Measurements,
        queue: &DiskQueue<QueuedMessage>,
    ) -> Result<QueuedMessage, GatewayError> {
        let _order = self.lock()?;
        let msg = self.sign(data)?;
        queue.push(std::slice::from_ref(&msg))?;
        Ok(msg)
    }

    /// Re-signs messages refused as stale: same measurements plus the original reading time and
    /// seq ([`stale::TAKEN_MS`], [`stale::FIRST_SEQ`]), a new sequence number and timestamp. The
    /// copies are pushed to `queue` in one durable write before this returns; the caller removes
    /// the originals only afterwards. Blocking.
    pub fn resign_into(
        &self,
        old: &[QueuedMessage],
        queue: &DiskQueue<QueuedMessage>,
    ) -> Result<Resigned, GatewayError> {
        let mut out = Resigned::default();
        let mut renewed = Vec::new();
        let key = self
            .key
            .verifying_key()
            .map_err(|e| GatewayError::Resign(format!("the device key has no public half: {e}")))?;
        for msg in old {
            match stale::renewed_claims(msg, self.device, &key) {
                Ok(claims) => renewed.push((claims, msg.resigned + 1)),
                Err(reason) => out.unusable.push((msg.clone(), reason)),
            }
        }
        if renewed.is_empty() {
            return Ok(out);
        }
        let _order = self.lock()?;
        let first = self.seq.reserve_many(renewed.len() as u64)?;
        let ts = now_ms();
        for (offset, (mut claims, resigned)) in (0..).zip(renewed) {
            claims.seq = first + offset;
            claims.ts = ts;
            out.copies.push(self.encode(&claims, resigned)?);
        }
        queue.push(&out.copies)?;
        Ok(out)
    }

    fn encode(&self, claims: &Claims, resigned: u32) -> Result<QueuedMessage, GatewayError> {
        let jws = self.key.sign(claims).map_err(|source| GatewayError::Sign {
            seq: claims.seq,
            source,
        })?;
        Ok(QueuedMessage {
            seq: claims.seq,
            jws,
            resigned,
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, ()>, GatewayError> {
        self.order
            .lock()
            .map_err(|_| GatewayError::Task("signer lock poisoned by a panic".to_string()))
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
            signer.sign_into(data, &queue)?;
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
