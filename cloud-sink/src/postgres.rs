//! PostgreSQL backend: a few connections, each batch one `INSERT .. SELECT FROM unnest` statement.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Mutex;
use tokio_postgres::config::SslMode as WireSslMode;
use tokio_postgres::{Client, Config, NoTls, Statement};

use crate::pg_connector::{PgConnector, explain, remote_hosts};
use crate::pg_tls::{PgTls, PgTlsSettings, SslMode, split_url};
use crate::store::{Store, StoreError, StoredRow, add_count, to_i64};
use sink_api::wire::{CountsResponse, IngestResponse, TelemetryRecord};

/// `data` is `json`, not `jsonb`, so the measurements come back exactly as the device sent them.
const SCHEMA: &str = "
SET LOCAL client_min_messages = warning;
SELECT pg_advisory_xact_lock(7400);
CREATE TABLE IF NOT EXISTS telemetry (
    device      TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    ts_ms       BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    validator   TEXT   NOT NULL,
    data        JSON   NOT NULL,
    message     TEXT   NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE INDEX IF NOT EXISTS telemetry_device_ts ON telemetry (device, ts_ms);
";

/// One statement is one transaction: the whole batch lands or none of it does.
const INSERT: &str = "INSERT INTO telemetry (device, seq, ts_ms, received_ms, validator, data, message)
     SELECT d, s, t, r, v, x::json, m
     FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[])
          AS batch(d, s, t, r, v, x, m)
     ON CONFLICT (device, seq) DO NOTHING";

const QUERY: &str =
    "SELECT device, seq, ts_ms, received_ms, validator, data::text, message FROM telemetry
     WHERE device = $1 AND ts_ms >= $2 AND ($3::bigint IS NULL OR ts_ms < $3)
     ORDER BY seq LIMIT $4";

const COUNTS: &str = "SELECT device, COUNT(*)::bigint, MAX(seq) FROM telemetry
     GROUP BY device ORDER BY device COLLATE \"C\"";

/// Connections kept open; concurrent batches spread over them.
const POOL_SIZE: usize = 4;

/// One pooled connection with its prepared statements.
struct Slot {
    client: Client,
    insert: Statement,
    query: Statement,
}

/// How to (re)open a connection: the parsed URL, its TLS setting and connector.
struct Target {
    config: Config,
    tls: PgTls,
    connector: PgConnector,
    /// First host name and port of the URL, for error messages.
    host: String,
    port: u16,
}

/// Telemetry in a PostgreSQL database.
pub struct PostgresStore {
    target: Target,
    slots: Vec<Mutex<Slot>>,
    next: AtomicUsize,
}

fn pg_err(operation: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |source| StoreError::Postgres { operation, source }
}

impl PostgresStore {
    /// Connects to the database at `url` (TLS as its `sslmode` / `sslrootcert` say), creates the
    /// schema if missing and opens the pool.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &PgTlsSettings::default()).await
    }

    /// As [`Self::connect`], with TLS settings from the sink's configuration merged with the URL's.
    pub async fn connect_with(url: &str, configured: &PgTlsSettings) -> Result<Self, StoreError> {
        let (rest, from_url) = split_url(url)?;
        let tls = PgTlsSettings::resolve(&from_url, configured)?;
        let mut config: Config =
            rest.parse()
                .map_err(|e: tokio_postgres::Error| StoreError::BadUrl {
                    url: url.into(),
                    reason: e.to_string(),
                })?;
        config.ssl_mode(match tls.mode {
            SslMode::Disable => WireSslMode::Disable,
            SslMode::Require | SslMode::VerifyFull => WireSslMode::Require,
        });
        let remote = remote_hosts(&config);
        if tls.mode == SslMode::Disable && !remote.is_empty() {
            tracing::warn!(
                hosts = remote.join(","),
                "PostgreSQL is reached over the network without TLS: anyone on the path can read \
                 and change telemetry; set sslmode=verify-full with sslrootcert"
            );
        }
        let (host, port) = first_host(&config);
        let target = Target {
            connector: PgConnector::new(&tls)?,
            host,
            port,
            config,
            tls,
        };
        let mut first = connect_client(&target).await?;
        let tx = first
            .transaction()
            .await
            .map_err(pg_err("starting schema creation"))?;
        tx.batch_execute(SCHEMA)
            .await
            .map_err(pg_err("creating the schema"))?;
        tx.commit().await.map_err(pg_err("committing the schema"))?;
        let mut slots = vec![Mutex::new(prepare(first).await?)];
        for _ in 1..POOL_SIZE {
            slots.push(Mutex::new(prepare(connect_client(&target).await?).await?));
        }
        tracing::info!(host = target.host, port = target.port, sslmode = %target.tls.mode, "connected to PostgreSQL");
        Ok(Self {
            target,
            slots,
            next: AtomicUsize::new(0),
        })
    }

    /// Takes the next connection, reconnecting it first if the server dropped it.
    async fn slot(&self) -> Result<tokio::sync::MutexGuard<'_, Slot>, StoreError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[index].lock().await;
        if slot.client.is_closed() {
            tracing::info!("reconnecting to PostgreSQL");
            *slot = prepare(connect_client(&self.target).await?).await?;
        }
        Ok(slot)
    }
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index).map_err(pg_err("reading a row"))
}

async fn connect_client(target: &Target) -> Result<Client, StoreError> {
    let connected = match &target.connector {
        PgConnector::Plain => target.config.connect(NoTls).await.map(|(client, conn)| {
            tokio::spawn(drive(conn));
            client
        }),
        PgConnector::Tls(tls) => target
            .config
            .connect(tls.clone())
            .await
            .map(|(client, conn)| {
                tokio::spawn(drive(conn));
                client
            }),
    };
    connected.map_err(|source| match explain(&source, &target.tls, &target.host) {
        Some(check) if target.tls.mode != SslMode::Disable => StoreError::PostgresTls {
            host: format!("{}:{}", target.host, target.port),
            mode: target.tls.mode,
            check,
            source,
        },
        _ => StoreError::Postgres {
            operation: "connecting",
            source,
        },
    })
}

/// Runs one connection's I/O until it closes.
async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(error) = connection.await {
        tracing::warn!(%error, "PostgreSQL connection closed");
    }
}

fn first_host(config: &Config) -> (String, u16) {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(name)) => name.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

async fn prepare(client: Client) -> Result<Slot, StoreError> {
    let insert = client
        .prepare(INSERT)
        .await
        .map_err(pg_err("preparing the insert"))?;
    let query = client
        .prepare(QUERY)
        .await
        .map_err(pg_err("preparing the query"))?;
    Ok(Slot {
        client,
        insert,
        query,
    })
}

impl Store for PostgresStore {
    async fn ingest(&self, records: Vec<TelemetryRecord>) -> Result<IngestResponse, StoreError> {
        let column = |f: fn(&TelemetryRecord) -> i64| records.iter().map(f).collect::<Vec<i64>>();
        let devices: Vec<&str> = records.iter().map(|r| r.device.as_str()).collect();
        let seqs = column(|r| to_i64(r.seq));
        let ts = column(|r| to_i64(r.ts_ms));
        let received = column(|r| to_i64(r.received_ms));
        let validators: Vec<&str> = records.iter().map(|r| r.validator.as_str()).collect();
        let data: Vec<String> = records.iter().map(|r| r.data.to_string()).collect();
        let messages: Vec<&str> = records.iter().map(|r| r.message.as_str()).collect();
        let slot = self.slot().await?;
        let stored = slot
            .client
            .execute(
                &slot.insert,
                &[
                    &devices,
                    &seqs,
                    &ts,
                    &received,
                    &validators,
                    &data,
                    &messages,
                ],
            )
            .await
            .map_err(pg_err("inserting a batch"))?;
        Ok(IngestResponse {
            stored,
            duplicates: records.len() as u64 - stored,
        })
    }

    async fn query(
        &self,
        device: String,
        from_ms: Option<u64>,
        to_ms: Option<u64>,
        limit: u32,
    ) -> Result<Vec<TelemetryRecord>, StoreError> {
        let from = to_i64(from_ms.unwrap_or(0));
        let to = to_ms.map(to_i64);
        let limit = i64::from(limit);
        let slot = self.slot().await?;
        let rows = slot
            .client
            .query(&slot.query, &[&device, &from, &to, &limit])
            .await
            .map_err(pg_err("querying telemetry"))?;
        drop(slot);
        rows.iter()
            .map(|row| {
                StoredRow {
                    device: get(row, 0)?,
                    seq: get(row, 1)?,
                    ts_ms: get(row, 2)?,
                    received_ms: get(row, 3)?,
                    validator: get(row, 4)?,
                    data: get(row, 5)?,
                    message: get(row, 6)?,
                }
                .into_record()
            })
            .collect()
    }

    async fn counts(&self) -> Result<CountsResponse, StoreError> {
        let slot = self.slot().await?;
        let rows = slot
            .client
            .query(COUNTS, &[])
            .await
            .map_err(pg_err("counting telemetry"))?;
        drop(slot);
        let mut counts = CountsResponse::default();
        for row in &rows {
            add_count(&mut counts, get(row, 0)?, get(row, 1)?, get(row, 2)?)?;
        }
        Ok(counts)
    }

    async fn health(&self) -> Result<(), StoreError> {
        let slot = self.slot().await?;
        slot.client
            .simple_query("SELECT 1 FROM telemetry LIMIT 1")
            .await
            .map(|_| ())
            .map_err(pg_err("health check"))
    }
}
