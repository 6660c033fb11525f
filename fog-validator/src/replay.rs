//! Replay defence: per-device highest accepted sequence number and a timestamp window, persisted in SQLite.
//!
//! Acceptance is decided under one lock, so two concurrent copies of a message yield exactly one
//! acceptance. Before a request's acceptances are answered, [`ReplayGuard::persist`] writes them in
//! one transaction (WAL, `synchronous=FULL`: fsynced at commit), so no crash can forget a sequence
//! number a gateway was told is accepted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

use crate::refusal::{Refusal, code};

/// Failure to open, read or write the sequence store.
#[derive(Debug, thiserror::Error)]
#[error(
    "replay store {path}: {action} failed: {source}; check the data directory is writable and not corrupt"
)]
pub struct ReplayStoreError {
    path: PathBuf,
    action: &'static str,
    #[source]
    source: rusqlite::Error,
}

#[derive(Default)]
struct State {
    highest: HashMap<String, u64>,
}

/// Per-device replay state.
pub struct ReplayGuard {
    window_ms: u64,
    state: Mutex<State>,
    store: Option<(PathBuf, Mutex<Connection>)>,
}

impl ReplayGuard {
    /// An in-memory guard (nothing persisted); for tests and tools.
    pub fn in_memory(window_ms: u64) -> Self {
        Self {
            window_ms,
            state: Mutex::new(State::default()),
            store: None,
        }
    }

    /// Opens (or creates) the sequence store at `path` and loads every device's highest sequence.
    pub fn open(path: &Path, window_ms: u64) -> Result<Self, ReplayStoreError> {
        let err = |action| {
            let path = path.to_path_buf();
            move |source| ReplayStoreError {
                path,
                action,
                source,
            }
        };
        let conn = Connection::open(path).map_err(err("open"))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS device_seq (device TEXT PRIMARY KEY, seq INTEGER NOT NULL);",
        )
        .map_err(err("create schema"))?;
        let mut highest = HashMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT device, seq FROM device_seq")
                .map_err(err("read"))?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .map_err(err("read"))?;
            for row in rows {
                let (device, seq) = row.map_err(err("read"))?;
                highest.insert(device, seq as u64);
            }
        }
        Ok(Self {
            window_ms,
            state: Mutex::new(State { highest }),
            store: Some((path.to_path_buf(), Mutex::new(conn))),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accepts (device, seq, ts) if the timestamp is inside the window around `now_ms` and `seq` is
    /// above every sequence accepted before for that device. Returns the previous highest sequence,
    /// which [`ReplayGuard::release`] needs to undo the acceptance.
    pub fn accept(
        &self,
        device: &str,
        seq: u64,
        ts_ms: u64,
        now_ms: u64,
    ) -> Result<Option<u64>, Refusal> {
        if ts_ms.abs_diff(now_ms) > self.window_ms {
            return Err(Refusal::new(
                code::REPLAY,
                format!(
                    "timestamp {ts_ms} ms is {} ms away from the validator clock ({now_ms} ms), over the {} ms window; check the device clock",
                    ts_ms.abs_diff(now_ms),
                    self.window_ms
                ),
            )
            .stale_at(now_ms));
        }
        let mut state = self.lock();
        let previous = state.highest.get(device).copied();
        if let Some(highest) = previous
            && seq <= highest
        {
            return Err(Refusal::new(
                code::REPLAY,
                format!(
                    "sequence {seq} is not above the highest accepted sequence {highest} of this device; the message is a replay"
                ),
            ));
        }
        state.highest.insert(device.to_owned(), seq);
        Ok(previous)
    }

    /// Undoes an acceptance whose message could not be kept, if nothing newer was accepted since.
    pub fn release(&self, device: &str, seq: u64, previous: Option<u64>) {
        let mut state = self.lock();
        if state.highest.get(device) != Some(&seq) {
            return;
        }
        // Only called before the acceptance reached the disk, so the disk needs no undo.
        match previous {
            Some(prev) => state.highest.insert(device.to_owned(), prev),
            None => state.highest.remove(device),
        };
    }

    /// Highest accepted sequence of a device.
    pub fn highest(&self, device: &str) -> Option<u64> {
        self.lock().highest.get(device).copied()
    }

    /// Writes the (device, seq) pairs one request accepted, in one transaction that is fsynced
    /// before this returns. A stored sequence never goes down (concurrent requests may commit out
    /// of order). Blocking: call from a blocking thread.
    pub fn persist(&self, accepted: &[(String, u64)]) -> Result<(), ReplayStoreError> {
        let Some((path, conn)) = &self.store else {
            return Ok(());
        };
        if accepted.is_empty() {
            return Ok(());
        }
        let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        let result = (|| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO device_seq (device, seq) VALUES (?1, ?2)
                     ON CONFLICT(device) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                )?;
                for (device, seq) in accepted {
                    stmt.execute(rusqlite::params![device, *seq as i64])?;
                }
            }
            tx.commit()
        })();
        result.map_err(|source| ReplayStoreError {
            path: path.clone(),
            action: "write",
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn sequence_must_strictly_increase() {
        let guard = ReplayGuard::in_memory(300_000);
        assert!(guard.accept("d", 5, NOW, NOW).is_ok());
        let replay = guard.accept("d", 5, NOW, NOW).unwrap_err();
        assert!(
            replay.code == code::REPLAY && !replay.is_stale(),
            "{replay:?}"
        );
        assert_eq!(
            guard.accept("d", 4, NOW, NOW).unwrap_err().code,
            code::REPLAY
        );
        assert!(guard.accept("d", 6, NOW, NOW).is_ok());
        // Another device has its own counter.
        assert!(guard.accept("e", 1, NOW, NOW).is_ok());
    }

    #[test]
    fn timestamp_outside_window_is_refused_both_ways() {
        let guard = ReplayGuard::in_memory(1_000);
        for ts in [NOW - 1_001, NOW + 1_001] {
            let err = guard.accept("d", 1, ts, NOW).unwrap_err();
            // Stale, not a replay: auto-ban must not count it, and the clock used is told.
            assert!(err.code == code::REPLAY && err.is_stale(), "{err:?}");
            assert_eq!(err.stale_at_ms, Some(NOW));
        }
        assert!(guard.accept("d", 3, NOW + 1_000, NOW).is_ok());
        // A refused stale message does not consume its sequence number.
        assert_eq!(guard.highest("d"), Some(3));
    }

    #[test]
    fn concurrent_copies_accept_exactly_one() {
        let guard = Arc::new(ReplayGuard::in_memory(300_000));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let guard = guard.clone();
                std::thread::spawn(move || guard.accept("d", 42, NOW, NOW).is_ok())
            })
            .collect();
        let accepted = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(accepted, 1);
    }

    #[test]
    fn release_undoes_only_the_latest() {
        let guard = ReplayGuard::in_memory(300_000);
        let prev = guard.accept("d", 1, NOW, NOW).unwrap();
        guard.release("d", 1, prev);
        assert_eq!(guard.highest("d"), None);
        guard.accept("d", 1, NOW, NOW).unwrap();
        let prev = guard.accept("d", 2, NOW, NOW).unwrap();
        guard.accept("d", 3, NOW, NOW).unwrap();
        guard.release("d", 2, prev); // 3 was accepted since: keep it
        assert_eq!(guard.highest("d"), Some(3));
    }

    #[test]
    fn persisted_sequences_survive_reopen_and_never_go_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seq.db");
        {
            let guard = ReplayGuard::open(&path, 300_000).unwrap();
            guard.accept("d", 7, NOW, NOW).unwrap();
            guard.accept("e", 2, NOW, NOW).unwrap();
            guard.persist(&[("d".into(), 7), ("e".into(), 2)]).unwrap();
            // A request that accepted d=5 earlier but commits later does not lower d.
            guard.persist(&[("d".into(), 5)]).unwrap();
            // Accepted in memory only (as if the process died before its write): not on disk.
            guard.accept("f", 9, NOW, NOW).unwrap();
        }
        let guard = ReplayGuard::open(&path, 300_000).unwrap();
        assert_eq!(
            guard.accept("d", 7, NOW, NOW).unwrap_err().code,
            code::REPLAY
        );
        assert!(guard.accept("d", 8, NOW, NOW).is_ok());
        assert_eq!(guard.highest("e"), Some(2));
        assert_eq!(guard.highest("f"), None);
        let guard_sync: i64 = match &guard.store {
            Some((_, conn)) => conn
                .lock()
                .unwrap()
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap(),
            None => panic!("an opened guard has a store"),
        };
        assert_eq!(guard_sync, 2, "synchronous must be FULL");
    }
}
