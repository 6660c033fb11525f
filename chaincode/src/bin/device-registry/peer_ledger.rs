//! `PeerLedger`: the registry contract's `Ledger` trait over a shim `Stub`, i.e. over the peer.

use chaincode_shim::{Stub, StubError};
use device_record::TxTimestamp;
use device_registry::{Creator, KeyModification, Ledger, LedgerError, RangePage};

/// One transaction's ledger, backed by requests to the endorsing peer.
pub struct PeerLedger<'a> {
    stub: &'a mut Stub,
    creator: Creator,
}

impl<'a> PeerLedger<'a> {
    pub fn new(stub: &'a mut Stub) -> Self {
        let creator = Creator {
            msp_id: stub.creator().msp_id.clone(),
            id_bytes: stub.creator().id_bytes.clone(),
        };
        PeerLedger { stub, creator }
    }
}

fn failed(operation: &'static str, key: &str, e: StubError) -> LedgerError {
    LedgerError::Operation {
        operation,
        key: key.to_string(),
        message: e.to_string(),
    }
}

impl Ledger for PeerLedger<'_> {
    fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        self.stub
            .get_state(key)
            .map_err(|e| failed("get_state", key, e))
    }

    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), LedgerError> {
        self.stub
            .put_state(key, value)
            .map_err(|e| failed("put_state", key, e))
    }

    fn del_state(&mut self, key: &str) -> Result<(), LedgerError> {
        self.stub
            .del_state(key)
            .map_err(|e| failed("del_state", key, e))
    }

    fn set_validation_parameter(&mut self, key: &str, policy: Vec<u8>) -> Result<(), LedgerError> {
        self.stub
            .set_state_validation_parameter(key, policy)
            .map_err(|e| failed("set_validation_parameter", key, e))
    }

    fn get_validation_parameter(&self, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        self.stub
            .get_state_validation_parameter(key)
            .map_err(|e| failed("get_validation_parameter", key, e))
    }

    fn get_state_by_range_with_pagination(
        &self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage, LedgerError> {
        self.stub
            .get_state_by_range_with_pagination(start, end, page_size, bookmark)
            .map_err(|e| failed("get_state_by_range", start, e))
    }

    fn get_history_for_key(&self, key: &str) -> Result<Vec<KeyModification>, LedgerError> {
        let changes = self
            .stub
            .get_history_for_key(key)
            .map_err(|e| failed("get_history_for_key", key, e))?;
        Ok(changes
            .into_iter()
            .map(|m| KeyModification {
                tx_id: m.tx_id,
                value: m.value,
                timestamp: TxTimestamp::new(m.timestamp.seconds, m.timestamp.nanos),
                is_delete: m.is_delete,
            })
            .collect())
    }

    fn set_event(&mut self, name: &str, payload: Vec<u8>) -> Result<(), LedgerError> {
        self.stub
            .set_event(name, payload)
            .map_err(|e| failed("set_event", name, e))
    }

    fn tx_id(&self) -> &str {
        self.stub.tx_id()
    }

    fn tx_timestamp(&self) -> TxTimestamp {
        let t = self.stub.tx_timestamp();
        TxTimestamp::new(t.seconds, t.nanos)
    }

    fn creator(&self) -> &Creator {
        &self.creator
    }
}
