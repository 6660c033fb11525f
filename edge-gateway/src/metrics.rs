//! Counters of the message path, rendered in the Prometheus text format and served over HTTP.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use crate::error::GatewayError;
use runtime::Shutdown;

/// What the gateway has done since it started.
#[derive(Debug, Default)]
pub struct Metrics {
    pub read: AtomicU64,
    pub bad_input: AtomicU64,
    pub signed: AtomicU64,
    pub sent: AtomicU64,
    pub delivered: AtomicU64,
    pub send_failures: AtomicU64,
    pub failovers: AtomicU64,
    pub queue_depth: AtomicU64,
    pub current_validator: AtomicUsize,
    /// Messages refused as stale and re-signed with a new seq and timestamp.
    pub resigned: AtomicU64,
    /// Messages refused as stale after re-signing, moved to the parked queue on disk.
    pub parked: AtomicU64,
    /// Set while the last stale refusal came from a validator whose clock is further from ours
    /// than the replay window: messages wait instead of being re-signed. Cleared by a delivery.
    pub clock_skew: AtomicBool,
    /// Validator clock minus gateway clock at the last stale refusal, in ms.
    pub clock_skew_ms: AtomicI64,
    /// Set when a validator answered 1003: the gateway stopped sending.
    pub banned: AtomicBool,
    refused: Mutex<BTreeMap<i64, u64>>,
    validators: Vec<String>,
}

impl Metrics {
    pub fn new(validators: Vec<String>) -> Metrics {
        Metrics {
            validators,
            ..Metrics::default()
        }
    }

    /// Counts one message the validator refused with `code`.
    pub fn refused(&self, code: i64) {
        if let Ok(mut map) = self.refused.lock() {
            *map.entry(code).or_default() += 1;
        }
    }

    /// Messages refused with `code` so far.
    pub fn refused_count(&self, code: i64) -> u64 {
        self.refused
            .lock()
            .map(|m| m.get(&code).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The `/health` answer: 503 when banned or while the clocks disagree, else 200.
    pub fn health(&self) -> (StatusCode, String) {
        if self.banned.load(Relaxed) {
            return (StatusCode::SERVICE_UNAVAILABLE, "banned\n".into());
        }
        if self.clock_skew.load(Relaxed) {
            let skew = self.clock_skew_ms.load(Relaxed);
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "clock skew: a validator's clock is {skew} ms from this gateway's, beyond the \
                     replay window; messages stay queued (check NTP)\n"
                ),
            );
        }
        (StatusCode::OK, "ok\n".into())
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            ("readings_total", "Sensor readings taken.", &self.read),
            (
                "bad_input_total",
                "Sensor input lines skipped as malformed.",
                &self.bad_input,
            ),
            ("signed_total", "Messages signed and queued.", &self.signed),
            (
                "sent_total",
                "Message transmissions to validators, retries included.",
                &self.sent,
            ),
            (
                "delivered_total",
                "Messages a validator accepted.",
                &self.delivered,
            ),
            (
                "send_failures_total",
                "Requests to a validator that failed (connection, timeout, 5xx, bad answer).",
                &self.send_failures,
            ),
            (
                "failovers_total",
                "Switches to the next validator.",
                &self.failovers,
            ),
            (
                "resigned_total",
                "Messages refused as stale (timestamp outside the validator's window) and re-signed.",
                &self.resigned,
            ),
            (
                "parked_total",
                "Messages refused as stale after two re-signs, moved to the parked queue on disk.",
                &self.parked,
            ),
        ];
        for (name, help, value) in counters {
            metric(&mut out, name, help, "counter");
            let _ = writeln!(out, "edge_gateway_{name} {}", value.load(Relaxed));
        }
        metric(
            &mut out,
            "refused_total",
            "Messages refused by a validator, by JSON-RPC error code.",
            "counter",
        );
        if let Ok(map) = self.refused.lock() {
            for (code, n) in map.iter() {
                let _ = writeln!(out, "edge_gateway_refused_total{{code=\"{code}\"}} {n}");
            }
        }
        metric(
            &mut out,
            "queue_depth",
            "Messages waiting on disk for delivery.",
            "gauge",
        );
        let _ = writeln!(
            out,
            "edge_gateway_queue_depth {}",
            self.queue_depth.load(Relaxed)
        );
        metric(
            &mut out,
            "banned",
            "1 when a validator answered 1003 (device banned) and sending stopped.",
            "gauge",
        );
        let _ = writeln!(
            out,
            "edge_gateway_banned {}",
            u8::from(self.banned.load(Relaxed))
        );
        metric(
            &mut out,
            "clock_skew",
            "1 while a validator's clock is off ours by more than the replay window (messages wait).",
            "gauge",
        );
        let _ = writeln!(
            out,
            "edge_gateway_clock_skew {}",
            u8::from(self.clock_skew.load(Relaxed))
        );
        metric(
            &mut out,
            "clock_skew_ms",
            "Validator clock minus gateway clock at the last stale refusal, in milliseconds.",
            "gauge",
        );
        let _ = writeln!(
            out,
            "edge_gateway_clock_skew_ms {}",
            self.clock_skew_ms.load(Relaxed)
        );
        metric(
            &mut out,
            "current_validator",
            "1 for the validator messages go to now.",
            "gauge",
        );
        let current = self.current_validator.load(Relaxed);
        for (i, url) in self.validators.iter().enumerate() {
            let url = url.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "edge_gateway_current_validator{{url=\"{url}\"}} {}",
                u8::from(i == current)
            );
        }
        out
    }
}

fn metric(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP edge_gateway_{name} {help}");
    let _ = writeln!(out, "# TYPE edge_gateway_{name} {kind}");
}

/// Binds `addr` and serves `/metrics` and `/health` until shutdown; returns the bound address.
pub async fn serve(
    addr: &str,
    metrics: Arc<Metrics>,
    mut shutdown: Shutdown,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), GatewayError> {
    let err = |source| GatewayError::Metrics {
        addr: addr.to_string(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(err)?;
    let bound = listener.local_addr().map_err(err)?;
    let health = Arc::clone(&metrics);
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = Arc::clone(&metrics);
                async move { ([("content-type", "text/plain; version=0.0.4")], m.render()) }
            }),
        )
        .route(
            "/health",
            get(move || {
                let answer = health.health();
                async move { answer }
            }),
        );
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_counters_refusals_and_the_current_validator() {
        let m = Metrics::new(vec!["https://a/".into(), "https://b/".into()]);
        m.delivered.fetch_add(3, Relaxed);
        m.refused(1003);
        m.refused(1003);
        m.refused(1005);
        m.current_validator.store(1, Relaxed);
        assert!(m.render().contains("edge_gateway_banned 0\n"));
        m.banned.store(true, Relaxed);
        let text = m.render();
        assert!(text.contains("edge_gateway_banned 1\n"), "{text}");
        assert!(text.contains("edge_gateway_delivered_total 3\n"), "{text}");
        assert!(
            text.contains("edge_gateway_refused_total{code=\"1003\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("edge_gateway_refused_total{code=\"1005\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("edge_gateway_current_validator{url=\"https://a/\"} 0\n"));
        assert!(text.contains("edge_gateway_current_validator{url=\"https://b/\"} 1\n"));
        assert_eq!(m.refused_count(1003), 2);
        assert!(text.contains("edge_gateway_resigned_total 0\n"), "{text}");
        assert!(text.contains("edge_gateway_parked_total 0\n"), "{text}");
    }

    #[test]
    fn health_reports_clock_skew_until_it_clears() {
        let m = Metrics::new(vec![]);
        assert_eq!(m.health().0, StatusCode::OK);
        m.clock_skew_ms.store(-600_000, Relaxed);
        m.clock_skew.store(true, Relaxed);
        let (status, text) = m.health();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.starts_with("clock skew"), "{text}");
        assert!(text.contains("-600000 ms"), "{text}");
        assert!(m.render().contains("edge_gateway_clock_skew 1\n"));
        m.clock_skew.store(false, Relaxed);
        assert_eq!(m.health().0, StatusCode::OK);
    }
}
