//! VPN Centre library: warning wire types, their store, the HTTP API, the client validators use,
//! the operators' dashboard with its login, enrolment and PKI, mutual TLS and auto-ban.

pub mod app;
pub mod auth;
pub mod autoban;
pub mod ban;
pub mod client;
pub mod config;
pub mod dashboard;
pub mod enforcement;
pub mod enrol_api;
pub mod fabric_registry;
pub mod http;
pub mod idle;
pub mod ledger_bridge;
pub mod ledger_follower;
pub mod metrics;
pub mod pki;
pub mod registry;
pub mod submitter;
pub mod tls_client;
pub mod tls_listener;
pub mod warning;
pub mod warnings_retention;
pub mod warnings_store;

pub use client::{ClientError, TlsIdentity, WarningClient};
pub use warning::{NewWarning, Warning};
pub use warnings_retention::Retention;
pub use warnings_store::{WarningFilter, WarningPage, WarningsStore};
