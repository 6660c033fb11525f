//! Fabric client pieces that need no network: identities from MSP folders, low-S ECDSA signing, signed proposals.
//!
//! # Planned network layer
//!
//! Calls to a peer's Gateway service (`/gateway.Gateway/*`) come next, shaped
//! like Fabric's own gateway clients so each step can be retried or signed on
//! its own:
//!
//! - `Gateway`: one TLS gRPC connection to a peer plus a [`SigningIdentity`];
//! - `Network`: a channel on that gateway; it also opens the chaincode event
//!   stream (`ChaincodeEvents`) from a checkpoint (block number and last
//!   transaction ID);
//! - `Contract`: a chaincode on that network; `evaluate` sends a signed
//!   [`Proposal`] to `Evaluate`, `submit` goes `Endorse` -> sign the returned
//!   envelope -> `Submit` -> signed `CommitStatus`;
//! - errors typed per phase (endorse, submit, commit status) carrying the
//!   peers' `gateway.ErrorDetail` messages.
//!
//! That layer is tested against a real Fabric network, so it is not written
//! until one can run here.

pub mod identity;
pub mod low_s;
pub mod proposal;
pub mod signer;

pub use identity::{Identity, IdentityError, SigningIdentity};
pub use proposal::{ChaincodeCall, NONCE_LEN, Proposal, ProposalError, transaction_id};
pub use signer::{SignError, Signer, verify};
