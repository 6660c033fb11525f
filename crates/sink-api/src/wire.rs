//! Wire types of the sink's HTTP API, shared by the sink and the validators that feed it.

use serde::{Deserialize, Serialize};

/// One accepted telemetry message, as a validator forwards it and the sink stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryRecord {
    /// Device UUID; stored in lowercase hyphenated form.
    pub device: String,
    /// Per-device sequence number; (device, seq) identifies a record.
    pub seq: u64,
    /// Device timestamp, milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// When the validator accepted the message, milliseconds since the Unix epoch.
    pub received_ms: u64,
    /// Identifier of the validator that accepted the message.
    pub validator: String,
    /// The measurements object.
    pub data: serde_json::Value,
    /// The original compact JWS, kept as evidence.
    pub message: String,
}

/// Body of `POST /v1/ingest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestRequest {
    pub records: Vec<TelemetryRecord>,
}

/// Answer to `POST /v1/ingest`: how many records were new and how many were already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IngestResponse {
    pub stored: u64,
    pub duplicates: u64,
}

/// Query string of `GET /v1/telemetry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryQuery {
    pub device: String,
    /// Inclusive lower bound on `ts_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ms: Option<u64>,
    /// Exclusive upper bound on `ts_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ms: Option<u64>,
    /// Most records to return; the server caps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Answer to `GET /v1/telemetry`: records ordered by `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryResponse {
    pub records: Vec<TelemetryRecord>,
}

/// Stored rows of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCount {
    pub device: String,
    pub rows: u64,
    pub max_seq: u64,
}

/// Answer to `GET /v1/counts`; devices are ordered by UUID.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CountsResponse {
    pub total: u64,
    pub devices: Vec<DeviceCount>,
}

/// Body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What was refused and why; `index` and `field` point at the offending record when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_record`, `body_too_large`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
