//! Recently accepted telemetry kept in RAM for `telemetry.recent`: a ring buffer per device, bounded in devices.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

/// One accepted reading as answered by `telemetry.recent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecentEntry {
    pub device: String,
    pub seq: u64,
    pub ts_ms: u64,
    pub received_ms: u64,
    pub data: serde_json::Value,
}

struct DeviceRing {
    touched: u64,
    entries: VecDeque<RecentEntry>,
}

#[derive(Default)]
struct Inner {
    tick: u64,
    devices: HashMap<String, DeviceRing>,
    /// touched tick -> device, to find the least recently updated device quickly.
    by_touch: BTreeMap<u64, String>,
}

/// Bounded store of recent entries: at most `per_device` per device and `max_devices` devices
/// (the least recently updated device is forgotten first).
pub struct RecentStore {
    per_device: usize,
    max_devices: usize,
    inner: Mutex<Inner>,
}

impl RecentStore {
    pub fn new(per_device: usize, max_devices: usize) -> Self {
        Self {
            per_device: per_device.max(1),
            max_devices: max_devices.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Records an accepted entry.
    pub fn push(&self, entry: RecentEntry) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        if !inner.devices.contains_key(&entry.device) && inner.devices.len() >= self.max_devices {
            if let Some((_, oldest)) = inner.by_touch.pop_first() {
                inner.devices.remove(&oldest);
            }
        }
        let device = entry.device.clone();
        let ring = inner.devices.entry(device.clone()).or_insert(DeviceRing {
            touched: 0,
            entries: VecDeque::new(),
        });
        let old_touch = std::mem::replace(&mut ring.touched, tick);
        if ring.entries.len() >= self.per_device {
            ring.entries.pop_front();
        }
        ring.entries.push_back(entry);
        inner.by_touch.remove(&old_touch);
        inner.by_touch.insert(tick, device);
    }

    /// Up to `limit` newest entries of a device, newest first.
    pub fn recent(&self, device: &str, limit: usize) -> Vec<RecentEntry> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .devices
            .get(device)
            .map(|ring| ring.entries.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }

    /// Number of devices currently held.
    pub fn device_count(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .devices
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(device: &str, seq: u64) -> RecentEntry {
        RecentEntry {
            device: device.into(),
            seq,
            ts_ms: seq * 10,
            received_ms: seq * 10 + 1,
            data: serde_json::json!({ "t": seq }),
        }
    }

    #[test]
    fn keeps_newest_per_device_newest_first() {
        let store = RecentStore::new(3, 10);
        for seq in 1..=5 {
            store.push(entry("a", seq));
        }
        let seqs: Vec<u64> = store.recent("a", 10).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![5, 4, 3]);
        assert_eq!(store.recent("a", 2).len(), 2);
        assert!(store.recent("b", 10).is_empty());
    }

    #[test]
    fn forgets_least_recently_updated_device() {
        let store = RecentStore::new(2, 2);
        store.push(entry("a", 1));
        store.push(entry("b", 1));
        store.push(entry("a", 2)); // a is now fresher than b
        store.push(entry("c", 1)); // evicts b
        assert_eq!(store.device_count(), 2);
        assert!(store.recent("b", 10).is_empty());
        assert_eq!(store.recent("a", 10).len(), 2);
        assert_eq!(store.recent("c", 10).len(), 1);
    }
}
