//! The storage contract both backends meet, and the choice of backend from a database URL.

use std::future::Future;

use crate::api::{CountsResponse, IngestResponse, TelemetryRecord};
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;

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
            return Ok(Self::Postgres(Box::new(PostgresStore::connect(url).await?)));
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
