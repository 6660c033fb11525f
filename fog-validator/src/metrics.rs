//! Counters and the latency histogram of the validator, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (seconds) of the per-message latency histogram buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Gauges read from other parts at render time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    pub cache_size: u64,
    pub last_block: Option<u64>,
    pub spool_depth: u64,
    pub warning_queue: u64,
    /// Milliseconds since the ledger last confirmed the registry cache.
    pub registry_stale_ms: u64,
    /// Past `registry.max_staleness`: submits are refused with 1009.
    pub registry_stale: bool,
    /// Milliseconds since a fetch last confirmed the CRL; `None` without client certificates.
    pub crl_age_ms: Option<u64>,
    pub crl_stale: bool,
}

/// Every counter the validator exposes.
#[derive(Default)]
pub struct Metrics {
    pub accepted: AtomicU64,
    refused: Mutex<BTreeMap<i32, u64>>,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    pub forwarded: AtomicU64,
    pub forward_duplicates: AtomicU64,
    pub forward_failures: AtomicU64,
    pub forward_dropped: AtomicU64,
    pub warnings_sent: AtomicU64,
    pub warnings_failed: AtomicU64,
    pub warnings_dropped: AtomicU64,
    pub registry_events: AtomicU64,
    pub lookups: AtomicU64,
    pub lookups_limited: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    pub revoked_connections_closed: AtomicU64,
}

impl Metrics {
    /// Counts a refusal by its code.
    pub fn refused(&self, code: i32) {
        *self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(code)
            .or_default() += 1;
    }

    /// Refusals counted so far for a code.
    pub fn refused_count(&self, code: i32) -> u64 {
        let refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        refused.get(&code).copied().unwrap_or(0)
    }

    /// Records the time one message took from arrival to answer.
    pub fn observe_latency(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|bound| secs <= *bound) {
            self.latency_buckets[i].fetch_add(1, Relaxed);
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_us.fetch_add(
            elapsed.as_micros().min(u128::from(u64::MAX)) as u64,
            Relaxed,
        );
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "fog_validator_accepted_total",
            "Messages accepted.",
            self.accepted.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP fog_validator_refused_total Messages and requests refused, by error code.\n# TYPE fog_validator_refused_total counter"
        );
        for (code, n) in self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "fog_validator_refused_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP fog_validator_message_latency_seconds Time from request arrival to the answer, per message.\n# TYPE fog_validator_message_latency_seconds histogram"
        );
        let mut cumulative = 0;
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            cumulative += bucket.load(Relaxed);
            let _ = writeln!(
                out,
                "fog_validator_message_latency_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(
            out,
            "fog_validator_message_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "fog_validator_message_latency_seconds_sum {}",
            self.latency_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "fog_validator_message_latency_seconds_count {count}");
        counter(
            &mut out,
            "fog_validator_forwarded_total",
            "Records the cloud sink stored.",
            self.forwarded.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_forward_duplicates_total",
            "Records the cloud sink already held.",
            self.forward_duplicates.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_forward_failures_total",
            "Failed deliveries to the cloud sink (retried).",
            self.forward_failures.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_forward_dropped_total",
            "Records the cloud sink refused as invalid.",
            self.forward_dropped.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_warnings_sent_total",
            "Warnings delivered to the VPN Centre.",
            self.warnings_sent.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_warnings_failed_total",
            "Failed warning deliveries (retried).",
            self.warnings_failed.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_warnings_dropped_total",
            "Warnings dropped because the queue was full.",
            self.warnings_dropped.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_registry_events_total",
            "Registry events applied to the cache.",
            self.registry_events.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_registry_lookups_total",
            "Cache misses asked of the registry feed.",
            self.lookups.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_registry_lookups_limited_total",
            "Cache misses not asked because of the rate limit.",
            self.lookups_limited.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_tls_handshake_failures_total",
            "TLS handshakes refused or timed out, including missing, foreign and revoked client certificates.",
            self.tls_handshake_failures.load(Relaxed),
        );
        counter(
            &mut out,
            "fog_validator_revoked_connections_closed_total",
            "Open connections closed because a new CRL revoked their client certificate.",
            self.revoked_connections_closed.load(Relaxed),
        );
        gauge(
            &mut out,
            "fog_validator_registry_cache_devices",
            "Devices in the registry cache.",
            gauges.cache_size,
        );
        if let Some(block) = gauges.last_block {
            gauge(
                &mut out,
                "fog_validator_registry_last_block",
                "Last ledger block applied to the cache.",
                block,
            );
        }
        gauge(
            &mut out,
            "fog_validator_registry_stale_ms",
            "Milliseconds since the ledger last confirmed the registry cache (event stream up and a probe answered, or an event).",
            gauges.registry_stale_ms,
        );
        gauge(
            &mut out,
            "fog_validator_registry_stale",
            "1 while the registry cache is past registry.max_staleness and submits are refused with 1009.",
            u64::from(gauges.registry_stale),
        );
        if let Some(age) = gauges.crl_age_ms {
            gauge(
                &mut out,
                "fog_validator_crl_age_ms",
                "Milliseconds since a fetch last confirmed the CRL.",
                age,
            );
            gauge(
                &mut out,
                "fog_validator_crl_stale",
                "1 while the CRL is stale (past tls.crl_max_age or its nextUpdate) and new handshakes are refused.",
                u64::from(gauges.crl_stale),
            );
        }
        gauge(
            &mut out,
            "fog_validator_spool_depth",
            "Accepted records waiting for the cloud sink.",
            gauges.spool_depth,
        );
        gauge(
            &mut out,
            "fog_validator_warning_queue_depth",
            "Warnings waiting to be sent.",
            gauges.warning_queue,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::default();
        m.accepted.fetch_add(3, Relaxed);
        m.refused(1004);
        m.refused(1004);
        m.refused(-32700);
        m.observe_latency(Duration::from_micros(300));
        m.observe_latency(Duration::from_millis(3));
        let text = m.render(Gauges {
            cache_size: 7,
            last_block: Some(12),
            spool_depth: 2,
            warning_queue: 0,
            registry_stale_ms: 1_250,
            registry_stale: false,
            crl_age_ms: Some(40_000),
            crl_stale: true,
        });
        assert!(text.contains("fog_validator_accepted_total 3\n"));
        assert!(text.contains("fog_validator_refused_total{code=\"1004\"} 2\n"));
        assert!(text.contains("fog_validator_refused_total{code=\"-32700\"} 1\n"));
        assert!(text.contains("fog_validator_message_latency_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("fog_validator_message_latency_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("fog_validator_message_latency_seconds_count 2\n"));
        assert!(text.contains("fog_validator_registry_last_block 12\n"));
        assert!(text.contains("fog_validator_spool_depth 2\n"));
        assert!(text.contains("fog_validator_registry_stale_ms 1250\n"));
        assert!(text.contains("fog_validator_registry_stale 0\n"));
        assert!(text.contains("fog_validator_crl_age_ms 40000\n"));
        assert!(text.contains("fog_validator_crl_stale 1\n"));
        // Without client certificates there is no CRL to report.
        let text = m.render(Gauges::default());
        assert!(!text.contains("fog_validator_crl_age_ms"));
    }
}
