//! Chaincode-as-a-service shim: a gRPC server a Fabric peer dials, running a contract per transaction.
//!
//! Where things happen:
//! - [`server`]: the `protos.Chaincode/Connect` service, TLS and shutdown;
//! - `session`: one peer stream — handshake (REGISTER → REGISTERED → READY), then dispatch;
//! - `transaction`: one TRANSACTION/INIT run on a blocking thread, answered with COMPLETED or ERROR;
//! - [`Stub`]: the ledger calls a transaction makes, each a request to the peer awaited by txid.
//!
//! The contract runs synchronously (the registry's `Ledger` trait is blocking), so every
//! transaction gets its own thread from tokio's blocking pool; its stub sends requests into the
//! stream's outbound queue and blocks on a per-transaction reply channel that the stream reader
//! fills. Transactions on one stream therefore run concurrently, each waiting only on its own
//! replies.

pub mod config;
pub mod contract;
pub mod error;
pub mod proposal;
mod query;
mod router;
pub mod server;
mod session;
pub mod stub;
pub mod tls;
mod transaction;

pub use config::ShimConfig;
pub use contract::{Contract, Response, failure, success};
pub use error::{ServeError, StubError};
pub use proposal::Identity;
pub use server::{ChaincodeService, serve};
pub use stub::{KeyModification, RangePage, Stub};
pub use tls::TlsFiles;

/// Protobuf timestamp, as carried in transaction headers and history records.
pub use sf2c_protos::Timestamp;
