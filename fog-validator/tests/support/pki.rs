//! The VPN Centre's PKI as a validator meets it: a CA, the revocation register on SQLite, the
//! signed CRL served over HTTP (which a test can stop and restart), and certificates it issues.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::RevocationReason;
use test_support::pki::CrlServer;
use vpn_pki::{CertRole, CertificateAuthority, Revocations, Role};

pub use test_support::pki::{Issued, issue, issue_as, unix_now};

/// The VPN Centre's PKI as a validator meets it: a CA, the revocation register on a real SQLite
/// file, and the signed CRL served over HTTP (stopped on drop). Also holds the validator's own
/// certificate, issued by the same CA.
pub struct Pki {
    pub ca: Arc<CertificateAuthority>,
    /// UUID in the validator's own certificate (`cert`).
    pub validator_uuid: String,
    db: Arc<Mutex<rusqlite::Connection>>,
    pub ca_file: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub crl_url: String,
    crl: CrlServer,
}

/// A TLS client configuration: trusts the CA and presents a client certificate, if any.
#[derive(Clone)]
pub struct Client {
    pub config: Arc<rustls::ClientConfig>,
}

impl Pki {
    pub async fn start(dir: &Path) -> Pki {
        let ca = Arc::new(test_support::pki::ca("SF2C-BC Test VPN CA"));
        let db = Arc::new(Mutex::new(
            vpn_pki::open_database(&dir.join("pki.db")).unwrap(),
        ));
        let ca_file = dir.join("vpn-ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).unwrap();
        let validator_uuid = uuid::Uuid::new_v4().to_string();
        let server = issue(&ca, &validator_uuid, CertRole::ClientAndServer);
        let (cert, key) = test_support::pki::write_files(dir, "validator", &server);
        let crl = CrlServer::signed(ca.clone(), db.clone()).await;
        Pki {
            ca,
            validator_uuid,
            db,
            ca_file,
            cert,
            key,
            crl_url: crl.url().to_string(),
            crl,
        }
    }

    /// Stops answering for the CRL: the listener and every open connection to it are closed.
    pub fn stop_crl(&self) {
        self.crl.stop();
    }

    /// Serves the CRL again on the same address.
    pub async fn restart_crl(&self) {
        self.crl.restart().await;
    }

    /// Issues and records a gateway client certificate for `uuid`; returns a client presenting it.
    pub fn client(&self, uuid: &str) -> Client {
        let issued = issue(&self.ca, uuid, CertRole::Client);
        Revocations::new(&self.db.lock().unwrap())
            .record_issued(uuid, &issued.record, unix_now())
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
        test_support::pki::write_files(dir, name, &issued)
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
