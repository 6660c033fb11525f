//! Test harness: self-signed TLS, an HTTPS JSON-RPC client, and in-process real cloud-sink (SQLite) and
//! VPN Centre (SQLite) servers on 127.0.0.1, each stopped when its guard drops.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloud_sink::http::{App, Limits};
use cloud_sink::sqlite::SqliteStore;
use fog_validator::{Config, RegistrySource, RunningValidator};
use http_body_util::{BodyExt, Full};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use vpn_centre::warnings_store::WarningsStore;
use vpn_centre::{Warning, WarningFilter};

/// A self-signed certificate for 127.0.0.1, its files, and a client config trusting it.
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client: Arc<rustls::ClientConfig>,
}

impl Tls {
    pub fn new(dir: &Path) -> Tls {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        std::fs::write(&cert_path, cert.cert.pem()).unwrap();
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(cert.cert.der().to_vec()))
            .unwrap();
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Tls {
            cert: cert_path,
            key: key_path,
            client: Arc::new(client),
        }
    }
}

/// Sends `body` as `POST /` over a new TLS connection; returns the status and the body.
pub async fn post(tls: &Tls, addr: SocketAddr, body: Vec<u8>) -> (u16, Bytes) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
    let stream = connector
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::post("/")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

/// `telemetry.submit` of one message; returns the JSON-RPC response.
pub async fn submit(tls: &Tls, addr: SocketAddr, message: &str) -> Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "telemetry.submit", "params": {"message": message}});
    let (status, body) = post(tls, addr, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// A batch of `telemetry.submit`, ids 0..n; returns the response array.
pub async fn submit_batch(tls: &Tls, addr: SocketAddr, messages: &[String]) -> Vec<Value> {
    let body: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| serde_json::json!({"jsonrpc": "2.0", "id": i, "method": "telemetry.submit", "params": {"message": m}}))
        .collect();
    let (status, body) = post(tls, addr, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// The error code of a JSON-RPC response, if it is an error.
pub fn error_code(response: &Value) -> Option<i64> {
    response["error"]["code"].as_i64()
}

/// A free port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real cloud sink on SQLite, served in-process; stops when dropped.
pub struct Sink {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    pub async fn start(db: &Path, port: u16) -> Sink {
        let store = SqliteStore::open(db.to_str().unwrap()).await.unwrap();
        let app = Arc::new(App {
            store,
            limits: Limits::default(),
            metrics: Default::default(),
        });
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            axum::serve(listener, cloud_sink::http::router(app))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Sink {
            addr,
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A real VPN Centre warnings API on SQLite, served in-process; stops when dropped.
pub struct Vpn {
    pub addr: SocketAddr,
    pub store: Arc<WarningsStore>,
    task: tokio::task::JoinHandle<()>,
}

impl Vpn {
    pub async fn start(db: &Path) -> Vpn {
        let state = vpn_centre::http::AppState::new(WarningsStore::open(db).unwrap());
        let store = state.store.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, vpn_centre::http::router(state, 1024 * 1024))
                .await
                .unwrap();
        });
        Vpn { addr, store, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until at least `n` warnings are stored (up to 5 s), then returns them newest first.
    pub async fn wait_for(&self, n: usize) -> Vec<Warning> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let page = self
                .store
                .list(&WarningFilter::default(), 500, None)
                .unwrap();
            if page.warnings.len() >= n || Instant::now() > deadline {
                return page.warnings;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Vpn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A validator config for tests: 127.0.0.1:0, the given data dir, TLS files and peers.
pub fn config(tls: &Tls, data_dir: &Path, sink_url: String, vpn_url: Option<String>) -> Config {
    let mut config = Config {
        id: "fog-test-1".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ops_listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: data_dir.to_path_buf(),
        sink_url,
        vpn_url,
        tls_cert: Some(tls.cert.clone()),
        tls_key: Some(tls.key.clone()),
        ..Config::default()
    };
    config.limits.max_body_bytes = 256 * 1024;
    config.limits.max_batch = 60;
    config.forward.linger_ms = 5;
    config.replay.flush_ms = 20;
    config
}

pub async fn start(config: &Config, source: Arc<dyn RegistrySource>) -> RunningValidator {
    fog_validator::start(config, source).await.unwrap()
}

/// Polls `check` every 10 ms until it holds or `limit` passes; returns how long it took.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}
