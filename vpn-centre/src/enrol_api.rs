//! Enrolment and PKI routes of the operator listener: `POST /v1/enrol` (a device trades a
//! one-time token and its key for a certificate and virtual IP), `GET /v1/pki/ca`, `GET /v1/pki/crl`.
//!
//! Enrolment needs no client certificate (it is how a device gets one), so every attempt counts
//! against a per-address limit. The CRL is signed by the CA and checked by whoever installs it,
//! so it may be fetched over plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use vpn_pki::{CaError, EnrolError, EnrolRequest, LeafKey, LedgerError};

use crate::auth::LoginLimiter;
use crate::http::ErrorBody;
use crate::pki::CentrePki;

/// Largest enrolment body: a PEM CSR with an RSA-4096 key fits many times over.
pub const ENROL_BODY_LIMIT: usize = 64 * 1024;
/// Enrolment attempts allowed per client address per minute, by default.
pub const ENROL_ATTEMPTS_PER_MINUTE: usize = 10;

// The bodies are the API's wire types, shared with the devices that call it.
use warnings_api::{EnrolAnswer, EnrolBody, VirtualIp};

/// Everything the enrolment routes share.
#[derive(Clone)]
pub struct EnrolState {
    pub pki: Arc<CentrePki>,
    pub limiter: Arc<LoginLimiter>,
}

impl EnrolState {
    /// The deployed allowance: [`ENROL_ATTEMPTS_PER_MINUTE`] per client address.
    pub fn new(pki: Arc<CentrePki>) -> Self {
        Self::with_allowance(pki, ENROL_ATTEMPTS_PER_MINUTE)
    }

    /// `per_minute` attempts per client address: a harness enrolling many devices from one
    /// address needs far more than one device does.
    pub fn with_allowance(pki: Arc<CentrePki>, per_minute: usize) -> Self {
        Self {
            pki,
            limiter: Arc::new(LoginLimiter::new(per_minute, Duration::from_secs(60))),
        }
    }
}

pub fn router(state: EnrolState) -> Router {
    Router::new()
        .route("/v1/enrol", post(enrol))
        .route("/v1/pki/ca", get(ca))
        .route("/v1/pki/crl", get(crl))
        .layer(DefaultBodyLimit::max(ENROL_BODY_LIMIT))
        .with_state(state)
}

fn refuse(status: StatusCode, error: impl Into<String>, field: Option<&str>) -> Response {
    let body = ErrorBody {
        error: error.into(),
        field: field.map(str::to_string),
        index: None,
    };
    (status, Json(body)).into_response()
}

fn status_of(e: &EnrolError) -> StatusCode {
    match e {
        EnrolError::Token(_) => StatusCode::FORBIDDEN,
        EnrolError::Banned { .. } => StatusCode::FORBIDDEN,
        EnrolError::NotRegistered { .. } => StatusCode::NOT_FOUND,
        EnrolError::BadUuid { .. } => StatusCode::BAD_REQUEST,
        EnrolError::Ca(CaError::BadCsr(_) | CaError::BadPublicKey(_)) => StatusCode::BAD_REQUEST,
        EnrolError::Ledger {
            source:
                LedgerError::Rejected(_) | LedgerError::IpTaken { .. } | LedgerError::Conflict(_),
            ..
        } => StatusCode::CONFLICT,
        EnrolError::Ledger { .. } | EnrolError::Pool(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn enrol(
    State(state): State<EnrolState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<EnrolBody>, JsonRejection>,
) -> Response {
    if let Some(wait) = state.limiter.blocked_for(peer.ip()) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many enrolment attempts from {}; retry in {} s",
                peer.ip(),
                wait.as_secs().max(1)
            ),
            None,
        );
    }
    // Every attempt counts, successful or not: the limit is on trying tokens.
    state.limiter.record_failure(peer.ip());
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => {
            return refuse(
                e.status(),
                format!("enrolment body is invalid: {}", e.body_text()),
                Some("body"),
            );
        }
    };
    let key = match (body.public_key, body.csr) {
        (Some(pem), None) => LeafKey::PublicKey(pem),
        (None, Some(pem)) => LeafKey::Csr(pem),
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "send exactly one of `public_key` (PEM) or `csr` (PEM)",
                Some("public_key"),
            );
        }
    };
    let request = EnrolRequest {
        token: body.token,
        uuid: body.uuid.clone(),
        key,
    };
    match state.pki.enrol(&request).await {
        Ok(done) => (
            StatusCode::CREATED,
            Json(EnrolAnswer {
                certificate: done.cert_pem,
                ca: done.ca_pem,
                virtual_ip: VirtualIp {
                    v4: done.lease.v4,
                    v6: done.lease.v6,
                },
                serial: done.serial_hex,
                not_after: done.not_after,
            }),
        )
            .into_response(),
        Err(e) => {
            let status = status_of(&e);
            tracing::warn!(%peer, device = %body.uuid, %status, error = %e, "enrolment refused");
            refuse(status, e.to_string(), None)
        }
    }
}

async fn ca(State(state): State<EnrolState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.pki.ca_pem().to_string(),
    )
        .into_response()
}

async fn crl(State(state): State<EnrolState>) -> Response {
    match state.pki.crl_der().await {
        Ok(der) => ([(header::CONTENT_TYPE, "application/pkix-crl")], der).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot sign the CRL");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot produce the CRL: {e}; see the VPN Centre logs"),
                None,
            )
        }
    }
}
