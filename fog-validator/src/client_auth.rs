//! Mutual TLS on the gateway listener: only certificates from the VPN Centre's CA that are not on its CRL get in.
//!
//! The CRL is fetched once before the listener opens (no CRL, no start: serving without one would let
//! every revoked gateway in) and then refreshed in the background every `crl_refresh_ms` (500 ms by
//! default); each newer CRL applies to the next handshake, and [`crate::server::serve`] closes the
//! open connections of every certificate it lists. A CRL no fetch has confirmed for
//! `tls.crl_max_age` (10 min by default) is stale: `/healthz` says `crl_stale` and every new
//! handshake is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsAcceptor;
use vpn_pki::{CrlClientVerifier, CrlFetchError, CrlRefresher, MtlsError};

/// Where the listener's client-certificate checks come from.
#[derive(Debug, Clone)]
pub struct ClientAuthSettings {
    /// PEM certificate of the VPN Centre's CA.
    pub client_ca: PathBuf,
    /// The centre's CRL endpoint, e.g. `http://10.8.0.1:7300/v1/pki/crl`.
    pub crl_url: String,
    pub refresh_every: Duration,
    /// Refuse every client once the CRL is stale: past its nextUpdate, or not confirmed by a fetch
    /// within `crl_max_age` (the centre has been unreachable that long).
    pub enforce_crl_expiry: bool,
    /// How long the CRL in force stays fresh after the fetch that last confirmed it.
    pub crl_max_age: Duration,
}

/// Why the mutual-TLS listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error(
        "client_auth is on but {missing} is not set; give the VPN Centre's CA certificate (client_ca) \
         and CRL URL (crl_url), or set client_auth = false for a local experiment without client certificates"
    )]
    Missing { missing: &'static str },
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("client CA {path} cannot be used: {source}")]
    Ca {
        path: PathBuf,
        #[source]
        source: MtlsError,
    },
    #[error(
        "no CRL before serving: {source}; the validator does not admit gateways without a current \
         revocation list; start the VPN Centre or correct crl_url"
    )]
    FirstCrl {
        #[source]
        source: CrlFetchError,
    },
    #[error(
        "TLS certificate {cert} and key {key} cannot be used for the mutual-TLS listener: {source}"
    )]
    Server {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: MtlsError,
    },
}

/// The acceptor of a running mutual-TLS listener and the task keeping its CRL current.
pub struct ClientAuth {
    pub acceptor: TlsAcceptor,
    pub verifier: Arc<CrlClientVerifier>,
    pub refresher: CrlRefresher,
}

fn read(what: &'static str, path: &Path) -> Result<String, ClientAuthError> {
    std::fs::read_to_string(path).map_err(|source| ClientAuthError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

impl ClientAuth {
    /// Loads the CA, fetches the first CRL, builds the acceptor (HTTP/1.1) and starts the refresher.
    pub async fn start(
        cert: &Path,
        key: &Path,
        settings: &ClientAuthSettings,
    ) -> Result<Self, ClientAuthError> {
        let ca_pem = read("client CA", &settings.client_ca)?;
        let verifier = CrlClientVerifier::new(&ca_pem, None, settings.enforce_crl_expiry).map_err(
            |source| ClientAuthError::Ca {
                path: settings.client_ca.clone(),
                source,
            },
        )?;
        verifier.set_max_age(settings.crl_max_age);
        CrlRefresher::refresh_once(&settings.crl_url, &verifier)
            .await
            .map_err(|source| ClientAuthError::FirstCrl { source })?;
        let server_err = |source| ClientAuthError::Server {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            source,
        };
        let mut config = vpn_pki::server_config(
            &read("TLS certificate", cert)?,
            &read("TLS private key", key)?,
            verifier.clone(),
        )
        .map_err(server_err)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let refresher = CrlRefresher::spawn(
            settings.crl_url.clone(),
            settings.refresh_every,
            verifier.clone(),
        );
        tracing::info!(
            ca = %settings.client_ca.display(),
            crl = %settings.crl_url,
            every = ?settings.refresh_every,
            "gateways must present a client certificate from the VPN Centre's CA; CRL loaded"
        );
        Ok(ClientAuth {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            verifier,
            refresher,
        })
    }
}
