//! PostgreSQL-over-TLS test kit: a test CA (rcgen), server certificates, TLS-enabled servers, and
//! what the server itself says about the sink's connections.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use test_support::postgres::PgServer;

/// A certificate authority that exists only for one test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
    /// Holds `ca.pem` and whatever else a test writes.
    pub dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), &pem).unwrap();
        Self {
            issuer: Issuer::new(params, key),
            pem,
            dir,
        }
    }

    /// Path of this CA's certificate, PEM.
    pub fn file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate and key (PEM) for `names` (IP addresses become IP SANs).
    pub fn server_cert(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "postgres test server");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A PostgreSQL server with `ssl=on` presenting a certificate of `ca` for `names`.
pub async fn tls_server(ca: &TestCa, names: &[&str]) -> PgServer {
    let (cert, key) = ca.server_cert(names);
    tokio::task::spawn_blocking(move || PgServer::start_tls(&cert, &key))
        .await
        .unwrap()
}

/// A PostgreSQL server with `ssl=off`, as the harness starts by default.
pub async fn plain_server() -> PgServer {
    tokio::task::spawn_blocking(PgServer::start).await.unwrap()
}

/// `pg.url()` with extra query parameters appended.
pub fn url_with(pg: &PgServer, params: &str) -> String {
    format!("{}?{params}", pg.url())
}

/// A superuser session over plain TCP, for looking at the server from the outside.
pub async fn admin(pg: &PgServer) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("admin connection to the test server");
    tokio::spawn(connection);
    client
}

/// `pg_stat_ssl.ssl` and the TLS version of every session named `application`, as the server sees them.
pub async fn sessions_ssl(pg: &PgServer, application: &str) -> Vec<(bool, Option<String>)> {
    admin(pg)
        .await
        .query(
            "SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = $1",
            &[&application],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// Rows of `device` in the sink's table, counted by the server.
pub async fn rows_of(pg: &PgServer, device: &str) -> i64 {
    admin(pg)
        .await
        .query_one(
            "SELECT COUNT(*)::bigint FROM telemetry WHERE device = $1",
            &[&device],
        )
        .await
        .unwrap()
        .get(0)
}

/// The `cloud-sink serve` binary with `args`, its stderr kept in a file; killed by PID on drop.
pub struct Sink {
    child: Child,
    pub url: String,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    pub fn spawn(database: &str, args: &[&str]) -> Self {
        let port = test_support::free_port();
        let dir = tempfile::tempdir().unwrap();
        let stderr = dir.path().join("stderr.log");
        let child = Command::new(env!("CARGO_BIN_EXE_cloud-sink"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database", database])
            .args(args)
            .env_remove("SF2C_SINK_LISTEN")
            .env_remove("SF2C_SINK_DATABASE")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn the cloud-sink binary");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            stderr,
            _dir: dir,
        }
    }

    /// What the sink logged, without colour codes.
    pub fn stderr(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let mut plain = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // An SGR sequence: ESC [ parameters m.
                chars.by_ref().find(|&c| c == 'm');
            } else {
                plain.push(c);
            }
        }
        plain
    }

    /// Waits for the process to exit on its own; its status, or `None` after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Polls `/healthz` until it answers, panicking with the log if the process exits first.
    pub async fn wait_healthy(&mut self) -> sink_api::SinkClient {
        let client = sink_api::SinkClient::new(&self.url).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.health().await.is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("cloud-sink exited ({status}):\n{}", self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "cloud-sink not healthy:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        client
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            if self.wait_exit(Duration::from_secs(10)).is_none() {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}
