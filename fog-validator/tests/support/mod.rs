//! Test harness: the VPN Centre's PKI (CA, revocation register on SQLite, CRL served over HTTP), HTTPS
//! JSON-RPC clients with gateway certificates, and in-process real cloud-sink (SQLite; either store in
//! `stores`) and VPN Centre (SQLite) servers on 127.0.0.1, each stopped when its guard drops.
#![allow(dead_code)]

pub mod stores;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cloud_sink::http::{App, Limits};
use cloud_sink::sqlite::SqliteStore;
use fog_validator::{Config, RegistrySource, RunningValidator};
use http_body_util::{BodyExt, Full};
use rcgen::RevocationReason;
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use vpn_centre::warnings_store::WarningsStore;
use vpn_centre::{Warning, WarningFilter};
use vpn_pki::{CertRole, CertificateAuthority, LeafKey, LeafRequest, Revocations, Role};

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A certificate and key issued by a CA, as PEM, plus its serial.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub serial_hex: String,
}

/// Issues a leaf for `uuid` with a fresh P-256 key and the role enrolment would give it: gateway
/// for client certificates, validator for client-and-server ones.
pub fn issue(ca: &CertificateAuthority, uuid: &str, usage: CertRole) -> Issued {
    let role = match usage {
        CertRole::Client => Role::Gateway,
        _ => Role::Validator,
    };
    issue_as(ca, uuid, usage, Some(role))
}

/// Issues a leaf for `uuid` with a fresh P-256 key and `role` (`None`: no role at all).
pub fn issue_as(
    ca: &CertificateAuthority,
    uuid: &str,
    usage: CertRole,
    role: Option<Role>,
) -> Issued {
    let key = rcgen::KeyPair::generate().unwrap();
    let request = LeafRequest {
        uuid: uuid.into(),
        role: usage,
        virtual_ips: vec![],
        server_names: vec!["127.0.0.1".into(), "localhost".into()],
        key: LeafKey::PublicKey(key.public_key_pem()),
        validity: Duration::from_secs(86400),
        now: unix_now(),
    };
    let cert = match role {
        Some(role) => ca.issue_with_role(&request, role),
        None => ca.issue(&request),
    }
    .unwrap();
    Issued {
        cert_pem: cert.pem,
        key_pem: key.serialize_pem(),
        serial_hex: cert.serial_hex,
    }
}

/// The VPN Centre's PKI as a validator meets it: a CA, the revocation register on a real SQLite
/// file, and the signed CRL served by a small in-test axum server (aborted on drop). Also holds the
/// validator's own certificate, issued by the same CA.
pub struct Pki {
    pub ca: Arc<CertificateAuthority>,
    /// UUID in the validator's own certificate (`cert`).
    pub validator_uuid: String,
    db: Arc<Mutex<rusqlite::Connection>>,
    pub ca_file: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub crl_url: String,
    crl_task: tokio::task::JoinHandle<()>,
}

/// A TLS client configuration: trusts the CA and presents a client certificate, if any.
#[derive(Clone)]
pub struct Client {
    pub config: Arc<rustls::ClientConfig>,
}

impl Pki {
    pub async fn start(dir: &Path) -> Pki {
        let ca = Arc::new(
            CertificateAuthority::generate(
                "SF2C-BC Test VPN CA",
                Duration::from_secs(3650 * 86400),
                unix_now(),
            )
            .unwrap(),
        );
        let db = Arc::new(Mutex::new(
            vpn_pki::open_database(&dir.join("pki.db")).unwrap(),
        ));
        let ca_file = dir.join("vpn-ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).unwrap();
        let validator_uuid = uuid::Uuid::new_v4().to_string();
        let server = issue(&ca, &validator_uuid, CertRole::ClientAndServer);
        let (cert, key) = (dir.join("validator.pem"), dir.join("validator-key.pem"));
        std::fs::write(&cert, &server.cert_pem).unwrap();
        vpn_pki::write_private_key(&key, server.key_pem.as_bytes()).unwrap();

        let state = (ca.clone(), db.clone());
        let app = axum::Router::new()
            .route(
                "/v1/pki/crl",
                axum::routing::get(
                    |axum::extract::State((ca, db)): axum::extract::State<(
                        Arc<CertificateAuthority>,
                        Arc<Mutex<rusqlite::Connection>>,
                    )>| async move {
                        let db = db.lock().unwrap();
                        Revocations::new(&db)
                            .crl_der(&ca, unix_now(), Duration::from_secs(600))
                            .unwrap()
                    },
                ),
            )
            .with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let crl_url = format!("http://{}/v1/pki/crl", listener.local_addr().unwrap());
        let crl_task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Pki {
            ca,
            validator_uuid,
            db,
            ca_file,
            cert,
            key,
            crl_url,
            crl_task,
        }
    }

    /// Issues and records a gateway client certificate for `uuid`; returns a client presenting it.
    pub fn client(&self, uuid: &str) -> Client {
        let issued = issue(&self.ca, uuid, CertRole::Client);
        let record = vpn_pki::IssuedCert {
            pem: issued.cert_pem.clone(),
            der: rustls::pki_types::CertificateDer::from_pem_slice(issued.cert_pem.as_bytes())
                .unwrap(),
            serial_hex: issued.serial_hex.clone(),
            not_after: unix_now() + 86400,
        };
        Revocations::new(&self.db.lock().unwrap())
            .record_issued(uuid, &record, unix_now())
            .unwrap();
        self.client_with(&issued)
    }

    /// Issues a service's server-and-client certificate (role `service`) for a new UUID into
    /// `dir` as `{name}.pem` and `{name}-key.pem`; returns the two paths.
    pub fn service_files(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let issued = issue_as(
            &self.ca,
            &uuid::Uuid::new_v4().to_string(),
            CertRole::ClientAndServer,
            Some(Role::Service),
        );
        let (cert, key) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}-key.pem")),
        );
        std::fs::write(&cert, &issued.cert_pem).unwrap();
        vpn_pki::write_private_key(&key, issued.key_pem.as_bytes()).unwrap();
        (cert, key)
    }

    /// A client presenting `issued` (from any CA) and trusting this PKI's CA.
    pub fn client_with(&self, issued: &Issued) -> Client {
        Client {
            config: Arc::new(
                vpn_pki::client_config(self.ca.cert_pem(), &issued.cert_pem, &issued.key_pem)
                    .unwrap(),
            ),
        }
    }

    /// A client that trusts this CA but has no certificate of its own.
    pub fn anonymous_client(&self) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.cert_der().clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Client {
            config: Arc::new(config),
        }
    }

    /// Revokes every certificate of `uuid`; the next CRL served lists them.
    pub fn revoke(&self, uuid: &str) {
        let revoked = Revocations::new(&self.db.lock().unwrap())
            .revoke_device(uuid, RevocationReason::KeyCompromise, unix_now())
            .unwrap();
        assert!(!revoked.is_empty(), "no certificate of {uuid} was recorded");
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        self.crl_task.abort();
    }
}

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
    pub client: cloud_sink::SinkClient,
    task: tokio::task::JoinHandle<()>,
}

impl TlsSink {
    pub async fn start(pki: &Pki, dir: &Path) -> TlsSink {
        let (cert, key) = pki.service_files(dir, "sink");
        let tls = cloud_sink::tls::SinkTls::start(&cloud_sink::tls::TlsSettings {
            cert,
            key,
            client_ca: pki.ca_file.clone(),
            crl_url: pki.crl_url.clone(),
            crl_refresh: Duration::from_secs(1),
        })
        .await
        .unwrap();
        let server = cloud_sink::server::Server::bind_tls("127.0.0.1:0".parse().unwrap(), tls)
            .await
            .unwrap();
        let addr = server.local_addr();
        let store = SqliteStore::open(dir.join("tls-sink.db").to_str().unwrap())
            .await
            .unwrap();
        let app = Arc::new(App {
            store,
            limits: Limits::default(),
            metrics: Default::default(),
        });
        let task = tokio::spawn(async move {
            let _ = server.serve(app, std::future::pending()).await;
        });
        let (op_cert, op_key) = pki.service_files(dir, "operator");
        let client = cloud_sink::SinkClient::builder(&format!("https://127.0.0.1:{}", addr.port()))
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
