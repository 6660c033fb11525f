//! The sink over mutual TLS with certificates from a real VPN Centre CA and a CRL served over loopback: who gets in, and revocation.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use cloud_sink::http::{App, Limits};
use cloud_sink::server::{Server, ServerError};
use cloud_sink::tls::{SinkTls, TlsError, TlsSettings};
use cloud_sink::{Database, SinkClient, SinkError};
use rcgen::RevocationReason;
use support::{DEVICE_A, DEVICE_B, records};
use tokio::task::JoinHandle;
use vpn_pki::{CertRole, CertificateAuthority, LeafKey, LeafRequest, Revocations};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn uuid(i: u32) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// Aborts a spawned task when the test ends, pass or fail.
struct TaskGuard<T>(JoinHandle<T>);

impl<T> Drop for TaskGuard<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A certificate and its private key, PEM.
#[derive(Clone)]
struct Identity {
    cert: String,
    key: String,
}

/// A CA with its revocation register in a real SQLite file, as the VPN Centre keeps them.
struct Pki {
    ca: CertificateAuthority,
    db: Mutex<rusqlite::Connection>,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new(name: &str) -> Arc<Self> {
        let dir = tempfile::tempdir().unwrap();
        let db = vpn_pki::open_database(&dir.path().join("pki.db")).unwrap();
        let ca = CertificateAuthority::generate(name, Duration::from_secs(86400), now()).unwrap();
        Arc::new(Self {
            ca,
            db: Mutex::new(db),
            dir,
        })
    }

    fn issue(&self, uuid: &str, role: CertRole) -> Identity {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = self
            .ca
            .issue(&LeafRequest {
                uuid: uuid.into(),
                role,
                virtual_ips: vec![],
                server_names: vec!["127.0.0.1".into(), "localhost".into()],
                key: LeafKey::PublicKey(key.public_key_pem()),
                validity: Duration::from_secs(3600),
                now: now(),
            })
            .unwrap();
        let db = self.db.lock().unwrap();
        Revocations::new(&db)
            .record_issued(uuid, &cert, now())
            .unwrap();
        Identity {
            cert: cert.pem,
            key: key.serialize_pem(),
        }
    }

    fn revoke(&self, uuid: &str) {
        let db = self.db.lock().unwrap();
        let serials = Revocations::new(&db)
            .revoke_device(uuid, RevocationReason::PrivilegeWithdrawn, now())
            .unwrap();
        assert_eq!(serials.len(), 1);
    }

    fn crl(&self) -> Result<Vec<u8>, StatusCode> {
        let db = self.db.lock().unwrap();
        Revocations::new(&db)
            .crl_der(&self.ca, now(), Duration::from_secs(600))
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The sink's TLS files, as the VPN Centre would hand them out.
    fn sink_settings(&self, crl_url: &str, crl_refresh: Duration) -> TlsSettings {
        let sink = self.issue(&uuid(1), CertRole::ClientAndServer);
        TlsSettings {
            cert: self.write("sink.cert.pem", &sink.cert),
            key: self.write("sink.key.pem", &sink.key),
            client_ca: self.write("ca.cert.pem", self.ca.cert_pem()),
            crl_url: crl_url.into(),
            crl_refresh,
        }
    }
}

/// The centre's CRL endpoint, signed fresh on every fetch.
async fn serve_crl(pki: Arc<Pki>) -> (String, TaskGuard<()>) {
    async fn crl(State(pki): State<Arc<Pki>>) -> Result<Vec<u8>, StatusCode> {
        pki.crl()
    }
    let app = axum::Router::new()
        .route("/v1/pki/crl", axum::routing::get(crl))
        .with_state(pki);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/pki/crl", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, TaskGuard(task))
}

/// An HTTPS sink over SQLite in this process, with its CRL endpoint; stops when dropped.
struct TlsSink {
    pki: Arc<Pki>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: TaskGuard<Result<(), ServerError>>,
    _crl: TaskGuard<()>,
    _db: tempfile::TempDir,
}

impl TlsSink {
    async fn start(crl_refresh: Duration) -> Self {
        let pki = Pki::new("SF2C Test VPN Centre CA");
        let (crl_url, crl_guard) = serve_crl(pki.clone()).await;
        let tls = SinkTls::start(&pki.sink_settings(&crl_url, crl_refresh))
            .await
            .unwrap();
        let db = tempfile::tempdir().unwrap();
        let store = Database::open(&format!("sqlite:{}", db.path().join("sink.db").display()))
            .await
            .unwrap();
        let app = Arc::new(App {
            store,
            limits: Limits::default(),
            metrics: Default::default(),
        });
        let server = Server::bind_tls("127.0.0.1:0".parse().unwrap(), tls)
            .await
            .unwrap();
        assert!(server.is_tls());
        let url = format!("https://{}", server.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(server.serve(app, async move {
            let _ = stopped.await;
        }));
        Self {
            pki,
            url,
            stop: Some(stop),
            served: TaskGuard(served),
            _crl: crl_guard,
            _db: db,
        }
    }

    /// A client trusting the sink's CA and presenting `identity`.
    fn client(&self, identity: Option<&Identity>) -> SinkClient {
        let mut builder = SinkClient::builder(&self.url)
            .ca_pem(self.pki.ca.cert_pem())
            .timeout(Duration::from_secs(10));
        if let Some(id) = identity {
            builder = builder.client_cert_pem(&id.cert, &id.key);
        }
        builder.build().unwrap()
    }

    fn validator(&self, i: u32) -> SinkClient {
        self.client(Some(&self.pki.issue(&uuid(i), CertRole::ClientAndServer)))
    }
}

fn expect_tls_refusal(result: Result<impl std::fmt::Debug, SinkError>, what: &str) {
    match result {
        Err(e @ SinkError::Tls { .. }) => {
            println!("{what}: {e}");
            assert!(e.is_tls() && e.is_retryable(), "{what}: {e}");
        }
        other => panic!("{what}: expected a TLS refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_with_a_centre_certificate_ingests_and_reads_back() {
    let mut sink = TlsSink::start(Duration::from_secs(2)).await;
    let client = sink.validator(10);
    let batch = records(DEVICE_A, 1..=5);
    let answer = client.ingest(&batch).await.unwrap();
    assert_eq!((answer.stored, answer.duplicates), (5, 0));
    client.health().await.unwrap();
    assert_eq!(client.counts().await.unwrap().total, 5);

    // Graceful shutdown: the serve future ends cleanly and the port stops answering.
    sink.stop.take().unwrap().send(()).unwrap();
    let served = tokio::time::timeout(Duration::from_secs(10), &mut sink.served.0)
        .await
        .expect("server stops within 10 s");
    served.unwrap().unwrap();
    let after = sink.validator(11).ingest(&batch).await.unwrap_err();
    assert!(
        matches!(after, SinkError::Unavailable { .. }),
        "after shutdown: {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_a_certificate_from_the_centre_are_refused() {
    let sink = TlsSink::start(Duration::from_secs(2)).await;
    let batch = records(DEVICE_A, 1..=3);

    expect_tls_refusal(sink.client(None).ingest(&batch).await, "no certificate");

    // Same UUID and shape of certificate, signed by another CA.
    let rogue = Pki::new("Rogue CA");
    let forged = rogue.issue(&uuid(10), CertRole::ClientAndServer);
    expect_tls_refusal(
        sink.client(Some(&forged)).ingest(&batch).await,
        "certificate from another CA",
    );

    // A client that does not trust the sink's CA refuses the sink.
    let legit = sink.pki.issue(&uuid(12), CertRole::ClientAndServer);
    let distrustful = SinkClient::builder(&sink.url)
        .ca_pem(rogue.ca.cert_pem())
        .client_cert_pem(&legit.cert, &legit.key)
        .build()
        .unwrap();
    expect_tls_refusal(distrustful.ingest(&batch).await, "sink not trusted");

    // Nothing of the refused batches reached the store.
    assert_eq!(sink.validator(13).counts().await.unwrap().total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_certificate_is_refused_on_new_connections_within_seconds() {
    let refresh = Duration::from_millis(500);
    let sink = TlsSink::start(refresh).await;
    let banned = sink.pki.issue(&uuid(20), CertRole::ClientAndServer);
    let other = sink.pki.issue(&uuid(21), CertRole::ClientAndServer);
    let before = sink
        .client(Some(&banned))
        .ingest(&records(DEVICE_A, 1..=2))
        .await
        .unwrap();
    assert_eq!(before.stored, 2);

    sink.pki.revoke(&uuid(20));
    let start = Instant::now();
    loop {
        // A fresh client each time: revocation applies to new connections.
        match sink
            .client(Some(&banned))
            .ingest(&records(DEVICE_A, 3..=3))
            .await
        {
            Ok(_) => assert!(
                start.elapsed() < Duration::from_secs(5),
                "revoked certificate still admitted after 5 s"
            ),
            Err(e) => {
                expect_tls_refusal(Err::<(), _>(e), "revoked certificate");
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "revoked certificate refused {} ms after revocation (CRL refresh every {} ms)",
        start.elapsed().as_millis(),
        refresh.as_millis()
    );

    let still = sink
        .client(Some(&other))
        .ingest(&records(DEVICE_B, 1..=2))
        .await
        .unwrap();
    assert_eq!(still.stored, 2);
}

#[tokio::test]
async fn sink_does_not_start_without_a_first_crl() {
    let pki = Pki::new("SF2C Test VPN Centre CA");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = pki.sink_settings(
        &format!("http://{closed}/v1/pki/crl"),
        Duration::from_secs(2),
    );
    match SinkTls::start(&unreachable).await {
        Err(e @ TlsError::FirstCrl(_)) => assert!(e.to_string().contains("crl_url"), "{e}"),
        Err(e) => panic!("expected FirstCrl, got {e}"),
        Ok(_) => panic!("started without a CRL"),
    }

    // A CRL signed by someone else is no CRL at all.
    let rogue = Pki::new("Rogue CA");
    let (rogue_url, _guard) = serve_crl(rogue).await;
    let forged = pki.sink_settings(&rogue_url, Duration::from_secs(2));
    assert!(matches!(
        SinkTls::start(&forged).await,
        Err(TlsError::FirstCrl(vpn_pki::CrlFetchError::Rejected { .. }))
    ));
}

/// The `cloud-sink` binary as a child process; killed when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl ChildGuard {
    fn spawn(args: &[&str]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_cloud-sink"))
            .args(args)
            .env_remove("SF2C_SINK_LISTEN")
            .env_remove("SF2C_SINK_DATABASE")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the cloud-sink binary");
        Self(child)
    }

    /// Waits up to `limit` for the process to exit; returns its success and stderr.
    fn finish(&mut self, limit: Duration) -> (bool, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "cloud-sink still running");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = self.0.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status.success(), stderr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_https_from_flags_and_refuses_unsafe_setups() {
    let pki = Pki::new("SF2C Test VPN Centre CA");
    let (crl_url, _crl) = serve_crl(pki.clone()).await;
    let settings = pki.sink_settings(&crl_url, Duration::from_secs(1));
    let db = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", db.path().join("sink.db").display());
    let port = test_support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let path = |p: &PathBuf| p.display().to_string();
    let (cert, key, ca) = (
        path(&settings.cert),
        path(&settings.key),
        path(&settings.client_ca),
    );
    let tls_args = |listen: &str, crl_url: &str| -> Vec<String> {
        [
            "serve",
            "--listen",
            listen,
            "--database",
            &database,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--client-ca",
            &ca,
            "--crl-url",
            crl_url,
        ]
        .map(String::from)
        .to_vec()
    };

    let args = tls_args(&listen, &crl_url);
    let mut sink = ChildGuard::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let validator = pki.issue(&uuid(30), CertRole::ClientAndServer);
    let client = SinkClient::builder(&format!("https://{listen}"))
        .ca_file(&settings.client_ca)
        .client_cert_pem(&validator.cert, &validator.key)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.health().await.is_err() {
        assert!(sink.0.try_wait().unwrap().is_none(), "cloud-sink exited");
        assert!(
            Instant::now() < deadline,
            "cloud-sink not healthy after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        client
            .ingest(&records(DEVICE_A, 1..=4))
            .await
            .unwrap()
            .stored,
        4
    );
    unsafe { libc::kill(sink.0.id() as i32, libc::SIGTERM) };
    let (clean, _) = sink.finish(Duration::from_secs(10));
    assert!(clean, "HTTPS sink must exit cleanly on SIGTERM");

    let closed: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let args = tls_args(&listen, &format!("http://{closed}/v1/pki/crl"));
    let (ok, stderr) = ChildGuard::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .finish(Duration::from_secs(30));
    assert!(!ok && stderr.contains("first CRL fetch failed"), "{stderr}");

    let (ok, stderr) = ChildGuard::spawn(&[
        "serve",
        "--listen",
        &format!("0.0.0.0:{port}"),
        "--database",
        &database,
    ])
    .finish(Duration::from_secs(30));
    assert!(!ok && stderr.contains("refusing plain HTTP"), "{stderr}");

    let (ok, stderr) = ChildGuard::spawn(&[
        "serve",
        "--listen",
        &listen,
        "--database",
        &database,
        "--tls-cert",
        &cert,
    ])
    .finish(Duration::from_secs(30));
    assert!(
        !ok && stderr.contains("tls_key, client_ca, crl_url"),
        "{stderr}"
    );
}
