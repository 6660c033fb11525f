//! What the PKI needs from the device registry on the ledger, and an in-process test double of it.
//!
//! The Fabric-backed implementation (evaluate `GetDevice`; submit `UpdateDevice` with the new
//! virtual IP as a registry administrator) lives with the VPN Centre's Fabric client.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use device_record::DeviceRecord;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LedgerError {
    #[error("ledger unavailable: {0}; retry when the Fabric gateway is reachable")]
    Unavailable(String),
    #[error("ledger refused the change: {0}")]
    Rejected(String),
}

/// Reads a device record and writes its virtual IP.
pub trait RegistryLedger: Send + Sync {
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

/// In-process test double of the Fabric ledger: a map of records that, like the chaincode,
/// refuses a virtual IP already held by another device. Writes can be made to fail to test
/// that a failed enrolment leaves nothing behind.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    records: Mutex<HashMap<String, DeviceRecord>>,
    fail_writes: AtomicBool,
}

impl MemoryLedger {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&self, record: DeviceRecord) {
        self.lock().insert(record.uuid.clone(), record);
    }

    pub fn remove(&self, uuid: &str) -> Option<DeviceRecord> {
        self.lock().remove(uuid)
    }

    pub fn get(&self, uuid: &str) -> Option<DeviceRecord> {
        self.lock().get(uuid).cloned()
    }

    pub fn set_banned(&self, uuid: &str, banned: bool) {
        if let Some(r) = self.lock().get_mut(uuid) {
            r.banned = banned;
        }
    }

    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, DeviceRecord>> {
        // A panic while holding the lock cannot leave a half-written map; keep using it.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RegistryLedger for MemoryLedger {
    async fn get_device(&self, uuid: &str) -> Result<Option<DeviceRecord>, LedgerError> {
        Ok(self.get(uuid))
    }

    async fn set_virtual_ip(&self, uuid: &str, ip: IpAddr) -> Result<(), LedgerError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(LedgerError::Unavailable(
                "test double set to fail writes".into(),
            ));
        }
        let ip = ip.to_string();
        let mut records = self.lock();
        if let Some(holder) = records
            .values()
            .find(|r| r.virtual_ip == ip && r.uuid != uuid)
        {
            return Err(LedgerError::Rejected(format!(
                "virtual IP {ip} already belongs to {}",
                holder.uuid
            )));
        }
        let record = records
            .get_mut(uuid)
            .ok_or_else(|| LedgerError::Rejected(format!("device {uuid} is not registered")))?;
        record.virtual_ip = ip;
        record.version += 1;
        Ok(())
    }
}
