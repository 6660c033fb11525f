//! Ingest throughput of the sink: rows/s for batches of 100 into SQLite and PostgreSQL.
//!
//! Run: `cargo run -p cloud-sink --release --example ingest_bench [-- --rows 20000 --postgres URL]`.
//! Without `--postgres` a throwaway PostgreSQL server is started (same harness as the tests).
//! Baseline printed beside it: the same rows one per batch (one transaction per row).

use test_support::postgres as pg;

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use cloud_sink::http::{App, Limits};
use cloud_sink::server::Server;
use cloud_sink::{Database, Store};
use sink_api::{SinkClient, TelemetryRecord};

#[derive(Parser)]
struct Args {
    /// Rows per measured run.
    #[arg(long, default_value_t = 20_000)]
    rows: u64,
    /// Rows per batch.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Use this PostgreSQL database instead of starting a throwaway server.
    #[arg(long)]
    postgres: Option<String>,
}

fn make_records(device: &str, count: u64) -> Vec<TelemetryRecord> {
    (0..count)
        .map(|seq| TelemetryRecord {
            device: device.into(),
            seq,
            ts_ms: 1_700_000_000_000 + seq,
            received_ms: 1_700_000_000_000 + seq + 5,
            validator: "fog-validator-1".into(),
            data: serde_json::json!({ "temperature_c": 21.5, "humidity": 40, "seq": seq }),
            message: format!("eyJhbGciOiJFZERTQSJ9.eyJzZXEiOj{seq}.{}", "A".repeat(86)),
        })
        .collect()
}

/// Stores `records` in batches of `batch` and returns rows/s.
async fn direct(
    store: &Database,
    records: &[TelemetryRecord],
    batch: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    for chunk in records.chunks(batch) {
        store.ingest(chunk.to_vec()).await?;
    }
    Ok(records.len() as f64 / started.elapsed().as_secs_f64())
}

async fn over_http(
    client: &SinkClient,
    records: &[TelemetryRecord],
    batch: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    for chunk in records.chunks(batch) {
        client.ingest(chunk).await?;
    }
    Ok(records.len() as f64 / started.elapsed().as_secs_f64())
}

async fn bench(name: &str, url: &str, args: &Args) -> anyhow::Result<()> {
    let baseline_rows = (args.rows / 10).max(100);
    let store = Database::open(url).await?;
    let rows = make_records("0b6f8a52-7a0e-4c1d-9a3e-1f2d3c4b5a60", args.rows);
    let new = direct(&store, &rows, args.batch).await?;
    let dup = direct(&store, &rows, args.batch).await?;
    let single = direct(
        &store,
        &make_records("5e1c2d3b-4a59-4687-b7c8-d9eaf0a1b2c3", baseline_rows),
        1,
    )
    .await?;

    let app = Arc::new(App {
        store,
        limits: Limits::default(),
        metrics: Default::default(),
    });
    let server = Server::bind("127.0.0.1:0".parse()?).await?;
    let client = SinkClient::new(&format!("http://{}", server.local_addr()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(app, async move {
        let _ = stopped.await;
    }));
    let http = over_http(
        &client,
        &make_records("f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f", args.rows),
        args.batch,
    )
    .await?;
    let _ = stop.send(());
    serving.await??;

    let b = args.batch;
    println!(
        "{name:<9} store, batches of {b:<4} new rows      : {new:>10.0} rows/s ({} rows)",
        args.rows
    );
    println!("{name:<9} store, batches of {b:<4} redelivered   : {dup:>10.0} rows/s");
    println!(
        "{name:<9} store, batches of 1    (baseline) : {single:>10.0} rows/s ({baseline_rows} rows)"
    );
    println!("{name:<9} HTTP,  batches of {b:<4} new rows      : {http:>10.0} rows/s");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite:{}", dir.path().join("bench.db").display());
    bench("sqlite", &sqlite_url, &args).await?;
    // Durable like the SQLite store (synchronous=FULL), so the two figures compare.
    let (_server, pg_url) = match args.postgres.clone() {
        Some(url) => (None, url),
        None => {
            let server = pg::PgServer::start_durable();
            let url = server.url();
            (Some(server), url)
        }
    };
    bench("postgres", &pg_url, &args).await?;
    Ok(())
}
