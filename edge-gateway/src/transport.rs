//! One HTTPS connection to one validator: POST a JSON body, get status and body back.
//!
//! The connection is kept open between requests and re-dialled after any failure.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Largest answer read from a validator.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Why an exchange with a validator failed; all of these make the sender fail over.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("validator URL {url:?} is not usable: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS handshake with {url} failed: {source}")]
    Tls {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP exchange with {url} failed: {source}")]
    Http {
        url: String,
        #[source]
        source: hyper::Error,
    },
    #[error("{url} did not answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: StatusCode },
    #[error("{url} answered more than {MAX_ANSWER} bytes")]
    TooLarge { url: String },
}

/// A client bound to one validator URL.
pub struct ValidatorClient {
    url: String,
    uri: Uri,
    host: String,
    port: u16,
    server_name: ServerName<'static>,
    tls: TlsConnector,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for ValidatorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ValidatorClient {
    /// A client for `url` (`https://host[:port][/path]`) with the given TLS settings.
    pub fn new(
        url: &str,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<ValidatorClient, TransportError> {
        let bad = |reason: &str| TransportError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad("only https:// is allowed"));
        }
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        // Uri keeps IPv6 brackets; TCP and TLS want the bare address.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let server_name = ServerName::try_from(host.clone())
            .map_err(|e| bad(&format!("host is not a valid TLS name: {e}")))?;
        Ok(ValidatorClient {
            url: url.to_string(),
            port: uri.port_u16().unwrap_or(443),
            uri,
            host,
            server_name,
            tls: TlsConnector::from(tls),
            conn: None,
        })
    }

    /// The URL this client talks to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs `body` as JSON; success is a 2xx answer, whose body is returned.
    pub async fn post_json(
        &mut self,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Bytes, TransportError> {
        match tokio::time::timeout(timeout, self.exchange(body)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => {
                self.conn = None;
                Err(e)
            }
            Err(_) => {
                self.conn = None;
                Err(TransportError::Timeout {
                    url: self.url.clone(),
                    timeout,
                })
            }
        }
    }

    async fn exchange(&mut self, body: Vec<u8>) -> Result<Bytes, TransportError> {
        let url = self.url.clone();
        let http = |source| TransportError::Http {
            url: url.clone(),
            source,
        };
        let reusable = match self.conn.as_mut() {
            Some(conn) => conn.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            self.conn = Some(self.connect().await?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(TransportError::Url {
                url,
                reason: "no connection".into(),
            });
        };
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let authority = self
            .uri
            .authority()
            .map_or(self.host.as_str(), |a| a.as_str());
        let request = Request::post(path)
            .header("host", authority)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| TransportError::Url {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let response = conn.send_request(request).await.map_err(http)?;
        let status = response.status();
        let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER);
        let bytes = limited
            .collect()
            .await
            .map_err(|_| TransportError::TooLarge { url: url.clone() })?
            .to_bytes();
        if !status.is_success() {
            return Err(TransportError::Status { url, status });
        }
        Ok(bytes)
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, TransportError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|source| TransportError::Connect {
                url: self.url.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|source| TransportError::Tls {
                url: self.url.clone(),
                source,
            })?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|source| TransportError::Http {
                url: self.url.clone(),
                source,
            })?;
        let url = self.url.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%url, error = %e, "validator connection closed");
            }
        });
        Ok(sender)
    }
}
