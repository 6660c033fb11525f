//! The whole centre as one router: the validators' warnings API beside the operators' dashboard.

use std::sync::Arc;

use axum::Router;

use crate::dashboard::{self, DashboardState};
use crate::http::{self, AppState};
use crate::metrics::Metrics;

/// API and dashboard over the same warnings store. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so logins are throttled per address.
pub fn router(dashboard: DashboardState, body_limit: usize) -> Router {
    let api = AppState {
        store: Arc::clone(&dashboard.store),
        metrics: Arc::new(Metrics::default()),
    };
    http::router(api, body_limit).merge(dashboard::router(dashboard))
}
