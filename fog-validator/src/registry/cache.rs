//! The whole device registry in memory, with each key parsed once, kept current by applying events in version order.
//!
//! A record read from the ledger on a cache miss is installed only if no event for that device
//! (and no snapshot) arrived while the read was in flight: otherwise a delete applied meanwhile
//! would be undone by the older read. Each device with reads in flight has a generation that every
//! such event bumps ([`RegistryCache::begin_read`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use device_record::{ChangeKind, DeviceRecord, RegistryEvent, parse_public_key_pem};
use signed_message::VerifyingKey;

/// One cached device: its record and its key, parsed when the record arrived.
#[derive(Debug)]
pub struct CachedDevice {
    pub record: DeviceRecord,
    /// The parsed key, or why the registered key cannot be used.
    pub key: Result<VerifyingKey, String>,
}

impl CachedDevice {
    /// Parses the record's key (accepting SPKI and PKCS#1 RSA PEM, as the registry does).
    pub fn new(record: DeviceRecord) -> Self {
        let key = parse_public_key_pem(&record.public_key)
            .map_err(|e| e.to_string())
            .and_then(|info| VerifyingKey::from_public_key(&info).map_err(|e| e.to_string()));
        Self { record, key }
    }
}

/// What [`RegistryCache::apply`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The record was inserted or replaced.
    Stored,
    /// The device was removed.
    Removed,
    /// The event was not newer than what the cache holds (or carried no record); nothing changed.
    Ignored,
}

#[derive(Default)]
struct Inner {
    devices: HashMap<String, Arc<CachedDevice>>,
    last_block: Option<u64>,
    last_tx: Option<String>,
    /// Devices with cache-miss reads in flight; bounded by the miss rate limit.
    reads: HashMap<String, InFlight>,
}

#[derive(Debug, Default)]
struct InFlight {
    readers: usize,
    /// Bumped by every event for the device, and by every snapshot.
    generation: u64,
}

/// A cache-miss read in flight; dropping it ends the read.
pub struct MissRead<'a> {
    cache: &'a RegistryCache,
    uuid: String,
    generation: u64,
}

impl Drop for MissRead<'_> {
    fn drop(&mut self) {
        let mut inner = self.cache.write();
        if let Some(read) = inner.reads.get_mut(&self.uuid) {
            read.readers -= 1;
            if read.readers == 0 {
                inner.reads.remove(&self.uuid);
            }
        }
    }
}

/// The registry cache: cheap concurrent reads, rare writes.
#[derive(Default)]
pub struct RegistryCache {
    inner: RwLock<Inner>,
}

impl RegistryCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the whole cache with a ledger snapshot taken at `block`.
    pub fn load_snapshot(&self, records: Vec<DeviceRecord>, block: u64) {
        // Parse keys before taking the lock so readers are never held up by RSA parsing.
        let devices = records
            .into_iter()
            .map(|r| (r.uuid.clone(), Arc::new(CachedDevice::new(r))))
            .collect();
        let mut inner = self.write();
        inner.devices = devices;
        inner.last_block = Some(block);
        inner.last_tx = None;
        // Reads begun before this snapshot are older than it.
        inner.reads.values_mut().for_each(|r| r.generation += 1);
    }

    /// Applies one event from `block`, only if its version is newer than the cached record's.
    pub fn apply(&self, event: &RegistryEvent, block: u64) -> Applied {
        let cached = match (&event.change, &event.record) {
            (ChangeKind::Deleted, _) => None,
            (_, Some(record)) => Some(Arc::new(CachedDevice::new(record.clone()))),
            (_, None) => {
                tracing::warn!(uuid = %event.uuid, change = ?event.change, "registry event without a record; ignored");
                None
            }
        };
        let mut inner = self.write();
        inner.last_block = Some(inner.last_block.map_or(block, |b| b.max(block)));
        inner.last_tx = Some(event.tx_id.clone());
        if let Some(read) = inner.reads.get_mut(&event.uuid) {
            read.generation += 1;
        }
        let held = inner.devices.get(&event.uuid).map(|d| d.record.version);
        match (event.change, cached) {
            (ChangeKind::Deleted, _) => match held {
                Some(version) if event.version >= version => {
                    inner.devices.remove(&event.uuid);
                    Applied::Removed
                }
                _ => Applied::Ignored,
            },
            (_, Some(device)) => {
                if held.is_some_and(|version| event.version <= version) {
                    return Applied::Ignored;
                }
                inner.devices.insert(event.uuid.clone(), device);
                Applied::Stored
            }
            (_, None) => Applied::Ignored,
        }
    }

    /// Starts a cache-miss read of `uuid`; pass it to [`RegistryCache::install_read`] with the record.
    pub fn begin_read(&self, uuid: &str) -> MissRead<'_> {
        let mut inner = self.write();
        let read = inner.reads.entry(uuid.to_owned()).or_default();
        read.readers += 1;
        let generation = read.generation;
        MissRead {
            cache: self,
            uuid: uuid.to_owned(),
            generation,
        }
    }

    /// Installs `record`, read by `read`, unless an event for the device or a snapshot arrived
    /// since the read began, or a record of the same or newer version is held. Returns what the
    /// cache holds for the device afterwards (`None` when a delete arrived meanwhile).
    pub fn install_read(
        &self,
        read: &MissRead<'_>,
        record: DeviceRecord,
    ) -> Option<Arc<CachedDevice>> {
        let device = Arc::new(CachedDevice::new(record));
        let mut inner = self.write();
        let overtaken = inner
            .reads
            .get(&read.uuid)
            .is_none_or(|r| r.generation != read.generation);
        if overtaken || device.record.uuid != read.uuid {
            return inner.devices.get(&read.uuid).cloned();
        }
        match inner.devices.get(&read.uuid) {
            Some(held) if held.record.version >= device.record.version => Some(held.clone()),
            _ => {
                inner.devices.insert(read.uuid.clone(), device.clone());
                Some(device)
            }
        }
    }

    /// The cached device, if any.
    pub fn get(&self, uuid: &str) -> Option<Arc<CachedDevice>> {
        self.read().devices.get(uuid).cloned()
    }

    /// Number of devices held.
    pub fn len(&self) -> usize {
        self.read().devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The last ledger block applied (snapshot or event).
    pub fn last_block(&self) -> Option<u64> {
        self.read().last_block
    }

    /// The block, transaction id and every record, as persisted by the checkpoint.
    pub fn export(&self) -> (Option<u64>, Option<String>, Vec<DeviceRecord>) {
        let inner = self.read();
        let mut records: Vec<DeviceRecord> =
            inner.devices.values().map(|d| d.record.clone()).collect();
        records.sort_by(|a, b| a.uuid.cmp(&b.uuid));
        (inner.last_block, inner.last_tx.clone(), records)
    }

    /// Restores a persisted state.
    pub fn restore(&self, block: u64, tx_id: Option<String>, records: Vec<DeviceRecord>) {
        self.load_snapshot(records, block);
        self.write().last_tx = tx_id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use device_record::NodeType;
    use signed_message::Algorithm;
    use test_doubles::TestDevice;

    fn event(
        change: ChangeKind,
        record: Option<DeviceRecord>,
        uuid: &str,
        version: u64,
    ) -> RegistryEvent {
        RegistryEvent {
            uuid: uuid.into(),
            change,
            version,
            record,
            tx_id: format!("tx-v{version}"),
            reason: None,
        }
    }

    #[test]
    fn applies_newer_versions_only_and_deletes() {
        let dev = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let cache = RegistryCache::new();
        cache.load_snapshot(vec![dev.record.clone()], 5);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&dev.uuid).unwrap().key.is_ok());

        let mut banned = dev.record.clone();
        banned.banned = true;
        banned.version = 2;
        let ban = event(ChangeKind::Banned, Some(banned.clone()), &dev.uuid, 2);
        assert_eq!(cache.apply(&ban, 6), Applied::Stored);
        assert!(cache.get(&dev.uuid).unwrap().record.banned);
        // The same event again, and an older one, change nothing.
        assert_eq!(cache.apply(&ban, 6), Applied::Ignored);
        let old = event(ChangeKind::Updated, Some(dev.record.clone()), &dev.uuid, 1);
        assert_eq!(cache.apply(&old, 7), Applied::Ignored);
        assert!(cache.get(&dev.uuid).unwrap().record.banned);
        assert_eq!(cache.last_block(), Some(7));

        let stale_delete = event(ChangeKind::Deleted, None, &dev.uuid, 1);
        assert_eq!(cache.apply(&stale_delete, 8), Applied::Ignored);
        let delete = event(ChangeKind::Deleted, None, &dev.uuid, 3);
        assert_eq!(cache.apply(&delete, 8), Applied::Removed);
        assert!(cache.get(&dev.uuid).is_none());
        assert_eq!(cache.apply(&delete, 8), Applied::Ignored);
    }

    #[test]
    fn unusable_key_is_kept_as_an_error_not_a_panic() {
        let dev = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let mut record = dev.record.clone();
        record.public_key = "not a key".into();
        let cache = RegistryCache::new();
        cache.load_snapshot(vec![record], 1);
        assert!(cache.get(&dev.uuid).unwrap().key.is_err());
    }

    #[test]
    fn fetched_record_does_not_replace_a_newer_one() {
        let dev = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let mut newer = dev.record.clone();
        newer.version = 4;
        newer.banned = true;
        let cache = RegistryCache::new();
        cache.install_read(&cache.begin_read(&dev.uuid), newer);
        let held = cache
            .install_read(&cache.begin_read(&dev.uuid), dev.record.clone())
            .unwrap();
        assert!(held.record.banned);
        assert_eq!(held.record.version, 4);
    }

    #[test]
    fn a_read_overtaken_by_a_delete_or_a_snapshot_is_not_installed() {
        let dev = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let other = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let cache = RegistryCache::new();
        let read = cache.begin_read(&dev.uuid);
        // An event for another device does not touch this read.
        let ev = event(
            ChangeKind::Registered,
            Some(other.record.clone()),
            &other.uuid,
            1,
        );
        cache.apply(&ev, 3);
        // The device is deleted while its (older) record is on the way.
        let deleted = event(ChangeKind::Deleted, None, &dev.uuid, 2);
        assert_eq!(cache.apply(&deleted, 4), Applied::Ignored);
        assert!(cache.install_read(&read, dev.record.clone()).is_none());
        assert!(
            cache.get(&dev.uuid).is_none(),
            "the deleted device came back"
        );
        drop(read);

        // A snapshot loaded meanwhile also wins over a read begun before it.
        let read = cache.begin_read(&dev.uuid);
        cache.load_snapshot(vec![other.record.clone()], 5);
        assert!(cache.install_read(&read, dev.record.clone()).is_none());
        drop(read);

        // With nothing in between, the read is installed, and finished reads leave nothing behind.
        let read = cache.begin_read(&dev.uuid);
        assert!(cache.install_read(&read, dev.record.clone()).is_some());
        drop(read);
        assert!(cache.get(&dev.uuid).is_some());
        assert!(cache.read().reads.is_empty());
    }
}
