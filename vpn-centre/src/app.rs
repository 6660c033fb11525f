//! The centre's two listeners as routers: the operators' (dashboard, enrolment, PKI) and the
//! validators' (warnings API behind mutual TLS).

use std::sync::Arc;

use axum::Router;

use crate::dashboard::{self, DashboardState};
use crate::enrol_api::{self, ENROL_ATTEMPTS_PER_MINUTE, EnrolState};
use crate::http::{self, AppState};

/// `listen`: dashboard, `/v1/enrol`, `/v1/pki/*`, health and metrics. Serve it with connection
/// info (`into_make_service_with_connect_info::<SocketAddr>()`, or [`crate::tls_listener`]) so
/// logins and enrolments are limited per address. Without a PKI the enrolment routes are absent.
pub fn operator_router(dashboard: DashboardState, warnings: AppState) -> Router {
    operator_router_with(dashboard, warnings, ENROL_ATTEMPTS_PER_MINUTE)
}

/// [`operator_router`] admitting `enrol_per_minute` enrolment attempts per client address.
pub fn operator_router_with(
    dashboard: DashboardState,
    warnings: AppState,
    enrol_per_minute: usize,
) -> Router {
    let mut router = dashboard::router(dashboard.clone()).merge(http::health_router(warnings));
    if let Some(pki) = &dashboard.pki {
        let enrolment = EnrolState::with_allowance(Arc::clone(pki), enrol_per_minute);
        router = router.merge(enrol_api::router(enrolment));
    }
    router
}

/// `mtls_listen`: the warnings API, to be served by [`crate::tls_listener::serve`] with a
/// client-certificate verifier; `warnings` should carry the enforcement (see
/// [`AppState::authenticated`]).
pub fn validator_router(warnings: AppState, body_limit: usize) -> Router {
    http::router(warnings, body_limit)
}
