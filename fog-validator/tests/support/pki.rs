//! The VPN Centre's PKI as a validator meets it: a CA, the revocation register on SQLite, the
//! signed CRL served over HTTP (which a test can stop and restart), and certificates it issues.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::RevocationReason;
use rustls::pki_types::pem::PemObject;
use tokio::net::TcpListener;
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
    crl_addr: SocketAddr,
    crl_app: axum::Router,
    crl_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
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
        let crl_addr = listener.local_addr().unwrap();
        let crl_url = format!("http://{crl_addr}/v1/pki/crl");
        let crl_task = tokio::spawn(serve_crl(listener, app.clone()));
        Pki {
            ca,
            validator_uuid,
            db,
            ca_file,
            cert,
            key,
            crl_url,
            crl_addr,
            crl_app: app,
            crl_task: Mutex::new(Some(crl_task)),
        }
    }

    /// Stops answering for the CRL: the listener and every open connection to it are closed.
    pub fn stop_crl(&self) {
        if let Some(task) = self.crl_task.lock().unwrap().take() {
            task.abort();
        }
    }

    /// Serves the CRL again on the same address.
    pub async fn restart_crl(&self) {
        self.stop_crl();
        let listener = TcpListener::bind(self.crl_addr).await.unwrap();
        let task = tokio::spawn(serve_crl(listener, self.crl_app.clone()));
        *self.crl_task.lock().unwrap() = Some(task);
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
        self.stop_crl();
    }
}

/// Serves `app` on `listener`; each connection is a task of this one, so aborting it closes them
/// all (a kept-alive client cannot go on fetching from a stopped CRL server).
async fn serve_crl(listener: TcpListener, app: axum::Router) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        connections.spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}
