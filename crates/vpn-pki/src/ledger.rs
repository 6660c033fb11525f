//! What the PKI needs from the device registry on the ledger: the `EnrolmentLedger` trait and its errors.
//!
//! The Fabric-backed implementation (evaluate `GetDevice`; submit `SetVirtualIp` as a registry
//! administrator, whose refusal of a taken address becomes [`LedgerError::IpTaken`]) lives with
//! the VPN Centre's Fabric client; the in-memory one the PKI's tests use is
//! `MemoryEnrolmentLedger` in the test-only `test-doubles` crate.

use std::future::Future;
use std::net::IpAddr;

use device_record::DeviceRecord;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LedgerError {
    #[error("ledger unavailable: {0}; retry when the Fabric gateway is reachable")]
    Unavailable(String),
    #[error("ledger refused the change: {0}")]
    Rejected(String),
    /// The registry gives the address to another device (e.g. one registered by hand).
    #[error("virtual IP {ip} is already assigned to device {holder} on the ledger")]
    IpTaken { ip: IpAddr, holder: String },
    /// The write was ordered but lost to a concurrent change of the same keys (MVCC conflict).
    #[error("ledger write lost to a concurrent change: {0}")]
    Conflict(String),
}

/// The registry as enrolment uses it: reads a device record and writes its virtual IP.
pub trait EnrolmentLedger: Send + Sync {
    fn get_device(
        &self,
        uuid: &str,
    ) -> impl Future<Output = Result<Option<DeviceRecord>, LedgerError>> + Send;

    fn set_virtual_ip(
        &self,
        uuid: &str,
        ip: IpAddr,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
}
