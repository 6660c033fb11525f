//! Who may change the registry.
//!
//! Rule: any member may read. A write is allowed only when the submitter's X.509 certificate
//! - carries the Fabric NodeOU role `admin` (an `OU=admin` in its subject), or
//! - carries the Fabric CA attribute `sf2c.registry.admin` = `"true"` (extension OID
//!   1.2.3.4.5.6.7.8.1, whose value is the JSON `{"attrs":{...}}`).
//!
//! The certificate is taken as already validated: the peer's MSP checks it chains to the
//! submitter's organisation before the chaincode runs. The endorsement policy (a majority of
//! organisations) keeps one organisation's administrators from changing the registry alone.

use x509_parser::certificate::X509Certificate;

use crate::ledger::Creator;

/// NodeOU role that grants registry writes.
pub const ADMIN_OU: &str = "admin";
/// Fabric CA attribute that grants registry writes.
pub const ADMIN_ATTRIBUTE: &str = "sf2c.registry.admin";
/// OID of the extension where Fabric CA stores attributes.
pub const FABRIC_ATTRS_OID: &str = "1.2.3.4.5.6.7.8.1";

/// Why a submitter may not write.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    #[error(
        "identity CN={common_name:?} of {msp_id} may not change the device registry: its certificate has neither OU={ADMIN_OU} nor the attribute {ADMIN_ATTRIBUTE}=true; submit with a registry administrator identity"
    )]
    NotAdmin { msp_id: String, common_name: String },
    #[error(
        "submitter certificate of {msp_id} cannot be read ({reason}); the transaction creator must carry a PEM X.509 certificate"
    )]
    BadCertificate { msp_id: String, reason: String },
}

/// Allows the transaction to write, or says who was refused and why.
pub fn require_admin(creator: &Creator) -> Result<(), AccessError> {
    let bad = |reason: String| AccessError::BadCertificate {
        msp_id: creator.msp_id.clone(),
        reason,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(&creator.id_bytes)
        .map_err(|e| bad(format!("not PEM: {e}")))?;
    if pem.label != "CERTIFICATE" {
        return Err(bad(format!(
            "PEM label is {:?}, not CERTIFICATE",
            pem.label
        )));
    }
    let cert = pem
        .parse_x509()
        .map_err(|e| bad(format!("not an X.509 certificate: {e}")))?;
    if has_admin_ou(&cert) || has_admin_attribute(&cert) {
        return Ok(());
    }
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("(no CN)")
        .to_string();
    Err(AccessError::NotAdmin {
        msp_id: creator.msp_id.clone(),
        common_name,
    })
}

fn has_admin_ou(cert: &X509Certificate<'_>) -> bool {
    cert.subject()
        .iter_organizational_unit()
        .any(|ou| ou.as_str() == Ok(ADMIN_OU))
}

fn has_admin_attribute(cert: &X509Certificate<'_>) -> bool {
    cert.extensions()
        .iter()
        .filter(|ext| ext.oid.to_id_string() == FABRIC_ATTRS_OID)
        .filter_map(|ext| serde_json::from_slice::<serde_json::Value>(ext.value).ok())
        .any(|attrs| attrs["attrs"][ADMIN_ATTRIBUTE] == "true")
}
