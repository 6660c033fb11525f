//! Arguments and answers of the registry contract's reads (ListDevices, GetDeviceHistory,
//! GetDevicePolicy) and its "not registered" refusal, as the chaincode writes them and clients parse them.

use serde::{Deserialize, Serialize};

use crate::record::{DeviceRecord, NodeType};

/// Largest page ListDevices returns in one call.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The text of the contract's refusal of a UUID it does not hold. Clients find it in a peer's
/// error message, so the chaincode and its clients both build it here and it cannot drift.
pub fn not_registered(uuid: &str) -> String {
    format!("device {uuid} is not registered")
}

/// The start of the contract's refusal of `ip` as held by another device; the holder's UUID
/// follows it. Built here for the chaincode and its clients alike, as [`not_registered`] is.
pub fn ip_taken_prefix(ip: &str) -> String {
    format!("virtual IP {ip} is already assigned to device ")
}

/// Optional conditions a listed record must meet (ListDevices' third argument, as JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_type: Option<NodeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned: Option<bool>,
}

impl DeviceFilter {
    /// Whether `record` meets every condition set.
    pub fn matches(&self, record: &DeviceRecord) -> bool {
        self.node_type.is_none_or(|t| t == record.node_type)
            && self.banned.is_none_or(|b| b == record.banned)
    }
}

/// The response of ListDevices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePage {
    pub records: Vec<DeviceRecord>,
    /// Pass to the next call; empty when the listing is complete.
    pub bookmark: String,
    /// Ledger records read to build this page (before filtering).
    pub fetched: usize,
}

/// One change of a device record, an element of GetDeviceHistory's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub tx_id: String,
    /// RFC 3339 UTC time of the transaction.
    pub timestamp: String,
    pub is_delete: bool,
    /// The record written; `None` for a delete.
    pub record: Option<DeviceRecord>,
}

/// The response of GetDevicePolicy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePolicy {
    pub uuid: String,
    pub owner_msp: String,
    pub virtual_ip: String,
    /// Policy on the record's key, e.g. `AND('Org1MSP.peer', 'Org2MSP.peer')`; `None` when the key
    /// has none (the chaincode's policy applies).
    pub device_key_policy: Option<String>,
    /// Policy on the virtual-IP index key.
    pub virtual_ip_key_policy: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::public_key::KeyAlgorithm;

    fn record(node_type: NodeType, banned: bool) -> DeviceRecord {
        DeviceRecord {
            uuid: "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b".into(),
            node_type,
            virtual_ip: "10.8.0.2".into(),
            public_key: "-----BEGIN PUBLIC KEY-----\n...".into(),
            key_algorithm: KeyAlgorithm::Ed25519,
            key_fingerprint: "ab".repeat(32),
            banned,
            banned_timestamp: None,
            ban_reason: None,
            banned_by_msp: None,
            owner_msp: "Org1MSP".into(),
            created_at: "2024-01-01T00:00:00.000000000Z".into(),
            updated_at: "2024-01-01T00:00:00.000000000Z".into(),
            version: 1,
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn filter_matches_only_records_meeting_every_condition() {
        let banned_gateway = record(NodeType::Gateway, true);
        let validator = record(NodeType::Validator, false);
        assert!(DeviceFilter::default().matches(&banned_gateway));
        let gateways = DeviceFilter {
            node_type: Some(NodeType::Gateway),
            banned: None,
        };
        assert!(gateways.matches(&banned_gateway));
        assert!(!gateways.matches(&validator));
        let unbanned_gateways = DeviceFilter {
            banned: Some(false),
            ..gateways
        };
        assert!(!unbanned_gateways.matches(&banned_gateway));
    }

    #[test]
    fn filter_json_omits_unset_fields_and_refuses_unknown_ones() {
        let filter = DeviceFilter {
            node_type: Some(NodeType::Gateway),
            banned: None,
        };
        assert_eq!(
            serde_json::to_string(&filter).unwrap(),
            r#"{"node_type":"Gateway"}"#
        );
        assert_eq!(
            serde_json::from_str::<DeviceFilter>("{}").unwrap(),
            DeviceFilter::default()
        );
        assert!(serde_json::from_str::<DeviceFilter>(r#"{"role":"Gateway"}"#).is_err());
    }

    #[test]
    fn history_of_a_delete_has_no_record() {
        let entries = vec![
            HistoryEntry {
                tx_id: "a1".into(),
                timestamp: "2024-01-01T00:00:00Z".into(),
                is_delete: false,
                record: Some(record(NodeType::Gateway, false)),
            },
            HistoryEntry {
                tx_id: "b2".into(),
                timestamp: "2024-01-02T00:00:00Z".into(),
                is_delete: true,
                record: None,
            },
        ];
        let json = serde_json::to_value(&entries).unwrap();
        assert!(json[1]["record"].is_null(), "{json}");
        let back: Vec<HistoryEntry> = serde_json::from_value(json).unwrap();
        assert_eq!(back, entries);
    }

    #[test]
    fn not_registered_names_the_uuid() {
        let text = not_registered("0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b");
        assert_eq!(
            text,
            "device 0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b is not registered"
        );
    }
}
