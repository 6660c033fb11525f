//! `Stub`: the ledger as one transaction sees it, each call a request to the peer over the stream.
//!
//! Calls block the transaction's own thread until the peer answers for this channel and txid,
//! so the contract can stay synchronous. Reads see committed state only (the peer simulates the
//! transaction; it does not show a transaction its own writes).

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use prost::Message;
use sf2c_protos::Timestamp;
use sf2c_protos::protos::chaincode_message::Type;
use sf2c_protos::protos::{
    ChaincodeEvent, ChaincodeMessage, DelState, GetHistoryForKey, GetState, GetStateByRange,
    GetStateMetadata, PutState, PutStateMetadata, QueryMetadata, StateMetadata,
    StateMetadataResult,
};
use sf2c_protos::queryresult;

use crate::error::StubError;
use crate::proposal::Identity;
use crate::query;
use crate::session::Outbound;

/// Fabric substitutes this for an empty range start, since keys may not be empty.
const EMPTY_KEY_SUBSTITUTE: &str = "\u{1}";

/// Metadata key under which Fabric keeps a key-level endorsement policy (state-based endorsement).
pub const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

/// One committed change of a key, as GET_HISTORY_FOR_KEY reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyModification {
    pub tx_id: String,
    pub value: Vec<u8>,
    pub timestamp: Timestamp,
    pub is_delete: bool,
}

/// One page of a range query and the bookmark of the next page (empty when done).
pub type RangePage = (Vec<(String, Vec<u8>)>, String);

/// The transaction's view of the ledger and of its own proposal.
pub struct Stub {
    tx_id: String,
    channel_id: String,
    args: Vec<Vec<u8>>,
    creator: Identity,
    timestamp: Timestamp,
    event: Option<ChaincodeEvent>,
    outbound: Outbound,
    replies: Receiver<ChaincodeMessage>,
    response_timeout: Duration,
    pub(crate) max_query_results: usize,
}

/// Everything a stub is built from.
pub(crate) struct StubParts {
    pub tx_id: String,
    pub channel_id: String,
    pub args: Vec<Vec<u8>>,
    pub creator: Identity,
    pub timestamp: Timestamp,
    pub outbound: Outbound,
    pub replies: Receiver<ChaincodeMessage>,
    pub response_timeout: Duration,
    pub max_query_results: usize,
}

impl Stub {
    pub(crate) fn new(p: StubParts) -> Self {
        Stub {
            tx_id: p.tx_id,
            channel_id: p.channel_id,
            args: p.args,
            creator: p.creator,
            timestamp: p.timestamp,
            event: None,
            outbound: p.outbound,
            replies: p.replies,
            response_timeout: p.response_timeout,
            max_query_results: p.max_query_results,
        }
    }

    /// Function name followed by its arguments, as the client sent them.
    pub fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    pub fn tx_id(&self) -> &str {
        &self.tx_id
    }

    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// The submitter's timestamp from the channel header; the same on every endorser.
    pub fn tx_timestamp(&self) -> Timestamp {
        self.timestamp
    }

    pub fn creator(&self) -> &Identity {
        &self.creator
    }

    /// The value of `key`, or `None` when it is absent (the peer answers an empty value).
    pub fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        let body = GetState {
            key: key.to_string(),
            collection: String::new(),
        };
        let value = self.call("GET_STATE", key, Type::GetState, body.encode_to_vec())?;
        Ok((!value.is_empty()).then_some(value))
    }

    pub fn put_state(&self, key: &str, value: Vec<u8>) -> Result<(), StubError> {
        if key.is_empty() {
            return Err(StubError::Invalid {
                operation: "PUT_STATE",
                key: String::new(),
                reason: "key must not be empty".into(),
            });
        }
        let body = PutState {
            key: key.to_string(),
            value,
            collection: String::new(),
        };
        self.call("PUT_STATE", key, Type::PutState, body.encode_to_vec())
            .map(drop)
    }

    pub fn del_state(&self, key: &str) -> Result<(), StubError> {
        let body = DelState {
            key: key.to_string(),
            collection: String::new(),
        };
        self.call("DEL_STATE", key, Type::DelState, body.encode_to_vec())
            .map(drop)
    }

    /// Sets one metadata entry of `key` (Fabric replaces the key's metadata with this entry).
    pub fn put_state_metadata(
        &self,
        key: &str,
        metakey: &str,
        value: Vec<u8>,
    ) -> Result<(), StubError> {
        if key.is_empty() {
            return Err(StubError::Invalid {
                operation: "PUT_STATE_METADATA",
                key: String::new(),
                reason: "key must not be empty".into(),
            });
        }
        let body = PutStateMetadata {
            key: key.to_string(),
            collection: String::new(),
            metadata: Some(StateMetadata {
                metakey: metakey.to_string(),
                value,
            }),
        };
        self.call(
            "PUT_STATE_METADATA",
            key,
            Type::PutStateMetadata,
            body.encode_to_vec(),
        )
        .map(drop)
    }

    /// The committed metadata of `key`, metakey to value (empty when the key has none).
    pub fn get_state_metadata(&self, key: &str) -> Result<BTreeMap<String, Vec<u8>>, StubError> {
        const OP: &str = "GET_STATE_METADATA";
        let body = GetStateMetadata {
            key: key.to_string(),
            collection: String::new(),
        };
        let bytes = self.call(OP, key, Type::GetStateMetadata, body.encode_to_vec())?;
        let result =
            StateMetadataResult::decode(bytes.as_slice()).map_err(|e| StubError::Decode {
                operation: OP,
                key: key.to_string(),
                reason: format!("state metadata: {e}"),
            })?;
        Ok(result
            .entries
            .into_iter()
            .map(|m| (m.metakey, m.value))
            .collect())
    }

    /// Sets the key-level endorsement policy of `key`: a marshalled `common.SignaturePolicyEnvelope`.
    pub fn set_state_validation_parameter(
        &self,
        key: &str,
        policy: Vec<u8>,
    ) -> Result<(), StubError> {
        self.put_state_metadata(key, VALIDATION_PARAMETER, policy)
    }

    /// The committed key-level endorsement policy of `key`, if it has one.
    pub fn get_state_validation_parameter(&self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        let mut metadata = self.get_state_metadata(key)?;
        Ok(metadata
            .remove(VALIDATION_PARAMETER)
            .filter(|v| !v.is_empty()))
    }

    /// Up to `page_size` entries of `[start, end)` (`end` empty: unbounded), from `bookmark` when
    /// non-empty, and the bookmark of the next page (empty when the range is exhausted).
    pub fn get_state_by_range_with_pagination(
        &self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage, StubError> {
        const OP: &str = "GET_STATE_BY_RANGE";
        let page_size_i32 = i32::try_from(page_size).ok().filter(|n| *n > 0);
        let Some(page_size_i32) = page_size_i32 else {
            return Err(StubError::Invalid {
                operation: OP,
                key: start.to_string(),
                reason: format!("page size {page_size} must be from 1 to {}", i32::MAX),
            });
        };
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        let body = GetStateByRange {
            start_key: start.to_string(),
            end_key: end.to_string(),
            collection: String::new(),
            metadata: QueryMetadata {
                page_size: page_size_i32,
                bookmark: bookmark.to_string(),
            }
            .encode_to_vec(),
        };
        let first = self.call(OP, start, Type::GetStateByRange, body.encode_to_vec())?;
        let limit = (page_size as usize).min(self.max_query_results);
        let drained = query::drain(self, OP, start, &first, limit)?;
        let mut entries = Vec::with_capacity(drained.records.len());
        for bytes in drained.records {
            let kv = queryresult::Kv::decode(bytes.as_slice()).map_err(|e| StubError::Decode {
                operation: OP,
                key: start.to_string(),
                reason: format!("range record: {e}"),
            })?;
            entries.push((kv.key, kv.value));
        }
        let bookmark = drained.metadata.map(|m| m.bookmark).unwrap_or_default();
        Ok((entries, bookmark))
    }

    /// Every committed change of `key`, newest first (the peer's order).
    pub fn get_history_for_key(&self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        const OP: &str = "GET_HISTORY_FOR_KEY";
        let body = GetHistoryForKey {
            key: key.to_string(),
        };
        let first = self.call(OP, key, Type::GetHistoryForKey, body.encode_to_vec())?;
        let drained = query::drain(self, OP, key, &first, self.max_query_results)?;
        drained
            .records
            .iter()
            .map(|bytes| {
                let m = queryresult::KeyModification::decode(bytes.as_slice()).map_err(|e| {
                    StubError::Decode {
                        operation: OP,
                        key: key.to_string(),
                        reason: format!("history record: {e}"),
                    }
                })?;
                Ok(KeyModification {
                    tx_id: m.tx_id,
                    value: m.value,
                    timestamp: m.timestamp.unwrap_or_default(),
                    is_delete: m.is_delete,
                })
            })
            .collect()
    }

    /// Sets the transaction's one event; a later call replaces an earlier one.
    pub fn set_event(&mut self, name: &str, payload: Vec<u8>) -> Result<(), StubError> {
        if name.is_empty() {
            return Err(StubError::Invalid {
                operation: "SET_EVENT",
                key: String::new(),
                reason: "event name must not be empty".into(),
            });
        }
        // The peer fills in the chaincode and transaction IDs.
        self.event = Some(ChaincodeEvent {
            event_name: name.to_string(),
            payload,
            ..Default::default()
        });
        Ok(())
    }

    pub(crate) fn take_event(&mut self) -> Option<ChaincodeEvent> {
        self.event.take()
    }

    /// Sends one request for this transaction and waits for the peer's RESPONSE or ERROR.
    pub(crate) fn call(
        &self,
        operation: &'static str,
        key: &str,
        kind: Type,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, StubError> {
        // Drop anything stale (a duplicate answer to an earlier request).
        while self.replies.try_recv().is_ok() {}
        let msg = ChaincodeMessage {
            r#type: kind as i32,
            payload,
            txid: self.tx_id.clone(),
            channel_id: self.channel_id.clone(),
            ..Default::default()
        };
        let disconnected = || StubError::Disconnected {
            operation,
            key: key.to_string(),
        };
        self.outbound
            .blocking_send(Ok(msg))
            .map_err(|_| disconnected())?;
        let reply = match self.replies.recv_timeout(self.response_timeout) {
            Ok(reply) => reply,
            Err(RecvTimeoutError::Disconnected) => return Err(disconnected()),
            Err(RecvTimeoutError::Timeout) => {
                return Err(StubError::Timeout {
                    operation,
                    key: key.to_string(),
                    seconds: self.response_timeout.as_secs(),
                });
            }
        };
        match reply.r#type() {
            Type::Response => Ok(reply.payload),
            Type::Error => Err(StubError::Peer {
                operation,
                key: key.to_string(),
                message: String::from_utf8_lossy(&reply.payload).into_owned(),
            }),
            other => Err(StubError::UnexpectedReply {
                operation,
                key: key.to_string(),
                got: other.as_str_name().to_string(),
            }),
        }
    }
}
