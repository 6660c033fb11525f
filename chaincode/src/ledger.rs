//! The ledger operations the contract needs, modelled on Fabric's chaincode stub so a peer-backed
//! implementation can be dropped in.
//!
//! Fabric semantics every implementation must keep:
//! - reads see only committed state; a transaction does not read its own writes;
//! - range queries are over committed state, `start` inclusive, `end` exclusive;
//! - a transaction carries at most one event: the last `set_event` wins;
//! - history is returned newest first, as Fabric's `GetHistoryForKey` does;
//! - a key's validation parameter (its key-level endorsement policy) is metadata of the key:
//!   readable only once committed, removed when the key is deleted.

use device_record::TxTimestamp;

/// The identity that submitted the transaction (Fabric `SerializedIdentity`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creator {
    pub msp_id: String,
    /// The submitter's X.509 certificate as PEM.
    pub id_bytes: Vec<u8>,
}

/// One committed change of a key, as `GetHistoryForKey` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyModification {
    pub tx_id: String,
    /// The value written; empty when `is_delete`.
    pub value: Vec<u8>,
    pub timestamp: TxTimestamp,
    pub is_delete: bool,
}

/// A key and its value, as a range query returns them.
pub type StateEntry = (String, Vec<u8>);

/// One page of a range query and the bookmark of the next page (empty when done).
pub type RangePage = (Vec<StateEntry>, String);

/// A failure reported by the ledger itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LedgerError {
    #[error("ledger {operation} failed for key {key:?}: {message}")]
    Operation {
        operation: &'static str,
        key: String,
        message: String,
    },
    #[error(
        "bookmark {bookmark:?} is outside the queried range {start:?}..{end:?}; pass the bookmark returned by the previous page"
    )]
    BadBookmark {
        bookmark: String,
        start: String,
        end: String,
    },
    #[error("invalid ledger key {key:?}: {reason}")]
    BadKey { key: String, reason: &'static str },
}

/// What the contract may ask of the ledger during one transaction.
pub trait Ledger {
    fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, LedgerError>;
    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), LedgerError>;
    fn del_state(&mut self, key: &str) -> Result<(), LedgerError>;
    /// Up to `page_size` entries of `[start, end)` (`end` empty: unbounded), starting at `bookmark`
    /// when it is non-empty. Returns the entries and the bookmark of the next page, empty when done.
    fn get_state_by_range_with_pagination(
        &self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage, LedgerError>;
    /// Sets `key`'s key-level endorsement policy (Fabric's `VALIDATION_PARAMETER` metadata), a
    /// marshalled `common.SignaturePolicyEnvelope`; Fabric then validates later writes of `key`
    /// against it instead of the chaincode's policy.
    fn set_validation_parameter(&mut self, key: &str, policy: Vec<u8>) -> Result<(), LedgerError>;
    /// The committed key-level endorsement policy of `key`, if any.
    fn get_validation_parameter(&self, key: &str) -> Result<Option<Vec<u8>>, LedgerError>;
    /// Every committed change of `key`, newest first.
    fn get_history_for_key(&self, key: &str) -> Result<Vec<KeyModification>, LedgerError>;
    /// Sets the transaction's event; a later call replaces an earlier one.
    fn set_event(&mut self, name: &str, payload: Vec<u8>) -> Result<(), LedgerError>;
    fn tx_id(&self) -> &str;
    fn tx_timestamp(&self) -> TxTimestamp;
    fn creator(&self) -> &Creator;
}
