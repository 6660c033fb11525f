//! The storage contract both backends meet, and the choice of backend from a database URL.

use std::future::Future;

use crate::pg_tls::{PgTlsError, PgTlsSettings, SslMode};
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;
use sink_api::wire::{CountsResponse, DeviceCount, IngestResponse, TelemetryRecord};

/// Default database when none is configured.
pub const DEFAULT_DATABASE: &str = "sqlite:./cloud-sink.db";

/// A failure of the database behind the sink.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {url:?} is not understood: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("SQLite database {path}: {operation} failed: {source}")]
    Sqlite {
        path: String,
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "PostgreSQL {operation} failed: {source}; check that the server is up and the URL is right"
    )]
    Postgres {
        operation: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(transparent)]
    PgTls(#[from] PgTlsError),
    #[error("PostgreSQL at {host} with sslmode={mode}: {check}")]
    PostgresTls {
        host: String,
        mode: SslMode,
        check: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("stored row of device {device} seq {seq} is corrupt: {reason}")]
    Corrupt {
        device: String,
        seq: i64,
        reason: String,
    },
    #[error("database worker thread stopped unexpectedly: {0}")]
    Worker(String),
}

/// Durable telemetry storage, idempotent on `(device, seq)`.
///
/// Records reaching a store are already validated (see [`crate::validate`]).
pub trait Store: Send + Sync + 'static {
    /// Stores a batch in one transaction; records already present count as duplicates.
    fn ingest(
        &self,
        records: Vec<TelemetryRecord>,
    ) -> impl Future<Output = Result<IngestResponse, StoreError>> + Send;

    /// Records of one device in the time window, ordered by `seq`, at most `limit`.
    fn query(
        &self,
        device: String,
        from_ms: Option<u64>,
        to_ms: Option<u64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<TelemetryRecord>, StoreError>> + Send;

    /// Total rows, and rows and highest `seq` per device.
    fn counts(&self) -> impl Future<Output = Result<CountsResponse, StoreError>> + Send;

    /// Proves the database answers.
    fn health(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The store named by a database URL: `sqlite:PATH` or `postgres://` / `postgresql://`.
pub enum Database {
    Sqlite(SqliteStore),
    /// Boxed: the connection pool is much larger than the SQLite handle.
    Postgres(Box<PostgresStore>),
}

impl Database {
    /// Opens the database named by `url` and creates the schema if missing.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, &PgTlsSettings::default()).await
    }

    /// As [`Self::open`], with PostgreSQL TLS settings from the configuration (unused for SQLite).
    pub async fn open_with(url: &str, postgres_tls: &PgTlsSettings) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::BadUrl {
                    url: url.into(),
                    reason: "no file path after `sqlite:`".into(),
                });
            }
            return Ok(Self::Sqlite(SqliteStore::open(path).await?));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let store = PostgresStore::connect_with(url, postgres_tls).await?;
            return Ok(Self::Postgres(Box::new(store)));
        }
        Err(StoreError::BadUrl {
            url: url.into(),
            reason: "use `sqlite:PATH` or a `postgres://` URL".into(),
        })
    }

    /// Backend name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl Store for Database {
    async fn ingest(&self, records: Vec<TelemetryRecord>) -> Result<IngestResponse, StoreError> {
        match self {
            Self::Sqlite(s) => s.ingest(records).await,
            Self::Postgres(s) => s.ingest(records).await,
        }
    }

    async fn query(
        &self,
        device: String,
        from_ms: Option<u64>,
        to_ms: Option<u64>,
        limit: u32,
    ) -> Result<Vec<TelemetryRecord>, StoreError> {
        match self {
            Self::Sqlite(s) => s.query(device, from_ms, to_ms, limit).await,
            Self::Postgres(s) => s.query(device, from_ms, to_ms, limit).await,
        }
    }

    async fn counts(&self) -> Result<CountsResponse, StoreError> {
        match self {
            Self::Sqlite(s) => s.counts().await,
            Self::Postgres(s) => s.counts().await,
        }
    }

    async fn health(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.health().await,
            Self::Postgres(s) => s.health().await,
        }
    }
}

/// A telemetry row's columns as either database returns them, before they are checked.
pub(crate) struct StoredRow {
    pub device: String,
    pub seq: i64,
    pub ts_ms: i64,
    pub received_ms: i64,
    pub validator: String,
    pub data: String,
    pub message: String,
}

impl StoredRow {
    /// The API record; a negative number or data that is not JSON is reported as corrupt.
    pub(crate) fn into_record(self) -> Result<TelemetryRecord, StoreError> {
        let (device, seq) = (self.device, self.seq);
        Ok(TelemetryRecord {
            seq: to_u64(&device, seq, seq)?,
            ts_ms: to_u64(&device, seq, self.ts_ms)?,
            received_ms: to_u64(&device, seq, self.received_ms)?,
            validator: self.validator,
            data: parse_data(&device, seq, &self.data)?,
            message: self.message,
            device,
        })
    }
}

/// Adds one device's row count and highest seq (as stored, signed) to `counts`.
pub(crate) fn add_count(
    counts: &mut CountsResponse,
    device: String,
    rows: i64,
    max_seq: i64,
) -> Result<(), StoreError> {
    let rows = to_u64(&device, max_seq, rows)?;
    counts.total += rows;
    counts.devices.push(DeviceCount {
        max_seq: to_u64(&device, max_seq, max_seq)?,
        device,
        rows,
    });
    Ok(())
}

/// Clamps an unsigned API value into the signed column type; validation keeps real values in range.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads a signed column back as the unsigned API value.
pub(crate) fn to_u64(device: &str, seq: i64, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        device: device.into(),
        seq,
        reason: format!("negative value {value} in an unsigned column"),
    })
}

/// Parses a stored measurements object.
pub(crate) fn parse_data(
    device: &str,
    seq: i64,
    text: &str,
) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        device: device.into(),
        seq,
        reason: format!("data is not JSON: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> StoredRow {
        StoredRow {
            device: "dev".into(),
            seq: 7,
            ts_ms: 1_000,
            received_ms: 1_005,
            validator: "fog-1".into(),
            data: r#"{"t":21.5}"#.into(),
            message: "a.b.c".into(),
        }
    }

    #[test]
    fn stored_row_becomes_the_api_record() {
        let record = row().into_record().unwrap();
        assert_eq!((record.device.as_str(), record.seq), ("dev", 7));
        assert_eq!((record.ts_ms, record.received_ms), (1_000, 1_005));
        assert_eq!(record.data, serde_json::json!({"t": 21.5}));
        assert_eq!(
            (record.validator.as_str(), record.message.as_str()),
            ("fog-1", "a.b.c")
        );
    }

    #[test]
    fn negative_numbers_and_bad_data_are_corrupt_rows() {
        let negative = StoredRow {
            received_ms: -1,
            ..row()
        };
        let err = negative.into_record().unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { device, seq: 7, reason } if device == "dev" && reason.contains("-1")),
            "{err:?}"
        );
        let bad_data = StoredRow {
            data: "{".into(),
            ..row()
        };
        let err = bad_data.into_record().unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { reason, .. } if reason.contains("not JSON")),
            "{err:?}"
        );
    }

    #[test]
    fn counts_add_up_and_refuse_negative_values() {
        let mut counts = CountsResponse::default();
        add_count(&mut counts, "a".into(), 3, 9).unwrap();
        add_count(&mut counts, "b".into(), 2, 4).unwrap();
        assert_eq!(counts.total, 5);
        assert_eq!(counts.devices[1].device, "b");
        assert_eq!((counts.devices[1].rows, counts.devices[1].max_seq), (2, 4));
        assert!(add_count(&mut counts, "c".into(), -1, 1).is_err());
        assert!(add_count(&mut counts, "c".into(), 1, -1).is_err());
    }
}
