//! Delivers queued messages in order to the current validator, failing over and backing off.
//!
//! A message leaves the queue only when a validator settled it: accepted, refused for good
//! (codes 1001, 1002, 1004, 1006-1008: logged and counted) or reported as a replay (1005: it was
//! already delivered). Anything else keeps it queued and moves on to the next validator.
//! A 1003 (device banned) stops the sender with every unsent message still queued: resending
//! cannot succeed until an unban, and each refusal would be one more warning at the centre.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use disk_queue::DiskQueue;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::rpc::{self, Outcome};
use crate::shutdown::Shutdown;
use crate::signer::QueuedMessage;
use crate::transport::ValidatorClient;

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
}

/// The result of one delivery attempt.
enum Attempt {
    /// The queue was empty.
    Idle,
    /// Some messages were settled.
    Progress,
    /// No validator settled anything; back off.
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
    ) -> Sender {
        Sender {
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
        while !shutdown.is_shutdown() {
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
                        _ = shutdown.recv() => {}
                    }
                }
                Attempt::AllFailed => {
                    tracing::warn!(pause = ?self.backoff, "no validator reachable; messages stay queued");
                    tokio::select! {
                        _ = tokio::time::sleep(self.backoff) => {}
                        _ = shutdown.recv() => {}
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
                    let (settled, banned) = self.settle(&batch, &responses).await?;
                    if banned {
                        let url = self.validators[self.current].url().to_string();
                        return Ok(Attempt::Banned(url));
                    }
                    if settled > 0 {
                        self.backoff = self.opts.backoff_min;
                        self.batch_limit = self.opts.batch_size;
                        return Ok(Attempt::Progress);
                    }
                    tracing::warn!(validator = %self.validators[self.current].url(), "validator settled no message of the batch");
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

    /// Acknowledges the longest settled prefix of `batch`; returns how many were settled and
    /// whether the prefix ended at a 1003 (that message and the rest stay queued).
    async fn settle(
        &mut self,
        batch: &[(u64, QueuedMessage)],
        responses: &std::collections::HashMap<u64, rpc::Response>,
    ) -> Result<(usize, bool), GatewayError> {
        let mut settled = 0;
        let mut last_id = None;
        let mut banned = false;
        for (id, msg) in batch {
            match rpc::classify(responses.get(id)) {
                Outcome::Refused { code, .. } if code == rpc::CODE_BANNED => {
                    self.metrics.refused(code);
                    banned = true;
                    break;
                }
                Outcome::Delivered => {
                    self.metrics.delivered.fetch_add(1, Relaxed);
                }
                Outcome::Refused { code, message } => {
                    self.metrics.refused(code);
                    if code == rpc::CODE_REPLAY {
                        tracing::info!(seq = msg.seq, %message, "validator already has this message; dropping it");
                    } else {
                        tracing::warn!(seq = msg.seq, code, %message, "validator refused the message for good; dropping it");
                    }
                }
                Outcome::Retry { reason } => {
                    tracing::warn!(seq = msg.seq, %reason, "message not settled; it stays queued");
                    break;
                }
            }
            settled += 1;
            last_id = Some(*id);
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
        Ok((settled, banned))
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
