//! Warning wire types shared by validators and the VPN Centre, and the rules a warning must meet.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// Longest accepted submitter id, in bytes.
pub const MAX_SUBMITTER_LEN: usize = 128;
/// Longest accepted offender address, in bytes (an IPv6 socket address with scope fits).
pub const MAX_ADDRESS_LEN: usize = 64;
/// Longest accepted reason, in bytes: enough for a sentence, not for a payload dump.
pub const MAX_REASON_LEN: usize = 1024;
/// Latest accepted `time_ms` (year 9999), which also keeps it inside SQLite's signed integers.
pub const MAX_TIME_MS: u64 = 253_402_300_799_999;

/// What a validator reports when it refuses a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWarning {
    /// Id of the validator that refused the message. On the mutual-TLS listener the centre sets
    /// it to the UUID in the client certificate, whatever the body says (it may be omitted).
    #[serde(default)]
    pub submitter: String,
    /// Remote address the message came from: `ip` or `ip:port`.
    pub offender_address: String,
    /// Device UUID of the sender's client certificate (never a name read from the refused
    /// message), if it presented one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offender_device: Option<String>,
    /// When the validator refused the message, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The stable JSON-RPC error code the validator answered with.
    pub code: i32,
    /// Human-readable reason, as sent to the device.
    pub reason: String,
    /// A 1005 refusal for a timestamp outside the validator's window rather than a reused
    /// sequence number: honest gateways cause it after an outage, so it never counts towards
    /// auto-ban. Not stored; the reason says it too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// A warning as stored by the VPN Centre: one row per run of identical refusals.
///
/// `id` is a monotonic number assigned by the store: never reused, even after a delete,
/// so it doubles as the paging cursor and orders warnings by arrival. Refusals with the same
/// submitter, offender and code within the store's aggregation window share one row: `time_ms`
/// (and the other fields) are the first's, `count` says how many, `last_ms` when the latest was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub id: u64,
    /// When the VPN Centre stored the first, milliseconds since the Unix epoch.
    pub received_ms: u64,
    #[serde(flatten)]
    pub warning: NewWarning,
    /// Refusals this row stands for (1 for a warning on its own).
    #[serde(default = "one")]
    pub count: u64,
    /// `time_ms` of the latest refusal of the row (equal to `time_ms` when `count` is 1).
    #[serde(default)]
    pub last_ms: u64,
}

fn one() -> u64 {
    1
}

/// A warning field that breaks the rules, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` is invalid: {problem}")]
pub struct FieldError {
    pub field: &'static str,
    pub problem: String,
}

impl FieldError {
    fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

impl NewWarning {
    /// Checks every field; the first broken one is reported by name.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("submitter", &self.submitter, MAX_SUBMITTER_LEN)?;
        check_text("offender_address", &self.offender_address, MAX_ADDRESS_LEN)?;
        if !is_ip_or_socket(&self.offender_address) {
            return Err(FieldError::new(
                "offender_address",
                format!(
                    "{:?} is neither an IP address nor IP:port (e.g. 10.0.0.7 or 10.0.0.7:4433)",
                    self.offender_address
                ),
            ));
        }
        if let Some(device) = &self.offender_device
            && uuid::Uuid::parse_str(device).is_err()
        {
            return Err(FieldError::new(
                "offender_device",
                format!(
                    "{device:?} is not a UUID; omit the field when the sender presented no certificate"
                ),
            ));
        }
        if self.time_ms == 0 || self.time_ms > MAX_TIME_MS {
            return Err(FieldError::new(
                "time_ms",
                format!(
                    "{} is not a refusal time in milliseconds since the Unix epoch",
                    self.time_ms
                ),
            ));
        }
        check_text("reason", &self.reason, MAX_REASON_LEN)
    }
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(FieldError::new(
            field,
            format!("is {} bytes long; the limit is {max}", value.len()),
        ));
    }
    Ok(())
}

fn is_ip_or_socket(text: &str) -> bool {
    text.parse::<IpAddr>().is_ok() || text.parse::<SocketAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> NewWarning {
        NewWarning {
            submitter: "validator-1".into(),
            offender_address: "10.8.0.12:51000".into(),
            offender_device: Some("6f1c2a8e-3b4d-4c5e-8f9a-0b1c2d3e4f50".into()),
            time_ms: 1_700_000_000_000,
            code: -32001,
            reason: "signature does not verify".into(),
            stale: false,
        }
    }

    fn field_of(w: &NewWarning) -> &'static str {
        w.validate().unwrap_err().field
    }

    #[test]
    fn a_complete_warning_passes() {
        assert_eq!(good().validate(), Ok(()));
        let mut w = good();
        w.offender_device = None;
        w.offender_address = "fd00::5".into();
        assert_eq!(w.validate(), Ok(()));
        w.offender_address = "[fd00::5]:8443".into();
        assert_eq!(w.validate(), Ok(()));
    }

    #[test]
    fn each_broken_field_is_named() {
        let mut w = good();
        w.submitter = "  ".into();
        assert_eq!(field_of(&w), "submitter");

        let mut w = good();
        w.offender_address = "gateway.local:80".into();
        assert_eq!(field_of(&w), "offender_address");

        let mut w = good();
        w.offender_device = Some("not-a-uuid".into());
        assert_eq!(field_of(&w), "offender_device");

        let mut w = good();
        w.time_ms = 0;
        assert_eq!(field_of(&w), "time_ms");
        w.time_ms = MAX_TIME_MS + 1;
        assert_eq!(field_of(&w), "time_ms");

        let mut w = good();
        w.reason = String::new();
        assert_eq!(field_of(&w), "reason");

        let mut w = good();
        w.reason = "x".repeat(MAX_REASON_LEN + 1);
        assert_eq!(field_of(&w), "reason");
    }

    #[test]
    fn stored_warning_serialises_flat() {
        let stored = Warning {
            id: 7,
            received_ms: 1_700_000_000_500,
            warning: good(),
            count: 3,
            last_ms: 1_700_000_009_000,
        };
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(json["id"], 7);
        assert_eq!(json["submitter"], "validator-1");
        assert_eq!(
            (json["count"].as_u64(), json["last_ms"].as_u64()),
            (Some(3), Some(1_700_000_009_000))
        );
        assert!(json.get("stale").is_none(), "{json}");
        let back: Warning = serde_json::from_value(json).unwrap();
        assert_eq!(back, stored);
    }
}
