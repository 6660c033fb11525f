//! The warnings HTTP API: where a warning enters, is checked, and is handed to the store.
//!
//! With [`AppState::enforcement`] set (the validators' mutual-TLS listener), every call needs the
//! [`CertIdentity`] of a client certificate whose role allows it (validators submit, services
//! and operators read and delete; see [`crate::submitter`]), the submitter of a warning is that
//! identity (a `submitter` in the body is overwritten), and stored warnings feed auto-ban. Without it the
//! API is unauthenticated, for in-process use only; `vpn-centre serve` never exposes it so.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;

mod error;

use crate::enforcement::Enforcement;
use crate::metrics::Metrics;
use crate::submitter::{Standing, may_manage, may_submit};
use crate::warnings_store::{MAX_PAGE, StoreError, WarningsStore};
use vpn_pki::CertIdentity;
use warnings_api::{NewWarning, Warning, WarningFilter};

pub use error::ApiError;
pub use warnings_api::{CountBody, ErrorBody};

/// Default largest request body, in bytes: a full batch of long warnings fits.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// Most warnings one POST may carry.
pub const MAX_BATCH: usize = 1000;
/// Page size when the caller gives no `limit`.
pub const DEFAULT_PAGE: u32 = 100;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<WarningsStore>,
    pub metrics: Arc<Metrics>,
    /// Client-certificate checks and auto-ban; `None` only for unauthenticated in-process use.
    pub enforcement: Option<Arc<Enforcement>>,
}

impl AppState {
    /// Unauthenticated: for in-process use and tests of the API alone.
    pub fn new(store: WarningsStore) -> Self {
        Self {
            store: Arc::new(store),
            metrics: Arc::new(Metrics::default()),
            enforcement: None,
        }
    }

    /// Authenticated by client certificate, as served on `mtls_listen`.
    pub fn authenticated(
        store: Arc<WarningsStore>,
        metrics: Arc<Metrics>,
        enforcement: Arc<Enforcement>,
    ) -> Self {
        Self {
            store,
            metrics,
            enforcement: Some(enforcement),
        }
    }
}

/// The caller's certificate identity, as the TLS listener attached it.
type Caller = Option<Extension<CertIdentity>>;

/// Who is calling, and whether they may `act`; `Ok(None)` when the API is unauthenticated.
async fn authorise(
    state: &AppState,
    caller: &Caller,
    allowed: fn(Standing) -> bool,
    act: &str,
) -> Result<Option<(CertIdentity, Standing)>, ApiError> {
    let Some(enforcement) = &state.enforcement else {
        return Ok(None);
    };
    let Some(Extension(who)) = caller else {
        return Err(ApiError::status(
            StatusCode::UNAUTHORIZED,
            "this API needs a client certificate from the VPN Centre's CA",
        ));
    };
    let standing = enforcement.standing(who).await.map_err(|e| {
        ApiError::status(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "cannot check certificate holder {} on the ledger: {e}",
                who.uuid
            ),
        )
    })?;
    if !allowed(standing) {
        tracing::warn!(caller = %who.uuid, ?standing, act, "refused warnings API call");
        return Err(ApiError::status(
            StatusCode::FORBIDDEN,
            format!(
                "certificate holder {} (role {}) may not {act}; only validators the registry \
                 vouches for submit warnings, and only services and operators read them",
                who.uuid,
                who.role.map_or("none", |r| r.as_str())
            ),
        ));
    }
    Ok(Some((who.clone(), standing)))
}

/// The one place the API is assembled; callers are authorised per handler by [`authorise`].
pub fn router(state: AppState, body_limit: usize) -> Router {
    Router::new()
        .route("/v1/warnings", get(list_warnings).post(post_warnings))
        .route("/v1/warnings/count", get(count_warnings))
        .route("/v1/warnings/{id}", delete(delete_warning))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            ApiError::not_found("no such route; the API lives under /v1/warnings")
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// `/healthz` and `/metrics` alone, for the operators' listener.
pub fn health_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Runs a store call off the async workers (SQLite blocks).
async fn with_store<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&WarningsStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(join) => {
            tracing::error!(error = %join, "warnings store task failed");
            Err(ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: ErrorBody {
                    error: "warnings store task failed; see the VPN Centre logs".into(),
                    field: None,
                    index: None,
                },
            })
        }
    }
}

/// A POST body holds one warning object or an array of them.
fn parse_submission(body: &[u8]) -> Result<(Vec<NewWarning>, bool), ApiError> {
    let is_batch = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[');
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = if is_batch {
        serde_path_to_error::deserialize::<_, Vec<NewWarning>>(&mut de)
    } else {
        serde_path_to_error::deserialize::<_, NewWarning>(&mut de).map(|w| vec![w])
    };
    let warnings = parsed.map_err(|e| {
        let (field, index) = blame(&e);
        ApiError::bad_field(
            field,
            index,
            format!("body is not a valid warning: {}", e.inner()),
        )
    })?;
    de.end()
        .map_err(|e| ApiError::bad_field("body", None, format!("trailing data after JSON: {e}")))?;
    Ok((warnings, is_batch))
}

/// Names the field a JSON decoding error is about, and the batch index it sits at.
fn blame(e: &serde_path_to_error::Error<serde_json::Error>) -> (String, Option<usize>) {
    use serde_path_to_error::Segment;
    let mut index = None;
    let mut field = None;
    for seg in e.path().iter() {
        match seg {
            Segment::Seq { index: i } => index = Some(*i),
            Segment::Map { key } => field = Some(key.clone()),
            _ => {}
        }
    }
    // A missing field is reported at the object level; its name is only in the message.
    let msg = e.inner().to_string();
    if let Some(rest) = msg.strip_prefix("missing field `")
        && let Some(name) = rest.split('`').next()
    {
        field = Some(name.to_string());
    }
    (field.unwrap_or_else(|| "body".into()), index)
}

async fn post_warnings(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = authorise(&state, &caller, may_submit, "submit warnings").await?;
    let submitter = caller.as_ref().map(|(who, _)| who.uuid.as_str());
    let outcome = check_submission(body, submitter);
    let (warnings, is_batch) = match outcome {
        Ok(ok) => ok,
        Err(e) => {
            state.metrics.record_refused_submission();
            tracing::warn!(status = %e.status, field = ?e.body.field, index = ?e.body.index,
                error = %e.body.error, "refused warning submission");
            return Err(e);
        }
    };
    let received = now_ms();
    let warnings = Arc::new(warnings);
    let to_store = warnings.clone();
    let stored: Vec<Warning> = with_store(&state, move |s| s.insert(&to_store, received)).await?;
    state
        .metrics
        .record_received(warnings.iter().map(|w| w.code));
    tracing::info!(count = stored.len(), submitter = ?submitter, "stored warnings");
    if let (Some(enforcement), Some((_, standing))) = (&state.enforcement, &caller) {
        enforcement
            .after_stored(&warnings, received, *standing)
            .await;
    }
    let response = if is_batch {
        (StatusCode::CREATED, Json(stored)).into_response()
    } else {
        let single = stored.into_iter().next();
        (StatusCode::CREATED, Json(single)).into_response()
    };
    Ok(response)
}

/// `submitter`: the certificate's UUID, which replaces whatever the body claims.
fn check_submission(
    body: Result<Bytes, BytesRejection>,
    submitter: Option<&str>,
) -> Result<(Vec<NewWarning>, bool), ApiError> {
    let body = body?;
    let (mut warnings, is_batch) = parse_submission(&body)?;
    if let Some(uuid) = submitter {
        for w in &mut warnings {
            w.submitter = uuid.to_string();
        }
    }
    if warnings.is_empty() {
        return Err(ApiError::bad_field(
            "body",
            None,
            "the batch is empty; send at least one warning",
        ));
    }
    if warnings.len() > MAX_BATCH {
        return Err(ApiError::bad_field(
            "body",
            None,
            format!(
                "the batch holds {} warnings; the limit is {MAX_BATCH}, split it",
                warnings.len()
            ),
        ));
    }
    for (i, w) in warnings.iter().enumerate() {
        w.validate()
            .map_err(|e| ApiError::bad_field(e.field, is_batch.then_some(i), e.to_string()))?;
    }
    Ok((warnings, is_batch))
}

/// Query parameters of list and count, kept as text so a bad one can be named.
#[derive(Debug, Default, Deserialize)]
struct FilterParams {
    device: Option<String>,
    code: Option<String>,
    submitter: Option<String>,
    since: Option<String>,
    limit: Option<String>,
    before: Option<String>,
}

fn parse_number<T: std::str::FromStr>(
    name: &str,
    value: &Option<String>,
) -> Result<Option<T>, ApiError> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            ApiError::bad_field(
                name,
                None,
                format!("query parameter `{name}`={text:?} is not a valid number"),
            )
        }),
    }
}

impl FilterParams {
    fn filter(&self) -> Result<WarningFilter, ApiError> {
        let device = self.device.clone().filter(|d| !d.is_empty());
        if let Some(d) = &device
            && uuid::Uuid::parse_str(d).is_err()
        {
            return Err(ApiError::bad_field(
                "device",
                None,
                format!("query parameter `device`={d:?} is not a UUID"),
            ));
        }
        Ok(WarningFilter {
            device,
            code: parse_number("code", &self.code)?,
            submitter: self.submitter.clone().filter(|s| !s.is_empty()),
            since_ms: parse_number("since", &self.since)?,
        })
    }
}

async fn list_warnings(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<FilterParams>,
) -> Result<Response, ApiError> {
    authorise(&state, &caller, may_manage, "read warnings").await?;
    let filter = params.filter()?;
    let limit: u32 = parse_number("limit", &params.limit)?.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_field(
            "limit",
            None,
            format!("limit {limit} is out of range; use 1..={MAX_PAGE}"),
        ));
    }
    let before: Option<u64> = parse_number("before", &params.before)?;
    let page = with_store(&state, move |s| s.list(&filter, limit, before)).await?;
    Ok(Json(page).into_response())
}

async fn count_warnings(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<FilterParams>,
) -> Result<Json<CountBody>, ApiError> {
    authorise(&state, &caller, may_manage, "read warnings").await?;
    let filter = params.filter()?;
    let count = with_store(&state, move |s| s.count(&filter)).await?;
    Ok(Json(CountBody { count }))
}

async fn delete_warning(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorise(&state, &caller, may_manage, "delete warnings").await?;
    let id: u64 = id.parse().map_err(|_| {
        ApiError::bad_field("id", None, format!("warning id {id:?} is not a number"))
    })?;
    with_store(&state, move |s| s.delete(id)).await?;
    tracing::info!(id, "deleted warning");
    Ok(StatusCode::NO_CONTENT)
}

async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    // Healthy means the store answers, not merely that the process runs.
    with_store(&state, |s| s.count(&WarningFilter::default())).await?;
    Ok("ok\n")
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let stored = with_store(&state, |s| s.count(&WarningFilter::default())).await?;
    let text = state.metrics.render(stored);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
