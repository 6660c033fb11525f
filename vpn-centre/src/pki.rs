//! The centre's PKI in one place: CA and enrolment over the registry, the revocation store, and the
//! mutual-TLS verifier that store feeds directly.
//!
//! Revocation reaches the centre's own mTLS listener without polling: [`CentrePki::revoke`]
//! installs a fresh CRL in the verifier at once, and [`CentrePki::sync_crl`] (run every few
//! seconds by `serve`) picks up revocations made by the `vpn-centre revoke` command in another
//! process. Validators and the cloud sink fetch the same signed CRL from `GET /v1/pki/crl`, which
//! serves the CRL signed at the last change from memory (re-signed only when a quarter of its
//! lifetime has passed), so frequent polls cost no signature and no disk write.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::RevocationReason;
use vpn_pki::{
    CertificateAuthority, Cidr, CrlClientVerifier, EnrolError, EnrolRequest, Enrolled, Enroller,
    EnrolmentConfig, EnrolmentToken, IpLease, IpPool, IssuedCert, LeafKey, MtlsError,
};

use crate::ledger_bridge::LedgerBridge;
use crate::registry::CentreRegistry;

/// Common name of the centre's CA certificate.
pub const CA_NAME: &str = "SF2C-BC VPN Centre CA";
/// Lifetime of a newly created CA.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// The PKI database inside the PKI directory.
pub const PKI_DB_FILE: &str = "pki.sqlite3";
/// Service name whose certificate the centre's own listeners present.
pub const CENTRE_SERVICE: &str = "vpn-centre";

/// Why a PKI step failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error(transparent)]
    Ca(#[from] vpn_pki::CaError),
    #[error(transparent)]
    Db(#[from] vpn_pki::DbError),
    #[error("virtual network configuration is unusable: {0}")]
    Pool(#[from] vpn_pki::PoolError),
    #[error(transparent)]
    Enrol(#[from] EnrolError),
    #[error("cannot build the mutual-TLS verifier: {0}")]
    Mtls(#[from] MtlsError),
    #[error("cannot generate a key for {what}: {source}")]
    KeyGen { what: String, source: rcgen::Error },
    #[error("cannot create PKI directory {path}: {source}; choose a writable data directory")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the PKI lives and how it issues.
#[derive(Debug, Clone)]
pub struct PkiSettings {
    /// Holds `ca.cert.pem`, `ca.key.pem` (mode 0600) and `pki.sqlite3`.
    pub dir: PathBuf,
    /// Virtual networks addresses are leased from (at most one IPv4 and one IPv6).
    pub networks: Vec<Cidr>,
    pub enrolment: EnrolmentConfig,
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct KeyedCert {
    pub uuid: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub serial_hex: String,
}

/// CA, enrolment, revocation and the verifier of the centre's mTLS listener.
pub struct CentrePki {
    enroller: Enroller<LedgerBridge>,
    verifier: Arc<CrlClientVerifier>,
    /// Serials in the CRL the verifier holds; a different set means a new CRL is due.
    enforced: Mutex<Vec<String>>,
    /// The CRL last signed and when (Unix seconds); also serialises signing.
    published: tokio::sync::Mutex<(Vec<u8>, i64)>,
    /// Age after which a served CRL is signed again, well before its nextUpdate.
    resign_after: i64,
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The stable UUID of a named service (v5 in a namespace of our own), or the name itself when it
/// already is a UUID.
pub fn service_uuid(name: &str) -> String {
    if let Ok(u) = uuid::Uuid::parse_str(name) {
        return u.hyphenated().to_string();
    }
    let namespace = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"services.sf2c-bc");
    uuid::Uuid::new_v5(&namespace, name.as_bytes())
        .hyphenated()
        .to_string()
}

impl CentrePki {
    /// Opens (creating on first use) the CA and database in `settings.dir`.
    pub async fn open(
        settings: &PkiSettings,
        registry: Option<Arc<dyn CentreRegistry>>,
    ) -> Result<Self, PkiError> {
        std::fs::create_dir_all(&settings.dir).map_err(|source| PkiError::Dir {
            path: settings.dir.clone(),
            source,
        })?;
        let now = now_secs();
        let ca = CertificateAuthority::load_or_create(&settings.dir, CA_NAME, CA_VALIDITY, now)?;
        let pool = IpPool::new(&settings.networks)?;
        let db = vpn_pki::open_database(&settings.dir.join(PKI_DB_FILE))?;
        let verifier = CrlClientVerifier::new(ca.cert_pem(), None, false)?;
        let enroller = Enroller::new(
            ca,
            pool,
            db,
            LedgerBridge::new(registry),
            settings.enrolment.clone(),
        );
        let resign_after = (settings.enrolment.crl_validity.as_secs() as i64 / 4).max(1);
        let pki = Self {
            enroller,
            verifier,
            enforced: Mutex::new(Vec::new()),
            published: tokio::sync::Mutex::new((Vec::new(), 0)),
            resign_after,
        };
        pki.install_crl().await?;
        Ok(pki)
    }

    pub fn ca_pem(&self) -> &str {
        self.enroller.ca().cert_pem()
    }

    /// The client-certificate verifier of the validators' listener.
    pub fn verifier(&self) -> Arc<CrlClientVerifier> {
        self.verifier.clone()
    }

    pub fn networks(&self) -> Vec<Cidr> {
        self.enroller.pool().networks()
    }

    pub async fn issue_token(&self, uuid: &str, ttl: Duration) -> Result<EnrolmentToken, PkiError> {
        Ok(self.enroller.issue_token(uuid, ttl, now_secs()).await?)
    }

    pub async fn enrol(&self, request: &EnrolRequest) -> Result<Enrolled, EnrolError> {
        self.enroller.enrol(request, now_secs()).await
    }

    pub async fn lease_of(&self, uuid: &str) -> Result<Option<IpLease>, PkiError> {
        Ok(self.enroller.lease_of(uuid).await?)
    }

    /// Records the virtual IPs the ledger shows for devices (`None`: none), so enrolment never
    /// leases an address registered to another device by hand or by another organisation.
    pub async fn note_ledger_ips(&self, seen: &[(String, Option<IpAddr>)]) -> Result<(), PkiError> {
        Ok(self.enroller.note_ledger_ips(seen, now_secs()).await?)
    }

    /// The device the ledger was last seen to give `ip` to, as far as the PKI knows.
    pub async fn ledger_holder(&self, ip: IpAddr) -> Result<Option<String>, PkiError> {
        Ok(self.enroller.ledger_holder(ip).await?)
    }

    /// A new key and a certificate with role `service` for a named service (the cloud sink, the
    /// centre itself, operator tools). Its server names are its own: the service's name (when it
    /// is a valid DNS name) and `server_names`, never a set shared by every service, so one
    /// service's certificate does not pass for another's host.
    pub async fn issue_service(
        &self,
        name: &str,
        server_names: &[String],
    ) -> Result<KeyedCert, PkiError> {
        let key = rcgen::KeyPair::generate().map_err(|source| PkiError::KeyGen {
            what: name.to_string(),
            source,
        })?;
        let uuid = service_uuid(name);
        let mut names: Vec<String> = Vec::new();
        if rustls::pki_types::DnsName::try_from(name).is_ok() && name.parse::<uuid::Uuid>().is_err()
        {
            names.push(name.to_ascii_lowercase());
        }
        names.extend(server_names.iter().cloned());
        let cert: IssuedCert = self
            .enroller
            .issue_service_cert(
                &uuid,
                &names,
                LeafKey::PublicKey(key.public_key_pem()),
                now_secs(),
            )
            .await?;
        Ok(KeyedCert {
            uuid,
            cert_pem: cert.pem,
            key_pem: key.serialize_pem(),
            serial_hex: cert.serial_hex,
        })
    }

    /// Revokes every certificate of `uuid` and enforces it on the next handshake; returns the
    /// serials revoked now (none when they already were).
    pub async fn revoke(
        &self,
        uuid: &str,
        reason: RevocationReason,
    ) -> Result<Vec<String>, PkiError> {
        let serials = self
            .enroller
            .revoke_device(uuid, reason, now_secs())
            .await?;
        // Nothing new revoked: the CRL in force already lists them (or the sync picks up
        // revocations made elsewhere), so repeated bans sign nothing.
        if !serials.is_empty() {
            self.install_crl().await?;
        }
        Ok(serials)
    }

    /// The current CRL (DER) for validators and the cloud sink: the one signed at the last
    /// change, or a newly signed one when that has aged past a quarter of its lifetime.
    pub async fn crl_der(&self) -> Result<Vec<u8>, PkiError> {
        {
            let published = self.published.lock().await;
            if !published.0.is_empty() && now_secs() - published.1 < self.resign_after {
                return Ok(published.0.clone());
            }
        }
        self.install_crl().await?;
        Ok(self.published.lock().await.0.clone())
    }

    /// Installs a new CRL when the revoked set in the database differs from the enforced one
    /// (e.g. after `vpn-centre revoke` ran in another process); returns whether it changed.
    pub async fn sync_crl(&self) -> Result<bool, PkiError> {
        let current = self.revoked_serials().await?;
        let same = *self.enforced.lock().unwrap_or_else(|p| p.into_inner()) == current;
        let aged = now_secs() - self.published.lock().await.1 >= self.resign_after;
        if same && !aged {
            return Ok(false);
        }
        self.install_crl().await?;
        Ok(true)
    }

    async fn revoked_serials(&self) -> Result<Vec<String>, PkiError> {
        let mut serials: Vec<String> = self
            .enroller
            .revoked(now_secs())
            .await?
            .into_iter()
            .map(|c| c.serial_hex)
            .collect();
        serials.sort();
        Ok(serials)
    }

    /// Signs a CRL of the revocations in the database, enforces it here and serves it from now on.
    async fn install_crl(&self) -> Result<(), PkiError> {
        let mut published = self.published.lock().await;
        let serials = self.revoked_serials().await?;
        let now = now_secs();
        let der = self.enroller.crl_der(now).await?;
        self.verifier.replace_crl(&der)?;
        *self.enforced.lock().unwrap_or_else(|p| p.into_inner()) = serials;
        *published = (der, now);
        Ok(())
    }

    /// Keeps the verifier in step with revocations made elsewhere, checking every `every`.
    pub fn spawn_crl_sync(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let pki = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match pki.sync_crl().await {
                    Ok(true) => tracing::info!("new CRL signed and enforced"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "cannot refresh the CRL from the PKI database")
                    }
                }
            }
        })
    }
}

/// The PKI directory inside a data directory.
pub fn pki_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pki")
}

/// Parses the configured virtual networks, naming the bad one.
pub fn parse_networks(texts: &[String]) -> Result<Vec<Cidr>, String> {
    texts
        .iter()
        .map(|t| {
            t.parse::<Cidr>()
                .map_err(|e| format!("virtual network {t:?} is not usable: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::GeneralName;
    use x509_parser::prelude::parse_x509_certificate;

    /// The DNS and IP names of a PEM certificate, as text.
    fn names(pem: &str) -> Vec<String> {
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
            .map(|d: rustls::pki_types::CertificateDer<'static>| d)
            .unwrap();
        let (_, cert) = parse_x509_certificate(&der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        san.value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_string()),
                GeneralName::IPAddress(ip) if ip.len() == 4 => {
                    Some(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string())
                }
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn each_service_certificate_carries_only_its_own_names_and_the_service_role() {
        let dir = tempfile::tempdir().unwrap();
        let settings = PkiSettings {
            dir: dir.path().join("pki"),
            networks: vec!["10.8.0.0/24".parse().unwrap()],
            enrolment: vpn_pki::EnrolmentConfig::default(),
        };
        let pki = CentrePki::open(&settings, None).await.unwrap();
        let sink = pki
            .issue_service("cloud-sink", &["sink.example".into(), "10.0.0.5".into()])
            .await
            .unwrap();
        assert_eq!(
            names(&sink.cert_pem),
            ["cloud-sink", "sink.example", "10.0.0.5"]
        );
        // Not the validators' loopback names, and a client-only tool has none but its own.
        let tools = pki.issue_service("demo-tools", &[]).await.unwrap();
        assert_eq!(names(&tools.cert_pem), ["demo-tools"]);
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(tools.cert_pem.as_bytes())
            .map(|d: rustls::pki_types::CertificateDer<'static>| d)
            .unwrap();
        assert_eq!(
            vpn_pki::Role::of_certificate(&der),
            Some(vpn_pki::Role::Service)
        );
    }
}
