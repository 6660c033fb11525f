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

// The wire types and the client live in `sink-api`; these keep the old paths working.
/// Wire types of the sink's HTTP API (now in [`sink_api::wire`]).
pub mod api {
    pub use sink_api::wire::*;
}
/// The sink's HTTP(S) client (now in [`sink_api::client`]).
pub mod client {
    pub use sink_api::client::*;
}
/// The client's transport (now in [`sink_api::connector`]).
pub mod connector {
    pub use sink_api::connector::*;
}

pub use api::{
    CountsResponse, DeviceCount, IngestRequest, IngestResponse, TelemetryQuery, TelemetryRecord,
};
pub use client::{SinkClient, SinkError};
pub use run::run;
pub use store::{Database, Store, StoreError};
