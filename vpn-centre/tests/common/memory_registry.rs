//! `MemoryRegistry`: in-process test double of the ledger's device registry, for dashboard tests.
//! It keeps records and a per-device history in a map; beyond that it only refuses a virtual IP
//! held by another device, as the chaincode does, and can lose the next address writes as a
//! write losing an MVCC conflict would (which a shared live ledger cannot do on cue).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use device_record::contract::HistoryEntry;
use device_record::{DeviceRecord, KeyAlgorithm, NodeType};
use vpn_centre::registry::{CentreRegistry, RegistryError, RegistryFuture};

#[derive(Default)]
pub struct MemoryRegistry {
    devices: Mutex<BTreeMap<String, Vec<HistoryEntry>>>,
    tx: AtomicU64,
    /// Address writes still to fail as lost to a concurrent change.
    conflicts: AtomicU64,
}

/// A gateway record with distinguishable IP and fingerprint.
pub fn gateway(uuid: &str, n: u8) -> DeviceRecord {
    DeviceRecord {
        uuid: uuid.to_string(),
        node_type: NodeType::Gateway,
        virtual_ip: format!("10.8.0.{n}"),
        public_key: "test double: no key material".into(),
        key_algorithm: KeyAlgorithm::Ed25519,
        key_fingerprint: format!("{n:02x}").repeat(32),
        banned: false,
        banned_timestamp: None,
        ban_reason: None,
        banned_by_msp: None,
        owner_msp: "Org1MSP".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-01T00:00:00Z".into(),
        version: 1,
        labels: BTreeMap::new(),
    }
}

impl MemoryRegistry {
    fn next_tx(&self) -> (String, String) {
        let n = self.tx.fetch_add(1, Ordering::Relaxed) + 1;
        (
            format!("tx{n:04}"),
            format!("2026-01-01T00:{:02}:00Z", n % 60),
        )
    }

    /// The next `n` virtual-IP writes fail as lost to a concurrent change.
    pub fn lose_next_ip_writes(&self, n: u64) {
        self.conflicts.store(n, Ordering::SeqCst);
    }

    pub fn register(&self, record: DeviceRecord) {
        let (tx_id, timestamp) = self.next_tx();
        self.devices.lock().unwrap().insert(
            record.uuid.clone(),
            vec![HistoryEntry {
                tx_id,
                timestamp,
                is_delete: false,
                record: Some(record),
            }],
        );
    }

    pub fn current(&self, uuid: &str) -> Option<DeviceRecord> {
        let map = self.devices.lock().unwrap();
        map.get(uuid)?.last()?.record.clone()
    }

    fn change(
        &self,
        uuid: &str,
        apply: impl FnOnce(&mut DeviceRecord, &str) -> bool,
    ) -> Result<DeviceRecord, RegistryError> {
        let (tx_id, timestamp) = self.next_tx();
        let mut map = self.devices.lock().unwrap();
        let history = map
            .get_mut(uuid)
            .ok_or_else(|| RegistryError::NotFound(uuid.to_string()))?;
        let mut record = history
            .last()
            .and_then(|e| e.record.clone())
            .ok_or_else(|| RegistryError::NotFound(uuid.to_string()))?;
        if apply(&mut record, &timestamp) {
            record.version += 1;
            record.updated_at = timestamp.clone();
            history.push(HistoryEntry {
                tx_id,
                timestamp,
                is_delete: false,
                record: Some(record.clone()),
            });
        }
        Ok(record)
    }
}

impl CentreRegistry for MemoryRegistry {
    fn list(&self) -> RegistryFuture<'_, Vec<DeviceRecord>> {
        Box::pin(async move {
            let map = self.devices.lock().unwrap();
            Ok(map
                .values()
                .filter_map(|h| h.last()?.record.clone())
                .collect())
        })
    }

    fn get<'a>(&'a self, uuid: &'a str) -> RegistryFuture<'a, Option<DeviceRecord>> {
        Box::pin(async move { Ok(self.current(uuid)) })
    }

    fn history<'a>(&'a self, uuid: &'a str) -> RegistryFuture<'a, Vec<HistoryEntry>> {
        Box::pin(async move {
            let map = self.devices.lock().unwrap();
            map.get(uuid)
                .cloned()
                .ok_or_else(|| RegistryError::NotFound(uuid.to_string()))
        })
    }

    fn ban<'a>(&'a self, uuid: &'a str, reason: &'a str) -> RegistryFuture<'a, DeviceRecord> {
        Box::pin(async move {
            self.change(uuid, |r, ts| {
                if r.banned {
                    return false;
                }
                r.banned = true;
                r.banned_timestamp = Some(ts.to_string());
                r.ban_reason = Some(reason.to_string());
                true
            })
        })
    }

    fn set_virtual_ip<'a>(&'a self, uuid: &'a str, ip: IpAddr) -> RegistryFuture<'a, DeviceRecord> {
        Box::pin(async move {
            let address = ip;
            let ip = ip.to_string();
            // Like the chaincode: an address belongs to one device only.
            if let Some(holder) = self
                .devices
                .lock()
                .unwrap()
                .values()
                .filter_map(|h| h.last()?.record.as_ref())
                .find(|r| r.virtual_ip == ip && r.uuid != uuid)
            {
                return Err(RegistryError::IpTaken {
                    ip: address,
                    holder: holder.uuid.clone(),
                });
            }
            let lose = self
                .conflicts
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            if lose.is_ok() {
                return Err(RegistryError::Conflict(format!(
                    "SetVirtualIp {uuid} {ip}: MVCC_READ_CONFLICT"
                )));
            }
            self.change(uuid, |r, _| {
                if r.virtual_ip == ip {
                    return false;
                }
                r.virtual_ip = ip.clone();
                true
            })
        })
    }

    fn unban<'a>(&'a self, uuid: &'a str) -> RegistryFuture<'a, DeviceRecord> {
        Box::pin(async move {
            self.change(uuid, |r, _| {
                if !r.banned {
                    return false;
                }
                r.banned = false;
                r.banned_timestamp = None;
                r.ban_reason = None;
                true
            })
        })
    }
}
