//! The device record as stored on the ledger, one per device UUID.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::public_key::KeyAlgorithm;

/// The role a registered node plays; only gateways may send telemetry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeType {
    Gateway,
    Validator,
    Administrator,
}

impl NodeType {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Gateway => "Gateway",
            NodeType::Validator => "Validator",
            NodeType::Administrator => "Administrator",
        }
    }
}

impl std::fmt::Display for NodeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One device in the registry. Field order is the JSON order, so serialisation is deterministic
/// (endorsing peers must produce identical bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRecord {
    /// Canonical lowercase hyphenated UUID.
    pub uuid: String,
    pub node_type: NodeType,
    /// Canonical text of the device's virtual IP (IPv4 or IPv6).
    pub virtual_ip: String,
    /// The key as canonical PEM: one `PUBLIC KEY` block, 64-character lines, LF endings.
    pub public_key: String,
    pub key_algorithm: KeyAlgorithm,
    /// Lowercase hex SHA-256 of the key's SPKI DER.
    pub key_fingerprint: String,
    pub banned: bool,
    /// RFC 3339 UTC time of the transaction that banned the device, while banned.
    pub banned_timestamp: Option<String>,
    pub ban_reason: Option<String>,
    /// MSP ID of the organisation whose administrator made the ban in force, while banned; `None`
    /// in records written before bans were attributed.
    #[serde(default)]
    pub banned_by_msp: Option<String>,
    /// MSP ID of the organisation whose administrator registered the device.
    pub owner_msp: String,
    pub created_at: String,
    pub updated_at: String,
    /// 1 when registered, +1 on every change; caches apply changes in this order.
    pub version: u64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl DeviceRecord {
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

    fn sample() -> DeviceRecord {
        DeviceRecord {
            uuid: "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b".into(),
            node_type: NodeType::Gateway,
            virtual_ip: "10.8.0.2".into(),
            public_key: "-----BEGIN PUBLIC KEY-----\n...".into(),
            key_algorithm: KeyAlgorithm::EcdsaP256,
            key_fingerprint: "ab".repeat(32),
            banned: false,
            banned_timestamp: None,
            ban_reason: None,
            banned_by_msp: None,
            owner_msp: "Org1MSP".into(),
            created_at: "2024-01-01T00:00:00.000000000Z".into(),
            updated_at: "2024-01-01T00:00:00.000000000Z".into(),
            version: 1,
            labels: BTreeMap::from([
                ("zone".into(), "north".into()),
                ("area".into(), "a1".into()),
            ]),
        }
    }

    #[test]
    fn json_uses_snake_case_fields_in_declared_order_and_sorted_labels() {
        let text = String::from_utf8(sample().to_json().unwrap()).unwrap();
        let order = [
            "\"uuid\"",
            "\"node_type\":\"Gateway\"",
            "\"virtual_ip\"",
            "\"public_key\"",
            "\"key_algorithm\":\"ECDSA-P256\"",
            "\"key_fingerprint\"",
            "\"banned\":false",
            "\"banned_timestamp\":null",
            "\"ban_reason\":null",
            "\"banned_by_msp\":null",
            "\"owner_msp\"",
            "\"created_at\"",
            "\"updated_at\"",
            "\"version\":1",
            "\"labels\":{\"area\":\"a1\",\"zone\":\"north\"}",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|k| {
                text.find(k)
                    .unwrap_or_else(|| panic!("{k} missing in {text}"))
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn round_trips_and_refuses_unknown_fields() {
        let r = sample();
        assert_eq!(DeviceRecord::from_json(&r.to_json().unwrap()).unwrap(), r);
        let mut v: serde_json::Value = serde_json::from_slice(&r.to_json().unwrap()).unwrap();
        v["surprise"] = serde_json::json!(1);
        assert!(DeviceRecord::from_json(v.to_string().as_bytes()).is_err());
    }

    #[test]
    fn records_without_banned_by_msp_still_read() {
        let r = sample();
        let mut v: serde_json::Value = serde_json::from_slice(&r.to_json().unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("banned_by_msp");
        assert_eq!(
            DeviceRecord::from_json(v.to_string().as_bytes()).unwrap(),
            r
        );
    }

    #[test]
    fn node_type_names_are_exact() {
        for (t, name) in [
            (NodeType::Gateway, "Gateway"),
            (NodeType::Validator, "Validator"),
            (NodeType::Administrator, "Administrator"),
        ] {
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{name}\""));
            assert_eq!(t.to_string(), name);
        }
        assert!(serde_json::from_str::<NodeType>("\"gateway\"").is_err());
    }
}
