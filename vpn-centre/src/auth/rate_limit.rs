//! Login throttling: a bounded number of failed attempts per client address in a sliding window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins counted per address; past the limit, logins are refused until the window slides.
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(5, Duration::from_secs(60))
    }
}

impl LoginLimiter {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Vec<Instant>>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(wait)` when `addr` must wait before trying again; checked before any password.
    pub fn blocked_for(&self, addr: IpAddr) -> Option<Duration> {
        self.blocked_at(addr, Instant::now())
    }

    fn blocked_at(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        let mut map = self.lock();
        let times = map.get_mut(&addr)?;
        times.retain(|t| now.duration_since(*t) < self.window);
        if times.len() < self.max_failures {
            return None;
        }
        let oldest = times.first().copied()?;
        Some(self.window.saturating_sub(now.duration_since(oldest)))
    }

    /// Counts a failed attempt from `addr`.
    pub fn record_failure(&self, addr: IpAddr) {
        self.failure_at(addr, Instant::now());
    }

    fn failure_at(&self, addr: IpAddr, now: Instant) {
        let mut map = self.lock();
        // Forget addresses that went quiet, so the map cannot grow without bound.
        map.retain(|_, times| {
            times
                .last()
                .is_some_and(|t| now.duration_since(*t) < self.window)
        });
        map.entry(addr).or_default().push(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_too_many_failures_then_released() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(limiter.blocked_at(a, t0), None, "after {i} failures");
            limiter.failure_at(a, t0 + Duration::from_secs(i));
        }
        let wait = limiter.blocked_at(a, t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(wait, Duration::from_secs(50));
        assert_eq!(
            limiter.blocked_at(b, t0),
            None,
            "other addresses are not affected"
        );
        assert_eq!(limiter.blocked_at(a, t0 + Duration::from_secs(61)), None);
    }
}
