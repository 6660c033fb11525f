//! Keeps a server's CRL current by polling the VPN Centre's CRL URL and swapping each newer CRL into its [`CrlClientVerifier`], and says how current it is ([`CrlHealth`]).
//!
//! The CRL is signed by the CA and checked before use, so plain HTTP is enough to carry it.
//! Its age is the time since a fetch last confirmed it (a newer CRL installed, or the same one
//! served again); past the verifier's max age, or past the CRL's own nextUpdate, it is stale.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// How long a CRL stays usable after the last fetch that confirmed it, unless configured otherwise.
pub const DEFAULT_CRL_MAX_AGE: Duration = Duration::from_secs(600);

/// How current the CRL in force is, for health endpoints and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlHealth {
    /// Milliseconds since a fetch last confirmed the CRL (since start when none has).
    pub age_ms: u64,
    /// The bound on `age_ms`.
    pub max_age_ms: u64,
    /// Past the bound, past the CRL's nextUpdate, or no CRL yet: a verifier that enforces expiry
    /// refuses every new handshake.
    pub stale: bool,
    /// Why it is stale, or the last fetch error while it is still fresh.
    pub reason: Option<String>,
}

/// When the CRL in force was last confirmed, and the last fetch error since.
#[derive(Debug)]
pub(crate) struct CrlFreshness {
    max_age_ms: AtomicU64,
    state: Mutex<FreshState>,
}

#[derive(Debug)]
struct FreshState {
    created: Instant,
    confirmed: Option<Instant>,
    /// nextUpdate of the CRL in force, Unix seconds.
    next_update: Option<i64>,
    /// The last fetch error since the last confirmation.
    last_error: Option<String>,
}

impl CrlFreshness {
    pub(crate) fn new(max_age: Duration) -> Self {
        Self {
            max_age_ms: AtomicU64::new(duration_ms(max_age)),
            state: Mutex::new(FreshState {
                created: Instant::now(),
                confirmed: None,
                next_update: None,
                last_error: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FreshState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_max_age(&self, max_age: Duration) {
        self.max_age_ms
            .store(duration_ms(max_age), Ordering::Relaxed);
    }

    /// A fetch confirmed the CRL in force (newly installed or unchanged) at `now`.
    pub(crate) fn confirmed(&self, now: Instant, next_update: Option<i64>) {
        let mut state = self.lock();
        state.confirmed = Some(now);
        state.next_update = next_update;
        state.last_error = None;
    }

    /// A fetch failed; the CRL in force keeps aging.
    pub(crate) fn failed(&self, error: String) {
        self.lock().last_error = Some(error);
    }

    /// The health at `now` (`unix_now`: the same moment in Unix seconds, for nextUpdate).
    pub(crate) fn health_at(&self, now: Instant, unix_now: i64) -> CrlHealth {
        let max_age_ms = self.max_age_ms.load(Ordering::Relaxed);
        let state = self.lock();
        let since = state.confirmed.unwrap_or(state.created);
        let age_ms = duration_ms(now.saturating_duration_since(since));
        let error = |text: String| match &state.last_error {
            Some(e) => format!("{text}; last fetch error: {e}"),
            None => text,
        };
        let stale_reason = if state.confirmed.is_none() {
            Some(error("no CRL installed yet".into()))
        } else if age_ms > max_age_ms {
            Some(error(format!(
                "CRL last confirmed by a fetch {age_ms} ms ago, over the {max_age_ms} ms bound \
                 (tls.crl_max_age); is the VPN Centre reachable?"
            )))
        } else {
            match state.next_update {
                Some(next) if unix_now > next => Some(error(format!(
                    "CRL is past its nextUpdate ({next}, Unix seconds)"
                ))),
                _ => None,
            }
        };
        CrlHealth {
            age_ms,
            max_age_ms,
            stale: stale_reason.is_some(),
            reason: stale_reason.or_else(|| state.last_error.clone()),
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
        let result = match fetch_crl(url).await {
            Ok(der) => verifier
                .replace_crl(&der)
                .map_err(|source| CrlFetchError::Rejected {
                    url: url.to_string(),
                    source,
                }),
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            verifier.note_fetch_failure(e.to_string());
        }
        result
    }

    /// Polls `url` every `every` (first poll immediately). Failures are retried on the next tick
    /// and the last good CRL stays in force meanwhile: each is a warning while that CRL is fresh,
    /// an error once it is stale (then a verifier enforcing expiry refuses every handshake).
    pub fn spawn(url: String, every: Duration, verifier: Arc<CrlClientVerifier>) -> Self {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tick.tick().await;
                match Self::refresh_once(&url, &verifier).await {
                    Ok(changed) => {
                        if failing {
                            tracing::info!(%url, "CRL fetched again; revocation data is current");
                        } else if changed {
                            tracing::info!(%url, "installed new CRL");
                        } else {
                            tracing::debug!(%url, "CRL unchanged");
                        }
                        failing = false;
                    }
                    Err(e) => {
                        failing = true;
                        let health = verifier.health();
                        if health.stale {
                            tracing::error!(error = %e, age_ms = health.age_ms, max_age_ms = health.max_age_ms,
                                "CRL refresh failed and the CRL in force is stale: new client handshakes are refused");
                        } else {
                            tracing::warn!(error = %e, age_ms = health.age_ms, max_age_ms = health.max_age_ms,
                                "CRL refresh failed; keeping the current CRL while it is fresh");
                        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crl_ages_from_its_last_confirmation_and_turns_stale_past_the_bound() {
        let fresh = CrlFreshness::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let unix = 1_700_000_000;
        // Nothing installed yet: stale whatever the clock says.
        let h = fresh.health_at(t0, unix);
        assert!(
            h.stale && h.reason.as_deref() == Some("no CRL installed yet"),
            "{h:?}"
        );

        fresh.confirmed(t0, Some(unix + 600));
        let h = fresh.health_at(t0 + Duration::from_secs(4), unix + 4);
        assert_eq!((h.age_ms, h.max_age_ms, h.stale), (4_000, 10_000, false));
        // A failed fetch while fresh: still fresh, the error shown.
        fresh.failed("connection refused".into());
        let h = fresh.health_at(t0 + Duration::from_secs(10), unix + 10);
        assert!(!h.stale, "{h:?}");
        assert_eq!(h.reason.as_deref(), Some("connection refused"));
        // One millisecond past the bound: stale, naming the bound and the last error.
        let h = fresh.health_at(t0 + Duration::from_millis(10_001), unix + 10);
        assert!(h.stale, "{h:?}");
        let reason = h.reason.unwrap();
        assert!(
            reason.contains("10000 ms bound") && reason.contains("connection refused"),
            "{reason}"
        );
        // A fetch confirms it again: fresh, the error forgotten.
        fresh.confirmed(t0 + Duration::from_secs(11), Some(unix + 611));
        let h = fresh.health_at(t0 + Duration::from_secs(12), unix + 12);
        assert!(!h.stale && h.reason.is_none() && h.age_ms == 1_000, "{h:?}");
        // A longer configured bound applies at once.
        fresh.set_max_age(Duration::from_secs(60));
        let h = fresh.health_at(t0 + Duration::from_secs(50), unix + 50);
        assert!(!h.stale && h.max_age_ms == 60_000, "{h:?}");
    }

    #[test]
    fn a_crl_past_its_next_update_is_stale_even_when_recently_fetched() {
        let fresh = CrlFreshness::new(DEFAULT_CRL_MAX_AGE);
        let t0 = Instant::now();
        fresh.confirmed(t0, Some(1_000));
        assert!(!fresh.health_at(t0, 1_000).stale);
        let h = fresh.health_at(t0, 1_001);
        assert!(h.stale && h.reason.unwrap().contains("nextUpdate"));
    }
}
