//! The chaincode event every registry write emits, which validator caches apply in version order.

use serde::{Deserialize, Serialize};

use crate::record::DeviceRecord;

/// Name of the chaincode event carrying a [`RegistryEvent`] as JSON.
pub const EVENT_NAME: &str = "DeviceRegistry";

/// What a write did to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangeKind {
    Registered,
    Updated,
    KeyRotated,
    Banned,
    Unbanned,
    Deleted,
}

/// One registry change. A cache applies it only if `version` is newer than what it holds,
/// so replays of the event stream are harmless.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEvent {
    pub uuid: String,
    pub change: ChangeKind,
    pub version: u64,
    /// The record after the change; `None` for `Deleted`.
    pub record: Option<DeviceRecord>,
    pub tx_id: String,
    /// Reason given with a ban or unban, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl RegistryEvent {
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_event_round_trips_without_record() {
        let e = RegistryEvent {
            uuid: "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b".into(),
            change: ChangeKind::Deleted,
            version: 7,
            record: None,
            tx_id: "tx9".into(),
            reason: None,
        };
        let json = String::from_utf8(e.to_json().unwrap()).unwrap();
        assert!(json.contains("\"change\":\"Deleted\""), "{json}");
        assert!(json.contains("\"record\":null"), "{json}");
        assert!(!json.contains("reason"), "{json}");
        assert_eq!(RegistryEvent::from_json(json.as_bytes()).unwrap(), e);
    }
}
