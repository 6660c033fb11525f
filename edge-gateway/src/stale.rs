//! Messages a validator refused as stale (1005 with `stale`): re-signed with a new sequence number
//! and timestamp, parked on disk after two re-signs, and left queued while the clocks disagree.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use disk_queue::DiskQueue;
use signed_message::{Claims, VerifyingKey};
use uuid::Uuid;

use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::signer::{QueuedMessage, Signer};

/// Measurement added on the first re-sign: when the reading was taken (its first `ts`), Unix ms.
pub const TAKEN_MS: &str = "sf2c_taken_ms";
/// Measurement added on the first re-sign: the sequence number the reading was first signed with.
pub const FIRST_SEQ: &str = "sf2c_first_seq";
/// Measurement names the gateway keeps for itself; sensors may not use them.
pub const RESERVED_PREFIX: &str = "sf2c_";
/// Re-signs of one reading before a further stale refusal parks it instead.
pub const MAX_RESIGNS: u32 = 2;

/// The claims of `msg` ready to be signed again: checked to be this device's and signed with its
/// key (only what this gateway signed is re-signed), the reading time and first seq recorded.
pub fn renewed_claims(
    msg: &QueuedMessage,
    device: Uuid,
    key: &VerifyingKey,
) -> Result<Claims, String> {
    let mut claims = signed_message::decode_and_verify(&msg.jws, key).map_err(|e| {
        format!(
            "queued message seq {} does not verify with this device's key: {e}",
            msg.seq
        )
    })?;
    if claims.device != device.hyphenated().to_string() {
        return Err(format!(
            "queued message seq {} names device {}, not this gateway's {device}",
            msg.seq, claims.device
        ));
    }
    let (ts, seq) = (claims.ts, claims.seq);
    // Kept from the first signing on every later re-sign.
    claims.data.entry(TAKEN_MS.into()).or_insert(ts.into());
    claims.data.entry(FIRST_SEQ.into()).or_insert(seq.into());
    Ok(claims)
}

/// The validator's clock minus ours, in ms.
pub fn clock_offset(validator_time_ms: u64, local_ms: u64) -> i64 {
    let offset = i128::from(validator_time_ms) - i128::from(local_ms);
    i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX })
}

/// What to do with one message refused as stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleStep {
    /// Sign it again with a new seq and timestamp.
    Resign,
    /// Re-signed twice already: move it to the parked queue.
    Park,
    /// The clocks disagree by more than the window: keep it queued, re-signing would not help.
    Wait,
}

/// Re-signs and parks stale messages for the sender.
#[derive(Debug)]
pub struct StaleHandler {
    signer: Arc<Signer>,
    queue: Arc<DiskQueue<QueuedMessage>>,
    parked: DiskQueue<QueuedMessage>,
    parked_path: PathBuf,
    /// The validators' replay window: a validator clock further off than this is clock skew.
    pub window_ms: u64,
    metrics: Arc<Metrics>,
}

impl StaleHandler {
    /// Opens the parked queue at `parked_path` (created if missing). Blocking.
    pub fn open(
        signer: Arc<Signer>,
        queue: Arc<DiskQueue<QueuedMessage>>,
        parked_path: &Path,
        window_ms: u64,
        metrics: Arc<Metrics>,
    ) -> Result<StaleHandler, GatewayError> {
        let parked = DiskQueue::open(parked_path)?;
        let depth = parked.len()?;
        if depth > 0 {
            tracing::warn!(depth, path = %parked_path.display(), "parked messages from earlier runs are kept, not sent");
        }
        Ok(StaleHandler {
            signer,
            queue,
            parked,
            parked_path: parked_path.to_path_buf(),
            window_ms,
            metrics,
        })
    }

    /// Decides about `msg`, refused as stale by `validator` whose clock read `validator_time_ms`
    /// when ours read `local_ms`; records the offset and any clock skew in the metrics and log.
    pub fn judge(
        &self,
        msg: &QueuedMessage,
        validator_time_ms: Option<u64>,
        local_ms: u64,
        validator: &str,
        reason: &str,
    ) -> StaleStep {
        if let Some(time) = validator_time_ms {
            let offset = clock_offset(time, local_ms);
            self.metrics.clock_skew_ms.store(offset, Relaxed);
            if offset.unsigned_abs() > self.window_ms {
                self.metrics.clock_skew.store(true, Relaxed);
                tracing::warn!(
                    %validator,
                    seq = msg.seq,
                    offset_ms = offset,
                    window_ms = self.window_ms,
                    %reason,
                    "clock skew: the validator's clock is further from ours than the replay \
                     window; not re-signing, messages stay queued (check NTP on both sides)"
                );
                return StaleStep::Wait;
            }
        }
        self.metrics.clock_skew.store(false, Relaxed);
        if msg.resigned >= MAX_RESIGNS {
            StaleStep::Park
        } else {
            StaleStep::Resign
        }
    }

    /// Pushes re-signed copies of `stale` to the queue and `worn` (and any message that cannot be
    /// re-signed) to the parked queue, durably. The caller acknowledges the originals only after
    /// this returns, so a crash in between keeps both (never neither). Blocking.
    pub fn replace(
        &self,
        stale: &[QueuedMessage],
        mut worn: Vec<QueuedMessage>,
    ) -> Result<(), GatewayError> {
        if !stale.is_empty() {
            let done = self.signer.resign_into(stale, &self.queue)?;
            if let (Some(first), Some(last)) = (done.copies.first(), done.copies.last()) {
                self.metrics
                    .resigned
                    .fetch_add(done.copies.len() as u64, Relaxed);
                tracing::info!(
                    count = done.copies.len(),
                    old_seqs = ?stale.iter().map(|m| m.seq).collect::<Vec<_>>(),
                    new_seqs = format!("{}..={}", first.seq, last.seq),
                    "re-signed messages refused as stale (reading time kept in {TAKEN_MS})"
                );
            }
            for (msg, reason) in done.unusable {
                tracing::error!(seq = msg.seq, %reason, "cannot re-sign a stale message; parking it");
                worn.push(msg);
            }
        }
        if worn.is_empty() {
            return Ok(());
        }
        self.parked.push(&worn)?;
        self.metrics.parked.fetch_add(worn.len() as u64, Relaxed);
        for msg in &worn {
            tracing::error!(
                seq = msg.seq,
                resigned = msg.resigned,
                parked = %self.parked_path.display(),
                "message refused as stale again after re-signing; parked on disk, not sent again"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sequence::SequenceStore;
    use signed_message::{Algorithm, SigningKey};

    /// A handler on fresh files in `dir`, with its queue.
    fn handler(dir: &Path, window_ms: u64) -> (StaleHandler, Arc<DiskQueue<QueuedMessage>>) {
        let device = Uuid::new_v4();
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let seq = SequenceStore::open(&dir.join("q.db"), device).unwrap();
        let queue = Arc::new(DiskQueue::open(&dir.join("q.db")).unwrap());
        let signer = Arc::new(Signer::new(device, key, seq));
        let metrics = Arc::new(Metrics::new(vec![]));
        let handler = StaleHandler::open(
            signer,
            Arc::clone(&queue),
            &dir.join("parked.db"),
            window_ms,
            metrics,
        )
        .unwrap();
        (handler, queue)
    }

    #[test]
    fn clock_skew_in_either_direction_waits_and_a_twice_re_signed_message_is_parked() {
        let dir = tempfile::tempdir().unwrap();
        let (h, _) = handler(dir.path(), 3_000);
        let mut msg = QueuedMessage {
            seq: 1,
            jws: "x".into(),
            resigned: 0,
        };
        let judge = |m: &QueuedMessage, t| h.judge(m, t, 100_000, "https://v/", "stale");
        assert_eq!(judge(&msg, Some(102_000)), StaleStep::Resign);
        assert_eq!(judge(&msg, None), StaleStep::Resign);
        assert_eq!(judge(&msg, Some(110_000)), StaleStep::Wait);
        assert!(h.metrics.clock_skew.load(Relaxed));
        assert_eq!(h.metrics.clock_skew_ms.load(Relaxed), 10_000);
        assert_eq!(judge(&msg, Some(91_000)), StaleStep::Wait);
        assert_eq!(h.metrics.clock_skew_ms.load(Relaxed), -9_000);
        msg.resigned = MAX_RESIGNS;
        assert_eq!(judge(&msg, Some(100_500)), StaleStep::Park);
        assert!(
            !h.metrics.clock_skew.load(Relaxed),
            "cleared by a sane clock"
        );
    }

    #[test]
    fn a_re_signed_copy_keeps_measurements_reading_time_and_first_seq_with_a_new_seq() {
        let dir = tempfile::tempdir().unwrap();
        let device = Uuid::new_v4();
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let verifier = key.verifying_key().unwrap();
        let seq = SequenceStore::open(&dir.path().join("q.db"), device).unwrap();
        let queue: DiskQueue<QueuedMessage> = DiskQueue::open(&dir.path().join("q.db")).unwrap();
        let signer = Signer::new(device, key, seq);
        let data = [("n".to_string(), 7i64.into())].into_iter().collect();
        let original = signer.sign_into(data, &queue).unwrap();
        let first = signed_message::decode_and_verify(&original.jws, &verifier).unwrap();

        let once = signer
            .resign_into(std::slice::from_ref(&original), &queue)
            .unwrap();
        assert!(once.unusable.is_empty());
        let copy = &once.copies[0];
        assert!(copy.seq > original.seq);
        assert_eq!(copy.resigned, 1);
        let claims = signed_message::decode_and_verify(&copy.jws, &verifier).unwrap();
        assert_eq!(claims.seq, copy.seq);
        assert!(claims.ts >= first.ts);
        assert_eq!(claims.data["n"], 7i64.into());
        assert_eq!(claims.data[TAKEN_MS], first.ts.into());
        assert_eq!(claims.data[FIRST_SEQ], original.seq.into());

        // A second re-sign keeps the first reading time and seq, not the copy's.
        let twice = signer
            .resign_into(std::slice::from_ref(copy), &queue)
            .unwrap();
        let again = signed_message::decode_and_verify(&twice.copies[0].jws, &verifier).unwrap();
        assert_eq!(twice.copies[0].resigned, 2);
        assert_eq!(again.data[TAKEN_MS], first.ts.into());
        assert_eq!(again.data[FIRST_SEQ], original.seq.into());
        let seqs: Vec<u64> = queue.peek(10).unwrap().iter().map(|(_, m)| m.seq).collect();
        assert_eq!(seqs, vec![original.seq, copy.seq, twice.copies[0].seq]);

        // A message this key did not sign is never re-signed.
        let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let forged = Signer::new(
            device,
            stranger,
            SequenceStore::open(&dir.path().join("other.db"), device).unwrap(),
        )
        .sign([("n".to_string(), 1i64.into())].into_iter().collect())
        .unwrap();
        let refused = signer.resign_into(&[forged], &queue).unwrap();
        assert!(refused.copies.is_empty());
        assert!(
            refused.unusable[0].1.contains("does not verify"),
            "{}",
            refused.unusable[0].1
        );
        assert_eq!(queue.len().unwrap(), 3, "nothing pushed for it");
    }
}
