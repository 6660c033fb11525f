//! Shared test harness: real databases, an in-process sink, the sink binary as a child process.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloud_sink::Database;
use cloud_sink::http::{App, Limits};
use cloud_sink::server::Server;
use serde_json::json;
use sink_api::{SinkClient, TelemetryRecord};

use test_support::postgres::PgServer;

/// A real database a test runs against, removed when dropped.
pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(PgServer),
}

impl Backend {
    pub fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().expect("tempdir for SQLite"))
    }

    pub fn postgres() -> Self {
        Self::Postgres(PgServer::start())
    }

    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("sqlite:{}", dir.path().join("sink.db").display()),
            Self::Postgres(pg) => pg.url(),
        }
    }
}

/// A sink served from this process on a free loopback port; stops when dropped.
pub struct TestSink {
    pub url: String,
    pub client: SinkClient,
    pub app: Arc<App<Database>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestSink {
    pub async fn start(database_url: &str, limits: Limits) -> Self {
        let store = Database::open(database_url)
            .await
            .expect("open the test database");
        let app = Arc::new(App {
            store,
            limits,
            metrics: Default::default(),
        });
        let server = Server::bind("127.0.0.1:0".parse().unwrap())
            .await
            .expect("bind loopback");
        let url = format!("http://{}", server.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.serve(app.clone(), async move {
            let _ = stopped.await;
        }));
        let client = SinkClient::new(&url).expect("client for the test sink");
        Self {
            url,
            client,
            app,
            stop: Some(stop),
        }
    }
}

impl Drop for TestSink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The `cloud-sink serve` binary running as a child; SIGTERM then kill on drop.
pub struct SinkProcess {
    pub url: String,
    child: Child,
}

impl SinkProcess {
    pub async fn start(database_url: &str) -> Self {
        let port = test_support::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_cloud-sink"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database",
                database_url,
            ])
            .env_remove("SF2C_SINK_LISTEN")
            .env_remove("SF2C_SINK_DATABASE")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the cloud-sink binary");
        let mut this = Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let client = SinkClient::new(&this.url)
            .unwrap()
            .with_timeout(Duration::from_secs(2));
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.health().await.is_err() {
            if let Ok(Some(status)) = this.child.try_wait() {
                panic!("cloud-sink exited before becoming healthy: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "cloud-sink not healthy after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        this
    }

    /// Sends SIGTERM and returns whether the sink exited cleanly within ten seconds.
    pub fn terminate(&mut self) -> bool {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for SinkProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A well-formed record of `device` with sequence number `seq`.
pub fn record(device: &str, seq: u64) -> TelemetryRecord {
    TelemetryRecord {
        device: device.into(),
        seq,
        ts_ms: 1_700_000_000_000 + seq * 1_000,
        received_ms: 1_700_000_000_000 + seq * 1_000 + 7,
        validator: "fog-validator-1".into(),
        data: json!({ "temperature_c": 20.0 + seq as f64 / 8.0, "humidity": seq % 100, "ok": true }),
        message: format!("eyJhbGciOiJFZERTQSJ9.eyJzZXEiOj{seq}In0.c2lnbmF0dXJl{seq}"),
    }
}

/// Records `seqs` of `device`.
pub fn records(device: &str, seqs: impl IntoIterator<Item = u64>) -> Vec<TelemetryRecord> {
    seqs.into_iter().map(|s| record(device, s)).collect()
}

pub const DEVICE_A: &str = "0b6f8a52-7a0e-4c1d-9a3e-1f2d3c4b5a60";
pub const DEVICE_B: &str = "5e1c2d3b-4a59-4687-b7c8-d9eaf0a1b2c3";
pub const DEVICE_C: &str = "f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f";
