//! `StaticRegistryFeed`: the fog validator's `RegistryFeed` (the ledger's registry) in memory, for tests of the validator's own decisions, which need a registry that changes, fails and recovers on cue; a shared real ledger cannot go down for one test.
//!
//! It holds records and an event log, numbers each change as a new block, counts lookups, can
//! be made unreachable, and can hold lookups after they read (to race them with events). Tests that use it (message path, client auth, sink stores, outbound TLS,
//! the benchmark, the edge gateway's restart test) check what the validator decides and forwards,
//! not how it reads Fabric; `FabricRegistryFeed` against the live network is tested in
//! fog-validator/tests/fabric_registry.rs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use device_record::{ChangeKind, DeviceRecord, RegistryEvent};
use tokio::sync::mpsc;

use fog_validator::registry::feed::{BoxFuture, EventStream, FeedError, RegistryFeed};

#[derive(Default)]
struct State {
    records: HashMap<String, DeviceRecord>,
    log: Vec<(u64, RegistryEvent)>,
    block: u64,
    subscribers: Vec<mpsc::Sender<(u64, RegistryEvent)>>,
}

/// In-process test double of the ledger-backed registry feed: holds records and an event log in
/// memory, numbers each change as a new block, and can be made unreachable. It is not Fabric;
/// production uses `FabricRegistryFeed`.
#[derive(Default)]
pub struct StaticRegistryFeed {
    state: Mutex<State>,
    unreachable: AtomicBool,
    lookups: AtomicU64,
    /// While set, each lookup reads its record, then waits until the value turns true.
    gate: Mutex<Option<tokio::sync::watch::Sender<bool>>>,
    held: AtomicU64,
}

impl StaticRegistryFeed {
    /// A feed holding `records` at block 1.
    pub fn new(records: Vec<DeviceRecord>) -> Self {
        let feed = Self::default();
        {
            let mut state = feed.lock();
            state.block = 1;
            state.records = records.into_iter().map(|r| (r.uuid.clone(), r)).collect();
        }
        feed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes every call fail (as if the ledger were down) or succeed again.
    pub fn set_reachable(&self, reachable: bool) {
        self.unreachable.store(!reachable, Ordering::SeqCst);
        if !reachable {
            // Dropping the senders ends every open stream, like a lost connection.
            self.lock().subscribers.clear();
        }
    }

    /// How many times `get_device` was called.
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::SeqCst)
    }

    /// Holds every later lookup after it has read its record, until [`Self::release_lookups`]:
    /// the read result is then delivered late, as a slow peer would.
    pub fn hold_lookups(&self) {
        let mut gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        *gate = Some(tokio::sync::watch::Sender::new(false));
    }

    /// Lets every held lookup deliver what it read, and stops holding new ones.
    pub fn release_lookups(&self) {
        let gate = self.gate.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(gate) = gate {
            gate.send_replace(true);
        }
    }

    /// Lookups that have read their record and wait at the gate.
    pub fn held_lookups(&self) -> u64 {
        self.held.load(Ordering::SeqCst)
    }

    /// Stores `record` (version as given) without any event, like a commit whose event has not
    /// reached the validator yet: only a lookup sees it.
    pub fn put_unannounced(&self, record: DeviceRecord) {
        self.lock().records.insert(record.uuid.clone(), record);
    }

    /// Commits a new version of `record` (Registered if new, else `change`) in a new block; returns the block.
    pub fn commit(&self, change: ChangeKind, mut record: DeviceRecord) -> u64 {
        let mut state = self.lock();
        let change = match state.records.get(&record.uuid) {
            Some(old) => {
                record.version = old.version + 1;
                change
            }
            None => ChangeKind::Registered,
        };
        state.records.insert(record.uuid.clone(), record.clone());
        let event = RegistryEvent {
            uuid: record.uuid.clone(),
            change,
            version: record.version,
            reason: record.ban_reason.clone(),
            record: Some(record),
            tx_id: String::new(),
        };
        Self::publish(&mut state, event)
    }

    /// Commits a deletion in a new block; returns the block, or `None` if the device is unknown.
    pub fn delete(&self, uuid: &str) -> Option<u64> {
        let mut state = self.lock();
        let old = state.records.remove(uuid)?;
        let event = RegistryEvent {
            uuid: uuid.to_owned(),
            change: ChangeKind::Deleted,
            version: old.version + 1,
            record: None,
            tx_id: String::new(),
            reason: None,
        };
        Some(Self::publish(&mut state, event))
    }

    fn publish(state: &mut State, mut event: RegistryEvent) -> u64 {
        state.block += 1;
        let block = state.block;
        event.tx_id = format!("tx{block}");
        state.log.push((block, event.clone()));
        state
            .subscribers
            .retain(|tx| tx.try_send((block, event.clone())).is_ok());
        block
    }

    fn check(&self) -> Result<(), FeedError> {
        if self.unreachable.load(Ordering::SeqCst) {
            Err(FeedError(
                "the test registry feed is set unreachable".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl RegistryFeed for StaticRegistryFeed {
    fn snapshot(&self) -> BoxFuture<'_, Result<(Vec<DeviceRecord>, u64), FeedError>> {
        Box::pin(async move {
            self.check()?;
            let state = self.lock();
            Ok((state.records.values().cloned().collect(), state.block))
        })
    }

    fn events_from(&self, from_block: u64) -> BoxFuture<'_, Result<EventStream, FeedError>> {
        Box::pin(async move {
            self.check()?;
            let mut state = self.lock();
            let (tx, rx) = mpsc::channel(1024);
            for (block, event) in state.log.iter().filter(|(b, _)| *b >= from_block) {
                tx.try_send((*block, event.clone()))
                    .map_err(|_| FeedError("event backlog over 1024 events".into()))?;
            }
            state.subscribers.push(tx);
            Ok(rx)
        })
    }

    fn get_device<'a>(
        &'a self,
        uuid: &'a str,
    ) -> BoxFuture<'a, Result<Option<DeviceRecord>, FeedError>> {
        Box::pin(async move {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            self.check()?;
            let record = self.lock().records.get(uuid).cloned();
            let gate = self
                .gate
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|g| g.subscribe());
            if let Some(mut open) = gate {
                self.held.fetch_add(1, Ordering::SeqCst);
                // A dropped sender (feed gone) also lets it through.
                let _ = open.wait_for(|open| *open).await;
                self.held.fetch_sub(1, Ordering::SeqCst);
            }
            Ok(record)
        })
    }

    fn probe(&self) -> BoxFuture<'_, Result<u64, FeedError>> {
        Box::pin(async move {
            self.check()?;
            Ok(self.lock().block)
        })
    }
}
