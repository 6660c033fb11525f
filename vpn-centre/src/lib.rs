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

pub use warnings_retention::Retention;
pub use warnings_store::WarningsStore;
