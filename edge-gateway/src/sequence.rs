//! Per-device sequence numbers that are strictly increasing and never reused, even across restarts.
//!
//! The next number lives in a table of the queue's SQLite file and is advanced in a committed,
//! fsynced transaction BEFORE the number is used, so a crash can skip numbers but never repeat one.
//! A device whose state file was wiped starts at the current Unix time in milliseconds, which is
//! above anything it used before as long as it sent fewer than one message per millisecond.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, TransactionBehavior, params};
use uuid::Uuid;

use crate::error::GatewayError;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS sequence (
    device TEXT PRIMARY KEY,
    next   INTEGER NOT NULL
)";

/// The persisted sequence counter of one device.
#[derive(Debug)]
pub struct SequenceStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    device: String,
}

impl SequenceStore {
    /// Opens the counter for `device` in the SQLite file at `path` (usually the queue file).
    pub fn open(path: &Path, device: Uuid) -> Result<SequenceStore, GatewayError> {
        let err = |source| GatewayError::Sequence {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let device = device.hyphenated().to_string();
        conn.execute(
            "INSERT OR IGNORE INTO sequence (device, next) VALUES (?1, ?2)",
            params![device, initial_seq()],
        )
        .map_err(err)?;
        Ok(SequenceStore {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            device,
        })
    }

    /// Takes the next number; it is on disk as used before this returns.
    pub fn reserve(&self) -> Result<u64, GatewayError> {
        self.reserve_many(1)
    }

    /// Takes `n` consecutive numbers (at least one) in one durable write; returns the first.
    pub fn reserve_many(&self, n: u64) -> Result<u64, GatewayError> {
        let n = i64::try_from(n.max(1)).unwrap_or(i64::MAX / 4);
        let err = |source| GatewayError::Sequence {
            path: self.path.clone(),
            source,
        };
        let mut conn = self.conn.lock().map_err(|_| {
            GatewayError::Task("sequence store lock poisoned by a panic".to_string())
        })?;
        // IMMEDIATE: a second process (send-once beside the daemon) waits instead of racing.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let seq: i64 = tx
            .query_row(
                "UPDATE sequence SET next = next + ?2 WHERE device = ?1 RETURNING next - ?2",
                params![self.device, n],
                |row| row.get(0),
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(seq as u64)
    }
}

fn initial_seq() -> i64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    i64::try_from(ms).unwrap_or(i64::MAX / 2).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_increase_and_continue_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let device = Uuid::new_v4();
        let store = SequenceStore::open(&path, device).unwrap();
        let a = store.reserve().unwrap();
        let b = store.reserve().unwrap();
        assert!(b > a);
        drop(store);
        let store = SequenceStore::open(&path, device).unwrap();
        let c = store.reserve().unwrap();
        assert!(c > b, "{c} after restart must exceed {b}");
    }

    #[test]
    fn a_block_of_numbers_is_reserved_at_once_and_never_handed_out_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SequenceStore::open(&dir.path().join("s.db"), Uuid::new_v4()).unwrap();
        let a = store.reserve().unwrap();
        let first = store.reserve_many(5).unwrap();
        assert_eq!(first, a + 1);
        assert_eq!(store.reserve().unwrap(), first + 5);
    }

    #[test]
    fn a_fresh_store_starts_near_the_clock_not_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let store = SequenceStore::open(&dir.path().join("s.db"), Uuid::new_v4()).unwrap();
        let before = initial_seq() as u64;
        let first = store.reserve().unwrap();
        assert!(
            first + 60_000 > before && first <= before,
            "{first} vs {before}"
        );
    }

    #[test]
    fn two_handles_on_one_file_never_hand_out_the_same_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let device = Uuid::new_v4();
        let a = std::sync::Arc::new(SequenceStore::open(&path, device).unwrap());
        let b = std::sync::Arc::new(SequenceStore::open(&path, device).unwrap());
        let run = |s: std::sync::Arc<SequenceStore>| {
            std::thread::spawn(move || (0..50).map(|_| s.reserve().unwrap()).collect::<Vec<_>>())
        };
        let (ta, tb) = (run(a), run(b));
        let mut all = ta.join().unwrap();
        all.extend(tb.join().unwrap());
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a number was handed out twice");
    }
}
