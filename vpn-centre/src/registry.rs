//! What the centre needs from the device registry on the ledger: reads, history, ban, unban and the virtual IP.
//!
//! The Fabric implementation is [`crate::fabric_registry::FabricRegistry`] (queries and
//! admin-signed transactions); when no ledger is configured the dashboard says it is not connected.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use device_record::DeviceRecord;
use device_record::contract::HistoryEntry;

/// A boxed future, so implementations can be held as `Arc<dyn CentreRegistry>`.
pub type RegistryFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, RegistryError>> + Send + 'a>>;

/// Why a registry call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("no device with UUID {0}")]
    NotFound(String),
    #[error("the ledger refused the request: {0}")]
    Refused(String),
    #[error("the ledger cannot be reached: {0}; check the peer connection and retry")]
    Unavailable(String),
    /// `SetVirtualIp` refused: the registry gives the address to another device.
    #[error("virtual IP {ip} is already assigned to device {holder} on the ledger")]
    IpTaken { ip: IpAddr, holder: String },
    /// The write was ordered but lost to a concurrent change of the same keys.
    #[error("the ledger write lost to a concurrent change: {0}; retry")]
    Conflict(String),
}

/// The registry as the centre uses it: the dashboard, enrolment, auto-ban and the callers'
/// standing on the validators' listener.
pub trait CentreRegistry: Send + Sync {
    /// Every device, ordered by UUID.
    fn list(&self) -> RegistryFuture<'_, Vec<DeviceRecord>>;
    /// One device, or `None` when it is not registered.
    fn get<'a>(&'a self, uuid: &'a str) -> RegistryFuture<'a, Option<DeviceRecord>>;
    /// Every committed change of one device, oldest first.
    fn history<'a>(&'a self, uuid: &'a str) -> RegistryFuture<'a, Vec<HistoryEntry>>;
    /// Bans a device; banning a banned device changes nothing.
    fn ban<'a>(&'a self, uuid: &'a str, reason: &'a str) -> RegistryFuture<'a, DeviceRecord>;
    /// Lifts a ban; unbanning an active device changes nothing.
    fn unban<'a>(&'a self, uuid: &'a str) -> RegistryFuture<'a, DeviceRecord>;
    /// Records the virtual IP assigned at enrolment; the ledger refuses one held by another device.
    fn set_virtual_ip<'a>(&'a self, uuid: &'a str, ip: IpAddr) -> RegistryFuture<'a, DeviceRecord>;
}
