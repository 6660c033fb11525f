//! What the validators' listener enforces beyond the TLS handshake: which certificate holders may
//! use the warnings API, and the auto-ban that authenticated warnings feed.

use std::sync::Arc;

use crate::autoban::{AutoBanPolicy, AutoBanTracker, proves_misbehaviour};
use crate::ban::ban_and_revoke;
use crate::pki::CentrePki;
use crate::registry::{CentreRegistry, RegistryError};
use crate::submitter::{Standing, counts_for_autoban, standing};
use vpn_pki::CertIdentity;
use warnings_api::NewWarning;

/// Registry, PKI and auto-ban state shared by the validators' listener.
pub struct Enforcement {
    registry: Option<Arc<dyn CentreRegistry>>,
    pki: Option<Arc<CentrePki>>,
    autoban: AutoBanTracker,
}

impl Enforcement {
    pub fn new(
        registry: Option<Arc<dyn CentreRegistry>>,
        pki: Option<Arc<CentrePki>>,
        policy: AutoBanPolicy,
    ) -> Self {
        Self {
            registry,
            pki,
            autoban: AutoBanTracker::new(policy),
        }
    }

    /// What the registry says about the certificate holder.
    pub async fn standing(&self, who: &CertIdentity) -> Result<Standing, RegistryError> {
        standing(self.registry.as_deref(), who).await
    }

    /// Feeds stored warnings to the auto-ban policy and bans every device that crosses it.
    /// Only warnings from validators the registry vouches for, naming an offender device, with a
    /// code that proves misbehaviour ([`proves_misbehaviour`]) count. Failures are logged: the
    /// warnings themselves are stored.
    pub async fn after_stored(
        &self,
        warnings: &[NewWarning],
        received_ms: u64,
        submitter: Standing,
    ) {
        let Some(registry) = self.registry.as_deref() else {
            return;
        };
        if !counts_for_autoban(submitter) {
            return;
        }
        for w in warnings {
            let Some(device) = &w.offender_device else {
                continue;
            };
            if !proves_misbehaviour(w.code, w.stale) {
                continue;
            }
            if !self.autoban.observe(device, &w.submitter, received_ms) {
                continue;
            }
            let reason = self.autoban.policy().to_string();
            // Banned once: an already banned device is left as it is (its ban reason too).
            match registry.get(device).await {
                Ok(Some(r)) if r.banned => continue,
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::warn!(device = %device, "auto-ban tripped for a device the registry does not know");
                    continue;
                }
                Err(e) => {
                    tracing::error!(device = %device, error = %e, "auto-ban cannot read the registry");
                    continue;
                }
            }
            match ban_and_revoke(registry, self.pki.as_deref(), device, &reason).await {
                Ok(_) => tracing::warn!(device = %device, %reason, "device auto-banned"),
                Err(e) => tracing::error!(device = %device, error = %e, "auto-ban failed"),
            }
        }
    }
}
