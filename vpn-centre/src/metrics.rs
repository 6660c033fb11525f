//! In-process counters of the warnings API, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters since process start (Prometheus handles resets on restart).
#[derive(Default)]
pub struct Metrics {
    received_by_code: Mutex<BTreeMap<i32, u64>>,
    refused_submissions: AtomicU64,
    refused_connections: AtomicU64,
    shed_connections: AtomicU64,
}

impl Metrics {
    /// Counts warnings that were stored.
    pub fn record_received(&self, codes: impl IntoIterator<Item = i32>) {
        let mut map = self
            .received_by_code
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for code in codes {
            *map.entry(code).or_default() += 1;
        }
    }

    /// Counts a POST that was refused as bad input (nothing stored).
    pub fn record_refused_submission(&self) {
        self.refused_submissions.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed at once because its listener was at its connection limit with
    /// every connection busy.
    pub fn record_refused_connection(&self) {
        self.refused_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed to make room for a newcomer at the connection limit.
    pub fn record_shed_connection(&self) {
        self.shed_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text, with the current number of stored warnings as a gauge.
    pub fn render(&self, stored: u64) -> String {
        let mut out = String::new();
        out.push_str("# HELP sf2c_vpn_warnings_received_total Warnings stored since start, by JSON-RPC error code.\n");
        out.push_str("# TYPE sf2c_vpn_warnings_received_total counter\n");
        let map = self
            .received_by_code
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (code, n) in map.iter() {
            let _ = writeln!(
                out,
                "sf2c_vpn_warnings_received_total{{code=\"{code}\"}} {n}"
            );
        }
        drop(map);
        out.push_str("# HELP sf2c_vpn_warning_submissions_refused_total Warning submissions refused as bad input.\n");
        out.push_str("# TYPE sf2c_vpn_warning_submissions_refused_total counter\n");
        let _ = writeln!(
            out,
            "sf2c_vpn_warning_submissions_refused_total {}",
            self.refused_submissions.load(Ordering::Relaxed)
        );
        out.push_str("# HELP sf2c_vpn_connections_refused_total Connections closed at once: listener at its connection limit, every connection busy.\n");
        out.push_str("# TYPE sf2c_vpn_connections_refused_total counter\n");
        let _ = writeln!(
            out,
            "sf2c_vpn_connections_refused_total {}",
            self.refused_connections.load(Ordering::Relaxed)
        );
        out.push_str("# HELP sf2c_vpn_connections_shed_total Connections without a request closed for a newcomer at the connection limit.\n");
        out.push_str("# TYPE sf2c_vpn_connections_shed_total counter\n");
        let _ = writeln!(
            out,
            "sf2c_vpn_connections_shed_total {}",
            self.shed_connections.load(Ordering::Relaxed)
        );
        out.push_str("# HELP sf2c_vpn_warnings_stored Warnings currently in the store.\n");
        out.push_str("# TYPE sf2c_vpn_warnings_stored gauge\n");
        let _ = writeln!(out, "sf2c_vpn_warnings_stored {stored}");
        out
    }
}
