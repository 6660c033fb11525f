//! Who is calling the validators' listener: the identity in its client certificate, and the
//! small predicates deciding what that identity may do.

use device_record::NodeType;
use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{GeneralName, parse_x509_certificate};

use crate::registry::{RegistryError, RegistryView};

/// The UUID bound in a verified client certificate (SAN `urn:uuid:`, else the subject CN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    pub uuid: String,
}

impl PeerIdentity {
    /// Reads the identity from a certificate the TLS layer has already verified.
    pub fn from_cert(cert: &CertificateDer<'_>) -> Option<Self> {
        let (_, parsed) = parse_x509_certificate(cert.as_ref()).ok()?;
        let from_san = parsed
            .subject_alternative_name()
            .ok()
            .flatten()
            .and_then(|san| {
                san.value.general_names.iter().find_map(|name| match name {
                    GeneralName::URI(uri) => uri.strip_prefix("urn:uuid:").map(str::to_string),
                    _ => None,
                })
            });
        let uuid = from_san.or_else(|| {
            parsed
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_string)
        })?;
        let uuid = device_record::normalise_uuid(&uuid).ok()?;
        Some(Self { uuid })
    }
}

/// What the registry says about a caller, as far as the warnings API cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// A registered, unbanned validator: may submit warnings, and they count for auto-ban.
    Validator,
    /// A registered gateway (or a banned device): may not use the warnings API.
    Device,
    /// Not in the registry: a service certificate (cloud sink, operator tools).
    Service,
    /// No registry is connected, so nothing can be told.
    Unknown,
}

/// Looks the caller up in the registry.
pub async fn standing(
    registry: Option<&dyn RegistryView>,
    who: &PeerIdentity,
) -> Result<Standing, RegistryError> {
    let Some(registry) = registry else {
        return Ok(Standing::Unknown);
    };
    Ok(match registry.get(&who.uuid).await? {
        Some(r) if r.node_type == NodeType::Validator && !r.banned => Standing::Validator,
        Some(_) => Standing::Device,
        None => Standing::Service,
    })
}

/// Submitting warnings: validators, or anyone holding a centre certificate when no registry is
/// connected (then nothing is auto-banned either).
pub fn may_submit(s: Standing) -> bool {
    matches!(s, Standing::Validator | Standing::Unknown)
}

/// Reading and deleting warnings: anyone but devices.
pub fn may_manage(s: Standing) -> bool {
    !matches!(s, Standing::Device)
}

/// Warnings count towards auto-ban only from validators the registry vouches for.
pub fn counts_for_autoban(s: Standing) -> bool {
    matches!(s, Standing::Validator)
}
