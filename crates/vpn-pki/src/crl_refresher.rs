//! Keeps a server's CRL current by polling the VPN Centre's CRL URL and swapping each newer CRL into its [`CrlClientVerifier`].
//!
//! The CRL is signed by the CA and checked before use, so plain HTTP is enough to carry it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinHandle;

use crate::mtls::{CrlClientVerifier, MtlsError};

/// CRLs above this size are refused (a CRL listing 100k serials is about 4 MB).
const MAX_CRL_BYTES: usize = 16 * 1024 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum CrlFetchError {
    #[error("bad CRL URL {url:?}: {detail}; expected http://HOST:PORT/PATH")]
    BadUrl { url: String, detail: String },
    #[error("fetching CRL from {url} failed: {detail}; is the VPN Centre reachable?")]
    Transport { url: String, detail: String },
    #[error("fetching CRL from {url} timed out after {FETCH_TIMEOUT:?}")]
    Timeout { url: String },
    #[error("CRL endpoint {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("CRL from {url} is larger than {MAX_CRL_BYTES} bytes or unreadable: {detail}")]
    Body { url: String, detail: String },
    #[error("CRL from {url} was not installed: {source}")]
    Rejected { url: String, source: MtlsError },
}

/// Downloads the CRL (DER) at `url`.
pub async fn fetch_crl(url: &str) -> Result<Vec<u8>, CrlFetchError> {
    let uri: hyper::Uri =
        url.parse()
            .map_err(|e: hyper::http::uri::InvalidUri| CrlFetchError::BadUrl {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
    if uri.scheme_str() != Some("http") {
        return Err(CrlFetchError::BadUrl {
            url: url.to_string(),
            detail: "only http:// is supported (the CRL is signed)".into(),
        });
    }
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = tokio::time::timeout(FETCH_TIMEOUT, client.get(uri))
        .await
        .map_err(|_| CrlFetchError::Timeout {
            url: url.to_string(),
        })?
        .map_err(|e| CrlFetchError::Transport {
            url: url.to_string(),
            detail: e.to_string(),
        })?;
    if !response.status().is_success() {
        return Err(CrlFetchError::Status {
            url: url.to_string(),
            status: response.status().as_u16(),
        });
    }
    let body = tokio::time::timeout(
        FETCH_TIMEOUT,
        Limited::new(response.into_body(), MAX_CRL_BYTES).collect(),
    )
    .await
    .map_err(|_| CrlFetchError::Timeout {
        url: url.to_string(),
    })?
    .map_err(|e| CrlFetchError::Body {
        url: url.to_string(),
        detail: e.to_string(),
    })?;
    Ok(body.to_bytes().to_vec())
}

/// A background task polling the CRL; stopping or dropping it ends the task.
pub struct CrlRefresher {
    task: JoinHandle<()>,
}

impl CrlRefresher {
    /// Fetches once, installs the result if newer; returns whether the CRL changed.
    pub async fn refresh_once(
        url: &str,
        verifier: &CrlClientVerifier,
    ) -> Result<bool, CrlFetchError> {
        let der = fetch_crl(url).await?;
        verifier
            .replace_crl(&der)
            .map_err(|source| CrlFetchError::Rejected {
                url: url.to_string(),
                source,
            })
    }

    /// Polls `url` every `every` (first poll immediately). Failures are logged and retried on
    /// the next tick; the last good CRL stays in force meanwhile.
    pub fn spawn(url: String, every: Duration, verifier: Arc<CrlClientVerifier>) -> Self {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match Self::refresh_once(&url, &verifier).await {
                    Ok(true) => tracing::info!(%url, "installed new CRL"),
                    Ok(false) => tracing::debug!(%url, "CRL unchanged"),
                    Err(e) => {
                        tracing::warn!(error = %e, "CRL refresh failed; keeping the current CRL")
                    }
                }
            }
        });
        CrlRefresher { task }
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for CrlRefresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
