//! The queue itself: one SQLite table of serialised items keyed by an ever-increasing id.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::QueueError;

// AUTOINCREMENT keeps ids unique for the life of the file, even after every row was acked,
// so a stale ack can never remove an item pushed later.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS items (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    item BLOB NOT NULL
)";

/// A durable FIFO of `T` stored in one SQLite file.
///
/// Thread-safe: the connection sits behind a mutex, so one `DiskQueue` may be shared
/// (e.g. in an `Arc`) between threads; async callers use `spawn_blocking`.
pub struct DiskQueue<T> {
    conn: Mutex<Connection>,
    // fn() -> T: the queue neither owns nor borrows a T, so Send/Sync do not depend on T.
    _item: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for DiskQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskQueue").finish_non_exhaustive()
    }
}

impl<T: Serialize + DeserializeOwned> DiskQueue<T> {
    /// Opens (creating if needed) the queue stored at `path`.
    ///
    /// WAL journal with `synchronous=FULL`: every commit is fsynced to the WAL before it
    /// returns, so a pushed item survives power loss, not only a process crash (NORMAL
    /// would risk losing the last commits on power loss, which on a device board is the
    /// common failure). The cost is one fsync per `push`/`ack`, amortised by batching.
    pub fn open(path: &Path) -> Result<Self, QueueError> {
        let open_err = |source| QueueError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        Ok(DiskQueue {
            conn: Mutex::new(conn),
            _item: PhantomData,
        })
    }

    /// Appends `items` in order, in one transaction: all are stored, durably, or none.
    pub fn push(&self, items: &[T]) -> Result<(), QueueError> {
        let encoded = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                serde_json::to_vec(item).map_err(|source| QueueError::Encode { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(storage("push"))?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO items (item) VALUES (?1)")
                .map_err(storage("push"))?;
            for bytes in &encoded {
                insert.execute(params![bytes]).map_err(storage("push"))?;
            }
        }
        tx.commit().map_err(storage("push"))
    }

    /// Returns up to `max` of the oldest items with their ids, without removing them.
    ///
    /// A row that no longer decodes stops the read with [`QueueError::Corrupt`] naming it.
    pub fn peek(&self, max: usize) -> Result<Vec<(u64, T)>, QueueError> {
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let conn = self.lock()?;
        let mut select = conn
            .prepare_cached("SELECT id, item FROM items ORDER BY id LIMIT ?1")
            .map_err(storage("peek"))?;
        let rows = select
            .query_map(params![limit], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
            })
            .map_err(storage("peek"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, bytes) = row.map_err(storage("peek"))?;
            let id = id as u64;
            let item = serde_json::from_slice(&bytes)
                .map_err(|source| QueueError::Corrupt { id, source })?;
            out.push((id, item));
        }
        Ok(out)
    }

    /// Removes every item whose id is `<= up_to_id`: the caller has delivered them.
    pub fn ack(&self, up_to_id: u64) -> Result<(), QueueError> {
        let conn = self.lock()?;
        conn.execute("DELETE FROM items WHERE id <= ?1", params![clamp(up_to_id)])
            .map_err(storage("ack"))?;
        Ok(())
    }

    /// Removes the single item `id`, e.g. a row reported as [`QueueError::Corrupt`].
    /// Returns whether such a row existed.
    pub fn discard(&self, id: u64) -> Result<bool, QueueError> {
        let conn = self.lock()?;
        let n = conn
            .execute("DELETE FROM items WHERE id = ?1", params![clamp(id)])
            .map_err(storage("discard"))?;
        Ok(n > 0)
    }

    /// The number of items waiting.
    pub fn len(&self) -> Result<u64, QueueError> {
        let conn = self.lock()?;
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM items", [], |row| row.get(0))
            .map_err(storage("len"))?;
        Ok(n as u64)
    }

    /// Whether no item is waiting.
    pub fn is_empty(&self) -> Result<bool, QueueError> {
        let conn = self.lock()?;
        let any: Option<i64> = conn
            .query_row("SELECT 1 FROM items LIMIT 1", [], |row| row.get(0))
            .optional()
            .map_err(storage("is_empty"))?;
        Ok(any.is_none())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, QueueError> {
        self.conn.lock().map_err(|_| QueueError::Poisoned)
    }
}

fn storage(operation: &'static str) -> impl Fn(rusqlite::Error) -> QueueError {
    move |source| QueueError::Storage { operation, source }
}

// SQLite integers are i64; ids are never negative, so larger u64 values mean "everything".
fn clamp(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}
