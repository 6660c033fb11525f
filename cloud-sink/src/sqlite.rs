//! SQLite backend: one embedded database file in WAL mode, used off the async runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::store::{Store, StoreError, StoredRow, add_count, to_i64};
use sink_api::wire::{CountsResponse, IngestResponse, TelemetryRecord};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS telemetry (
    device      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    ts_ms       INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    validator   TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    PRIMARY KEY (device, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS telemetry_device_ts ON telemetry (device, ts_ms);
";

const INSERT: &str =
    "INSERT INTO telemetry (device, seq, ts_ms, received_ms, validator, data, message)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (device, seq) DO NOTHING";

const QUERY: &str =
    "SELECT device, seq, ts_ms, received_ms, validator, data, message FROM telemetry
     WHERE device = ?1 AND ts_ms >= ?2 AND (?3 IS NULL OR ts_ms < ?3)
     ORDER BY seq LIMIT ?4";

const COUNTS: &str =
    "SELECT device, COUNT(*), MAX(seq) FROM telemetry GROUP BY device ORDER BY device";

/// How long a writer waits for another process holding the file lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Telemetry in a SQLite file. Writes go through one connection so batches never contend
/// inside the process; reads use a second one, which WAL lets run beside a write.
#[derive(Clone)]
pub struct SqliteStore {
    path: Arc<str>,
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and its schema.
    pub async fn open(path: &str) -> Result<Self, StoreError> {
        let owned: Arc<str> = path.into();
        let p = owned.clone();
        let (writer, reader) = tokio::task::spawn_blocking(move || {
            let writer = open_connection(&p)?;
            writer
                .execute_batch(SCHEMA)
                .map_err(|e| sqlite_err(&p, "creating the schema", e))?;
            let reader = open_connection(&p)?;
            Ok::<_, StoreError>((writer, reader))
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))??;
        Ok(Self {
            path: owned,
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// Runs `work` on a blocking thread with one of the connections.
    async fn with<T: Send + 'static>(
        &self,
        conn: &Arc<Mutex<Connection>>,
        work: impl FnOnce(&mut Connection, &str) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = conn.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection usable: SQLite rolled back.
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard, &path)
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))?
    }
}

fn open_connection(path: &str) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| sqlite_err(path, "opening the file", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sqlite_err(path, "setting the busy timeout", e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(|e| sqlite_err(path, "switching to WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path, mode, "SQLite did not switch to WAL mode");
    }
    // FULL keeps every acknowledged batch across a power loss, not only a process crash.
    conn.execute_batch("PRAGMA synchronous = FULL;")
        .map_err(|e| sqlite_err(path, "setting synchronous=FULL", e))?;
    Ok(conn)
}

fn sqlite_err(path: &str, operation: &'static str, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.into(),
        operation,
        source,
    }
}

impl Store for SqliteStore {
    async fn ingest(&self, records: Vec<TelemetryRecord>) -> Result<IngestResponse, StoreError> {
        self.with(&self.writer, move |conn, path| {
            let err = |op, e| sqlite_err(path, op, e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| err("starting the ingest transaction", e))?;
            let mut stored = 0u64;
            {
                let mut insert = tx
                    .prepare_cached(INSERT)
                    .map_err(|e| err("preparing the insert", e))?;
                for r in &records {
                    stored += insert
                        .execute(params![
                            r.device,
                            to_i64(r.seq),
                            to_i64(r.ts_ms),
                            to_i64(r.received_ms),
                            r.validator,
                            r.data.to_string(),
                            r.message,
                        ])
                        .map_err(|e| err("inserting a record", e))?
                        as u64;
                }
            }
            tx.commit()
                .map_err(|e| err("committing the ingest transaction", e))?;
            Ok(IngestResponse {
                stored,
                duplicates: records.len() as u64 - stored,
            })
        })
        .await
    }

    async fn query(
        &self,
        device: String,
        from_ms: Option<u64>,
        to_ms: Option<u64>,
        limit: u32,
    ) -> Result<Vec<TelemetryRecord>, StoreError> {
        self.with(&self.reader, move |conn, path| {
            let err = |op, e| sqlite_err(path, op, e);
            let mut stmt = conn
                .prepare_cached(QUERY)
                .map_err(|e| err("preparing the query", e))?;
            let mut rows = stmt
                .query(params![
                    device,
                    to_i64(from_ms.unwrap_or(0)),
                    to_ms.map(to_i64),
                    limit
                ])
                .map_err(|e| err("running the query", e))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(|e| err("reading a row", e))? {
                let read = |e| err("reading a column", e);
                let stored = StoredRow {
                    device: row.get(0).map_err(read)?,
                    seq: row.get(1).map_err(read)?,
                    ts_ms: row.get(2).map_err(read)?,
                    received_ms: row.get(3).map_err(read)?,
                    validator: row.get(4).map_err(read)?,
                    data: row.get(5).map_err(read)?,
                    message: row.get(6).map_err(read)?,
                };
                out.push(stored.into_record()?);
            }
            Ok(out)
        })
        .await
    }

    async fn counts(&self) -> Result<CountsResponse, StoreError> {
        self.with(&self.reader, |conn, path| {
            let err = |op, e| sqlite_err(path, op, e);
            let mut stmt = conn
                .prepare_cached(COUNTS)
                .map_err(|e| err("preparing counts", e))?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                })
                .map_err(|e| err("running counts", e))?;
            let mut counts = CountsResponse::default();
            for row in rows {
                let (device, rows, max_seq) = row.map_err(|e| err("reading counts", e))?;
                add_count(&mut counts, device, rows, max_seq)?;
            }
            Ok(counts)
        })
        .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.with(&self.reader, |conn, path| {
            conn.query_row("SELECT 1 FROM telemetry LIMIT 1", [], |_| Ok(()))
                .optional()
                .map(|_| ())
                .map_err(|e| sqlite_err(path, "health check", e))
        })
        .await
    }
}
