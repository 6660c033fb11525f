//! VPN Centre library: warning wire types, their store, the HTTP API, the client validators use,
//! and the operators' dashboard with its login.

pub mod app;
pub mod auth;
pub mod client;
pub mod config;
pub mod dashboard;
pub mod http;
pub mod metrics;
pub mod registry;
pub mod warning;
pub mod warnings_store;

pub use client::{ClientError, WarningClient};
pub use warning::{NewWarning, Warning};
pub use warnings_store::{WarningFilter, WarningPage, WarningsStore};
