//! Settings of a [`SinkClient`]: the URL, the TLS files (as paths or PEM text) and the time limit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::client::{DEFAULT_TIMEOUT, SinkClient};
use crate::connector::SinkConnector;
use crate::error::SinkError;

/// PEM text given directly or as a file to read when the client is built.
#[derive(Debug, Clone)]
enum Pem {
    File(PathBuf),
    Text(String),
}

impl Pem {
    fn load(&self, what: &str, url: &str) -> Result<String, SinkError> {
        match self {
            Self::Text(text) => Ok(text.clone()),
            Self::File(path) => std::fs::read_to_string(path).map_err(|e| SinkError::TlsSetup {
                url: url.into(),
                reason: format!("cannot read the {what} file {}: {e}", path.display()),
            }),
        }
    }
}

/// Settings of a [`SinkClient`]; `https://` URLs need a CA, and a client certificate for a sink
/// that requires one (every TLS sink does).
#[derive(Debug, Clone)]
pub struct SinkClientBuilder {
    url: String,
    ca: Option<Pem>,
    identity: Option<(Pem, Pem)>,
    timeout: Duration,
}

impl SinkClientBuilder {
    /// Settings for the sink at `base_url`: no TLS files, the default timeout.
    pub(crate) fn new(base_url: &str) -> Self {
        Self {
            url: base_url.into(),
            ca: None,
            identity: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The CA certificate (PEM file) the sink's certificate must chain to: the VPN Centre's CA.
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Self {
        self.ca = Some(Pem::File(path.as_ref().into()));
        self
    }

    /// As [`ca_file`](Self::ca_file), with the PEM text itself.
    pub fn ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.ca = Some(Pem::Text(pem.into()));
        self
    }

    /// The certificate chain and private key (PEM files) this client presents.
    pub fn client_cert_files(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.identity = Some((
            Pem::File(cert.as_ref().into()),
            Pem::File(key.as_ref().into()),
        ));
        self
    }

    /// As [`client_cert_files`](Self::client_cert_files), with the PEM text itself.
    pub fn client_cert_pem(mut self, cert: impl Into<String>, key: impl Into<String>) -> Self {
        self.identity = Some((Pem::Text(cert.into()), Pem::Text(key.into())));
        self
    }

    /// The per-request time limit, connection and handshake included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the URL and loads the TLS files.
    pub fn build(self) -> Result<SinkClient, SinkError> {
        let base_url = self.url.as_str();
        let base = base_url.trim_end_matches('/').to_owned();
        let bad = |reason: &str| SinkError::BadUrl {
            url: base_url.into(),
            reason: reason.into(),
        };
        let uri: Uri = base
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        if uri.host().is_none() {
            return Err(bad("has no host"));
        }
        let connector = match uri.scheme_str() {
            Some("http") if self.ca.is_some() || self.identity.is_some() => {
                return Err(bad(
                    "TLS files were given for an http:// URL; use https:// so they are used",
                ));
            }
            Some("http") => SinkConnector::plain(),
            Some("https") => SinkConnector::tls(self.tls_config(&base)?),
            _ => return Err(bad("must start with http:// or https://")),
        };
        let tls_failures = connector.failures();
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(SinkClient {
            base,
            http,
            tls_failures,
            timeout: self.timeout,
        })
    }

    fn tls_config(&self, url: &str) -> Result<rustls::ClientConfig, SinkError> {
        let setup = |reason: String| SinkError::TlsSetup {
            url: url.into(),
            reason,
        };
        let ca = self
            .ca
            .as_ref()
            .ok_or_else(|| {
                setup("https:// needs the VPN Centre's CA certificate (ca_file)".into())
            })?
            .load("CA certificate", url)?;
        let mut config = match &self.identity {
            Some((cert, key)) => vpn_pki::client_config(
                &ca,
                &cert.load("client certificate", url)?,
                &key.load("client key", url)?,
            )
            .map_err(|e| setup(e.to_string()))?,
            None => without_identity(&ca).map_err(setup)?,
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// A client configuration trusting only `ca_pem` and presenting no certificate.
fn without_identity(ca_pem: &str) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("cannot read the CA PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("CA certificate is not usable: {e}"))?;
    }
    if roots.is_empty() {
        return Err("no certificate found in the CA PEM".into());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unusable_urls() {
        for url in ["ftp://127.0.0.1:1", "127.0.0.1:7400", "http://"] {
            assert!(
                matches!(SinkClient::new(url), Err(SinkError::BadUrl { .. })),
                "{url}"
            );
        }
        let tls_on_plain = SinkClient::builder("http://127.0.0.1:1").ca_pem("x");
        assert!(matches!(
            tls_on_plain.build(),
            Err(SinkError::BadUrl { .. })
        ));
    }

    #[test]
    fn https_needs_a_readable_ca() {
        let no_ca = SinkClient::new("https://127.0.0.1:1");
        assert!(matches!(no_ca, Err(SinkError::TlsSetup { .. })));
        let missing = SinkClient::builder("https://127.0.0.1:1")
            .ca_file("/nonexistent/ca.pem")
            .build();
        match missing {
            Err(e @ SinkError::TlsSetup { .. }) => {
                assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}")
            }
            Err(other) => panic!("expected TlsSetup, got {other}"),
            Ok(_) => panic!("a missing CA file was accepted"),
        }
        let garbage = SinkClient::builder("https://127.0.0.1:1")
            .ca_pem("not a certificate")
            .build();
        assert!(matches!(garbage, Err(SinkError::TlsSetup { .. })));
    }
}
