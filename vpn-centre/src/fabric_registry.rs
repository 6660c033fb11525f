//! `FabricRegistry`: the device registry on the ledger, read and written as the centre's Fabric admin identity.
//!
//! Reads are evaluated (`ListDevices`, `GetDevice`, `GetDeviceHistory`); bans, unbans and virtual
//! IPs are submitted transactions (`BanDevice`, `UnbanDevice`, `SetVirtualIp`) that return once
//! committed, so what the dashboard shows next is what validators will enforce. The contract lets
//! only the device's owning organisation set its address, and only the banning organisation or
//! the owner lift a ban.

use std::net::IpAddr;

use device_record::DeviceRecord;
use device_record::contract::{DevicePage, HistoryEntry, not_registered};
use fabric_client::{
    Contract, Deadlines, GatewayError, LedgerConnectError, LedgerSettings, TxValidationCode,
    connect,
};
use tonic::Code;
use vpn_pki::{EnrolmentLedger, LedgerError};

use crate::ledger_bridge::ledger_error;
use crate::registry::{CentreRegistry, RegistryError, RegistryFuture};

/// Records per `ListDevices` call (the contract allows up to 1000).
const PAGE_SIZE: u32 = 500;

/// The registry chaincode as the centre uses it.
pub struct FabricRegistry {
    contract: Contract,
}

impl FabricRegistry {
    /// Uses `contract`; its network's identity signs every request and must be a registry admin
    /// for bans, unbans and virtual IPs.
    pub fn new(contract: Contract) -> Self {
        Self { contract }
    }

    /// Builds the registry from `network.json`, an organisation and an identity; does not dial
    /// yet. Every call has the default deadlines ([`Deadlines::default`]).
    pub fn from_settings(settings: &LedgerSettings) -> Result<Self, LedgerConnectError> {
        Self::from_settings_with(settings, Deadlines::default())
    }

    /// [`FabricRegistry::from_settings`] with the given per-call deadlines.
    pub fn from_settings_with(
        settings: &LedgerSettings,
        deadlines: Deadlines,
    ) -> Result<Self, LedgerConnectError> {
        let connection = connect(settings)?;
        let contract = connection.network.contract(connection.chaincode);
        Ok(Self::new(contract.with_deadlines(deadlines)))
    }

    async fn evaluate(&self, function: &str, args: &[&[u8]]) -> Result<Vec<u8>, GatewayError> {
        self.contract.evaluate(function, args).await
    }

    async fn submit_record(
        &self,
        uuid: &str,
        function: &str,
        args: &[&[u8]],
    ) -> Result<DeviceRecord, RegistryError> {
        let done = self
            .contract
            .submit(function, args)
            .await
            .map_err(|e| registry_error(&e, uuid))?;
        parse_record(function, &done.payload)
    }

    async fn read_device(&self, uuid: &str) -> Result<Option<DeviceRecord>, RegistryError> {
        match self.evaluate("GetDevice", &[uuid.as_bytes()]).await {
            Ok(bytes) => parse_record("GetDevice", &bytes).map(Some),
            Err(e) => match registry_error(&e, uuid) {
                RegistryError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }
}

fn parse_record(function: &str, bytes: &[u8]) -> Result<DeviceRecord, RegistryError> {
    DeviceRecord::from_json(bytes).map_err(|e| {
        RegistryError::Refused(format!(
            "{function} answered a malformed record ({e}); check the chaincode version"
        ))
    })
}

/// Sorts a Gateway failure into what the caller can do about it: the contract's "not registered"
/// is `NotFound`, an unreachable or silent peer is `Unavailable`, a write lost to a concurrent
/// one is `Conflict`, anything else the ledger refused.
pub(crate) fn registry_error(e: &GatewayError, uuid: &str) -> RegistryError {
    // Built by `device-record` for the contract and its clients, so the text cannot drift.
    let not_registered = not_registered(uuid);
    match e {
        GatewayError::Connect { .. } | GatewayError::Timeout { .. } => {
            RegistryError::Unavailable(e.to_string())
        }
        GatewayError::Commit(c)
            if matches!(
                c.code,
                TxValidationCode::MvccReadConflict | TxValidationCode::PhantomReadConflict
            ) =>
        {
            RegistryError::Conflict(e.to_string())
        }
        _ => match e.peer_status() {
            Some(s)
                if s.message.contains(&not_registered)
                    || s.details
                        .iter()
                        .any(|d| d.message.contains(&not_registered)) =>
            {
                RegistryError::NotFound(uuid.to_string())
            }
            Some(s) if matches!(s.code, Code::Unavailable | Code::DeadlineExceeded) => {
                RegistryError::Unavailable(e.to_string())
            }
            _ => RegistryError::Refused(e.to_string()),
        },
    }
}

/// The device the contract names when it refuses `ip` as already assigned, if `e` is that refusal.
fn taken_by(e: &GatewayError, ip: &str) -> Option<String> {
    let status = e.peer_status()?;
    std::iter::once(status.message.as_str())
        .chain(status.details.iter().map(|d| d.message.as_str()))
        .find_map(|message| holder_named(message, ip))
}

/// The holder in the contract's refusal "virtual IP {ip} is already assigned to device {holder};
/// …" within `message`. Only the part up to the UUID is matched, so a change to the advice after
/// it does not hide the refusal.
fn holder_named(message: &str, ip: &str) -> Option<String> {
    let marker = device_record::contract::ip_taken_prefix(ip);
    let rest = &message[message.find(&marker)? + marker.len()..];
    let holder: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!holder.is_empty()).then_some(holder)
}

impl CentreRegistry for FabricRegistry {
    fn list(&self) -> RegistryFuture<'_, Vec<DeviceRecord>> {
        Box::pin(async move {
            let page_size = PAGE_SIZE.to_string();
            let mut bookmark = String::new();
            let mut records = Vec::new();
            loop {
                let bytes = self
                    .evaluate("ListDevices", &[page_size.as_bytes(), bookmark.as_bytes()])
                    .await
                    .map_err(|e| registry_error(&e, ""))?;
                let page: DevicePage = serde_json::from_slice(&bytes).map_err(|e| {
                    RegistryError::Refused(format!(
                        "ListDevices answered a malformed page ({e}); check the chaincode version"
                    ))
                })?;
                records.extend(page.records);
                if page.bookmark.is_empty() {
                    // The contract pages in key order; sort anyway, the trait promises UUID order.
                    records.sort_by(|a, b| a.uuid.cmp(&b.uuid));
                    return Ok(records);
                }
                bookmark = page.bookmark;
            }
        })
    }

    fn get<'a>(&'a self, uuid: &'a str) -> RegistryFuture<'a, Option<DeviceRecord>> {
        Box::pin(self.read_device(uuid))
    }

    fn history<'a>(&'a self, uuid: &'a str) -> RegistryFuture<'a, Vec<HistoryEntry>> {
        Box::pin(async move {
            let bytes = self
                .evaluate("GetDeviceHistory", &[uuid.as_bytes()])
                .await
                .map_err(|e| registry_error(&e, uuid))?;
            serde_json::from_slice(&bytes).map_err(|e| {
                RegistryError::Refused(format!(
                    "GetDeviceHistory answered a malformed history ({e}); check the chaincode version"
                ))
            })
        })
    }

    fn ban<'a>(&'a self, uuid: &'a str, reason: &'a str) -> RegistryFuture<'a, DeviceRecord> {
        Box::pin(async move {
            self.submit_record(uuid, "BanDevice", &[uuid.as_bytes(), reason.as_bytes()])
                .await
        })
    }

    fn unban<'a>(&'a self, uuid: &'a str) -> RegistryFuture<'a, DeviceRecord> {
        Box::pin(async move {
            self.submit_record(uuid, "UnbanDevice", &[uuid.as_bytes()])
                .await
        })
    }

    fn set_virtual_ip<'a>(&'a self, uuid: &'a str, ip: IpAddr) -> RegistryFuture<'a, DeviceRecord> {
        Box::pin(async move {
            let record = self
                .read_device(uuid)
                .await?
                .ok_or_else(|| RegistryError::NotFound(uuid.to_string()))?;
            if record.virtual_ip.parse::<IpAddr>().ok() == Some(ip) {
                return Ok(record);
            }
            // SetVirtualIp changes the address alone, so a key rotation or ban committed after
            // the read above stays as it is.
            let text = ip.to_string();
            let args: [&[u8]; 2] = [uuid.as_bytes(), text.as_bytes()];
            match self.contract.submit("SetVirtualIp", &args).await {
                Ok(done) => parse_record("SetVirtualIp", &done.payload),
                Err(e) => Err(match taken_by(&e, &text) {
                    Some(holder) => RegistryError::IpTaken { ip, holder },
                    None => registry_error(&e, uuid),
                }),
            }
        })
    }
}

/// Enrolment's ledger steps straight on the ledger (the same calls as [`CentreRegistry`]).
impl EnrolmentLedger for FabricRegistry {
    async fn get_device(&self, uuid: &str) -> Result<Option<DeviceRecord>, LedgerError> {
        self.read_device(uuid).await.map_err(ledger_error)
    }

    async fn set_virtual_ip(&self, uuid: &str, ip: IpAddr) -> Result<(), LedgerError> {
        CentreRegistry::set_virtual_ip(self, uuid, ip)
            .await
            .map(|_| ())
            .map_err(ledger_error)
    }
}

#[cfg(test)]
mod tests {
    use super::holder_named;

    #[test]
    fn the_holder_is_read_from_the_contracts_refusal() {
        let holder = "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b";
        let message = format!(
            "chaincode response 500, virtual IP 10.8.0.2 is already assigned to device {holder}; \
             choose a free address"
        );
        assert_eq!(holder_named(&message, "10.8.0.2").as_deref(), Some(holder));
        assert_eq!(holder_named(&message, "10.8.0.3"), None);
        assert_eq!(
            holder_named("device d1 is not registered", "10.8.0.2"),
            None
        );
    }
}
