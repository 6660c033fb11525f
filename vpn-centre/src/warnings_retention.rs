//! Bounded retention of the warnings table: rows older than a maximum age, and the oldest rows
//! beyond a maximum count, are deleted on every insert and periodically, so the store cannot grow
//! without bound under a flood of distinct refusals.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, params};

use crate::warnings_store::WarningsStore;

/// Default maximum age of a warning: 30 days.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Default maximum number of warning rows.
pub const DEFAULT_MAX_ROWS: u64 = 1_000_000;

/// Age is measured on the centre's clock (`received_ms`), never on the validator's `time_ms`.
pub(crate) const RECEIVED_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS warnings_by_received ON warnings (received_ms);";

/// How long and how many warnings are kept; `None` lifts that bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Option<Duration>,
    pub max_rows: Option<u64>,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_age: Some(DEFAULT_MAX_AGE),
            max_rows: Some(DEFAULT_MAX_ROWS),
        }
    }
}

impl Retention {
    /// No bound at all.
    pub const UNBOUNDED: Self = Self {
        max_age: None,
        max_rows: None,
    };

    /// Deletes what this retention no longer keeps at `now_ms`; returns the rows deleted.
    pub(crate) fn prune(&self, conn: &Connection, now_ms: u64) -> rusqlite::Result<usize> {
        let mut deleted = 0;
        if let Some(age) = self.max_age {
            let age_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
            let cutoff = i64::try_from(now_ms.saturating_sub(age_ms)).unwrap_or(i64::MAX);
            deleted += conn.execute(
                "DELETE FROM warnings WHERE received_ms < ?1",
                params![cutoff],
            )?;
        }
        if let Some(rows) = self.max_rows {
            // Ids grow with arrival, so the rows past the newest `rows` are the oldest.
            deleted += conn.execute(
                "DELETE FROM warnings WHERE id <= \
                 (SELECT id FROM warnings ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                params![i64::try_from(rows).unwrap_or(i64::MAX)],
            )?;
        }
        Ok(deleted)
    }
}

/// Prunes the store every `every` (first at once), for as long as the runtime lives.
pub fn spawn_pruner(store: Arc<WarningsStore>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let pruning = store.clone();
            match tokio::task::spawn_blocking(move || pruning.prune(now_ms)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(deleted = n, "pruned warnings past their retention"),
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot prune warnings"),
                Err(e) => tracing::warn!(error = %e, "warnings pruner stopped a round"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warnings_store::WarningsStore;
    use warnings_api::NewWarning;
    use warnings_api::WarningFilter;

    const DAY_MS: u64 = 24 * 3600 * 1000;

    fn warning(n: u64) -> NewWarning {
        NewWarning {
            submitter: format!("validator-{n}"),
            offender_address: "10.8.0.9".into(),
            offender_device: None,
            time_ms: n,
            code: 1005,
            reason: "replayed".into(),
            stale: false,
        }
    }

    fn store(retention: Retention) -> (tempfile::TempDir, WarningsStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = WarningsStore::open(&dir.path().join("w.sqlite3"))
            .unwrap()
            .with_retention(retention);
        (dir, store)
    }

    fn count(store: &WarningsStore) -> u64 {
        store.count(&WarningFilter::default()).unwrap()
    }

    #[test]
    fn old_warnings_are_pruned_on_insert_and_on_demand() {
        let (_dir, store) = store(Retention {
            max_age: Some(Duration::from_secs(30 * 24 * 3600)),
            max_rows: None,
        });
        let old = store.insert(&[warning(1)], 0).unwrap()[0].id;
        let recent = store.insert(&[warning(2)], 10 * DAY_MS).unwrap()[0].id;
        assert_eq!(count(&store), 2);

        // 31 days after the first: inserting prunes it, the 21-day-old one stays.
        store.insert(&[warning(3)], 31 * DAY_MS).unwrap();
        assert!(store.get(old).unwrap().is_none(), "expired warning kept");
        assert!(store.get(recent).unwrap().is_some());
        assert_eq!(count(&store), 2);

        // With no new warning, the periodic prune still removes what expired.
        assert_eq!(store.prune(41 * DAY_MS).unwrap(), 1);
        assert!(store.get(recent).unwrap().is_none());
        assert_eq!(count(&store), 1);
    }

    #[test]
    fn only_the_newest_max_rows_are_kept() {
        let (_dir, store) = store(Retention {
            max_age: None,
            max_rows: Some(3),
        });
        let ids: Vec<u64> = (1..=5)
            .map(|n| store.insert(&[warning(n)], n).unwrap()[0].id)
            .collect();
        assert_eq!(count(&store), 3);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(store.get(*id).unwrap().is_some(), i >= 2, "row {i}");
        }
    }

    #[test]
    fn unbounded_keeps_everything() {
        let (_dir, store) = store(Retention::UNBOUNDED);
        store.insert(&[warning(1)], 0).unwrap();
        store.insert(&[warning(2)], 400 * DAY_MS).unwrap();
        assert_eq!(store.prune(u64::MAX).unwrap(), 0);
        assert_eq!(count(&store), 2);
    }
}
