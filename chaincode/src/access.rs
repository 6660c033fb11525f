//! Who may change the registry, and which devices.
//!
//! Any member may read. A write needs a registry administrator of a member organisation
//! ([`require_writer`]): a submitter whose X.509 certificate
//! - carries the Fabric CA attribute `sf2c.registry.admin` = `"true"` (extension OID
//!   1.2.3.4.5.6.7.8.1, whose value is the JSON `{"attrs":{...}}`), or
//! - has the NodeOU role `admin` as Fabric derives it: among the subject's OUs exactly one of the
//!   role identifiers `client`, `peer`, `admin`, `orderer` appears, and it is `admin`. Fabric's MSP
//!   refuses an identity carrying two role OUs, so an affiliation that happens to be named `admin`
//!   on a client certificate grants nothing here either.
//!
//! Then, per device: update, key rotation, IP change and delete need the owning organisation
//! ([`require_owner`]); any member may ban; unban needs the banning organisation or the owner
//! ([`require_may_unban`]). The certificate is taken as already validated: the peer's MSP checks
//! it chains to `msp_id` before the chaincode runs. Key-level endorsement policies (see
//! `policy.rs`) make the owner's peer necessary, so a member cannot skip these checks by
//! collecting endorsements only from peers it runs.

use device_record::DeviceRecord;
use x509_parser::certificate::X509Certificate;

use crate::ledger::Creator;
use crate::members::Members;

/// NodeOU role that grants registry writes.
pub const ADMIN_OU: &str = "admin";
/// The NodeOU role identifiers Fabric knows; a valid identity carries exactly one.
pub const ROLE_OUS: [&str; 4] = ["client", "peer", "admin", "orderer"];
/// Fabric CA attribute that grants registry writes.
pub const ADMIN_ATTRIBUTE: &str = "sf2c.registry.admin";
/// OID of the extension where Fabric CA stores attributes.
pub const FABRIC_ATTRS_OID: &str = "1.2.3.4.5.6.7.8.1";

/// Why a submitter may not write.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    #[error(
        "identity CN={common_name:?} of {msp_id} may not change the device registry: its certificate has neither the NodeOU role {ADMIN_OU} nor the attribute {ADMIN_ATTRIBUTE}=true; submit with a registry administrator identity"
    )]
    NotAdmin { msp_id: String, common_name: String },
    #[error(
        "submitter certificate of {msp_id} cannot be read ({reason}); the transaction creator must carry a PEM X.509 certificate"
    )]
    BadCertificate { msp_id: String, reason: String },
    #[error(
        "{msp_id} is not a registry member organisation (members: {members}); only members' administrators may change the device registry"
    )]
    NotMember { msp_id: String, members: String },
    #[error(
        "an administrator of {caller_msp} may not {action} device {uuid}: it is owned by {owner_msp}, and only the owning organisation's registry administrators may (any member may ban it)"
    )]
    NotOwner {
        action: &'static str,
        uuid: String,
        owner_msp: String,
        caller_msp: String,
    },
    #[error(
        "device {uuid} (owned by {owner_msp}) was banned by {banned_by}; an administrator of {caller_msp} may not unban it: only the banning organisation or the owner may"
    )]
    NotBanner {
        uuid: String,
        owner_msp: String,
        banned_by: String,
        caller_msp: String,
    },
}

/// Allows the transaction to write at all: a registry administrator of a member organisation.
pub fn require_writer(creator: &Creator, members: &Members) -> Result<(), AccessError> {
    require_admin(creator)?;
    if !members.contains(&creator.msp_id) {
        return Err(AccessError::NotMember {
            msp_id: creator.msp_id.clone(),
            members: members.to_string(),
        });
    }
    Ok(())
}

/// Allows `action` on `record` only to its owning organisation.
pub fn require_owner(
    creator: &Creator,
    record: &DeviceRecord,
    action: &'static str,
) -> Result<(), AccessError> {
    if creator.msp_id == record.owner_msp {
        return Ok(());
    }
    Err(AccessError::NotOwner {
        action,
        uuid: record.uuid.clone(),
        owner_msp: record.owner_msp.clone(),
        caller_msp: creator.msp_id.clone(),
    })
}

/// Allows an unban to the organisation that banned (as recorded) or to the owner.
pub fn require_may_unban(creator: &Creator, record: &DeviceRecord) -> Result<(), AccessError> {
    let caller = creator.msp_id.as_str();
    if caller == record.owner_msp || record.banned_by_msp.as_deref() == Some(caller) {
        return Ok(());
    }
    Err(AccessError::NotBanner {
        uuid: record.uuid.clone(),
        owner_msp: record.owner_msp.clone(),
        banned_by: record
            .banned_by_msp
            .clone()
            .unwrap_or_else(|| "an unrecorded organisation".to_string()),
        caller_msp: caller.to_string(),
    })
}

/// Allows the submitter if it is a registry administrator, or says who was refused and why.
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
    if node_ou_role(&cert) == Some(ADMIN_OU) || has_admin_attribute(&cert) {
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

/// The NodeOU role as Fabric's MSP derives it: the one role identifier among the subject's OUs;
/// none when there is no role OU or more than one (Fabric refuses such an identity).
fn node_ou_role(cert: &X509Certificate<'_>) -> Option<&'static str> {
    let mut roles = cert
        .subject()
        .iter_organizational_unit()
        .filter_map(|ou| ou.as_str().ok())
        .filter_map(|ou| ROLE_OUS.iter().find(|role| **role == ou).copied());
    match (roles.next(), roles.next()) {
        (Some(role), None) => Some(role),
        _ => None,
    }
}

fn has_admin_attribute(cert: &X509Certificate<'_>) -> bool {
    cert.extensions()
        .iter()
        .filter(|ext| ext.oid.to_id_string() == FABRIC_ATTRS_OID)
        .filter_map(|ext| serde_json::from_slice::<serde_json::Value>(ext.value).ok())
        .any(|attrs| attrs["attrs"][ADMIN_ATTRIBUTE] == "true")
}
