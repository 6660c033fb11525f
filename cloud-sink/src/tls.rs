//! The sink's server-side mutual TLS: its certificate, client certificates from the VPN Centre's CA, and a CRL kept fresh.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsAcceptor;
use vpn_pki::{CrlClientVerifier, CrlFetchError, CrlRefresher, MtlsError, server_config};

/// How often the CRL is fetched again when nothing else is configured: cheap, as the centre
/// serves the CRL from memory, and it bounds how long a revoked client keeps its connections.
pub const DEFAULT_CRL_REFRESH: Duration = Duration::from_millis(250);

/// Where the sink finds its TLS material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain the sink presents (issued by the VPN Centre for the sink).
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
    /// PEM CA certificate client certificates must chain to (the VPN Centre's CA).
    pub client_ca: PathBuf,
    /// `http://` URL of the VPN Centre's CRL (DER, signed by `client_ca`).
    pub crl_url: String,
    /// Time between CRL fetches; each newer CRL also closes the open connections of the
    /// certificates it lists.
    pub crl_refresh: Duration,
}

/// Why TLS could not be set up; the sink does not start without it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} file {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "TLS material is unusable (tls_cert, tls_key, client_ca): {0}; check the files came from the VPN Centre"
    )]
    Material(#[from] MtlsError),
    #[error(
        "first CRL fetch failed, refusing to serve without revocation data: {0}; start the VPN Centre or fix crl_url"
    )]
    FirstCrl(#[from] CrlFetchError),
    #[error(transparent)]
    KeyFile(#[from] vpn_pki::KeyFileError),
}

/// A ready TLS acceptor whose CRL is refreshed in the background for as long as this value lives.
pub struct SinkTls {
    acceptor: TlsAcceptor,
    verifier: Arc<CrlClientVerifier>,
    _refresher: CrlRefresher,
}

impl SinkTls {
    /// Loads the files, fetches the CRL once (failing if that fails), and starts the refresher.
    ///
    /// The verifier fails closed: once the current CRL is past its nextUpdate, every client is
    /// refused until a fresh one arrives, so an unreachable centre cannot keep a revoked
    /// validator admitted forever. Validators keep such batches spooled.
    pub async fn start(settings: &TlsSettings) -> Result<Self, TlsError> {
        let cert = read(&settings.cert, "certificate (tls_cert)")?;
        // A group/world-readable key is tightened to 0600 with a loud warning.
        let key = vpn_pki::read_private_key(&settings.key)?;
        let ca = read(&settings.client_ca, "client CA (client_ca)")?;
        let verifier = CrlClientVerifier::new(&ca, None, true)?;
        CrlRefresher::refresh_once(&settings.crl_url, &verifier).await?;
        let mut config = server_config(&cert, &key, verifier.clone())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let refresher = CrlRefresher::spawn(
            settings.crl_url.clone(),
            settings.crl_refresh,
            verifier.clone(),
        );
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            verifier,
            _refresher: refresher,
        })
    }

    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// The verifier in force, e.g. to see which CRL is installed.
    pub fn verifier(&self) -> &Arc<CrlClientVerifier> {
        &self.verifier
    }
}

fn read(path: &Path, what: &'static str) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        what,
        path: path.into(),
        source,
    })
}
