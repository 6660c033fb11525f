//! The operators' dashboard: server-rendered pages behind a login, assembled into one router.
//!
//! A request enters [`router`], passes [`security_headers`] and, for everything but the login
//! page and static assets, the session gate [`crate::auth::require_operator`]; then one page
//! module (`warnings`, `requests`, `devices`) reads or changes state.

pub mod assets;
pub mod devices;
pub mod html;
pub mod login;
pub mod rate;
pub mod requests;
pub mod warnings;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use axum::routing::{delete, get, post};
use sink_api::SinkClient;

use crate::auth::{LoginLimiter, Operators, SessionConfig, SessionStore, require_operator};
use crate::pki::CentrePki;
use crate::registry::CentreRegistry;
use crate::warnings_store::WarningsStore;
use rate::RequestRate;

/// Content-Security-Policy of every dashboard answer: only this origin's files, no inline code.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Everything the dashboard's handlers share.
#[derive(Clone)]
pub struct DashboardState {
    pub store: Arc<WarningsStore>,
    pub sessions: Arc<SessionStore>,
    pub operators: Operators,
    pub limiter: Arc<LoginLimiter>,
    /// The ledger's device registry; `None` until a Fabric connection is configured.
    pub registry: Option<Arc<dyn CentreRegistry>>,
    /// The cloud sink's query API; `None` when no sink URL is configured.
    pub sink: Option<SinkClient>,
    pub rate: Arc<RequestRate>,
    /// The PKI: a ban also revokes the device's certificates; `None` in dashboard-only tests.
    pub pki: Option<Arc<CentrePki>>,
}

impl DashboardState {
    /// A dashboard over `store` (shared with the warnings API), with no ledger and no sink yet.
    pub fn new(store: Arc<WarningsStore>, operators: Operators, sessions: SessionConfig) -> Self {
        Self {
            store,
            sessions: Arc::new(SessionStore::new(sessions)),
            operators,
            limiter: Arc::new(LoginLimiter::default()),
            registry: None,
            sink: None,
            rate: Arc::new(RequestRate::default()),
            pki: None,
        }
    }

    pub fn with_pki(mut self, pki: Arc<CentrePki>) -> Self {
        self.pki = Some(pki);
        self
    }

    pub fn with_registry(mut self, registry: Arc<dyn CentreRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    pub fn with_sink(mut self, sink: SinkClient) -> Self {
        self.sink = Some(sink);
        self
    }

    pub fn with_login_limiter(mut self, limiter: LoginLimiter) -> Self {
        self.limiter = Arc::new(limiter);
        self
    }
}

/// Routes of the dashboard; merge them with the warnings API's router.
pub fn router(state: DashboardState) -> Router {
    let protected = Router::new()
        .route(
            "/dashboard",
            get(|| async { Redirect::to("/dashboard/warnings") }),
        )
        .route("/dashboard/warnings", get(warnings::page))
        .route("/dashboard/warnings/live", get(warnings::live))
        .route(
            "/dashboard/warnings/{id}/delete",
            post(warnings::delete_form),
        )
        .route("/dashboard/warnings/{id}", delete(warnings::delete))
        .route("/dashboard/requests", get(requests::page))
        .route("/dashboard/requests/live", get(requests::live))
        .route("/dashboard/devices", get(devices::list))
        .route("/dashboard/devices/{uuid}", get(devices::detail))
        .route("/dashboard/devices/{uuid}/ban", post(devices::ban))
        .route("/dashboard/devices/{uuid}/unban", post(devices::unban))
        .route("/logout", post(login::logout))
        .route_layer(middleware::from_fn_with_state(
            state.sessions.clone(),
            require_operator,
        ));
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard/warnings") }))
        .route("/login", get(login::page).post(login::submit))
        .route("/static/dashboard.js", get(assets::script))
        .route("/static/dashboard.css", get(assets::stylesheet))
        .merge(protected)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Adds the browser-side protections to every dashboard answer; pages are never cached.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: under it browsers send `Origin: null` on form posts, which the login's
    // same-origin check would then refuse.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
