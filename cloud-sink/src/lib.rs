//! Cloud sink: stores every accepted telemetry record exactly once and answers queries over it.
//!
//! Data path: [`server`] accepts a connection, [`http`] parses and checks the request with
//! [`validate`], and a [`store::Store`] ([`sqlite`] or [`postgres`], TLS per [`pg_tls`]) keeps the rows.
//! Validators talk to it with [`sink_api::SinkClient`] using the types in [`sink_api::wire`].
//! [`run`] is the whole service, as the binary and the tests start it.

pub mod config;
pub mod http;
pub mod metrics;
pub mod pg_connector;
pub mod pg_tls;
pub mod postgres;
pub mod run;
pub mod server;
pub mod sqlite;
pub mod store;
pub mod tls;
pub mod validate;

pub use run::run;
pub use store::{Database, Store, StoreError};
