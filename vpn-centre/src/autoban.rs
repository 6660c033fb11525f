//! The auto-ban policy: N warnings proving misbehaviour of one device, from at least K distinct
//! validators within T seconds, ban it. Pure logic over a sliding window per offender device.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Mutex;

use serde::Deserialize;

/// Refusal codes (the validators' table, docs/protocol.md) that prove the *sender* misbehaved, the
/// only ones auto-ban counts. The offender of a warning is the sender's certificate, and
/// validators check that it names the claimed device before anything else, so:
/// - 1004, signature invalid: the sender's own registered key did not sign what it sent;
/// - 1008, certificate does not match device: it sent (or asked) in another device's name;
/// - 1005, replay: it re-sent a sequence number already accepted, unless the warning is marked
///   `stale` (timestamp outside the window: an honest gateway's backlog after an outage).
///
/// Never counted: unknown device, not a gateway, banned (registry state, not behaviour),
/// oversized or malformed messages and JSON-RPC errors (a bug or a limit, no proof of intent),
/// internal errors and anything a validator's own trouble causes.
pub const MISBEHAVIOUR_CODES: [i32; 3] = [SIGNATURE_INVALID, REPLAY, CERT_MISMATCH];
const SIGNATURE_INVALID: i32 = 1004;
const REPLAY: i32 = 1005;
const CERT_MISMATCH: i32 = 1008;

/// Whether a warning with `code` (and the `stale` mark) counts towards auto-ban.
pub fn proves_misbehaviour(code: i32, stale: bool) -> bool {
    MISBEHAVIOUR_CODES.contains(&code) && !(code == REPLAY && stale)
}

/// Settings of the policy (`[autoban]` in the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoBanPolicy {
    pub enabled: bool,
    /// N: warnings about one device needed to ban it.
    pub warnings: usize,
    /// K: distinct validators those warnings must come from, so one validator cannot ban alone.
    pub validators: usize,
    /// T: length of the sliding window, in seconds.
    pub window_seconds: u64,
}

impl Default for AutoBanPolicy {
    /// On, at 5 warnings from 2 validators within 60 s: a single rogue or faulty validator
    /// never suffices, while a device attacking several validators is stopped within a minute.
    fn default() -> Self {
        Self {
            enabled: true,
            warnings: 5,
            validators: 2,
            window_seconds: 60,
        }
    }
}

impl fmt::Display for AutoBanPolicy {
    /// The ban reason written to the ledger.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "auto-ban: {} warnings from {} validators within {} s",
            self.warnings, self.validators, self.window_seconds
        )
    }
}

impl AutoBanPolicy {
    /// Refuses settings that could never trip or would trip on nothing.
    pub fn check(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if self.warnings == 0 || self.validators == 0 || self.window_seconds == 0 {
            return Err(format!(
                "autoban settings {self:?} must all be at least 1; set enabled = false to turn it off"
            ));
        }
        if self.validators > self.warnings {
            return Err(format!(
                "autoban.validators ({}) cannot exceed autoban.warnings ({}): each validator must send a warning",
                self.validators, self.warnings
            ));
        }
        Ok(())
    }
}

/// One authenticated warning as the policy counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    at_ms: u64,
    submitter: String,
}

/// Recent warnings per offender device; tells when a device crosses the policy.
#[derive(Debug)]
pub struct AutoBanTracker {
    policy: AutoBanPolicy,
    windows: Mutex<HashMap<String, VecDeque<Seen>>>,
}

impl AutoBanTracker {
    pub fn new(policy: AutoBanPolicy) -> Self {
        Self {
            policy,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn policy(&self) -> AutoBanPolicy {
        self.policy
    }

    /// Counts one warning about `device` from `submitter` (the validator's certificate UUID) at
    /// `at_ms` (the centre's receive time, not the submitter's claim). Returns true when this
    /// warning makes the device cross the policy; its window is then emptied, so the same burst
    /// does not trip twice.
    pub fn observe(&self, device: &str, submitter: &str, at_ms: u64) -> bool {
        if !self.policy.enabled {
            return false;
        }
        let window_ms = self.policy.window_seconds.saturating_mul(1000);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // Drop devices whose windows went quiet, so memory follows current trouble only.
        windows.retain(|_, seen| {
            seen.back()
                .is_some_and(|s| at_ms.saturating_sub(s.at_ms) < window_ms)
        });
        let seen = windows.entry(device.to_string()).or_default();
        seen.push_back(Seen {
            at_ms,
            submitter: submitter.to_string(),
        });
        while seen
            .front()
            .is_some_and(|s| at_ms.saturating_sub(s.at_ms) >= window_ms)
        {
            seen.pop_front();
        }
        let distinct: HashSet<&str> = seen.iter().map(|s| s.submitter.as_str()).collect();
        if seen.len() >= self.policy.warnings && distinct.len() >= self.policy.validators {
            windows.remove(device);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "6f1c2a8e-3b4d-4c5e-8f9a-0b1c2d3e4f50";

    fn policy(n: usize, k: usize, t: u64) -> AutoBanPolicy {
        AutoBanPolicy {
            enabled: true,
            warnings: n,
            validators: k,
            window_seconds: t,
        }
    }

    #[test]
    fn trips_on_the_nth_warning_from_k_validators() {
        let t = AutoBanTracker::new(policy(3, 2, 60));
        assert!(!t.observe(DEV, "v1", 1_000));
        assert!(!t.observe(DEV, "v2", 2_000));
        assert!(t.observe(DEV, "v1", 3_000));
    }

    #[test]
    fn one_validator_alone_never_trips() {
        let t = AutoBanTracker::new(policy(3, 2, 60));
        for i in 0..20 {
            assert!(!t.observe(DEV, "rogue", 1_000 + i), "tripped at {i}");
        }
        // The first warning from a second validator completes it.
        assert!(t.observe(DEV, "v2", 1_050));
    }

    #[test]
    fn warnings_outside_the_window_do_not_count() {
        let t = AutoBanTracker::new(policy(3, 2, 10));
        assert!(!t.observe(DEV, "v1", 0));
        assert!(!t.observe(DEV, "v2", 5_000));
        // 10 s after the first: it has left the window, leaving two.
        assert!(!t.observe(DEV, "v1", 10_000));
        assert!(t.observe(DEV, "v2", 12_000));
    }

    #[test]
    fn devices_are_counted_apart_and_a_burst_trips_once() {
        let t = AutoBanTracker::new(policy(2, 2, 60));
        let other = "0d9e8f7a-6b5c-4d3e-9f1a-2b3c4d5e6f70";
        assert!(!t.observe(DEV, "v1", 1));
        assert!(!t.observe(other, "v2", 2));
        assert!(t.observe(DEV, "v2", 3));
        // The window restarted: one more warning is not a new trip.
        assert!(!t.observe(DEV, "v1", 4));
        assert!(t.observe(other, "v1", 5));
    }

    #[test]
    fn only_refusals_proving_misbehaviour_count() {
        for code in [1004, 1005, 1008] {
            assert!(proves_misbehaviour(code, false), "{code}");
        }
        assert!(
            !proves_misbehaviour(1005, true),
            "stale timestamps never count"
        );
        for code in [
            -32700, -32600, -32601, -32602, -32603, 1001, 1002, 1003, 1006, 1007,
        ] {
            assert!(!proves_misbehaviour(code, false), "{code}");
        }
    }

    #[test]
    fn disabled_policy_never_trips_and_bad_settings_are_refused() {
        let t = AutoBanTracker::new(AutoBanPolicy {
            enabled: false,
            ..policy(1, 1, 60)
        });
        assert!(!t.observe(DEV, "v1", 1));
        assert!(policy(0, 1, 60).check().is_err());
        assert!(policy(2, 3, 60).check().is_err());
        assert!(policy(5, 2, 60).check().is_ok());
        assert_eq!(
            policy(5, 2, 60).to_string(),
            "auto-ban: 5 warnings from 2 validators within 60 s"
        );
    }
}
