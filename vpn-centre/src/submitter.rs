//! Who is calling the validators' listener: the identity and role in its client certificate, what
//! the registry says about it, and the small predicates deciding what it may do.

//!
//! The caller is the [`CertIdentity`] (UUID and role) the TLS listener read from its verified
//! client certificate.

use device_record::NodeType;
use vpn_pki::{CertIdentity, Role};

use crate::registry::{CentreRegistry, RegistryError};

/// What a caller may do with the warnings API, from its certificate's role and the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// A validator certificate the registry vouches for (registered, Validator, not banned):
    /// may submit, and its warnings count for auto-ban.
    Validator,
    /// A validator certificate while no registry is connected: may submit; nothing is
    /// auto-banned then anyway.
    UnvouchedValidator,
    /// A service certificate, or an Administrator the registry vouches for: may read and delete.
    Reader,
    /// Anyone else: gateways, certificates without a role, and devices the registry no longer
    /// holds as what their certificate says (deleted, banned, changed type).
    Nobody,
}

/// Decides the caller's standing; the registry is asked only about device roles.
pub async fn standing(
    registry: Option<&dyn CentreRegistry>,
    who: &CertIdentity,
) -> Result<Standing, RegistryError> {
    let (wanted, granted) = match who.role {
        // Services are not on the ledger; their certificates are revoked by `vpn-centre revoke`.
        Some(Role::Service) => return Ok(Standing::Reader),
        Some(Role::Validator) => (NodeType::Validator, Standing::Validator),
        Some(Role::Administrator) => (NodeType::Administrator, Standing::Reader),
        Some(Role::Gateway) | None => return Ok(Standing::Nobody),
    };
    let Some(registry) = registry else {
        return Ok(match granted {
            Standing::Validator => Standing::UnvouchedValidator,
            other => other,
        });
    };
    Ok(match registry.get(&who.uuid).await? {
        Some(r) if r.node_type == wanted && !r.banned => granted,
        _ => Standing::Nobody,
    })
}

/// Submitting warnings: validators only.
pub fn may_submit(s: Standing) -> bool {
    matches!(s, Standing::Validator | Standing::UnvouchedValidator)
}

/// Reading and deleting warnings: services and operators.
pub fn may_manage(s: Standing) -> bool {
    matches!(s, Standing::Reader)
}

/// Warnings count towards auto-ban only from validators the registry vouches for.
pub fn counts_for_autoban(s: Standing) -> bool {
    matches!(s, Standing::Validator)
}
