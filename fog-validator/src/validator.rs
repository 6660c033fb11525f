//! Where a message is decided: runs the checks, the replay guard and the spool for each message, and
//! turns every refusal into a metric and a warning. Nothing is decided while the registry is stale
//! (1009, no warning: not the sender's fault); an acceptance is answered only once both the record
//! (spool) and its sequence number (replay store) are on disk.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use sink_api::TelemetryRecord;
use vpn_pki::CrlClientVerifier;
use warnings_api::NewWarning;

use crate::caller::{Caller, CallerIdentity};
use crate::checks;
use crate::forwarder::Forwarder;
use crate::metrics::{Gauges, Metrics};
use crate::recent::{RecentEntry, RecentStore};
use crate::refusal::{Refusal, code};
use crate::registry::Registry;
use crate::registry::freshness::Staleness;
use crate::replay::ReplayGuard;
use crate::warnings::WarningReporter;

/// Limits applied to what a client sends.
#[derive(Debug, Clone, Copy)]
pub struct MessageLimits {
    /// Longest compact message, in bytes.
    pub max_message_bytes: usize,
    /// Most entries in one JSON-RPC batch.
    pub max_batch: usize,
    /// Most entries one `telemetry.recent` call returns.
    pub max_recent: usize,
}

/// A message accepted and spooled for the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub device: String,
    pub seq: u64,
}

/// The validator's shared state.
pub struct Validator {
    /// This validator's id, named in forwarded records and warnings.
    pub id: String,
    pub registry: Arc<Registry>,
    pub replay: Arc<ReplayGuard>,
    pub recent: RecentStore,
    pub forwarder: Arc<Forwarder>,
    pub warnings: WarningReporter,
    pub metrics: Arc<Metrics>,
    pub limits: MessageLimits,
    /// The gateway listener's CRL verifier, for health; `None` when `client_auth = false`.
    pub crl: Option<Arc<CrlClientVerifier>>,
}

/// Milliseconds since the Unix epoch, by the validator clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

struct Pending {
    index: usize,
    accepted: Accepted,
    previous: Option<u64>,
    record: TelemetryRecord,
}

impl Validator {
    /// Decides every message of one request, in order, and spools the accepted ones in one write
    /// before returning: an `Ok` here means the message will reach the cloud.
    pub async fn submit(
        &self,
        messages: &[String],
        caller: &Caller,
    ) -> Vec<Result<Accepted, Refusal>> {
        let now = now_ms();
        if self.registry.freshness.is_stale(now) {
            let staleness = self.registry.freshness.check(now);
            return self.registry_unavailable(messages.len(), &staleness);
        }
        let mut outcomes: Vec<Result<Accepted, Refusal>> = Vec::with_capacity(messages.len());
        let mut pending = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            match self.decide(message, now, caller.identity).await {
                Ok((accepted, previous, record)) => {
                    outcomes.push(Ok(accepted.clone()));
                    pending.push(Pending {
                        index,
                        accepted,
                        previous,
                        record,
                    });
                }
                Err(refusal) => {
                    self.refuse(&refusal, caller);
                    outcomes.push(Err(refusal));
                }
            }
        }
        if pending.is_empty() {
            return outcomes;
        }
        let records: Vec<TelemetryRecord> = pending.iter().map(|p| p.record.clone()).collect();
        // Spool first: if the sequence numbers then fail to persist, the gateway resends, the
        // record is spooled twice, and the sink stores (device, seq) once. The other order could
        // burn a sequence number whose record was never kept.
        let kept = match self.forwarder.enqueue(records).await {
            Ok(()) => self.persist_sequences(&pending).await,
            Err(e) => Err(e.to_string()),
        };
        match kept {
            Ok(()) => {
                self.metrics
                    .accepted
                    .fetch_add(pending.len() as u64, Relaxed);
                for p in pending {
                    self.recent.push(RecentEntry {
                        device: p.record.device,
                        seq: p.record.seq,
                        ts_ms: p.record.ts_ms,
                        received_ms: p.record.received_ms,
                        data: p.record.data,
                    });
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "accepted messages could not be kept; answering internal error");
                // Undo newest first, so each release sees its own sequence as the highest.
                for p in pending.iter().rev() {
                    self.replay
                        .release(&p.accepted.device, p.accepted.seq, p.previous);
                    self.metrics.refused(code::INTERNAL_ERROR);
                    outcomes[p.index] = Err(Refusal::new(
                        code::INTERNAL_ERROR,
                        format!(
                            "the validator could not store the message ({e}); send it again later"
                        ),
                    ));
                }
            }
        }
        outcomes
    }

    /// Writes the sequence numbers of one request's acceptances in one fsynced transaction.
    async fn persist_sequences(&self, pending: &[Pending]) -> Result<(), String> {
        let accepted: Vec<(String, u64)> = pending
            .iter()
            .map(|p| (p.accepted.device.clone(), p.accepted.seq))
            .collect();
        let replay = self.replay.clone();
        match tokio::task::spawn_blocking(move || replay.persist(&accepted)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(format!("sequence store task failed: {e}")),
        }
    }

    /// Refuses every message of a request with 1009 while the registry is stale. Counted, but no
    /// warning: the sender did nothing wrong, and the gateway keeps the message for later.
    fn registry_unavailable(
        &self,
        count: usize,
        staleness: &Staleness,
    ) -> Vec<Result<Accepted, Refusal>> {
        let why = staleness.reason.as_deref().unwrap_or("no confirmation");
        let refusal = Refusal::new(
            code::REGISTRY_UNAVAILABLE,
            format!(
                "registry unavailable: not confirmed current by the ledger for {} ms (bound {} ms): \
                 {why}; keep the message and send it again later or to another validator",
                staleness.stale_ms, staleness.max_ms
            ),
        );
        (0..count)
            .map(|_| {
                self.metrics.refused(code::REGISTRY_UNAVAILABLE);
                Err(refusal.clone())
            })
            .collect()
    }

    async fn decide(
        &self,
        message: &str,
        now: u64,
        identity: CallerIdentity,
    ) -> Result<(Accepted, Option<u64>, TelemetryRecord), Refusal> {
        let unverified = checks::decode(message, self.limits.max_message_bytes, identity)?;
        let device = self.registry.lookup(&unverified.claims().device).await;
        let claims = checks::authorize(&unverified, device.as_deref())?;
        let previous = self
            .replay
            .accept(&claims.device, claims.seq, claims.ts, now)?;
        let data = serde_json::to_value(&claims.data).unwrap_or_default();
        let record = TelemetryRecord {
            device: claims.device.clone(),
            seq: claims.seq,
            ts_ms: claims.ts,
            received_ms: now,
            validator: self.id.clone(),
            data,
            message: message.to_owned(),
        };
        Ok((
            Accepted {
                device: claims.device,
                seq: claims.seq,
            },
            previous,
            record,
        ))
    }

    /// Counts a refusal caused by the client and reports it to the VPN Centre. The offender is
    /// the sender: its address and the device its client certificate names. A device named inside
    /// the refused message is never blamed, since nothing proves that device sent it.
    pub fn refuse(&self, refusal: &Refusal, caller: &Caller) {
        self.metrics.refused(refusal.code);
        self.warnings.report(NewWarning {
            submitter: self.id.clone(),
            offender_address: caller.addr.to_string(),
            offender_device: caller.device().map(|d| d.hyphenated().to_string()),
            time_ms: now_ms(),
            code: refusal.code,
            reason: truncate(&refusal.reason, warnings_api::MAX_REASON_LEN),
            stale: refusal.is_stale(),
        });
    }

    /// Current values of the gauges shown by `/metrics`.
    pub fn gauges(&self) -> Gauges {
        let staleness = self.registry.freshness.check(now_ms());
        let crl = self.crl.as_ref().map(|v| v.health());
        Gauges {
            cache_size: self.registry.cache.len() as u64,
            last_block: self.registry.cache.last_block(),
            spool_depth: self.forwarder.depth(),
            warning_queue: self.warnings.depth(),
            registry_stale_ms: staleness.stale_ms,
            registry_stale: staleness.stale,
            crl_age_ms: crl.as_ref().map(|h| h.age_ms),
            crl_stale: crl.is_some_and(|h| h.stale),
        }
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
