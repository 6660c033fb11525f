//! Counters and store latency of the sink, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the store latency histogram buckets.
const LATENCY_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What `/metrics` reports.
#[derive(Default)]
pub struct Metrics {
    rows_stored: AtomicU64,
    rows_duplicate: AtomicU64,
    batches_refused: AtomicU64,
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    store_latency: Mutex<BTreeMap<&'static str, Histogram>>,
}

impl Metrics {
    pub fn record_ingest(&self, stored: u64, duplicates: u64) {
        self.rows_stored.fetch_add(stored, Ordering::Relaxed);
        self.rows_duplicate.fetch_add(duplicates, Ordering::Relaxed);
    }

    pub fn record_refused_batch(&self) {
        self.batches_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_request(&self, route: &str, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *requests.entry((route.to_owned(), status)).or_default() += 1;
    }

    /// Records how long one store operation (`ingest`, `query`, `counts`, `health`) took.
    pub fn record_store_latency(&self, operation: &'static str, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut latency = self.store_latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = latency.entry(operation).or_default();
        for (bucket, bound) in h.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "sf2c_sink_rows_stored_total",
            "Telemetry rows newly stored.",
            self.rows_stored.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "sf2c_sink_rows_duplicate_total",
            "Redelivered telemetry rows already stored.",
            self.rows_duplicate.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "sf2c_sink_batches_refused_total",
            "Ingest batches refused whole.",
            self.batches_refused.load(Ordering::Relaxed),
        );

        out.push_str("# HELP sf2c_sink_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE sf2c_sink_http_requests_total counter\n");
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((route, status), n) in requests.iter() {
            let _ = writeln!(
                out,
                "sf2c_sink_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        drop(requests);

        out.push_str("# HELP sf2c_sink_store_seconds Time spent in the database per operation.\n");
        out.push_str("# TYPE sf2c_sink_store_seconds histogram\n");
        let latency = self.store_latency.lock().unwrap_or_else(|p| p.into_inner());
        for (op, h) in latency.iter() {
            for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "sf2c_sink_store_seconds_bucket{{op=\"{op}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "sf2c_sink_store_seconds_bucket{{op=\"{op}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "sf2c_sink_store_seconds_sum{{op=\"{op}\"}} {}", h.sum);
            let _ = writeln!(
                out,
                "sf2c_sink_store_seconds_count{{op=\"{op}\"}} {}",
                h.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lands_in_cumulative_buckets() {
        let m = Metrics::default();
        m.record_store_latency("ingest", Duration::from_millis(3));
        m.record_store_latency("ingest", Duration::from_millis(300));
        let text = m.render();
        assert!(
            text.contains("sf2c_sink_store_seconds_bucket{op=\"ingest\",le=\"0.0025\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("sf2c_sink_store_seconds_bucket{op=\"ingest\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("sf2c_sink_store_seconds_bucket{op=\"ingest\",le=\"0.5\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("sf2c_sink_store_seconds_count{op=\"ingest\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn requests_counted_per_route_and_status() {
        let m = Metrics::default();
        m.record_request("/v1/ingest", 200);
        m.record_request("/v1/ingest", 200);
        m.record_request("/v1/ingest", 413);
        let text = m.render();
        assert!(
            text.contains("route=\"/v1/ingest\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("route=\"/v1/ingest\",status=\"413\"} 1"),
            "{text}"
        );
    }
}
