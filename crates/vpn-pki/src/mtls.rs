//! Mutual-TLS configuration for validators, the cloud sink and their clients: client certificates from our CA, checked against a CRL that can be replaced at runtime.
//!
//! [`CrlClientVerifier`] wraps rustls' WebPKI client verifier and rebuilds it whenever a newer
//! CRL arrives, so a revoked certificate is refused on the next handshake. Servers built by
//! [`server_config`] keep no session cache and issue no tickets: every connection does a full
//! handshake, so a revoked client cannot slip back in by resuming an old session.
//!
//! Connections already open are not touched by the handshake check: a server asks
//! [`CrlClientVerifier::until_revoked`] for each connection's certificate and closes the
//! connection when that resolves (a watch channel fed by every CRL swap).
//!
//! With expiry enforced, a stale CRL ([`CrlClientVerifier::health`]: not confirmed by a fetch
//! within its max age, or past its nextUpdate) refuses every new handshake: fail closed.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore,
    ServerConfig, SignatureScheme,
};
use x509_parser::prelude::{CertificateRevocationList, FromDer, parse_x509_certificate};

use crate::crl_refresher::{CrlFreshness, CrlHealth, DEFAULT_CRL_MAX_AGE};

#[derive(Debug, thiserror::Error)]
pub enum MtlsError {
    #[error("no certificate found in the {what} PEM; expected -----BEGIN CERTIFICATE-----")]
    NoCertificate { what: &'static str },
    #[error("cannot read the {what} PEM: {detail}")]
    BadPem { what: &'static str, detail: String },
    #[error("CA certificate is not usable as a trust anchor: {0}")]
    BadCa(String),
    #[error("CRL rejected: {0}; it must be a DER CRL signed by this centre's CA")]
    BadCrl(String),
    #[error(
        "CRL number {offered} is older than the current {current}; refusing to roll revocations back"
    )]
    StaleCrl { offered: String, current: String },
    #[error("cannot build the TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot build the client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certs(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, MtlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| MtlsError::BadPem {
            what,
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(MtlsError::NoCertificate { what });
    }
    Ok(certs)
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, MtlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| MtlsError::BadPem {
        what: "private key",
        detail: e.to_string(),
    })
}

fn roots(ca_pem: &str) -> Result<RootCertStore, MtlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(ca_pem, "CA")? {
        roots
            .add(cert)
            .map_err(|e| MtlsError::BadCa(e.to_string()))?;
    }
    Ok(roots)
}

/// Client-certificate verifier requiring a certificate from our CA that is not on the current CRL.
pub struct CrlClientVerifier {
    roots: Arc<RootCertStore>,
    ca_der: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
    hints: Vec<DistinguishedName>,
    enforce_expiry: bool,
    freshness: CrlFreshness,
    state: RwLock<State>,
    /// Serials (big-endian, no leading zeros) listed by the CRL in force.
    revoked: tokio::sync::watch::Sender<Arc<HashSet<Vec<u8>>>>,
}

struct State {
    inner: Arc<dyn ClientCertVerifier>,
    crl: Option<Vec<u8>>,
}

impl std::fmt::Debug for CrlClientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrlClientVerifier")
            .field("has_crl", &self.current_crl().is_some())
            .field("enforce_expiry", &self.enforce_expiry)
            .finish_non_exhaustive()
    }
}

impl CrlClientVerifier {
    /// `crl_der`: the CRL to start with. With `None`, revocation is not checked until the first
    /// [`replace_crl`](Self::replace_crl); fetch one before serving. With `enforce_expiry`, a stale
    /// CRL (older than [`DEFAULT_CRL_MAX_AGE`] unless [`set_max_age`](Self::set_max_age) says
    /// otherwise, or past its nextUpdate) makes every client fail (fail closed when the centre is
    /// unreachable).
    pub fn new(
        ca_pem: &str,
        crl_der: Option<&[u8]>,
        enforce_expiry: bool,
    ) -> Result<Arc<Self>, MtlsError> {
        let roots = Arc::new(roots(ca_pem)?);
        let ca_der = certs(ca_pem, "CA")?.remove(0);
        let provider = provider();
        let plain =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build()?;
        let hints = plain.root_hint_subjects().to_vec();
        let verifier = Arc::new(CrlClientVerifier {
            roots,
            ca_der,
            provider,
            hints,
            enforce_expiry,
            freshness: CrlFreshness::new(DEFAULT_CRL_MAX_AGE),
            state: RwLock::new(State {
                inner: plain,
                crl: None,
            }),
            revoked: tokio::sync::watch::Sender::new(Arc::new(HashSet::new())),
        });
        if let Some(der) = crl_der {
            verifier.replace_crl(der)?;
        }
        Ok(verifier)
    }

    /// Installs `der` if it is signed by our CA and not older than the current CRL. Returns
    /// whether it differed from the current one. Handshakes already past verification are unaffected.
    /// Either way a valid CRL confirms the revocation data is current (see [`Self::health`]).
    pub fn replace_crl(&self, der: &[u8]) -> Result<bool, MtlsError> {
        let (offered, serials, next_update) = self.check_crl(der)?;
        if let Some(current) = self.current_crl() {
            if current == der {
                self.freshness.confirmed(Instant::now(), next_update);
                return Ok(false);
            }
            let current_number = crl_number(&current)?;
            if offered < current_number {
                return Err(MtlsError::StaleCrl {
                    offered: offered.to_string(),
                    current: current_number.to_string(),
                });
            }
        }
        let mut builder =
            WebPkiClientVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .with_crls([CertificateRevocationListDer::from(der.to_vec())])
                .only_check_end_entity_revocation();
        if self.enforce_expiry {
            builder = builder.enforce_revocation_expiration();
        }
        let inner = builder.build()?;
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        *state = State {
            inner,
            crl: Some(der.to_vec()),
        };
        drop(state);
        self.freshness.confirmed(Instant::now(), next_update);
        // After the swap: a connection that checks the set after its handshake sees this CRL.
        self.revoked.send_replace(Arc::new(serials));
        Ok(true)
    }

    /// Sets how long the CRL in force stays fresh after the fetch that last confirmed it.
    pub fn set_max_age(&self, max_age: Duration) {
        self.freshness.set_max_age(max_age);
    }

    /// How current the CRL in force is: its age since a fetch last confirmed it, the bound, and
    /// whether it is stale (then, with expiry enforced, every new handshake is refused).
    pub fn health(&self) -> CrlHealth {
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.freshness.health_at(Instant::now(), unix_now)
    }

    /// Records a failed fetch, shown by [`Self::health`] until the next good one.
    pub(crate) fn note_fetch_failure(&self, error: String) {
        self.freshness.failed(error);
    }

    /// Resolves once a CRL listing `end_entity` (DER) is in force, at once if it already is; never
    /// for a certificate whose serial cannot be read. Subscribes when called, so call it right
    /// after the handshake and keep the future for the connection's life.
    pub fn until_revoked(&self, end_entity: &[u8]) -> impl Future<Output = ()> + Send + 'static {
        let serial = certificate_serial(end_entity);
        let mut rx = self.revoked.subscribe();
        async move {
            let Some(serial) = serial else {
                return std::future::pending().await;
            };
            // An error means the verifier is gone; the server is shutting down anyway.
            if rx.wait_for(|set| set.contains(&serial)).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The CRL currently enforced, in DER.
    pub fn current_crl(&self) -> Option<Vec<u8>> {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .crl
            .clone()
    }

    fn inner(&self) -> Arc<dyn ClientCertVerifier> {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .inner
            .clone()
    }

    /// Signature by our CA and matching issuer; returns the CRL number (0 when absent), the
    /// serials it lists and its nextUpdate (Unix seconds).
    fn check_crl(&self, der: &[u8]) -> Result<CheckedCrl, MtlsError> {
        let bad = |e: String| MtlsError::BadCrl(e);
        let (rest, crl) =
            CertificateRevocationList::from_der(der).map_err(|e| bad(e.to_string()))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes after the CRL".into()));
        }
        let (_, ca) = parse_x509_certificate(&self.ca_der).map_err(|e| bad(e.to_string()))?;
        if crl.issuer() != ca.subject() {
            return Err(bad(format!(
                "issued by {}, not by {}",
                crl.issuer(),
                ca.subject()
            )));
        }
        crl.verify_signature(ca.public_key())
            .map_err(|e| bad(format!("signature does not verify: {e}")))?;
        let serials = crl
            .iter_revoked_certificates()
            .map(|r| r.serial().to_bytes_be())
            .collect();
        Ok((
            crl.crl_number().cloned().unwrap_or_default(),
            serials,
            crl.next_update().map(|t| t.timestamp()),
        ))
    }
}

/// CRL number, listed serials and nextUpdate of a CRL that passed [`CrlClientVerifier::check_crl`].
type CheckedCrl = (
    x509_parser::num_bigint::BigUint,
    HashSet<Vec<u8>>,
    Option<i64>,
);

/// A certificate's serial number as big-endian bytes without leading zeros (how the CRL set keys
/// it); `None` when `der` is not a certificate.
pub fn certificate_serial(der: &[u8]) -> Option<Vec<u8>> {
    parse_x509_certificate(der)
        .ok()
        .map(|(_, cert)| cert.serial.to_bytes_be())
}

fn crl_number(der: &[u8]) -> Result<x509_parser::num_bigint::BigUint, MtlsError> {
    let (_, crl) =
        CertificateRevocationList::from_der(der).map_err(|e| MtlsError::BadCrl(e.to_string()))?;
    Ok(crl.crl_number().cloned().unwrap_or_default())
}

impl ClientCertVerifier for CrlClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self.enforce_expiry && self.health().stale {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ExpiredRevocationList,
            ));
        }
        self.inner()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner().supported_verify_schemes()
    }
}

/// A server configuration that requires a client certificate accepted by `verifier`.
/// `cert_chain_pem` is the server's certificate (then any intermediates); set ALPN as needed.
pub fn server_config(
    cert_chain_pem: &str,
    key_pem: &str,
    verifier: Arc<CrlClientVerifier>,
) -> Result<ServerConfig, MtlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(cert_chain_pem, "server certificate")?,
            private_key(key_pem)?,
        )?;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// A client configuration trusting only our CA and presenting the given certificate.
pub fn client_config(
    ca_pem: &str,
    cert_chain_pem: &str,
    key_pem: &str,
) -> Result<ClientConfig, MtlsError> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca_pem)?)
        .with_client_auth_cert(
            certs(cert_chain_pem, "client certificate")?,
            private_key(key_pem)?,
        )?)
}
