//! The registry as the PKI's enrolment flow reads and writes it: [`CentreRegistry`] behind vpn-pki's `EnrolmentLedger`.

use std::net::IpAddr;
use std::sync::Arc;

use device_record::DeviceRecord;
use vpn_pki::{EnrolmentLedger, LedgerError};

use crate::registry::{CentreRegistry, RegistryError};

/// Hands enrolment's ledger steps to the centre's registry; with no registry configured every
/// step fails as "unavailable", so nobody can enrol against a ledger the centre cannot see.
#[derive(Clone, Default)]
pub struct LedgerBridge {
    registry: Option<Arc<dyn CentreRegistry>>,
}

impl LedgerBridge {
    pub fn new(registry: Option<Arc<dyn CentreRegistry>>) -> Self {
        Self { registry }
    }

    fn registry(&self) -> Result<&Arc<dyn CentreRegistry>, LedgerError> {
        self.registry.as_ref().ok_or_else(|| {
            LedgerError::Unavailable("the VPN Centre has no ledger connection configured".into())
        })
    }
}

/// A registry failure as enrolment reports it: an unreachable ledger is worth retrying later; a
/// taken address or a lost write makes enrolment try the next address.
pub(crate) fn ledger_error(e: RegistryError) -> LedgerError {
    match e {
        RegistryError::Unavailable(m) => LedgerError::Unavailable(m),
        RegistryError::IpTaken { ip, holder } => LedgerError::IpTaken { ip, holder },
        RegistryError::Conflict(m) => LedgerError::Conflict(m),
        RegistryError::NotFound(_) | RegistryError::Refused(_) => {
            LedgerError::Rejected(e.to_string())
        }
    }
}

impl EnrolmentLedger for LedgerBridge {
    async fn get_device(&self, uuid: &str) -> Result<Option<DeviceRecord>, LedgerError> {
        self.registry()?.get(uuid).await.map_err(ledger_error)
    }

    async fn set_virtual_ip(&self, uuid: &str, ip: IpAddr) -> Result<(), LedgerError> {
        self.registry()?
            .set_virtual_ip(uuid, ip)
            .await
            .map(|_| ())
            .map_err(ledger_error)
    }
}
