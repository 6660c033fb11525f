//! Accepted-request rate, from successive readings of the sink's running total.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far back readings are kept; the rate is the average over this window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Readings `(when, total)` of the sink's stored-record count.
#[derive(Default)]
pub struct RequestRate {
    samples: Mutex<VecDeque<(Instant, u64)>>,
}

impl RequestRate {
    /// Records a reading and returns records per second over the window, once two readings
    /// at least a second apart exist.
    pub fn observe(&self, total: u64) -> Option<f64> {
        self.observe_at(Instant::now(), total)
    }

    fn observe_at(&self, now: Instant, total: u64) -> Option<f64> {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        // A total that went down means the sink was reset: start over.
        if samples.back().is_some_and(|(_, t)| *t > total) {
            samples.clear();
        }
        samples.push_back((now, total));
        while samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > WINDOW)
        {
            samples.pop_front();
        }
        let (first_at, first_total) = *samples.front()?;
        let span = now.duration_since(first_at).as_secs_f64();
        (span >= 1.0).then(|| (total - first_total) as f64 / span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_the_growth_over_the_window() {
        let rate = RequestRate::default();
        let t0 = Instant::now();
        assert_eq!(rate.observe_at(t0, 100), None);
        assert_eq!(rate.observe_at(t0 + Duration::from_millis(500), 105), None);
        let r = rate.observe_at(t0 + Duration::from_secs(10), 150).unwrap();
        assert!((r - 5.0).abs() < 1e-9, "{r}");
        // Readings older than the window drop out.
        let r = rate.observe_at(t0 + Duration::from_secs(70), 150).unwrap();
        assert!(r.abs() < 1e-9, "{r}");
        // A reset sink starts a new series instead of a negative rate.
        assert_eq!(rate.observe_at(t0 + Duration::from_secs(71), 3), None);
    }
}
