//! `[ledger_timeouts]`: how long each kind of ledger call may take before the centre gives up on it and reports the ledger unavailable.
//!
//! Enrolment, bans, the dashboard and the ledger follower all go through the Gateway client's
//! per-call deadlines ([`fabric_client::Deadlines`]); a silent or paused peer then costs a caller
//! at most these, and holds no PKI lock meanwhile.

use std::time::Duration;

use fabric_client::Deadlines;
use serde::Deserialize;

/// Seconds per ledger call, read from `[ledger_timeouts]` in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerTimeouts {
    /// A query on the centre's peer (`GetDevice`, `ListDevices`, history, channel height).
    pub evaluate_seconds: u64,
    /// Collecting the endorsements of a ban, unban or virtual-IP write.
    pub endorse_seconds: u64,
    /// Handing an endorsed write to the ordering service.
    pub submit_seconds: u64,
    /// Waiting for a write to commit.
    pub commit_seconds: u64,
}

impl Default for LedgerTimeouts {
    fn default() -> Self {
        let d = Deadlines::default();
        Self {
            evaluate_seconds: d.evaluate.as_secs(),
            endorse_seconds: d.endorse.as_secs(),
            submit_seconds: d.submit.as_secs(),
            commit_seconds: d.commit_status.as_secs(),
        }
    }
}

impl LedgerTimeouts {
    /// The Gateway client's deadlines.
    pub fn deadlines(&self) -> Deadlines {
        Deadlines {
            evaluate: Duration::from_secs(self.evaluate_seconds),
            endorse: Duration::from_secs(self.endorse_seconds),
            submit: Duration::from_secs(self.submit_seconds),
            commit_status: Duration::from_secs(self.commit_seconds),
        }
    }

    /// Refuses a zero timeout, which would fail every ledger call at once.
    pub fn check(&self) -> Result<(), String> {
        self.deadlines()
            .check()
            .map_err(|e| format!("[ledger_timeouts]: {e}; give every timeout at least 1 second"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigError};

    #[test]
    fn timeouts_come_from_the_file_with_defaults_for_the_rest() {
        assert_eq!(
            Config::default().ledger_timeouts.deadlines(),
            Deadlines::default()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centre.toml");
        std::fs::write(
            &file,
            "[ledger_timeouts]\nevaluate_seconds = 3\ncommit_seconds = 90\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), |_| None).unwrap();
        let d = config.ledger_timeouts.deadlines();
        assert_eq!(d.evaluate, Duration::from_secs(3));
        assert_eq!(d.commit_status, Duration::from_secs(90));
        assert_eq!(d.endorse, Deadlines::default().endorse);
        assert!(config.check().is_ok());

        std::fs::write(&file, "[ledger_timeouts]\nsubmit_seconds = 0\n").unwrap();
        let zero = Config::load(Some(&file), |_| None).unwrap();
        assert!(
            matches!(zero.check(), Err(ConfigError::Invalid { key, detail }) if key == "ledger_timeouts" && detail.contains("submit")),
            "{:?}",
            zero.check()
        );
        std::fs::write(&file, "[ledger_timeouts]\nevaluate = 3\n").unwrap();
        assert!(matches!(
            Config::load(Some(&file), |_| None),
            Err(ConfigError::Parse { .. })
        ));
    }
}
