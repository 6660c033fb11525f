//! `MemoryEnrolmentLedger`: vpn-pki's `EnrolmentLedger` (the device registry on the ledger) in memory, for enrolment tests that need the ledger to refuse or fail a write on cue and a record edited directly; a shared real ledger cannot fail one test's write.
//!
//! With it crates/vpn-pki/tests check the PKI's own rules over real SQLite: the IP recorded on
//! the ledger, refusals, and that a failed ledger write leaves no certificate, lease or token use
//! behind. The Fabric-backed `EnrolmentLedger` (vpn-centre's `FabricRegistry`) is tested against
//! the live network in vpn-centre/tests/fabric_ledger.rs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use device_record::DeviceRecord;
use vpn_pki::{EnrolmentLedger, LedgerError};

/// In-process test double of the Fabric ledger: a map of records that, like the chaincode,
/// refuses a virtual IP already held by another device. Writes can be made to fail to test
/// that a failed enrolment leaves nothing behind.
#[derive(Debug, Default)]
pub struct MemoryEnrolmentLedger {
    records: Mutex<HashMap<String, DeviceRecord>>,
    fail_writes: AtomicBool,
}

impl MemoryEnrolmentLedger {
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

impl EnrolmentLedger for MemoryEnrolmentLedger {
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
