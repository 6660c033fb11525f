//! How current the registry cache is: when the ledger last confirmed it, and why it has not since.
//!
//! The cache is known current at a moment when the event stream is up and a ledger probe answers,
//! when an event arrives, or when a snapshot is loaded. Past `max_staleness` without that, the
//! validator refuses to decide (1009) and `/healthz` says `stale`, naming the reason. Times are
//! wall-clock milliseconds so the last confirmation survives a restart in the checkpoint.

use std::sync::Mutex;
use std::time::Duration;

/// The event stream's state as the follower last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    /// Not opened since start.
    NotYet,
    Up,
    Down {
        since_ms: u64,
        error: String,
    },
}

#[derive(Debug)]
struct State {
    started_ms: u64,
    current_ms: Option<u64>,
    link: Link,
    /// First failure of the current run of failed probes, and the last error.
    probe_failing: Option<(u64, String)>,
}

/// How stale the cache is at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staleness {
    /// Milliseconds since the cache was last known current (since start if it never was).
    pub stale_ms: u64,
    /// The bound (`registry.max_staleness`).
    pub max_ms: u64,
    /// Past the bound, or never loaded from the ledger: submits are refused with 1009.
    pub stale: bool,
    /// What keeps the cache from being confirmed, if anything.
    pub reason: Option<String>,
}

/// The registry's freshness clock.
#[derive(Debug)]
pub struct Freshness {
    max_ms: u64,
    state: Mutex<State>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn ago(now_ms: u64, since_ms: u64) -> String {
    format!(
        "{:.1} s ago",
        now_ms.saturating_sub(since_ms) as f64 / 1000.0
    )
}

impl Freshness {
    /// A clock started at `started_ms`; `restored_ms` is when a checkpoint's cache was last known
    /// current, if one was restored.
    pub fn new(max_staleness: Duration, started_ms: u64, restored_ms: Option<u64>) -> Self {
        Self {
            max_ms: ms(max_staleness),
            state: Mutex::new(State {
                started_ms,
                current_ms: restored_ms,
                link: Link::NotYet,
                probe_failing: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn confirm(state: &mut State, now_ms: u64) {
        state.current_ms = Some(state.current_ms.map_or(now_ms, |c| c.max(now_ms)));
    }

    /// A whole snapshot was loaded at `now_ms`.
    pub fn loaded(&self, now_ms: u64) {
        Self::confirm(&mut self.lock(), now_ms);
    }

    /// The event stream opened.
    pub fn stream_up(&self) {
        self.lock().link = Link::Up;
    }

    /// The event stream failed to open or ended; the first failure's time is kept.
    pub fn stream_down(&self, now_ms: u64, error: &str) {
        let mut state = self.lock();
        let since_ms = match &state.link {
            Link::Down { since_ms, .. } => *since_ms,
            _ => now_ms,
        };
        state.link = Link::Down {
            since_ms,
            error: error.to_owned(),
        };
    }

    /// Whether the event stream is up, so a probe can confirm the cache.
    pub fn stream_is_up(&self) -> bool {
        self.lock().link == Link::Up
    }

    /// An event arrived: the stream delivers, so the cache is current.
    pub fn event(&self, now_ms: u64) {
        Self::confirm(&mut self.lock(), now_ms);
    }

    /// The ledger answered a probe at `now_ms`: current if the stream is up too.
    pub fn probe_ok(&self, now_ms: u64) {
        let mut state = self.lock();
        state.probe_failing = None;
        if state.link == Link::Up {
            Self::confirm(&mut state, now_ms);
        }
    }

    /// The ledger did not answer a probe.
    pub fn probe_failed(&self, now_ms: u64, error: &str) {
        let mut state = self.lock();
        let since_ms = state.probe_failing.as_ref().map_or(now_ms, |(s, _)| *s);
        state.probe_failing = Some((since_ms, error.to_owned()));
    }

    /// When the cache was last known current, for the checkpoint.
    pub fn current_ms(&self) -> Option<u64> {
        self.lock().current_ms
    }

    /// Whether the cache is stale at `now_ms`: [`Freshness::check`]'s verdict without building
    /// its reason, for the per-request path.
    pub fn is_stale(&self, now_ms: u64) -> bool {
        let state = self.lock();
        self.stale_at(&state, now_ms).1
    }

    /// How long unconfirmed at `now_ms`, and whether that makes the cache stale.
    fn stale_at(&self, state: &State, now_ms: u64) -> (u64, bool) {
        let stale_ms = now_ms.saturating_sub(state.current_ms.unwrap_or(state.started_ms));
        (
            stale_ms,
            state.current_ms.is_none() || stale_ms > self.max_ms,
        )
    }

    /// The staleness at `now_ms`.
    pub fn check(&self, now_ms: u64) -> Staleness {
        let state = self.lock();
        let (stale_ms, stale) = self.stale_at(&state, now_ms);
        let reason = match (&state.link, &state.probe_failing, state.current_ms) {
            (Link::Down { since_ms, error }, _, _) => Some(format!(
                "registry event stream down since {since_ms} ms ({}): {error}",
                ago(now_ms, *since_ms)
            )),
            (_, Some((since_ms, error)), _) => Some(format!(
                "ledger probe failing since {since_ms} ms ({}): {error}",
                ago(now_ms, *since_ms)
            )),
            (Link::NotYet, None, None) => Some("registry not yet loaded from the ledger".into()),
            (Link::NotYet, None, Some(_)) => {
                Some("registry event stream not yet open (cache restored from a checkpoint)".into())
            }
            (Link::Up, None, _) if stale_ms > self.max_ms => Some(format!(
                "no ledger probe answered and no registry event for {stale_ms} ms"
            )),
            (Link::Up, None, _) => None,
        };
        Staleness {
            stale_ms,
            max_ms: self.max_ms,
            stale,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;
    const MAX: Duration = Duration::from_secs(30);

    #[test]
    fn never_loaded_is_stale_at_once() {
        let f = Freshness::new(MAX, T0, None);
        let s = f.check(T0 + 10);
        assert!(s.stale && s.stale_ms == 10, "{s:?}");
        assert!(s.reason.unwrap().contains("not yet loaded"));
        f.loaded(T0 + 20);
        let s = f.check(T0 + 25);
        assert!(!s.stale && s.stale_ms == 5, "{s:?}");
    }

    #[test]
    fn probes_confirm_only_while_the_stream_is_up() {
        let f = Freshness::new(MAX, T0, None);
        f.loaded(T0);
        f.stream_up();
        f.probe_ok(T0 + 5_000);
        assert_eq!(f.check(T0 + 6_000).stale_ms, 1_000);
        f.stream_down(T0 + 7_000, "connection reset");
        f.probe_ok(T0 + 10_000);
        // The probe answered but the stream is down: still aging from 5 s.
        let s = f.check(T0 + 35_000);
        assert_eq!(s.stale_ms, 30_000);
        assert!(!s.stale, "exactly at the bound is not past it");
        let s = f.check(T0 + 35_001);
        assert!(s.stale, "{s:?}");
        let reason = s.reason.unwrap();
        assert!(
            reason.contains("stream down since 1700000007000 ms (28.0 s ago): connection reset"),
            "{reason}"
        );
        // A second failure keeps the first time.
        f.stream_down(T0 + 20_000, "refused");
        assert!(
            f.check(T0 + 35_001)
                .reason
                .unwrap()
                .contains("since 1700000007000 ms")
        );
        f.stream_up();
        f.probe_ok(T0 + 36_000);
        let s = f.check(T0 + 36_500);
        assert!(!s.stale && s.reason.is_none() && s.stale_ms == 500, "{s:?}");
    }

    #[test]
    fn failing_probes_age_the_cache_and_say_why_and_events_confirm_it() {
        let f = Freshness::new(MAX, T0, Some(T0 - 1_000));
        assert!(
            f.check(T0)
                .reason
                .unwrap()
                .contains("restored from a checkpoint")
        );
        f.stream_up();
        f.probe_failed(T0 + 1_000, "deadline exceeded");
        f.probe_failed(T0 + 6_000, "unavailable");
        let s = f.check(T0 + 31_000);
        assert!(s.stale && s.stale_ms == 32_000, "{s:?}");
        let reason = s.reason.unwrap();
        assert!(
            reason.contains("probe failing since 1700000001000 ms")
                && reason.contains("unavailable"),
            "{reason}"
        );
        // An event proves the stream delivers: current again, even with the probe failing.
        f.event(T0 + 31_500);
        assert!(!f.check(T0 + 32_000).stale);
        assert_eq!(f.current_ms(), Some(T0 + 31_500));
        // A late, older confirmation never moves the clock back.
        f.loaded(T0);
        assert_eq!(f.current_ms(), Some(T0 + 31_500));
    }

    #[test]
    fn a_silent_stream_turns_stale_without_any_error() {
        let f = Freshness::new(Duration::from_secs(3), T0, None);
        f.loaded(T0);
        f.stream_up();
        let s = f.check(T0 + 3_001);
        assert!(s.stale, "{s:?}");
        assert!(s.reason.unwrap().contains("no ledger probe answered"));
    }
}
