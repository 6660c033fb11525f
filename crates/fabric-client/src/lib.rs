//! Fabric Gateway client: identities from MSP folders, low-S signing, proposals, and the Gateway calls.
//!
//! The object graph follows Fabric's own gateway clients, so each step can be retried or signed
//! on its own:
//!
//! - [`Gateway`]: one TLS gRPC connection to a peer plus a [`SigningIdentity`];
//! - [`Network`]: a channel on that gateway; it also opens the chaincode event stream
//!   ([`Network::chaincode_events`]) from a [`StartPosition`] or a [`Checkpoint`];
//! - [`Contract`]: a chaincode on that network; [`Contract::evaluate`] sends a signed
//!   [`Proposal`] to `Evaluate`; [`Contract::submit`] goes `Endorse` -> sign the prepared
//!   envelope's payload -> `Submit` -> signed `CommitStatus` ([`Commit`]);
//! - [`GatewayError`]: one variant per phase, each carrying the peer's status message and its
//!   `gateway.ErrorDetail` list ([`PeerStatus`]); an invalid commit is a [`CommitError`]; a call
//!   past its deadline ([`Deadlines`], set on the gateway, network or contract) is a
//!   [`GatewayError::Timeout`] naming the call, the peer and the deadline.
//!
//! [`NetworkFile`] reads `network.json` (see the README); [`connect`] turns it, an organisation
//! and an [`IdentityChoice`] into a [`Network`].

pub mod checkpoint;
pub mod commit;
pub mod contract;
pub mod deadline;
pub mod envelope;
pub mod error;
pub mod events;
pub mod gateway;
pub mod identity;
pub mod ledger_connection;
pub mod low_s;
pub mod network_json;
pub mod proposal;
pub mod signer;
pub mod status;

pub use checkpoint::{Checkpoint, CheckpointError, FileCheckpoint, Position};
pub use commit::{Commit, CommitStatus};
pub use contract::{Contract, SubmitOptions, SubmitResult};
pub use deadline::{Call, Deadlines};
pub use error::{CommitError, GatewayError};
pub use events::{ChaincodeEvent, ChaincodeEvents, StartPosition};
pub use gateway::{Gateway, Network};
pub use identity::{Identity, IdentityError, SigningIdentity};
pub use ledger_connection::{
    IdentityChoice, LedgerConnectError, LedgerConnection, LedgerSettings, connect, connect_now,
};
pub use network_json::{IdentityFiles, NetworkFile, NetworkFileError, Node, Organization};
pub use proposal::{ChaincodeCall, NONCE_LEN, Proposal, ProposalError, transaction_id};
pub use sf2c_protos::peer::TxValidationCode;
pub use signer::{SignError, Signer, verify};
pub use status::PeerStatus;
