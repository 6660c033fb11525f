//! Why a message was refused: the stable JSON-RPC error codes and the refusal value carried to the client.

use serde::Serialize;

/// Stable error codes a validator answers with (documented in docs/protocol.md).
pub mod code {
    /// The body is not JSON.
    pub const PARSE_ERROR: i32 = -32700;
    /// The JSON is not a valid JSON-RPC 2.0 request (or the batch is empty or too long).
    pub const INVALID_REQUEST: i32 = -32600;
    /// The method is not one the validator serves.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// The params do not match the method.
    pub const INVALID_PARAMS: i32 = -32602;
    /// The validator could not do its part (e.g. the spool is unwritable); the client may retry.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// The claimed device is not in the registry.
    pub const UNKNOWN_DEVICE: i32 = 1001;
    /// The device exists but is not a Gateway, so it may not send telemetry.
    pub const NOT_A_GATEWAY: i32 = 1002;
    /// The gateway is banned in the registry.
    pub const BANNED: i32 = 1003;
    /// The signature does not verify with the registered key.
    pub const SIGNATURE_INVALID: i32 = 1004;
    /// The sequence number was already used, or the timestamp is outside the window.
    pub const REPLAY: i32 = 1005;
    /// The message or the request body is over the size limit.
    pub const OVERSIZED: i32 = 1006;
    /// The message is not a well-formed signed telemetry message.
    pub const MALFORMED: i32 = 1007;
    /// The message claims a device other than the one named by the sender's TLS client certificate.
    pub const CERT_MISMATCH: i32 = 1008;
    /// The validator's registry cache has not been confirmed current by the ledger for longer than
    /// `registry.max_staleness`, so it refuses to decide. Transient and not the sender's fault: no
    /// warning is sent, auto-ban never counts it, and the gateway keeps the message and tries
    /// another validator or later.
    pub const REGISTRY_UNAVAILABLE: i32 = 1009;

    /// Short, fixed title of a code: the JSON-RPC `message` field.
    pub fn title(code: i32) -> &'static str {
        match code {
            PARSE_ERROR => "parse error",
            INVALID_REQUEST => "invalid request",
            METHOD_NOT_FOUND => "method not found",
            INVALID_PARAMS => "invalid params",
            INTERNAL_ERROR => "internal error",
            UNKNOWN_DEVICE => "unknown device",
            NOT_A_GATEWAY => "not a gateway",
            BANNED => "gateway is banned",
            SIGNATURE_INVALID => "public key verification failed",
            REPLAY => "replayed or stale message",
            OVERSIZED => "message too large",
            MALFORMED => "malformed message",
            CERT_MISMATCH => "certificate does not match device",
            REGISTRY_UNAVAILABLE => "registry unavailable",
            _ => "error",
        }
    }
}

/// A refused request: the stable code and a reason for the client and the warning. It names no
/// offender: a warning always blames the sender's certificate ([`crate::caller::Caller::device`]),
/// never a device named inside a message that did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub code: i32,
    pub reason: String,
    /// Set on a `REPLAY` refusal for a timestamp outside the window rather than a used sequence
    /// number: the validator clock (Unix ms) it was compared with. An honest gateway's backlog
    /// causes it, so the centre does not count it towards auto-ban. On the wire it is
    /// `error.data.stale = true` with `validator_time_ms`, so the gateway can tell it from a used
    /// sequence number and re-sign with a current timestamp.
    #[serde(skip)]
    pub stale_at_ms: Option<u64>,
}

impl Refusal {
    pub fn new(code: i32, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            stale_at_ms: None,
        }
    }

    /// The same refusal, marked as caused by a timestamp too far from the validator clock `now_ms`.
    pub fn stale_at(mut self, now_ms: u64) -> Self {
        self.stale_at_ms = Some(now_ms);
        self
    }

    /// Whether this refuses a timestamp outside the window (see [`Refusal::stale_at_ms`]).
    pub fn is_stale(&self) -> bool {
        self.stale_at_ms.is_some()
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            code::title(self.code),
            self.reason
        )
    }
}
