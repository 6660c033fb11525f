//! The HTTP API: where ingest and query requests enter, are checked (the caller's role first),
//! and reach the store.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};

use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::validate::{canonical_device, validate_batch};
use sink_api::wire::{ErrorBody, ErrorDetail, IngestRequest, TelemetryQuery, TelemetryResponse};
use vpn_pki::{CertIdentity, Role};

/// Size limits the API enforces before touching the store.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Most records in one ingest batch.
    pub max_batch_records: usize,
    /// Most records one telemetry query returns.
    pub max_query_records: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 * 1024 * 1024,
            max_batch_records: 5_000,
            max_query_records: 10_000,
        }
    }
}

/// Shared state of every handler.
pub struct App<S> {
    pub store: S,
    pub limits: Limits,
    pub metrics: Metrics,
}

/// Who is calling over HTTPS: the identity in the client certificate (`None` when it names no
/// UUID). The TLS server attaches it to every request; plain HTTP (loopback only) has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub Option<CertIdentity>);

/// What a route needs from the caller's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Any certificate the TLS layer accepted (health, unknown routes).
    Connected,
    /// Role validator: only validators store telemetry, so no gateway can pre-claim another
    /// device's `(device, seq)` or write for it.
    Validator,
    /// Role service or administrator: telemetry of every device is not a device's to read.
    Reader,
}

fn need_of(path: &str) -> Need {
    match path {
        "/v1/ingest" => Need::Validator,
        "/v1/telemetry" | "/v1/counts" | "/metrics" => Need::Reader,
        _ => Need::Connected,
    }
}

/// Refuses a request whose certificate's role (from the registry, written by the centre) does
/// not allow it, before its body is read. Certificates without a role have none of these rights.
async fn authorise(request: Request, next: Next) -> Response {
    let Some(Caller(identity)) = request.extensions().get::<Caller>().cloned() else {
        return next.run(request).await; // plain HTTP on loopback: no certificates at all
    };
    let need = need_of(request.uri().path());
    let role = identity.as_ref().and_then(|i| i.role);
    let allowed = match need {
        Need::Connected => true,
        Need::Validator => role == Some(Role::Validator),
        Need::Reader => role.is_some_and(Role::reads_everything),
    };
    if allowed {
        return next.run(request).await;
    }
    let who = identity
        .as_ref()
        .map_or("a certificate naming no UUID", |i| i.uuid.as_str());
    let role = role.map_or("none", Role::as_str);
    tracing::warn!(caller = %who, role, path = %request.uri().path(), "refused by role");
    let wanted = if need == Need::Validator {
        "only validators may store telemetry"
    } else {
        "only services and operators may read telemetry"
    };
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "certificate holder {who} (role {role}) may not use {}: {wanted}",
            request.uri().path()
        ),
    )
    .into_response()
}

/// Builds the sink's router over `store`.
pub fn router<S: Store>(app: Arc<App<S>>) -> Router {
    Router::new()
        .route("/v1/ingest", post(ingest::<S>))
        .route("/v1/telemetry", get(telemetry::<S>))
        .route("/v1/counts", get(counts::<S>))
        .route("/healthz", get(healthz::<S>))
        .route("/metrics", get(metrics::<S>))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            count_requests::<S>,
        ))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(app.limits.max_body_bytes))
        .layer(middleware::from_fn(authorise))
        .with_state(app)
}

/// A refusal in the API's JSON error shape.
struct ApiError {
    status: StatusCode,
    detail: ErrorDetail,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: ErrorDetail {
                code: code.into(),
                message: message.into(),
                index: None,
                field: None,
            },
        }
    }

    fn store(operation: &str, error: StoreError) -> Self {
        tracing::error!(%error, operation, "store operation failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            format!("{operation} failed in the database: {error}; retry later"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.detail })).into_response()
    }
}

async fn ingest<S: Store>(
    State(app): State<Arc<App<S>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let refused = |e: ApiError| {
        app.metrics.record_refused_batch();
        e
    };
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "unreadable_body"
        };
        refused(ApiError::new(
            status,
            code,
            format!(
                "{}; the limit is {} bytes, send smaller batches",
                rejection.body_text(),
                app.limits.max_body_bytes
            ),
        ))
    })?;
    let request: IngestRequest = serde_json::from_slice(&body).map_err(|e| {
        refused(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("body is not an ingest request: {e}"),
        ))
    })?;
    let count = request.records.len();
    if count > app.limits.max_batch_records {
        return Err(refused(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_records",
            format!(
                "batch has {count} records, the limit is {}; split it",
                app.limits.max_batch_records
            ),
        )));
    }
    let records = validate_batch(request.records).map_err(|bad| {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_record",
            format!("{bad}; nothing stored"),
        );
        e.detail.index = Some(bad.index);
        e.detail.field = Some(bad.field.into());
        refused(e)
    })?;
    let started = Instant::now();
    let outcome = app.store.ingest(records).await;
    app.metrics
        .record_store_latency("ingest", started.elapsed());
    let response = outcome.map_err(|e| ApiError::store("storing the batch", e))?;
    app.metrics
        .record_ingest(response.stored, response.duplicates);
    Ok(Json(response).into_response())
}

async fn telemetry<S: Store>(
    State(app): State<Arc<App<S>>>,
    query: Result<Query<TelemetryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!(
                "{}; expected device=UUID&from_ms=&to_ms=&limit=",
                e.body_text()
            ),
        )
    })?;
    let device = canonical_device(&q.device).map_err(|reason| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("device {reason}"),
        )
    })?;
    let limit = q
        .limit
        .unwrap_or(app.limits.max_query_records)
        .min(app.limits.max_query_records);
    let started = Instant::now();
    let outcome = app.store.query(device, q.from_ms, q.to_ms, limit).await;
    app.metrics.record_store_latency("query", started.elapsed());
    let records = outcome.map_err(|e| ApiError::store("querying telemetry", e))?;
    Ok(Json(TelemetryResponse { records }).into_response())
}

async fn counts<S: Store>(State(app): State<Arc<App<S>>>) -> Result<Response, ApiError> {
    let started = Instant::now();
    let outcome = app.store.counts().await;
    app.metrics
        .record_store_latency("counts", started.elapsed());
    Ok(Json(outcome.map_err(|e| ApiError::store("counting telemetry", e))?).into_response())
}

/// The TLS listener's CRL verifier, attached to every request served over HTTPS, so `/healthz`
/// can say how current the CRL is.
#[derive(Clone)]
pub struct CrlHealthSource(pub Arc<vpn_pki::CrlClientVerifier>);

/// `{"status": "ok"}`, with the CRL's `age_ms`, `max_age_ms` and `stale` over HTTPS; 503
/// `"crl_stale"` once the CRL is stale (new handshakes are refused then, so only connections
/// opened before see it), 503 `store_unavailable` when the database does not answer.
async fn healthz<S: Store>(
    State(app): State<Arc<App<S>>>,
    crl: Option<axum::Extension<CrlHealthSource>>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let outcome = app.store.health().await;
    app.metrics
        .record_store_latency("health", started.elapsed());
    outcome.map_err(|e| ApiError::store("health check", e))?;
    let Some(axum::Extension(CrlHealthSource(verifier))) = crl else {
        return Ok(Json(serde_json::json!({ "status": "ok" })).into_response());
    };
    let health = verifier.health();
    let status = if health.stale { "crl_stale" } else { "ok" };
    let mut body = serde_json::json!({
        "status": status,
        "crl": {
            "age_ms": health.age_ms,
            "max_age_ms": health.max_age_ms,
            "stale": health.stale,
            "detail": health.reason,
        },
    });
    if health.stale {
        body["reason"] = health.reason.into();
        return Ok((StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response());
    }
    Ok(Json(body).into_response())
}

async fn metrics<S: Store>(State(app): State<Arc<App<S>>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route; see /v1/ingest, /v1/telemetry, /v1/counts",
    )
}

async fn count_requests<S: Store>(
    State(app): State<Arc<App<S>>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    app.metrics
        .record_request(&route, response.status().as_u16());
    response
}
