//! The centre's parts assembled into its two routers, once for `vpn-centre serve`, its tests and
//! the end-to-end harness: the dashboard, enrolment and health for operators, and the warnings
//! API behind enforcement (caller standing, auto-ban) for validators.

use std::sync::Arc;

use axum::Router;

use crate::app;
use crate::autoban::AutoBanPolicy;
use crate::dashboard::DashboardState;
use crate::enforcement::Enforcement;
use crate::enrol_api::ENROL_ATTEMPTS_PER_MINUTE;
use crate::http::{AppState, DEFAULT_BODY_LIMIT};
use crate::metrics::Metrics;

/// What the two listeners serve, before it becomes routers.
///
/// The dashboard state carries the store, the registry (if a ledger is configured) and the PKI;
/// enforcement sees the same registry and PKI, so a ban from any path revokes.
#[derive(Clone)]
pub struct Wiring {
    pub dashboard: DashboardState,
    pub autoban: AutoBanPolicy,
    /// Counted by the warnings API and both listeners, shown at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Enrolment attempts allowed per client address per minute.
    pub enrol_per_minute: usize,
    /// Largest warnings request body on the validators' listener.
    pub body_limit: usize,
}

/// The routers of the operators' and the validators' listeners, and the metrics they share.
pub struct Routers {
    pub operator: Router,
    pub validator: Router,
    pub metrics: Arc<Metrics>,
}

impl Wiring {
    /// The deployed defaults: [`ENROL_ATTEMPTS_PER_MINUTE`] and [`DEFAULT_BODY_LIMIT`].
    pub fn new(dashboard: DashboardState, autoban: AutoBanPolicy) -> Self {
        Self {
            dashboard,
            autoban,
            metrics: Arc::new(Metrics::default()),
            enrol_per_minute: ENROL_ATTEMPTS_PER_MINUTE,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Admits `per_minute` enrolment attempts per client address (a harness enrolling every
    /// device from 127.0.0.1 needs far more than the deployed limit).
    pub fn enrol_per_minute(mut self, per_minute: usize) -> Self {
        self.enrol_per_minute = per_minute;
        self
    }

    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Both routers. The warnings API requires a client certificate whose standing allows the
    /// call (see [`AppState::authenticated`]); the operators' router has the enrolment routes
    /// when the dashboard has a PKI.
    pub fn routers(&self) -> Routers {
        let enforcement = Arc::new(Enforcement::new(
            self.dashboard.registry.clone(),
            self.dashboard.pki.clone(),
            self.autoban,
        ));
        let warnings = AppState::authenticated(
            self.dashboard.store.clone(),
            self.metrics.clone(),
            enforcement,
        );
        Routers {
            operator: app::operator_router_with(
                self.dashboard.clone(),
                warnings.clone(),
                self.enrol_per_minute,
            ),
            validator: app::validator_router(warnings, self.body_limit),
            metrics: self.metrics.clone(),
        }
    }
}
