//! HTTP(S) client validators use to hand batches to the sink, telling "unreachable", "refused" and "TLS refused" apart.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::client::legacy::Client;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::connector::{SinkConnector, TlsFailureSlot, tls_failure};
use crate::wire::{
    CountsResponse, ErrorBody, IngestResponse, TelemetryQuery, TelemetryRecord, TelemetryResponse,
};

pub use crate::builder::SinkClientBuilder;
pub use crate::error::SinkError;

/// Default time allowed for one request, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one sink.
#[derive(Clone)]
pub struct SinkClient {
    pub(crate) base: String,
    pub(crate) http: Client<SinkConnector, Full<Bytes>>,
    pub(crate) tls_failures: TlsFailureSlot,
    pub(crate) timeout: Duration,
}

impl SinkClient {
    /// A client for the sink at `base_url`, e.g. `http://127.0.0.1:7400`. For `https://` use
    /// [`SinkClient::builder`] to give the CA and client certificate.
    pub fn new(base_url: &str) -> Result<Self, SinkError> {
        Self::builder(base_url).build()
    }

    /// Settings for a client of the sink at `base_url` (`http://` or `https://`).
    pub fn builder(base_url: &str) -> SinkClientBuilder {
        SinkClientBuilder::new(base_url)
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
