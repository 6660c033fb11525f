//! The VPN Centre's PKI as tests meet it: a CA, leaf certificates it issues, and its CRL served over HTTP.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use vpn_pki::{
    CertRole, CertificateAuthority, IssuedCert, LeafKey, LeafRequest, Revocations, Role,
};

/// Path the VPN Centre serves its CRL on; [`CrlServer::url`] ends with it.
pub const CRL_PATH: &str = "/v1/pki/crl";

/// How long the certificates issued here stay valid.
pub const LEAF_VALIDITY: Duration = Duration::from_secs(86400);

/// Seconds since the Unix epoch, the `now` every PKI call takes.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

/// A fresh CA named `name`, valid ten years from now.
pub fn ca(name: &str) -> CertificateAuthority {
    CertificateAuthority::generate(name, Duration::from_secs(3650 * 86400), unix_now())
        .unwrap_or_else(|e| panic!("generate the CA {name:?}: {e}"))
}

/// A certificate and key issued by a CA, as PEM, plus the record the centre keeps of it.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub serial_hex: String,
    /// What [`Revocations::record_issued`] takes, so a test can make it revocable.
    pub record: IssuedCert,
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

/// Issues a leaf for `uuid` with a fresh P-256 key and `role` (`None`: no role at all, as before
/// roles existed), valid for [`LEAF_VALIDITY`] on 127.0.0.1 and localhost.
pub fn issue_as(
    ca: &CertificateAuthority,
    uuid: &str,
    usage: CertRole,
    role: Option<Role>,
) -> Issued {
    let key = rcgen::KeyPair::generate().expect("generate a P-256 key");
    let request = LeafRequest {
        uuid: uuid.into(),
        role: usage,
        virtual_ips: vec![],
        server_names: vec!["127.0.0.1".into(), "localhost".into()],
        key: LeafKey::PublicKey(key.public_key_pem()),
        validity: LEAF_VALIDITY,
        now: unix_now(),
    };
    let cert = match role {
        Some(role) => ca.issue_with_role(&request, role),
        None => ca.issue(&request),
    }
    .unwrap_or_else(|e| panic!("issue a certificate for {uuid}: {e}"));
    Issued {
        cert_pem: cert.pem.clone(),
        key_pem: key.serialize_pem(),
        serial_hex: cert.serial_hex.clone(),
        record: cert,
    }
}

/// Writes `issued` into `dir` as `{name}.pem` and `{name}-key.pem` (the key at 0600); returns the
/// two paths.
pub fn write_files(dir: &Path, name: &str, issued: &Issued) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&cert, &issued.cert_pem)
        .unwrap_or_else(|e| panic!("write {}: {e}", cert.display()));
    vpn_pki::write_private_key(&key, issued.key_pem.as_bytes())
        .unwrap_or_else(|e| panic!("write {}: {e}", key.display()));
    (cert, key)
}

/// A CRL served over HTTP on 127.0.0.1, built by its source on every fetch; stops when dropped.
pub struct CrlServer {
    url: String,
    addr: SocketAddr,
    app: axum::Router,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl CrlServer {
    /// Serves what `crl` returns (DER) at [`CRL_PATH`] on a free port; an error answers 500.
    pub async fn start<F, E>(crl: F) -> CrlServer
    where
        F: Fn() -> Result<Vec<u8>, E> + Send + Sync + 'static,
        E: Display,
    {
        let crl = Arc::new(crl);
        let app = axum::Router::new().route(
            CRL_PATH,
            axum::routing::get(move || {
                let crl = crl.clone();
                async move { crl().map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())) }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the CRL server on 127.0.0.1");
        let addr = listener.local_addr().expect("the CRL server's address");
        let task = tokio::spawn(serve(listener, app.clone()));
        CrlServer {
            url: format!("http://{addr}{CRL_PATH}"),
            addr,
            app,
            task: Mutex::new(Some(task)),
        }
    }

    /// Serves the CRL of `ca` over the revocation register in `db`, signed fresh on every fetch
    /// (valid ten minutes), as the VPN Centre does.
    pub async fn signed(
        ca: Arc<CertificateAuthority>,
        db: Arc<Mutex<rusqlite::Connection>>,
    ) -> CrlServer {
        CrlServer::start(move || {
            let db = db.lock().map_err(|_| "the register's lock is poisoned")?;
            Revocations::new(&db)
                .crl_der(&ca, unix_now(), Duration::from_secs(600))
                .map_err(|e| e.to_string())
        })
        .await
    }

    /// Where the CRL is fetched from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops answering: the listener and every open connection to it are closed.
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().expect("CRL server lock").take() {
            task.abort();
        }
    }

    /// Serves the CRL again on the same address.
    pub async fn restart(&self) {
        self.stop();
        let listener = TcpListener::bind(self.addr)
            .await
            .unwrap_or_else(|e| panic!("rebind the CRL server on {}: {e}", self.addr));
        let task = tokio::spawn(serve(listener, self.app.clone()));
        *self.task.lock().expect("CRL server lock") = Some(task);
    }
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves `app` on `listener`; each connection is a task of this one, so aborting it closes them
/// all (a kept-alive client cannot go on fetching from a stopped CRL server).
async fn serve(listener: TcpListener, app: axum::Router) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_with_the_role_enrolment_gives() {
        let ca = ca("test-support CA");
        let gateway = issue(
            &ca,
            "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
            CertRole::Client,
        );
        assert!(gateway.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(gateway.key_pem.contains("PRIVATE KEY"));
        assert_eq!(gateway.serial_hex, gateway.record.serial_hex);
        let identity = vpn_pki::CertIdentity::from_der(&gateway.record.der).expect("parse");
        assert_eq!(identity.role, Some(Role::Gateway));
    }

    #[tokio::test]
    async fn serves_the_crl_until_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = Arc::new(ca("test-support CA"));
        let db = vpn_pki::open_database(&dir.path().join("pki.db")).expect("open the register");
        let server = CrlServer::signed(ca.clone(), Arc::new(Mutex::new(db))).await;
        let der = vpn_pki::fetch_crl(server.url())
            .await
            .expect("fetch the CRL");
        assert!(!der.is_empty());
        server.stop();
        assert!(vpn_pki::fetch_crl(server.url()).await.is_err());
        server.restart().await;
        assert!(vpn_pki::fetch_crl(server.url()).await.is_ok());
    }
}
