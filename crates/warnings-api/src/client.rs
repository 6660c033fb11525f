//! HTTP client of the warnings API, used by validators to report and by operators to inspect.
//!
//! Plain `http://` goes through hyper-util's pooled client; `https://` (the centre's mutual-TLS
//! listener) opens one rustls connection per call presenting the caller's certificate, see
//! [`crate::tls`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::answer::{CountBody, ErrorBody};
use crate::enrol::{EnrolAnswer, EnrolBody};
use crate::query::{WarningFilter, WarningPage, filter_query, with_query};
use crate::warning::{NewWarning, Warning};

/// How long one request may take, connection included, unless changed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to the VPN Centre failed; callers decide to retry on `is_retryable`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("VPN Centre URL {url:?} is not usable: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("VPN Centre at {url} is unreachable: {reason}; check it runs and the address is right")]
    Unreachable { url: String, reason: String },
    #[error("VPN Centre at {url} did not answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("VPN Centre refused the request with {status}: {}{}", body.error,
        body.field.as_ref().map(|f| format!(" (field `{f}`)")).unwrap_or_default())]
    Refused { status: StatusCode, body: ErrorBody },
    #[error("VPN Centre at {url} sent an answer that cannot be read: {reason}")]
    BadAnswer { url: String, reason: String },
}

impl ClientError {
    /// True when sending the same request later may succeed (network trouble or a server fault).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Refused { status, .. } => status.is_server_error(),
            Self::BadUrl { .. } | Self::BadAnswer { .. } => false,
        }
    }
}

/// A handle on one VPN Centre's warnings API.
#[derive(Clone)]
pub struct WarningClient {
    base: String,
    http: Client<HttpConnector, Full<Bytes>>,
    /// Set for `https://` URLs: the CA to trust and the certificate to present.
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
}

/// PEM material of a mutual-TLS client: the centre's CA, and our certificate and key.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl WarningClient {
    /// `base_url` like `http://127.0.0.1:7300`: plain HTTP, for an unauthenticated in-process
    /// API. A served centre takes warnings only over mutual TLS, see [`Self::with_mtls`].
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        Self::build(base_url, None)
    }

    /// `base_url` like `https://127.0.0.1:7301` (the centre's `mtls_listen`), presenting the
    /// certificate in `identity`; the centre records its UUID as the warnings' submitter.
    pub fn with_mtls(base_url: &str, identity: &TlsIdentity) -> Result<Self, ClientError> {
        let config =
            vpn_pki::client_config(&identity.ca_pem, &identity.cert_pem, &identity.key_pem)
                .map_err(|e| ClientError::BadUrl {
                    url: base_url.to_string(),
                    reason: format!("the TLS identity is unusable: {e}"),
                })?;
        Self::build(base_url, Some(Arc::new(config)))
    }

    /// `https://` operator listener of the centre, trusting only `ca_pem` and presenting no
    /// certificate: what a device uses to enrol.
    pub fn with_ca(base_url: &str, ca_pem: &str) -> Result<Self, ClientError> {
        let config = crate::tls::trust_only(ca_pem).map_err(|reason| ClientError::BadUrl {
            url: base_url.to_string(),
            reason,
        })?;
        Self::build(base_url, Some(Arc::new(config)))
    }

    fn build(base_url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/').to_string();
        let bad = |reason: &str| ClientError::BadUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = base.parse().map_err(|_| bad("not a valid URL"))?;
        match (uri.scheme_str(), tls.is_some()) {
            (Some("http"), false) | (Some("https"), true) => {}
            (Some("https"), false) => {
                return Err(bad(
                    "https:// needs the centre's CA; build the client with with_ca or with_mtls",
                ));
            }
            (Some(other), _) => {
                return Err(bad(&format!(
                    "scheme {other:?} does not fit this client; use http:// or, with a certificate, https://"
                )));
            }
            (None, _) => return Err(bad("missing scheme; write it as http://HOST:PORT")),
        }
        if uri.host().is_none() {
            return Err(bad("missing host"));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(DEFAULT_TIMEOUT));
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            base,
            http,
            tls,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Changes the per-request time limit.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends one warning; returns it as stored.
    pub async fn report(&self, warning: &NewWarning) -> Result<Warning, ClientError> {
        self.call(Method::POST, "/v1/warnings", Some(warning)).await
    }

    /// Sends several warnings at once; all are stored or none.
    pub async fn report_batch(&self, warnings: &[NewWarning]) -> Result<Vec<Warning>, ClientError> {
        self.call(Method::POST, "/v1/warnings", Some(warnings))
            .await
    }

    /// One page of warnings, newest first.
    pub async fn list(
        &self,
        filter: &WarningFilter,
        limit: Option<u32>,
        before: Option<u64>,
    ) -> Result<WarningPage, ClientError> {
        let mut query = filter_query(filter);
        if let Some(l) = limit {
            query.push(format!("limit={l}"));
        }
        if let Some(b) = before {
            query.push(format!("before={b}"));
        }
        let path = with_query("/v1/warnings", &query);
        self.call::<(), _>(Method::GET, &path, None).await
    }

    /// How many warnings match `filter`.
    pub async fn count(&self, filter: &WarningFilter) -> Result<u64, ClientError> {
        let path = with_query("/v1/warnings/count", &filter_query(filter));
        let body: CountBody = self.call::<(), _>(Method::GET, &path, None).await?;
        Ok(body.count)
    }

    /// Trades a one-time token and a key for a certificate and virtual IP (`POST /v1/enrol`).
    pub async fn enrol(&self, body: &EnrolBody) -> Result<EnrolAnswer, ClientError> {
        self.call(Method::POST, "/v1/enrol", Some(body)).await
    }

    /// Deletes one warning by id.
    pub async fn delete(&self, id: u64) -> Result<(), ClientError> {
        let path = format!("/v1/warnings/{id}");
        self.send::<()>(Method::DELETE, &path, None)
            .await
            .map(|_| ())
    }

    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let bytes = self.send(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::BadAnswer {
            url,
            reason: e.to_string(),
        })
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Bytes, ClientError> {
        let url = format!("{}{path}", self.base);
        let payload = match body {
            Some(b) => Bytes::from(serde_json::to_vec(b).map_err(|e| ClientError::BadUrl {
                url: url.clone(),
                reason: format!("request body cannot be encoded: {e}"),
            })?),
            None => Bytes::new(),
        };
        let bad_request = |e: hyper::http::Error| ClientError::BadUrl {
            url: url.clone(),
            reason: e.to_string(),
        };
        let exchange = async {
            let response = match &self.tls {
                None => {
                    let request = Request::builder()
                        .method(method)
                        .uri(&url)
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Full::new(payload))
                        .map_err(bad_request)?;
                    self.http
                        .request(request)
                        .await
                        .map_err(|e| ClientError::Unreachable {
                            url: url.clone(),
                            reason: error_chain(&e),
                        })?
                }
                Some(config) => {
                    let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| {
                        ClientError::BadUrl {
                            url: url.clone(),
                            reason: e.to_string(),
                        }
                    })?;
                    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
                    let request = Request::builder()
                        .method(method)
                        .uri(path)
                        .header(header::HOST, authority)
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Full::new(payload))
                        .map_err(bad_request)?;
                    crate::tls::send(&uri, config.clone(), request)
                        .await
                        .map_err(|reason| ClientError::Unreachable {
                            url: url.clone(),
                            reason,
                        })?
                }
            };
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Unreachable {
                    url: url.clone(),
                    reason: format!("answer cut off: {e}"),
                })?
                .to_bytes();
            Ok::<_, ClientError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout {
                url: url.clone(),
                timeout: self.timeout,
            })??;
        if status.is_success() {
            return Ok(bytes);
        }
        let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| ErrorBody {
            error: String::from_utf8_lossy(&bytes).trim().to_string(),
            field: None,
            index: None,
        });
        Err(ClientError::Refused { status, body })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_urls_it_cannot_use() {
        for url in [
            "127.0.0.1:7300",
            "ftp://127.0.0.1:7300",
            "http://",
            "not a url",
        ] {
            assert!(
                matches!(WarningClient::new(url), Err(ClientError::BadUrl { .. })),
                "{url} was accepted"
            );
        }
        // https needs a CA to trust, so a plain client must refuse it.
        let err = WarningClient::new("https://127.0.0.1:7301").err();
        assert!(
            matches!(&err, Some(ClientError::BadUrl { reason, .. }) if reason.contains("with_ca")),
            "{err:?}"
        );
        assert!(WarningClient::with_ca("https://127.0.0.1:7301", "no PEM here").is_err());
    }

    #[test]
    fn refusal_names_the_field() {
        let err = ClientError::Refused {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: "reason is empty".into(),
                field: Some("reason".into()),
                index: None,
            },
        };
        assert!(err.to_string().contains("(field `reason`)"), "{err}");
        assert!(!err.is_retryable());
        let busy = ClientError::Refused {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: ErrorBody {
                error: "store busy".into(),
                field: None,
                index: None,
            },
        };
        assert!(busy.is_retryable());
    }
}
