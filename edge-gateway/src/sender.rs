//! Delivers queued messages in order to the current validator, failing over and backing off.
//!
//! A message leaves the queue only when a validator settled it: accepted, refused for good
//! (codes 1001, 1002, 1004, 1006-1008: logged and counted) or reported as a replay of a used
//! sequence number (1005 without `stale`: it was already delivered). A 1005 with `stale` (the
//! timestamp is outside the validator's window, e.g. a backlog after a long outage) is never a
//! loss: the reading is re-signed with a new sequence number and timestamp, its measurements and
//! first reading time kept ([`crate::stale`]), and the copy is on disk before the original leaves
//! the queue. Refused stale again after two re-signs, it is parked in a file beside the queue and
//! counted. When the validator's clock is further from ours than the replay window, re-signing
//! would not help: the message stays queued, `/health` and `edge_gateway_clock_skew` say "clock
//! skew", and the sender fails over and backs off. Anything else (transport errors, 1009 registry
//! unavailable, internal errors) keeps the message queued and moves on to the next validator.
//! A 1003 (device banned) stops the sender with every unsent message still queued: resending
//! cannot succeed until an unban, and each refusal would be one more warning at the centre.
//!
//! A crash between pushing a copy and removing its original leaves both queued; the original is
//! then refused stale and re-signed again, so that reading can be stored twice under two seqs,
//! both carrying the same `sf2c_first_seq`.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use disk_queue::DiskQueue;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::rpc::{self, Outcome};
use crate::signer::{QueuedMessage, now_ms};
use crate::stale::{StaleHandler, StaleStep};
use crate::transport::ValidatorClient;
use runtime::Shutdown;

/// How often an idle sender looks at the queue even without a wake-up.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Sender settings.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// The device whose messages are sent; named when the registry refuses it.
    pub device: Uuid,
    pub batch_size: usize,
    pub request_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

/// The delivery loop state.
#[derive(Debug)]
pub struct Sender {
    queue: Arc<DiskQueue<QueuedMessage>>,
    validators: Vec<ValidatorClient>,
    current: usize,
    opts: SenderOptions,
    // Halved when a validator refuses a whole batch, restored on success.
    batch_limit: usize,
    backoff: Duration,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    stale: Arc<StaleHandler>,
}

/// How one validator's answer to a batch was settled.
struct Settled {
    /// Messages acknowledged off the queue (replaced or parked ones included).
    count: usize,
    /// The prefix ended at a 1003.
    banned: bool,
    /// The prefix ended at a stale refusal from a validator with a skewed clock.
    skewed: bool,
}

/// The result of one delivery attempt.
enum Attempt {
    /// The queue was empty.
    Idle,
    /// Some messages were settled.
    Progress,
    /// No validator settled anything (unreachable, transient error, clock skew); back off.
    AllFailed,
    /// The validator at this URL answered 1003: the device is banned.
    Banned(String),
}

impl Sender {
    pub fn new(
        queue: Arc<DiskQueue<QueuedMessage>>,
        validators: Vec<ValidatorClient>,
        opts: SenderOptions,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
        stale: Arc<StaleHandler>,
    ) -> Sender {
        Sender {
            stale,
            queue,
            validators,
            current: 0,
            batch_limit: opts.batch_size,
            backoff: opts.backoff_min,
            opts,
            metrics,
            wake,
        }
    }

    /// Delivers until shutdown; a request in flight when shutdown comes is completed first.
    pub async fn run(mut self, mut shutdown: Shutdown) -> Result<(), GatewayError> {
        while !shutdown.is_triggered() {
            match self.attempt().await? {
                Attempt::Progress => {}
                Attempt::Banned(validator) => {
                    self.metrics.banned.store(true, Relaxed);
                    let device = self.opts.device;
                    tracing::error!(
                        %device,
                        %validator,
                        queued = self.metrics.queue_depth.load(Relaxed),
                        "banned on the registry; not sending until restarted after an unban \
                         (queued messages stay on disk)"
                    );
                    return Err(GatewayError::Banned { device, validator });
                }
                Attempt::Idle => {
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                        _ = shutdown.wait() => {}
                    }
                }
                Attempt::AllFailed => {
                    tracing::warn!(pause = ?self.backoff, "no validator settled the oldest messages; they stay queued");
                    tokio::select! {
                        _ = tokio::time::sleep(self.backoff) => {}
                        _ = shutdown.wait() => {}
                    }
                    self.backoff = (self.backoff * 2).min(self.opts.backoff_max);
                }
            }
        }
        Ok(())
    }

    /// Sends the oldest batch, trying each validator once from the current one.
    async fn attempt(&mut self) -> Result<Attempt, GatewayError> {
        let queue = Arc::clone(&self.queue);
        let limit = self.batch_limit;
        let batch = blocking(move || queue.peek(limit)).await??;
        if batch.is_empty() {
            return Ok(Attempt::Idle);
        }
        let body = rpc::batch_body(batch.iter().map(|(id, m)| (*id, m.jws.as_str())));
        for _ in 0..self.validators.len() {
            let client = &mut self.validators[self.current];
            self.metrics.sent.fetch_add(batch.len() as u64, Relaxed);
            let (sent_ms, sent) = (now_ms(), Instant::now());
            let answer = client
                .post_json(body.clone(), self.opts.request_timeout)
                .await
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    rpc::parse_batch(&bytes).map_err(|e| {
                        // A refused whole batch may mean it is too big for this validator.
                        self.batch_limit = (self.batch_limit / 2).max(1);
                        format!("{}: {e}", client.url())
                    })
                });
            match answer {
                Ok(responses) => {
                    // Our clock halfway through the exchange, to compare with the validator's.
                    let half = u64::try_from(sent.elapsed().as_millis() / 2).unwrap_or(0);
                    let settled = self.settle(&batch, &responses, sent_ms + half).await?;
                    if settled.banned {
                        let url = self.validators[self.current].url().to_string();
                        return Ok(Attempt::Banned(url));
                    }
                    if settled.count > 0 {
                        self.backoff = self.opts.backoff_min;
                        self.batch_limit = self.opts.batch_size;
                        return Ok(Attempt::Progress);
                    }
                    if !settled.skewed {
                        tracing::warn!(validator = %self.validators[self.current].url(), "validator settled no message of the batch");
                    }
                }
                Err(reason) => {
                    tracing::warn!(%reason, "sending to validator failed");
                }
            }
            self.metrics.send_failures.fetch_add(1, Relaxed);
            self.fail_over();
        }
        Ok(Attempt::AllFailed)
    }

    /// Acknowledges the longest settled prefix of `batch`, after putting re-signed copies of its
    /// stale messages in the queue and its worn-out ones in the parked queue. `local_ms` is our
    /// clock when the validator decided, about.
    async fn settle(
        &mut self,
        batch: &[(u64, QueuedMessage)],
        responses: &std::collections::HashMap<u64, rpc::Response>,
        local_ms: u64,
    ) -> Result<Settled, GatewayError> {
        let mut settled = Settled {
            count: 0,
            banned: false,
            skewed: false,
        };
        let mut last_id = None;
        let (mut resign, mut park) = (Vec::new(), Vec::new());
        for (id, msg) in batch {
            match rpc::classify(responses.get(id)) {
                Outcome::Refused { code, .. } if code == rpc::CODE_BANNED => {
                    self.metrics.refused(code);
                    settled.banned = true;
                    break;
                }
                Outcome::Delivered => {
                    self.metrics.delivered.fetch_add(1, Relaxed);
                    self.metrics.clock_skew.store(false, Relaxed);
                }
                Outcome::Refused { code, message } => {
                    self.metrics.refused(code);
                    if code == rpc::CODE_REPLAY {
                        tracing::info!(seq = msg.seq, %message, "validator already has this message; dropping it");
                    } else {
                        tracing::warn!(seq = msg.seq, code, %message, "validator refused the message for good; dropping it");
                    }
                }
                Outcome::Stale {
                    validator_time_ms,
                    message,
                } => {
                    self.metrics.refused(rpc::CODE_REPLAY);
                    let url = self.validators[self.current].url();
                    match self
                        .stale
                        .judge(msg, validator_time_ms, local_ms, url, &message)
                    {
                        StaleStep::Resign => resign.push(msg.clone()),
                        StaleStep::Park => park.push(msg.clone()),
                        StaleStep::Wait => {
                            settled.skewed = true;
                            break;
                        }
                    }
                }
                Outcome::Retry { reason } => {
                    tracing::warn!(seq = msg.seq, %reason, "message not settled; it stays queued");
                    break;
                }
            }
            settled.count += 1;
            last_id = Some(*id);
        }
        if !resign.is_empty() || !park.is_empty() {
            let handler = Arc::clone(&self.stale);
            blocking(move || handler.replace(&resign, park)).await??;
        }
        if let Some(up_to) = last_id {
            let queue = Arc::clone(&self.queue);
            let depth = blocking(move || {
                queue.ack(up_to)?;
                queue.len()
            })
            .await??;
            self.metrics.queue_depth.store(depth, Relaxed);
        }
        Ok(settled)
    }

    fn fail_over(&mut self) {
        if self.validators.len() > 1 {
            self.current = (self.current + 1) % self.validators.len();
            self.metrics.failovers.fetch_add(1, Relaxed);
            self.metrics.current_validator.store(self.current, Relaxed);
            tracing::info!(validator = %self.validators[self.current].url(), "failing over");
        }
    }
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, GatewayError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| GatewayError::Task(format!("queue task: {e}")))
}
