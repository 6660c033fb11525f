//! HTTP client validators use to hand batches to the sink, telling "unreachable" from "refused".

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    CountsResponse, ErrorBody, IngestResponse, TelemetryQuery, TelemetryRecord, TelemetryResponse,
};

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
    /// The sink answered success with a body this client does not understand.
    #[error(
        "sink at {url} answered with an unreadable body: {reason}; check that client and sink versions match"
    )]
    BadResponse { url: String, reason: String },
}

impl SinkError {
    /// True when the same request may succeed later, so the caller should keep (spool) it.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// A client of one sink.
#[derive(Clone)]
pub struct SinkClient {
    base: String,
    http: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl SinkClient {
    /// A client for the sink at `base_url`, e.g. `http://127.0.0.1:7400`.
    pub fn new(base_url: &str) -> Result<Self, SinkError> {
        let base = base_url.trim_end_matches('/').to_owned();
        let bad = |reason: &str| SinkError::BadUrl {
            url: base_url.into(),
            reason: reason.into(),
        };
        let uri: Uri = base
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(bad(
                    "https is not supported yet; use http:// on a private link",
                ));
            }
            _ => return Err(bad("must start with http://")),
        }
        if uri.host().is_none() {
            return Err(bad("has no host"));
        }
        let http = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self {
            base,
            http,
            timeout: DEFAULT_TIMEOUT,
        })
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
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| unavailable(describe(&e)))?;
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
        for url in [
            "ftp://127.0.0.1:1",
            "https://127.0.0.1:1",
            "127.0.0.1:7400",
            "http://",
        ] {
            assert!(
                matches!(SinkClient::new(url), Err(SinkError::BadUrl { .. })),
                "{url}"
            );
        }
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
