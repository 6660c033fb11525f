//! Banning a device everywhere at once: the ledger record first, then every certificate it holds.
//!
//! Used by the dashboard and by auto-ban. The ledger is the authority validators enforce, so it
//! goes first; revocation then shuts the device out of TLS too. Unbanning does not un-revoke:
//! an unbanned device enrols again with a new token (and keeps its virtual IP).

use device_record::DeviceRecord;
use rcgen::RevocationReason;

use crate::pki::{CentrePki, PkiError};
use crate::registry::{CentreRegistry, RegistryError};

#[derive(Debug, thiserror::Error)]
pub enum BanError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "device {uuid} is banned on the ledger but its certificates could not be revoked: {source}; run `vpn-centre revoke {uuid}`"
    )]
    Revoke { uuid: String, source: PkiError },
}

/// Bans `uuid` on the ledger with `reason`, then revokes its certificates (when a PKI is
/// configured). Both steps are idempotent, so repeating a ban is harmless.
pub async fn ban_and_revoke(
    registry: &dyn CentreRegistry,
    pki: Option<&CentrePki>,
    uuid: &str,
    reason: &str,
) -> Result<DeviceRecord, BanError> {
    let record = registry.ban(uuid, reason).await?;
    if let Some(pki) = pki {
        let serials = pki
            .revoke(uuid, RevocationReason::KeyCompromise)
            .await
            .map_err(|source| BanError::Revoke {
                uuid: uuid.to_string(),
                source,
            })?;
        tracing::info!(device = %uuid, revoked = serials.len(), reason, "device banned and its certificates revoked");
    }
    Ok(record)
}
