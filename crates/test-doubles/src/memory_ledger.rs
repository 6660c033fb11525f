//! `MemoryLedger`: the world state a peer serves the contract, in memory, so contract tests can compare the whole committed state around each refusal, which a shared, never-reset real ledger cannot show.
//!
//! It lets chaincode/tests run the contract's logic alone over the `Ledger` trait: every refusal,
//! with the committed state and events compared before and after, in microseconds. It keeps
//! committed state, a write set per transaction applied only on commit, per-key history, paginated
//! range queries with bookmarks, the one event per committed transaction, and each key's
//! validation parameter (key-level policy; dropped with the key). It does not model endorsement,
//! policy evaluation, MVCC conflicts or ordering; the contract on a real peer is tested in
//! chaincode/tests/live_peer_cli.rs and crates/fabric-client/tests/live*.

use std::collections::{BTreeMap, HashMap};

use device_record::TxTimestamp;
use device_registry::{Creator, KeyModification, Ledger, LedgerError, RangePage, StateEntry};

/// An event of a committed transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedEvent {
    pub tx_id: String,
    pub name: String,
    pub payload: Vec<u8>,
}

/// Test double of the Fabric ledger: committed state plus history and events.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    state: BTreeMap<String, Vec<u8>>,
    /// Key-level endorsement policies (Fabric's `VALIDATION_PARAMETER` metadata).
    policies: BTreeMap<String, Vec<u8>>,
    history: HashMap<String, Vec<KeyModification>>,
    events: Vec<CommittedEvent>,
}

/// One transaction against a [`MemoryLedger`]; dropped without [`MemoryTx::commit`] it leaves no trace,
/// like a transaction that failed endorsement.
#[derive(Debug)]
pub struct MemoryTx<'a> {
    ledger: &'a mut MemoryLedger,
    tx_id: String,
    timestamp: TxTimestamp,
    creator: Creator,
    /// Key -> new value, or `None` for a delete.
    writes: BTreeMap<String, Option<Vec<u8>>>,
    /// Key -> new validation parameter.
    policy_writes: BTreeMap<String, Vec<u8>>,
    event: Option<(String, Vec<u8>)>,
}

impl MemoryLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a transaction submitted by `creator` at `timestamp`.
    pub fn begin(&mut self, tx_id: &str, timestamp: TxTimestamp, creator: Creator) -> MemoryTx<'_> {
        MemoryTx {
            ledger: self,
            tx_id: tx_id.to_string(),
            timestamp,
            creator,
            writes: BTreeMap::new(),
            policy_writes: BTreeMap::new(),
            event: None,
        }
    }

    /// All committed state, for comparing before and after a refused transaction.
    pub fn state(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.state
    }

    /// Committed validation parameters by key, for checking what a write left on each key.
    pub fn validation_parameters(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.policies
    }

    /// Events of committed transactions, oldest first.
    pub fn events(&self) -> &[CommittedEvent] {
        &self.events
    }
}

impl MemoryTx<'_> {
    /// Number of value and metadata writes this transaction would make.
    pub fn pending_writes(&self) -> usize {
        self.writes.len() + self.policy_writes.len()
    }

    /// Whether this transaction has set an event.
    pub fn has_event(&self) -> bool {
        self.event.is_some()
    }

    /// Applies the write set, records history and the event.
    pub fn commit(self) {
        let MemoryTx {
            ledger,
            tx_id,
            timestamp,
            writes,
            policy_writes,
            event,
            ..
        } = self;
        for (key, value) in writes {
            let is_delete = value.is_none();
            match &value {
                Some(v) => ledger.state.insert(key.clone(), v.clone()),
                None => {
                    // A deleted key loses its metadata too.
                    ledger.policies.remove(&key);
                    ledger.state.remove(&key)
                }
            };
            ledger
                .history
                .entry(key)
                .or_default()
                .push(KeyModification {
                    tx_id: tx_id.clone(),
                    value: value.unwrap_or_default(),
                    timestamp,
                    is_delete,
                });
        }
        ledger.policies.extend(policy_writes);
        if let Some((name, payload)) = event {
            ledger.events.push(CommittedEvent {
                tx_id,
                name,
                payload,
            });
        }
    }
}

fn check_key(key: &str) -> Result<(), LedgerError> {
    // Fabric refuses empty keys and reserves a leading NUL for composite keys.
    if key.is_empty() {
        return Err(LedgerError::BadKey {
            key: key.to_string(),
            reason: "empty key",
        });
    }
    if key.starts_with('\u{0}') {
        return Err(LedgerError::BadKey {
            key: key.to_string(),
            reason: "leading NUL is reserved for composite keys",
        });
    }
    Ok(())
}

impl Ledger for MemoryTx<'_> {
    fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        check_key(key)?;
        Ok(self.ledger.state.get(key).cloned())
    }

    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), LedgerError> {
        check_key(key)?;
        if value.is_empty() {
            // Fabric treats an empty value as a delete; the contract never means that.
            return Err(LedgerError::Operation {
                operation: "put_state",
                key: key.to_string(),
                message: "empty value".to_string(),
            });
        }
        self.writes.insert(key.to_string(), Some(value));
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), LedgerError> {
        check_key(key)?;
        self.writes.insert(key.to_string(), None);
        Ok(())
    }

    fn set_validation_parameter(&mut self, key: &str, policy: Vec<u8>) -> Result<(), LedgerError> {
        check_key(key)?;
        self.policy_writes.insert(key.to_string(), policy);
        Ok(())
    }

    fn get_validation_parameter(&self, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        check_key(key)?;
        Ok(self.ledger.policies.get(key).cloned())
    }

    fn get_state_by_range_with_pagination(
        &self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage, LedgerError> {
        let from = if bookmark.is_empty() { start } else { bookmark };
        let within_end = |k: &str| end.is_empty() || k < end;
        if from < start || (!bookmark.is_empty() && !within_end(from)) {
            return Err(LedgerError::BadBookmark {
                bookmark: bookmark.to_string(),
                start: start.to_string(),
                end: end.to_string(),
            });
        }
        let mut iter = self
            .ledger
            .state
            .range(from.to_string()..)
            .take_while(|(k, _)| within_end(k));
        let page: Vec<StateEntry> = iter
            .by_ref()
            .take(page_size as usize)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let next = iter.next().map(|(k, _)| k.clone()).unwrap_or_default();
        Ok((page, next))
    }

    fn get_history_for_key(&self, key: &str) -> Result<Vec<KeyModification>, LedgerError> {
        check_key(key)?;
        let mut h = self.ledger.history.get(key).cloned().unwrap_or_default();
        h.reverse();
        Ok(h)
    }

    fn set_event(&mut self, name: &str, payload: Vec<u8>) -> Result<(), LedgerError> {
        if name.is_empty() {
            return Err(LedgerError::Operation {
                operation: "set_event",
                key: String::new(),
                message: "event name is empty".to_string(),
            });
        }
        self.event = Some((name.to_string(), payload));
        Ok(())
    }

    fn tx_id(&self) -> &str {
        &self.tx_id
    }

    fn tx_timestamp(&self) -> TxTimestamp {
        self.timestamp
    }

    fn creator(&self) -> &Creator {
        &self.creator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creator() -> Creator {
        Creator {
            msp_id: "Org1MSP".into(),
            id_bytes: Vec::new(),
        }
    }

    #[test]
    fn writes_are_invisible_until_commit_and_dropped_tx_leaves_nothing() {
        let mut ledger = MemoryLedger::new();
        {
            let mut tx = ledger.begin("t1", TxTimestamp::new(1, 0), creator());
            tx.put_state("a", b"1".to_vec()).unwrap();
            assert_eq!(tx.get_state("a").unwrap(), None);
        }
        assert!(ledger.state().is_empty());
        let mut tx = ledger.begin("t2", TxTimestamp::new(2, 0), creator());
        tx.put_state("a", b"1".to_vec()).unwrap();
        tx.commit();
        let tx = ledger.begin("t3", TxTimestamp::new(3, 0), creator());
        assert_eq!(tx.get_state("a").unwrap(), Some(b"1".to_vec()));
    }

    #[test]
    fn last_event_wins_and_history_is_newest_first() {
        let mut ledger = MemoryLedger::new();
        let mut tx = ledger.begin("t1", TxTimestamp::new(1, 0), creator());
        tx.put_state("k", b"v1".to_vec()).unwrap();
        tx.set_event("first", b"1".to_vec()).unwrap();
        tx.set_event("second", b"2".to_vec()).unwrap();
        tx.commit();
        let mut tx = ledger.begin("t2", TxTimestamp::new(2, 0), creator());
        tx.del_state("k").unwrap();
        tx.commit();
        assert_eq!(ledger.events().len(), 1);
        assert_eq!(ledger.events()[0].name, "second");
        let tx = ledger.begin("t3", TxTimestamp::new(3, 0), creator());
        let h = tx.get_history_for_key("k").unwrap();
        let ids: Vec<(&str, bool)> = h.iter().map(|m| (m.tx_id.as_str(), m.is_delete)).collect();
        assert_eq!(ids, vec![("t2", true), ("t1", false)]);
    }

    #[test]
    fn validation_parameters_commit_with_the_tx_and_go_with_the_key() {
        let mut ledger = MemoryLedger::new();
        let mut tx = ledger.begin("t1", TxTimestamp::new(1, 0), creator());
        tx.put_state("k", b"v".to_vec()).unwrap();
        tx.set_validation_parameter("k", b"p1".to_vec()).unwrap();
        assert_eq!(tx.pending_writes(), 2);
        assert_eq!(tx.get_validation_parameter("k").unwrap(), None);
        tx.commit();
        let tx = ledger.begin("t2", TxTimestamp::new(2, 0), creator());
        assert_eq!(
            tx.get_validation_parameter("k").unwrap(),
            Some(b"p1".to_vec())
        );
        let mut tx = ledger.begin("t3", TxTimestamp::new(3, 0), creator());
        tx.del_state("k").unwrap();
        tx.commit();
        assert!(ledger.validation_parameters().is_empty());
    }

    #[test]
    fn pagination_walks_the_range_with_bookmarks() {
        let mut ledger = MemoryLedger::new();
        let mut tx = ledger.begin("t1", TxTimestamp::new(1, 0), creator());
        for k in ["a", "b/1", "b/2", "b/3", "b/4", "b/5", "c"] {
            tx.put_state(k, b"x".to_vec()).unwrap();
        }
        tx.commit();
        let tx = ledger.begin("t2", TxTimestamp::new(2, 0), creator());
        let mut seen = Vec::new();
        let mut bookmark = String::new();
        loop {
            let (page, next) = tx
                .get_state_by_range_with_pagination("b/", "b0", 2, &bookmark)
                .unwrap();
            assert!(page.len() <= 2);
            seen.extend(page.into_iter().map(|(k, _)| k));
            if next.is_empty() {
                break;
            }
            bookmark = next;
        }
        assert_eq!(seen, vec!["b/1", "b/2", "b/3", "b/4", "b/5"]);
        assert!(matches!(
            tx.get_state_by_range_with_pagination("b/", "b0", 2, "a"),
            Err(LedgerError::BadBookmark { .. })
        ));
    }
}
