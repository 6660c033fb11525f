//! Errors of the Gateway calls, one variant per phase, each carrying the peer's own answer.

use std::time::Duration;

use sf2c_protos::peer::TxValidationCode;
use thiserror::Error;

use crate::deadline::{Call, describe_timeout};
use crate::proposal::ProposalError;
use crate::signer::SignError;
use crate::status::PeerStatus;

/// Why a Gateway call failed, named by the phase that failed.
#[derive(Debug, Error)]
pub enum GatewayError {
    #[error(
        "cannot connect to peer {endpoint}: {reason}; check the address, the TLS root certificate and the TLS host name"
    )]
    Connect { endpoint: String, reason: String },
    #[error("building the proposal failed: {0}")]
    Proposal(#[from] ProposalError),
    #[error("signing failed: {0}")]
    Sign(#[from] SignError),
    #[error("evaluate of {function} (tx {tx_id}) failed: {status}")]
    Evaluate {
        function: String,
        tx_id: String,
        status: PeerStatus,
    },
    #[error("endorsement of {function} (tx {tx_id}) failed: {status}")]
    Endorse {
        function: String,
        tx_id: String,
        status: PeerStatus,
    },
    /// The ordering service did not confirm the transaction. Orderers that did receive it may
    /// still order it later (seen on SmartBFT once quorum returns), so it is not safe to assume
    /// it will never commit.
    #[error(
        "submit of tx {tx_id} to the ordering service failed: {status} (orderers that received it may still commit it later: check tx {tx_id} before submitting the change again)"
    )]
    Submit { tx_id: String, status: PeerStatus },
    #[error("reading the commit status of tx {tx_id} failed: {status}")]
    CommitStatus { tx_id: String, status: PeerStatus },
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error("chaincode event stream of {chaincode} failed: {status}")]
    Events {
        chaincode: String,
        status: PeerStatus,
    },
    /// No answer within the call's deadline ([`crate::Deadlines`]); the request was cancelled.
    #[error("{}", describe_timeout(*call, function, endpoint, *deadline, tx_id))]
    Timeout {
        call: Call,
        /// The chaincode function; empty for submit and commit status.
        function: String,
        endpoint: String,
        deadline: Duration,
        tx_id: String,
    },
    #[error("the peer answered with a malformed {what}: {reason}")]
    BadResponse { what: &'static str, reason: String },
}

impl GatewayError {
    /// The peer's status, when the failure came from the peer.
    pub fn peer_status(&self) -> Option<&PeerStatus> {
        match self {
            GatewayError::Evaluate { status, .. }
            | GatewayError::Endorse { status, .. }
            | GatewayError::Submit { status, .. }
            | GatewayError::CommitStatus { status, .. }
            | GatewayError::Events { status, .. } => Some(status),
            _ => None,
        }
    }
}

/// A transaction that was ordered into a block but marked invalid by the committing peers.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "transaction {tx_id} failed to commit in block {block} with validation code {} ({})",
    *code as i32,
    code.as_str_name()
)]
pub struct CommitError {
    pub tx_id: String,
    pub code: TxValidationCode,
    pub block: u64,
}
