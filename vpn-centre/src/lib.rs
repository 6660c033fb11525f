//! VPN Centre library: warning wire types, their store, the HTTP API and the client validators use.

pub mod client;
pub mod config;
pub mod http;
pub mod metrics;
pub mod warning;
pub mod warnings_store;

pub use client::{ClientError, WarningClient};
pub use warning::{NewWarning, Warning};
pub use warnings_store::{WarningFilter, WarningPage, WarningsStore};
