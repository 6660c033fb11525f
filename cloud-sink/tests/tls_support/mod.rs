//! The sink over mutual TLS for tests: a VPN Centre CA with its revocation register on SQLite,
//! its CRL served over loopback, certificates with the roles enrolment gives, and an HTTPS sink.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_sink::Database;
use cloud_sink::http::{App, Limits};
use cloud_sink::server::{Server, ServerError};
use cloud_sink::tls::{SinkTls, TlsSettings};
use rcgen::RevocationReason;
use sink_api::{SinkClient, SinkError};
use test_support::pki::{CrlServer, issue_as, unix_now};
use tokio::task::JoinHandle;
use vpn_pki::{CertRole, CertificateAuthority, Revocations, Role};

pub fn uuid(i: u32) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// Aborts a spawned task when the test ends, pass or fail.
pub struct TaskGuard<T>(pub JoinHandle<T>);

impl<T> Drop for TaskGuard<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A certificate and its private key, PEM.
#[derive(Clone)]
pub struct Identity {
    pub cert: String,
    pub key: String,
}

/// A CA with its revocation register in a real SQLite file, as the VPN Centre keeps them.
pub struct Pki {
    pub ca: CertificateAuthority,
    pub db: Mutex<rusqlite::Connection>,
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new(name: &str) -> Arc<Self> {
        let dir = tempfile::tempdir().unwrap();
        let db = vpn_pki::open_database(&dir.path().join("pki.db")).unwrap();
        let ca = test_support::pki::ca(name);
        Arc::new(Self {
            ca,
            db: Mutex::new(db),
            dir,
        })
    }

    /// A certificate for `uuid` with `authority` (the role the centre writes from the registry;
    /// `None` as issued before roles existed).
    pub fn issue(&self, uuid: &str, usage: CertRole, authority: Option<Role>) -> Identity {
        let issued = issue_as(&self.ca, uuid, usage, authority);
        let db = self.db.lock().unwrap();
        Revocations::new(&db)
            .record_issued(uuid, &issued.record, unix_now())
            .unwrap();
        Identity {
            cert: issued.cert_pem,
            key: issued.key_pem,
        }
    }

    pub fn validator(&self, i: u32) -> Identity {
        self.issue(&uuid(i), CertRole::ClientAndServer, Some(Role::Validator))
    }

    pub fn revoke(&self, uuid: &str) {
        let db = self.db.lock().unwrap();
        let serials = Revocations::new(&db)
            .revoke_device(uuid, RevocationReason::PrivilegeWithdrawn, unix_now())
            .unwrap();
        assert_eq!(serials.len(), 1);
    }

    /// The signed CRL over the register as it is now.
    pub fn crl(&self) -> Result<Vec<u8>, vpn_pki::RevocationError> {
        let db = self.db.lock().unwrap();
        Revocations::new(&db).crl_der(&self.ca, unix_now(), Duration::from_secs(600))
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if name.ends_with("key.pem") {
            vpn_pki::write_private_key(&path, text.as_bytes()).unwrap();
        } else {
            std::fs::write(&path, text).unwrap();
        }
        path
    }

    /// The sink's TLS files, as the VPN Centre would hand them out.
    pub fn sink_settings(&self, crl_url: &str, crl_refresh: Duration) -> TlsSettings {
        let sink = self.issue(&uuid(1), CertRole::ClientAndServer, Some(Role::Service));
        TlsSettings {
            cert: self.write("sink.cert.pem", &sink.cert),
            key: self.write("sink.key.pem", &sink.key),
            client_ca: self.write("ca.cert.pem", self.ca.cert_pem()),
            crl_url: crl_url.into(),
            crl_refresh,
        }
    }
}

/// The centre's CRL endpoint, signed fresh on every fetch; its URL and the server (stops on drop).
pub async fn serve_crl(pki: Arc<Pki>) -> (String, CrlServer) {
    let server = CrlServer::start(move || pki.crl()).await;
    (server.url().to_string(), server)
}

/// An HTTPS sink over SQLite in this process, with its CRL endpoint; stops when dropped.
pub struct TlsSink {
    pub pki: Arc<Pki>,
    pub url: String,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub served: TaskGuard<Result<(), ServerError>>,
    pub _crl: CrlServer,
    pub _db: tempfile::TempDir,
}

impl TlsSink {
    pub async fn start(crl_refresh: Duration) -> Self {
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
    pub fn client(&self, identity: Option<&Identity>) -> SinkClient {
        let mut builder = SinkClient::builder(&self.url)
            .ca_pem(self.pki.ca.cert_pem())
            .timeout(Duration::from_secs(10));
        if let Some(id) = identity {
            builder = builder.client_cert_pem(&id.cert, &id.key);
        }
        builder.build().unwrap()
    }

    /// A client with a validator's certificate: may store, may not read.
    pub fn validator(&self, i: u32) -> SinkClient {
        self.client(Some(&self.pki.validator(i)))
    }

    /// A client with a service's certificate (operator tools, the dashboard): may read.
    pub fn reader(&self, i: u32) -> SinkClient {
        let service = self
            .pki
            .issue(&uuid(i), CertRole::Client, Some(Role::Service));
        self.client(Some(&service))
    }
}

pub fn expect_tls_refusal(result: Result<impl std::fmt::Debug, SinkError>, what: &str) {
    match result {
        Err(e @ SinkError::Tls { .. }) => {
            println!("{what}: {e}");
            assert!(e.is_tls() && e.is_retryable(), "{what}: {e}");
        }
        other => panic!("{what}: expected a TLS refusal, got {other:?}"),
    }
}
