//! Every way a contract call can fail; each message names the input at fault.

use device_record::{KeyError, RequestError, TimestampError};

use crate::access::AccessError;
use crate::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("unknown function {name:?}; known functions: {}", crate::contract::FUNCTIONS.join(", "))]
    UnknownFunction { name: String },
    #[error("{function} takes {expected} but was given {given} argument(s)")]
    ArgumentCount {
        function: &'static str,
        expected: &'static str,
        given: usize,
    },
    #[error("{function} argument {position} ({name}) is invalid: {reason}")]
    BadArgument {
        function: &'static str,
        position: usize,
        name: &'static str,
        reason: String,
    },
    #[error("{function} request body is not a valid device request JSON: {reason}")]
    BadRequestJson {
        function: &'static str,
        reason: String,
    },
    #[error(transparent)]
    InvalidRequest(#[from] RequestError),
    #[error("new public key for device {uuid} refused: {source}")]
    InvalidKey {
        uuid: String,
        #[source]
        source: KeyError,
    },
    #[error(transparent)]
    Denied(#[from] AccessError),
    #[error("device {uuid} is already registered; use UpdateDevice to change it")]
    AlreadyRegistered { uuid: String },
    // Clients recognise this refusal by its text, built in `device-record` for both sides.
    #[error("{}", device_record::contract::not_registered(.uuid))]
    NotFound { uuid: String },
    #[error(
        "{}{holder}; choose a free address",
        device_record::contract::ip_taken_prefix(.ip)
    )]
    VirtualIpTaken { ip: String, holder: String },
    #[error(
        "device {uuid} already uses the key with fingerprint {fingerprint}; rotate to a new key"
    )]
    KeyUnchanged { uuid: String, fingerprint: String },
    #[error("stored value under {key:?} is corrupt ({reason}); the ledger state needs repair")]
    CorruptState { key: String, reason: String },
    #[error("transaction timestamp is unusable: {0}")]
    Timestamp(#[from] TimestampError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}
