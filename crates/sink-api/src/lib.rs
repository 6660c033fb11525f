//! The cloud sink's HTTP API as its callers see it: the wire types in [`wire`] and
//! [`SinkClient`], so validators and dashboards feed and query the sink without linking it.

pub mod builder;
pub mod client;
pub mod connector;
pub mod error;
pub mod wire;

pub use builder::SinkClientBuilder;
pub use client::{DEFAULT_TIMEOUT, SinkClient};
pub use error::SinkError;
pub use wire::{
    CountsResponse, DeviceCount, ErrorBody, ErrorDetail, IngestRequest, IngestResponse,
    TelemetryQuery, TelemetryRecord, TelemetryResponse,
};
