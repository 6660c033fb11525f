//! What a registrar submits to register or update a device, and its validation into canonical form.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::public_key::{KeyError, PublicKeyInfo, parse_public_key_pem};
use crate::record::NodeType;

/// Most labels one device may carry.
pub const MAX_LABELS: usize = 32;
/// Longest label key, in bytes.
pub const MAX_LABEL_KEY_LEN: usize = 64;
/// Longest label value, in bytes.
pub const MAX_LABEL_VALUE_LEN: usize = 256;

/// The body of RegisterDevice / UpdateDevice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    pub uuid: String,
    pub node_type: NodeType,
    pub virtual_ip: String,
    /// PEM public key ("PUBLIC KEY" or "RSA PUBLIC KEY"); stored in canonical SPKI form.
    pub public_key: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A request that passed validation, in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedRequest {
    /// Lowercase hyphenated UUID.
    pub uuid: String,
    pub node_type: NodeType,
    /// Canonical IP text.
    pub virtual_ip: String,
    /// The key's canonical PEM ([`PublicKeyInfo::pem`]), not the text submitted.
    pub public_key: String,
    pub key: PublicKeyInfo,
    pub labels: BTreeMap<String, String>,
}

/// Why a device request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error(
        "device UUID {uuid:?} is not a hyphenated UUID (expected 8-4-4-4-12 hex digits, e.g. 0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b)"
    )]
    MalformedUuid { uuid: String },
    #[error("device UUID {uuid} is the nil UUID; generate a random (v4) UUID for the device")]
    NilUuid { uuid: String },
    #[error("virtual IP {ip:?} is not an IPv4 or IPv6 address")]
    MalformedVirtualIp { ip: String },
    #[error("virtual IP {ip} is unspecified or multicast; assign the device a unicast address")]
    UnusableVirtualIp { ip: String },
    #[error("public key of device {uuid} refused: {source}")]
    Key {
        uuid: String,
        #[source]
        source: KeyError,
    },
    #[error("device {uuid} has {count} labels; at most {MAX_LABELS} are allowed")]
    TooManyLabels { uuid: String, count: usize },
    #[error(
        "label {key:?} of device {uuid} is invalid: keys must be 1-{MAX_LABEL_KEY_LEN} bytes, values at most {MAX_LABEL_VALUE_LEN} bytes"
    )]
    BadLabel { uuid: String, key: String },
}

impl DeviceRequest {
    /// Checks every field and returns the canonical form; nothing is partially accepted.
    pub fn validate(&self) -> Result<ValidatedRequest, RequestError> {
        let uuid = normalise_uuid(&self.uuid)?;
        let virtual_ip = normalise_virtual_ip(&self.virtual_ip)?;
        let key = parse_public_key_pem(&self.public_key).map_err(|source| RequestError::Key {
            uuid: uuid.clone(),
            source,
        })?;
        if self.labels.len() > MAX_LABELS {
            return Err(RequestError::TooManyLabels {
                uuid,
                count: self.labels.len(),
            });
        }
        if let Some((k, _)) = self.labels.iter().find(|(k, v)| {
            k.is_empty() || k.len() > MAX_LABEL_KEY_LEN || v.len() > MAX_LABEL_VALUE_LEN
        }) {
            return Err(RequestError::BadLabel {
                uuid,
                key: k.clone(),
            });
        }
        Ok(ValidatedRequest {
            uuid,
            node_type: self.node_type,
            virtual_ip,
            public_key: key.pem(),
            key,
            labels: self.labels.clone(),
        })
    }
}

/// Accepts a hyphenated UUID in any letter case and returns it in lowercase.
pub fn normalise_uuid(text: &str) -> Result<String, RequestError> {
    let malformed = || RequestError::MalformedUuid {
        uuid: text.to_string(),
    };
    let bytes = text.as_bytes();
    let hyphens_ok = bytes.len() == 36
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| matches!(i, 8 | 13 | 18 | 23) == (*b == b'-'));
    if !hyphens_ok || !bytes.iter().all(|b| *b == b'-' || b.is_ascii_hexdigit()) {
        return Err(malformed());
    }
    let parsed = uuid::Uuid::parse_str(text).map_err(|_| malformed())?;
    let canonical = parsed.hyphenated().to_string();
    if parsed.is_nil() {
        return Err(RequestError::NilUuid { uuid: canonical });
    }
    Ok(canonical)
}

/// Parses an IPv4 or IPv6 address and returns its canonical text.
pub fn normalise_virtual_ip(text: &str) -> Result<String, RequestError> {
    let ip: IpAddr = text.parse().map_err(|_| RequestError::MalformedVirtualIp {
        ip: text.to_string(),
    })?;
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(RequestError::UnusableVirtualIp { ip: ip.to_string() });
    }
    Ok(ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uuid: &str, ip: &str) -> DeviceRequest {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        DeviceRequest {
            uuid: uuid.into(),
            node_type: NodeType::Gateway,
            virtual_ip: ip.into(),
            public_key: key.public_key_pem(),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn normalises_uuid_case_and_ipv6_text() {
        let v = request("0B6F3C1E-4A5D-4E8F-9A0B-1C2D3E4F5A6B", "FD00:0:0::0:1")
            .validate()
            .unwrap();
        assert_eq!(v.uuid, "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b");
        assert_eq!(v.virtual_ip, "fd00::1");
    }

    #[test]
    fn refuses_non_hyphenated_braced_urn_and_nil_uuids() {
        for bad in [
            "0b6f3c1e4a5d4e8f9a0b1c2d3e4f5a6b",
            "{0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b}",
            "urn:uuid:0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b",
            "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6",
            "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6g",
            "0b6f3c1e+4a5d-4e8f-9a0b-1c2d3e4f5a6b",
        ] {
            assert_eq!(
                normalise_uuid(bad),
                Err(RequestError::MalformedUuid { uuid: bad.into() }),
                "{bad}"
            );
        }
        assert!(matches!(
            normalise_uuid("00000000-0000-0000-0000-000000000000"),
            Err(RequestError::NilUuid { .. })
        ));
    }

    #[test]
    fn refuses_bad_ips_with_their_own_errors() {
        assert!(matches!(
            normalise_virtual_ip("10.8.0.256"),
            Err(RequestError::MalformedVirtualIp { .. })
        ));
        assert!(matches!(
            normalise_virtual_ip("010.8.0.1"),
            Err(RequestError::MalformedVirtualIp { .. })
        ));
        assert!(matches!(
            normalise_virtual_ip("0.0.0.0"),
            Err(RequestError::UnusableVirtualIp { .. })
        ));
        assert!(matches!(
            normalise_virtual_ip("ff02::1"),
            Err(RequestError::UnusableVirtualIp { .. })
        ));
    }

    #[test]
    fn the_validated_key_is_the_canonical_pem() {
        let mut r = request("0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b", "10.8.0.2");
        let canonical = r.public_key.clone();
        r.public_key = format!("\r\n{}", canonical.replace('\n', "\r\n"));
        assert_eq!(r.validate().unwrap().public_key, canonical);
    }

    #[test]
    fn key_errors_name_the_device() {
        let mut r = request("0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b", "10.8.0.2");
        r.public_key = "not a key".into();
        let err = r.validate().unwrap_err();
        assert!(matches!(
            err,
            RequestError::Key {
                source: KeyError::NotPem { .. },
                ..
            }
        ));
        assert!(
            err.to_string()
                .contains("0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b"),
            "{err}"
        );
    }

    #[test]
    fn label_limits_are_enforced() {
        let mut r = request("0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b", "10.8.0.2");
        r.labels.insert(String::new(), "x".into());
        assert!(matches!(r.validate(), Err(RequestError::BadLabel { .. })));
        r.labels.clear();
        for i in 0..=MAX_LABELS {
            r.labels.insert(format!("k{i}"), "v".into());
        }
        assert!(matches!(
            r.validate(),
            Err(RequestError::TooManyLabels { count, .. }) if count == MAX_LABELS + 1
        ));
    }

    #[test]
    fn request_json_refuses_unknown_fields() {
        let json = r#"{"uuid":"x","node_type":"Gateway","virtual_ip":"1.2.3.4","public_key":"k","banned":true}"#;
        assert!(serde_json::from_str::<DeviceRequest>(json).is_err());
    }
}
