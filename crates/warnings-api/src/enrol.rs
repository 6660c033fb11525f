//! Bodies of `POST /v1/enrol`, where a device trades a one-time token and its key for a
//! certificate and virtual IP.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// `POST /v1/enrol` body: the token, the device UUID, and exactly one of a public key or a CSR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolBody {
    pub token: String,
    pub uuid: String,
    /// PEM SubjectPublicKeyInfo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// PEM certificate signing request; proves possession of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr: Option<String>,
}

/// The addresses leased to the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualIp {
    pub v4: Option<IpAddr>,
    pub v6: Option<IpAddr>,
}

/// `POST /v1/enrol` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolAnswer {
    /// PEM certificate binding the UUID (SAN `urn:uuid:`) and virtual IPs (IP SANs).
    pub certificate: String,
    /// PEM certificate of the centre's CA.
    pub ca: String,
    pub virtual_ip: VirtualIp,
    pub serial: String,
    /// Unix seconds.
    pub not_after: i64,
}
