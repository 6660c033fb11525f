//! HTTP(S) client validators use to hand batches to the sink, telling "unreachable", "refused" and "TLS refused" apart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    CountsResponse, ErrorBody, IngestResponse, TelemetryQuery, TelemetryRecord, TelemetryResponse,
};
use crate::connector::{SinkConnector, TlsFailureSlot, tls_failure};

/// Default time allowed for one request, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call to the sink did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The base URL cannot be used.
    #[error("sink URL {url:?} is not usable: {reason}")]
    BadUrl { url: String, reason: String },
    /// The sink could not be reached or did not answer in time, or answered that its
    /// database is down (5xx). The batch may be retried later unchanged: storage is idempotent.
    #[error("sink at {url} is unavailable: {reason}; keep the batch and retry later")]
    Unavailable { url: String, reason: String },
    /// The sink answered and refused the request (4xx); retrying the same batch will not help.
    #[error("sink at {url} refused the request with {status} ({code}): {message}")]
    Refused {
        url: String,
        status: u16,
        code: String,
        message: String,
        index: Option<usize>,
        field: Option<String>,
    },
    /// The TLS handshake failed: the sink refused our certificate (missing, from another CA,
    /// revoked) or we refused the sink's. Retrying cannot help until an operator fixes the
    /// certificates, but the batch must be kept, so this counts as retryable.
    #[error(
        "TLS with sink at {url} failed: {reason}; check this client's certificate is current (not revoked) and both sides trust the VPN Centre's CA"
    )]
    Tls { url: String, reason: String },
    /// The client's own TLS files are missing or unusable.
    #[error("cannot set up TLS for sink {url}: {reason}")]
    TlsSetup { url: String, reason: String },
    /// The sink answered success with a body this client does not understand.
    #[error(
        "sink at {url} answered with an unreadable body: {reason}; check that client and sink versions match"
    )]
    BadResponse { url: String, reason: String },
}

impl SinkError {
    /// True when the batch should be kept (spooled) rather than dropped: the sink was
    /// unreachable or failing ([`Unavailable`](Self::Unavailable)), TLS failed
    /// ([`Tls`](Self::Tls)), or our certificate's role was refused (403, see
    /// [`is_forbidden`](Self::is_forbidden)); each needs an operator but says nothing against
    /// the records.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Tls { .. }) || self.is_forbidden()
    }

    /// True when the sink refused this client's certificate role (403): e.g. a validator whose
    /// certificate was issued without a role must re-enrol.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Refused { status: 403, .. })
    }

    /// True when TLS failed, so an operator must look at certificates.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls { .. } | Self::TlsSetup { .. })
    }
}

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

/// A client of one sink.
#[derive(Clone)]
pub struct SinkClient {
    base: String,
    http: Client<SinkConnector, Full<Bytes>>,
    tls_failures: TlsFailureSlot,
    timeout: Duration,
}

impl SinkClient {
    /// A client for the sink at `base_url`, e.g. `http://127.0.0.1:7400`. For `https://` use
    /// [`SinkClient::builder`] to give the CA and client certificate.
    pub fn new(base_url: &str) -> Result<Self, SinkError> {
        Self::builder(base_url).build()
    }

    /// Settings for a client of the sink at `base_url` (`http://` or `https://`).
    pub fn builder(base_url: &str) -> SinkClientBuilder {
        SinkClientBuilder {
            url: base_url.into(),
            ca: None,
            identity: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Changes the per-request time limit.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Stores a batch; answers how many rows were new and how many were already there.
    pub async fn ingest(&self, records: &[TelemetryRecord]) -> Result<IngestResponse, SinkError> {
        // Serialising borrowed records avoids cloning a batch the caller may need to spool.
        #[derive(Serialize)]
        struct Borrowed<'a> {
            records: &'a [TelemetryRecord],
        }
        let body = serde_json::to_vec(&Borrowed { records }).map_err(|e| SinkError::BadUrl {
            url: self.base.clone(),
            reason: format!("batch cannot be encoded as JSON: {e}"),
        })?;
        self.call(Method::POST, "/v1/ingest".into(), Some(body))
            .await
    }

    /// Records of one device, ordered by sequence number.
    pub async fn query(&self, query: &TelemetryQuery) -> Result<Vec<TelemetryRecord>, SinkError> {
        let mut path = format!("/v1/telemetry?device={}", encode(&query.device));
        for (name, value) in [
            ("from_ms", query.from_ms),
            ("to_ms", query.to_ms),
            ("limit", query.limit.map(u64::from)),
        ] {
            if let Some(v) = value {
                path.push_str(&format!("&{name}={v}"));
            }
        }
        let response: TelemetryResponse = self.call(Method::GET, path, None).await?;
        Ok(response.records)
    }

    /// Succeeds when the sink and its database answer.
    pub async fn health(&self) -> Result<(), SinkError> {
        self.call::<serde_json::Value>(Method::GET, "/healthz".into(), None)
            .await
            .map(|_| ())
    }

    /// Total rows and rows per device.
    pub async fn counts(&self) -> Result<CountsResponse, SinkError> {
        self.call(Method::GET, "/v1/counts".into(), None).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        body: Option<Vec<u8>>,
    ) -> Result<T, SinkError> {
        let url = format!("{}{path}", self.base);
        let unavailable = |reason: String| SinkError::Unavailable {
            url: url.clone(),
            reason,
        };
        // A refused TLS 1.3 client certificate may surface only as a dead connection;
        // the connector kept the alert that killed it.
        let failed = |e: hyper_util::client::legacy::Error| match tls_failure(&e)
            .cloned()
            .or_else(|| self.tls_failures.take_recent())
        {
            Some(tls) => SinkError::Tls {
                url: url.clone(),
                reason: tls.to_string(),
            },
            None => unavailable(describe(&e)),
        };
        let mut request = Request::builder().method(method).uri(&url);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| SinkError::BadUrl {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(failed)?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| unavailable(format!("answer cut short: {e}")))?
                .to_bytes();
            Ok::<_, SinkError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| unavailable(format!("no answer within {:?}", self.timeout)))??;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| SinkError::BadResponse {
                url,
                reason: e.to_string(),
            });
        }
        let detail = serde_json::from_slice::<ErrorBody>(&bytes)
            .ok()
            .map(|b| b.error);
        let message = detail
            .as_ref()
            .map(|d| d.message.clone())
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        if status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
        {
            return Err(unavailable(format!("{status}: {message}")));
        }
        Err(SinkError::Refused {
            url,
            status: status.as_u16(),
            code: detail
                .as_ref()
                .map(|d| d.code.clone())
                .unwrap_or_else(|| "unknown".into()),
            message,
            index: detail.as_ref().and_then(|d| d.index),
            field: detail.and_then(|d| d.field),
        })
    }
}

/// The error chain of a failed exchange, so "connection refused" shows through.
fn describe(error: &hyper_util::client::legacy::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Percent-encodes a query value (UUIDs need nothing, but callers may pass anything).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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

    #[tokio::test]
    async fn closed_port_is_unavailable_not_refused() {
        // Bind then drop to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = SinkClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let err = client.ingest(&[]).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }
}
