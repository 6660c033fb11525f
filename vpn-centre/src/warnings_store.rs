//! Durable warnings store: one SQLite file in WAL mode, with the SQL kept next to the type.
//!
//! Identical refusals are aggregated so a flood (a banned gateway sending twice a second) is one
//! growing row, not thousands: a warning with the same submitter, offender and code as a row
//! whose first refusal is within [`DEFAULT_AGGREGATE_WINDOW_MS`] of it increments that row's
//! `count` and moves its `last_ms`, keeping the paper's columns (id, submitter, offender address
//! and device, time, reason) readable.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::warnings_retention::{RECEIVED_INDEX, Retention};
use warnings_api::{NewWarning, Warning};

use warnings_api::{WarningFilter, WarningPage};

/// Default aggregation window: refusals of one kind within a minute of a row's first share it.
pub const DEFAULT_AGGREGATE_WINDOW_MS: u64 = 60_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS warnings (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused
    received_ms      INTEGER NOT NULL,
    submitter        TEXT    NOT NULL,
    offender_address TEXT    NOT NULL,
    offender_device  TEXT,
    time_ms          INTEGER NOT NULL,
    code             INTEGER NOT NULL,
    reason           TEXT    NOT NULL,
    count            INTEGER NOT NULL DEFAULT 1,
    last_ms          INTEGER
);
CREATE INDEX IF NOT EXISTS warnings_by_device    ON warnings (offender_device, id);
CREATE INDEX IF NOT EXISTS warnings_by_submitter ON warnings (submitter, id);
CREATE INDEX IF NOT EXISTS warnings_by_code      ON warnings (code, id);
";

/// Databases created before aggregation lack its columns; these add them (run once).
const MIGRATE: &str = "
ALTER TABLE warnings ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE warnings ADD COLUMN last_ms INTEGER;
";

const AGGREGATE_INDEX: &str = "
CREATE INDEX IF NOT EXISTS warnings_by_key ON warnings (submitter, code, offender_device, id);";

const INSERT: &str = "
INSERT INTO warnings (received_ms, submitter, offender_address, offender_device, time_ms, code, reason, count, last_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?5)";

// The newest row of the same submitter, offender and code whose first refusal is within the window.
// Without a device the offender is its address.
const FIND_RUN: &str = "
SELECT id FROM warnings
WHERE submitter = ?1 AND code = ?2 AND offender_device IS ?3
  AND (?3 IS NOT NULL OR offender_address = ?4)
  AND abs(time_ms - ?5) < ?6
ORDER BY id DESC LIMIT 1";

const BUMP: &str = "
UPDATE warnings SET count = count + 1, last_ms = max(COALESCE(last_ms, time_ms), ?2)
WHERE id = ?1";

// A NULL parameter means "no filter on this column".
const FILTER: &str = "
    (?1 IS NULL OR offender_device = ?1)
AND (?2 IS NULL OR code = ?2)
AND (?3 IS NULL OR submitter = ?3)
AND (?4 IS NULL OR time_ms >= ?4)";

const COLUMNS: &str = "id, received_ms, submitter, offender_address, offender_device, time_ms, code, reason, \
     count, COALESCE(last_ms, time_ms)";

/// Largest page a single list call returns.
pub const MAX_PAGE: u32 = 1000;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open warnings database {path}: {source}; check the data directory exists and is writable"
    )]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("warnings database failed to {action}: {source}")]
    Sql {
        action: &'static str,
        source: rusqlite::Error,
    },
    #[error("no warning with id {0}; list warnings to see which ids exist")]
    NotFound(u64),
    #[error("limit {0} is out of range; use 1..={MAX_PAGE}")]
    BadLimit(u32),
}

fn sql(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sql { action, source }
}

/// The warnings table behind one SQLite connection.
pub struct WarningsStore {
    conn: Mutex<Connection>,
    aggregate_window_ms: u64,
    retention: Retention,
}

impl WarningsStore {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        // WAL lets readers run beside the writer; FULL sync because a warning is evidence.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        let has_count: bool = conn
            .query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('warnings') WHERE name = 'count'",
                [],
                |row| row.get(0),
            )
            .map_err(open_err)?;
        if !has_count {
            conn.execute_batch(MIGRATE).map_err(open_err)?;
        }
        conn.execute_batch(AGGREGATE_INDEX).map_err(open_err)?;
        conn.execute_batch(RECEIVED_INDEX).map_err(open_err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            aggregate_window_ms: DEFAULT_AGGREGATE_WINDOW_MS,
            retention: Retention::default(),
        })
    }

    /// The same store aggregating identical refusals within `window_ms` (0: never aggregate).
    pub fn with_aggregate_window(mut self, window_ms: u64) -> Self {
        self.aggregate_window_ms = window_ms;
        self
    }

    /// The same store keeping warnings only as long as `retention` allows.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Deletes warnings the retention no longer keeps at `now_ms`; returns how many.
    pub fn prune(&self, now_ms: u64) -> Result<usize, StoreError> {
        self.retention
            .prune(&self.conn(), now_ms)
            .map_err(sql("prune warnings"))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock left no open transaction (it rolls back on drop).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores all warnings in one transaction (all or none), each one either as a new row or
    /// counted into the row of its run; returns, per warning, its row as it stands after it.
    pub fn insert(
        &self,
        warnings: &[NewWarning],
        received_ms: u64,
    ) -> Result<Vec<Warning>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("begin insert"))?;
        let mut stored = Vec::with_capacity(warnings.len());
        {
            let mut find = tx.prepare_cached(FIND_RUN).map_err(sql("prepare insert"))?;
            let mut bump = tx.prepare_cached(BUMP).map_err(sql("prepare insert"))?;
            let mut insert = tx.prepare_cached(INSERT).map_err(sql("prepare insert"))?;
            let mut read = tx
                .prepare_cached(&format!("SELECT {COLUMNS} FROM warnings WHERE id = ?1"))
                .map_err(sql("prepare insert"))?;
            for w in warnings {
                let run: Option<i64> = if self.aggregate_window_ms == 0 {
                    None
                } else {
                    find.query_row(
                        params![
                            w.submitter,
                            w.code,
                            w.offender_device,
                            w.offender_address,
                            to_i64(w.time_ms),
                            to_i64(self.aggregate_window_ms),
                        ],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(sql("find a warning's run"))?
                };
                let id = match run {
                    Some(id) => {
                        bump.execute(params![id, to_i64(w.time_ms)])
                            .map_err(sql("count a warning"))?;
                        id
                    }
                    None => {
                        insert
                            .execute(params![
                                to_i64(received_ms),
                                w.submitter,
                                w.offender_address,
                                w.offender_device,
                                to_i64(w.time_ms),
                                w.code,
                                w.reason,
                            ])
                            .map_err(sql("insert warning"))?;
                        tx.last_insert_rowid()
                    }
                };
                stored.push(
                    read.query_row([id], from_row)
                        .map_err(sql("read warning row"))?,
                );
            }
        }
        // Pruned before the new rows are returned, so a flood cannot outgrow the bound.
        self.retention
            .prune(&tx, received_ms)
            .map_err(sql("prune warnings"))?;
        tx.commit().map_err(sql("commit insert"))?;
        Ok(stored)
    }

    /// Up to `limit` warnings matching `filter` with id below `before`, newest first.
    pub fn list(
        &self,
        filter: &WarningFilter,
        limit: u32,
        before: Option<u64>,
    ) -> Result<WarningPage, StoreError> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(StoreError::BadLimit(limit));
        }
        let query = format!(
            "SELECT {COLUMNS} FROM warnings WHERE {FILTER} AND (?5 IS NULL OR id < ?5)
             ORDER BY id DESC LIMIT ?6"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&query).map_err(sql("prepare list"))?;
        // One extra row tells whether another page exists.
        let mut warnings = stmt
            .query_map(
                params![
                    filter.device,
                    filter.code,
                    filter.submitter,
                    filter.since_ms.map(to_i64),
                    before.map(to_i64),
                    i64::from(limit) + 1,
                ],
                from_row,
            )
            .map_err(sql("list warnings"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql("read warning row"))?;
        let next_before = if warnings.len() > limit as usize {
            warnings.truncate(limit as usize);
            warnings.last().map(|w| w.id)
        } else {
            None
        };
        Ok(WarningPage {
            warnings,
            next_before,
        })
    }

    /// The warning with this id, if stored.
    pub fn get(&self, id: u64) -> Result<Option<Warning>, StoreError> {
        let query = format!("SELECT {COLUMNS} FROM warnings WHERE id = ?1");
        self.conn()
            .query_row(&query, [to_i64(id)], from_row)
            .optional()
            .map_err(sql("read warning"))
    }

    /// Removes one warning; an unknown id is `NotFound`.
    pub fn delete(&self, id: u64) -> Result<(), StoreError> {
        let removed = self
            .conn()
            .execute("DELETE FROM warnings WHERE id = ?1", [to_i64(id)])
            .map_err(sql("delete warning"))?;
        if removed == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// How many refusals the stored warnings matching `filter` stand for (the sum of their counts).
    pub fn count(&self, filter: &WarningFilter) -> Result<u64, StoreError> {
        let query = format!("SELECT COALESCE(SUM(count), 0) FROM warnings WHERE {FILTER}");
        let n: i64 = self
            .conn()
            .query_row(
                &query,
                params![
                    filter.device,
                    filter.code,
                    filter.submitter,
                    filter.since_ms.map(to_i64),
                ],
                |row| row.get(0),
            )
            .map_err(sql("count warnings"))?;
        Ok(n.max(0) as u64)
    }
}

// Values above i64::MAX never reach here for stored fields (validation bounds them);
// for cursors and filters, saturating keeps the comparison meaning "everything".
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Warning> {
    Ok(Warning {
        id: row.get::<_, i64>(0)? as u64,
        received_ms: row.get::<_, i64>(1)? as u64,
        warning: NewWarning {
            submitter: row.get(2)?,
            offender_address: row.get(3)?,
            offender_device: row.get(4)?,
            time_ms: row.get::<_, i64>(5)? as u64,
            code: row.get(6)?,
            reason: row.get(7)?,
            stale: false,
        },
        count: row.get::<_, i64>(8)?.max(1) as u64,
        last_ms: row.get::<_, i64>(9)? as u64,
    })
}
