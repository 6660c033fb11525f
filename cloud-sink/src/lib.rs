//! Cloud sink: stores every accepted telemetry record exactly once and answers queries over it.
//!
//! Data path: [`server`] accepts a connection, [`http`] parses and checks the request with
//! [`validate`], and a [`store::Store`] ([`sqlite`] or [`postgres`]) keeps the rows.
//! Validators talk to it with [`client::SinkClient`] using the types in [`api`].

pub mod api;
pub mod client;
pub mod config;
pub mod connector;
pub mod http;
pub mod metrics;
pub mod postgres;
pub mod server;
pub mod sqlite;
pub mod store;
pub mod tls;
pub mod validate;

pub use api::{
    CountsResponse, DeviceCount, IngestRequest, IngestResponse, TelemetryQuery, TelemetryRecord,
};
pub use client::{SinkClient, SinkError};
pub use store::{Database, Store, StoreError};
