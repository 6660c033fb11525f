//! VPN Centre library: the warnings store and HTTP API, the operators' dashboard with its login,
//! enrolment and PKI, mutual TLS and auto-ban; [`start::run`] serves it all, as `vpn-centre serve`.

pub mod app;
pub mod auth;
pub mod autoban;
pub mod ban;
pub mod cli;
pub mod config;
pub mod conn_slots;
pub mod dashboard;
pub mod enforcement;
pub mod enrol_api;
pub mod fabric_registry;
pub mod http;
pub mod idle;
pub mod ledger_bridge;
pub mod ledger_follower;
pub mod ledger_timeouts;
pub mod listeners;
pub mod metrics;
pub mod pki;
pub mod registry;
pub mod start;
pub mod submitter;
pub mod tls_listener;
pub mod warnings_retention;
pub mod warnings_store;
pub mod wiring;

// The wire types and the client live in `warnings-api`; these keep the old paths working.
/// HTTP client of the warnings API (now in [`warnings_api::client`]).
pub mod client {
    pub use warnings_api::client::*;
}
/// One HTTPS request over a fresh rustls connection (now in [`warnings_api::tls`]).
pub mod tls_client {
    pub use warnings_api::tls::*;
}
/// Warning wire types and their rules (now in [`warnings_api::warning`]).
pub mod warning {
    pub use warnings_api::warning::*;
}

pub use client::{ClientError, TlsIdentity, WarningClient};
pub use warning::{NewWarning, Warning};
pub use warnings_retention::Retention;
pub use warnings_store::{WarningFilter, WarningPage, WarningsStore};
