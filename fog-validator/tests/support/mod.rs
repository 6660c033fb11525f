//! Test harness: the VPN Centre's PKI (`pki`: CA, revocation register on SQLite, CRL served over
//! HTTP), HTTPS JSON-RPC clients with gateway certificates, in-process real cloud-sink (SQLite;
//! either store in `stores`) and VPN Centre (SQLite) servers on 127.0.0.1, the validator binary as
//! a child process (`child`), gateways registered on the live ledger (`ledger`), a cuttable TCP
//! path (`proxy`) and health reads (`ops`); each stopped when its guard drops.
#![allow(dead_code)]

pub mod child;
pub mod ledger;
pub mod ops;
pub mod pki;
pub mod proxy;
pub mod stores;

pub use pki::*;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloud_sink::http::{App, Limits};
use cloud_sink::sqlite::SqliteStore;
use cloud_sink::tls::{SinkTls, TlsSettings};
use fog_validator::{Config, RegistryFeed, RunningValidator};
use http_body_util::{BodyExt, Full};
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use vpn_centre::warnings_store::WarningsStore;
use warnings_api::{Warning, WarningFilter};

/// Opens a TLS connection and sends `body` as `POST /`; the error says where it failed (a refused
/// client certificate shows up as the server's alert, at the handshake or the first read).
pub async fn try_post(
    client: &Client,
    addr: SocketAddr,
    body: Vec<u8>,
) -> Result<(u16, Bytes), String> {
    // A stuck exchange fails the test with a reason instead of hanging the suite.
    tokio::time::timeout(Duration::from_secs(20), try_post_once(client, addr, body))
        .await
        .unwrap_or_else(|_| {
            Err("no answer within 20 s (connection neither answered nor closed)".into())
        })
}

async fn try_post_once(
    client: &Client,
    addr: SocketAddr,
    body: Vec<u8>,
) -> Result<(u16, Bytes), String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(client.config.clone());
    let stream = connector
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("http: {e}"))?;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::post("/")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = match sender.send_request(req).await {
        Ok(resp) => resp,
        // The connection task holds the cause (e.g. the server's TLS alert).
        Err(e) => {
            return Err(match conn.await {
                Ok(Err(cause)) => format!("request: {e}; connection: {cause:?}"),
                _ => format!("request: {e:?}"),
            });
        }
    };
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// Sends `body` as `POST /` over a new TLS connection; returns the status and the body.
pub async fn post(client: &Client, addr: SocketAddr, body: Vec<u8>) -> (u16, Bytes) {
    try_post(client, addr, body).await.unwrap()
}

/// `telemetry.submit` of one message; returns the JSON-RPC response.
pub async fn submit(client: &Client, addr: SocketAddr, message: &str) -> Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "telemetry.submit", "params": {"message": message}});
    let (status, body) = post(client, addr, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// A batch of `telemetry.submit`, ids 0..n; returns the response array.
pub async fn submit_batch(client: &Client, addr: SocketAddr, messages: &[String]) -> Vec<Value> {
    let body: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| serde_json::json!({"jsonrpc": "2.0", "id": i, "method": "telemetry.submit", "params": {"message": m}}))
        .collect();
    let (status, body) = post(client, addr, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// The error code of a JSON-RPC response, if it is an error.
pub fn error_code(response: &Value) -> Option<i64> {
    response["error"]["code"].as_i64()
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

/// A real cloud sink on SQLite behind its own mutual-TLS listener (certificate and CRL from `pki`),
/// served in-process; stops when dropped. `client` reads it back with an operator certificate.
pub struct TlsSink {
    pub addr: SocketAddr,
    pub client: sink_api::SinkClient,
    task: tokio::task::JoinHandle<()>,
}

impl TlsSink {
    pub async fn start(pki: &Pki, dir: &Path) -> TlsSink {
        let tls = sink_tls(pki, dir, Duration::from_secs(1)).await;
        let (addr, task) = serve_tls_sink(tls, &dir.join("tls-sink.db")).await;
        let (op_cert, op_key) = pki.service_files(dir, "operator");
        let client = sink_api::SinkClient::builder(&format!("https://127.0.0.1:{}", addr.port()))
            .ca_file(&pki.ca_file)
            .client_cert_files(op_cert, op_key)
            .build()
            .unwrap();
        TlsSink { addr, client, task }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }
}

impl Drop for TlsSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The sink's mutual TLS: a service certificate of `pki` written in `dir`, its CA and CRL, the CRL
/// fetched every `crl_refresh`.
pub async fn sink_tls(pki: &Pki, dir: &Path, crl_refresh: Duration) -> SinkTls {
    let (cert, key) = pki.service_files(dir, "sink");
    SinkTls::start(&TlsSettings {
        cert,
        key,
        client_ca: pki.ca_file.clone(),
        crl_url: pki.crl_url.clone(),
        crl_refresh,
    })
    .await
    .unwrap()
}

/// A real cloud sink on the SQLite file `db` behind `tls`, served in-process on 127.0.0.1 until
/// the returned task is aborted.
pub async fn serve_tls_sink(tls: SinkTls, db: &Path) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let server = cloud_sink::server::Server::bind_tls("127.0.0.1:0".parse().unwrap(), tls)
        .await
        .unwrap();
    let addr = server.local_addr();
    let store = SqliteStore::open(db.to_str().unwrap()).await.unwrap();
    let app = Arc::new(App {
        store,
        limits: Limits::default(),
        metrics: Default::default(),
    });
    let task = tokio::spawn(async move {
        let _ = server.serve(app, std::future::pending()).await;
    });
    (addr, task)
}

/// A real VPN Centre warnings API on SQLite behind its mutual-TLS validators' listener (no registry
/// connected, so any validator certificate of the CA may submit), served in-process; stops when
/// dropped.
pub struct TlsVpn {
    pub addr: SocketAddr,
    pub store: Arc<WarningsStore>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsVpn {
    pub async fn start(pki: &Pki, dir: &Path) -> TlsVpn {
        use vpn_centre::autoban::AutoBanPolicy;
        use vpn_centre::enforcement::Enforcement;
        let (cert, key) = pki.service_files(dir, "centre");
        let store = Arc::new(
            WarningsStore::open(&dir.join("tls-warnings.db"))
                .unwrap()
                .with_aggregate_window(0),
        );
        let enforcement = Enforcement::new(
            None,
            None,
            AutoBanPolicy {
                enabled: false,
                ..AutoBanPolicy::default()
            },
        );
        let state = vpn_centre::http::AppState::authenticated(
            store.clone(),
            Default::default(),
            Arc::new(enforcement),
        );
        let verifier = vpn_pki::CrlClientVerifier::new(pki.ca.cert_pem(), None, true).unwrap();
        vpn_pki::CrlRefresher::refresh_once(&pki.crl_url, &verifier)
            .await
            .unwrap();
        let config = vpn_pki::server_config(
            &std::fs::read_to_string(cert).unwrap(),
            &std::fs::read_to_string(key).unwrap(),
            verifier,
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(vpn_centre::tls_listener::serve_tls(
            listener,
            Arc::new(config),
            vpn_centre::app::validator_router(state, 1024 * 1024),
            std::future::pending(),
        ));
        TlsVpn { addr, store, task }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// Waits until at least `n` warnings are stored (up to 5 s), then returns them newest first.
    pub async fn wait_for(&self, n: usize) -> Vec<Warning> {
        wait_for_warnings(&self.store, n).await
    }
}

impl Drop for TlsVpn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn wait_for_warnings(store: &WarningsStore, n: usize) -> Vec<Warning> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let page = store.list(&WarningFilter::default(), 500, None).unwrap();
        if page.warnings.len() >= n || Instant::now() > deadline {
            return page.warnings;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
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
        // Every refusal its own row (no aggregation), so each can be checked.
        let store = WarningsStore::open(db).unwrap().with_aggregate_window(0);
        let state = vpn_centre::http::AppState::new(store);
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
        wait_for_warnings(&self.store, n).await
    }
}

impl Drop for Vpn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A validator config for tests: 127.0.0.1:0, the given data dir, the PKI's certificate, CA and CRL
/// (refreshed every second), and peers.
pub fn config(pki: &Pki, data_dir: &Path, sink_url: String, vpn_url: Option<String>) -> Config {
    let mut config = Config {
        id: "fog-test-1".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ops_listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: data_dir.to_path_buf(),
        sink_url,
        vpn_url,
        tls_cert: Some(pki.cert.clone()),
        tls_key: Some(pki.key.clone()),
        client_ca: Some(pki.ca_file.clone()),
        crl_url: Some(pki.crl_url.clone()),
        crl_refresh_secs: 1,
        ..Config::default()
    };
    config.limits.max_body_bytes = 256 * 1024;
    config.limits.max_batch = 60;
    config.forward.linger_ms = 5;
    config.replay.flush_ms = 20;
    config
}

pub async fn start(config: &Config, feed: Arc<dyn RegistryFeed>) -> RunningValidator {
    fog_validator::start(config, feed).await.unwrap()
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
