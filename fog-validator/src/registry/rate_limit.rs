//! Token bucket that caps how often a cache miss may ask the ledger, so unknown-UUID floods cannot hammer it.

use std::sync::Mutex;
use std::time::Instant;

/// A classic token bucket: `capacity` tokens, refilled at `per_second`.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(capacity: u32, per_second: f64) -> Self {
        let capacity = f64::from(capacity.max(1));
        Self {
            capacity,
            per_second: per_second.max(0.0),
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&self) -> bool {
        self.try_take_at(Instant::now())
    }

    fn try_take_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = *state;
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        let tokens = (tokens + elapsed * self.per_second).min(self.capacity);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            true
        } else {
            *state = (tokens, now);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn empties_then_refills_with_time() {
        let bucket = TokenBucket::new(3, 10.0);
        let start = Instant::now();
        let taken = (0..10).filter(|_| bucket.try_take_at(start)).count();
        assert_eq!(taken, 3);
        // 10 tokens/s: after 250 ms two tokens are back, not three.
        let later = start + Duration::from_millis(250);
        let taken = (0..10).filter(|_| bucket.try_take_at(later)).count();
        assert_eq!(taken, 2);
    }
}
