//! Failures of the shim: ledger requests a transaction makes to the peer, and serving itself.

use std::path::PathBuf;

/// A ledger request to the peer that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StubError {
    #[error("peer refused {operation} for key {key:?}: {message}")]
    Peer {
        operation: &'static str,
        key: String,
        message: String,
    },
    #[error(
        "peer answered {operation} for key {key:?} with a {got} message; expected RESPONSE or ERROR"
    )]
    UnexpectedReply {
        operation: &'static str,
        key: String,
        got: String,
    },
    #[error("peer's answer to {operation} for key {key:?} is not valid protobuf: {reason}")]
    Decode {
        operation: &'static str,
        key: String,
        reason: String,
    },
    #[error(
        "stream to the peer closed during {operation} for key {key:?}; the client should retry the transaction"
    )]
    Disconnected {
        operation: &'static str,
        key: String,
    },
    #[error("peer did not answer {operation} for key {key:?} within {seconds} s")]
    Timeout {
        operation: &'static str,
        key: String,
        seconds: u64,
    },
    #[error("invalid argument to {operation} for key {key:?}: {reason}")]
    Invalid {
        operation: &'static str,
        key: String,
        reason: String,
    },
    #[error(
        "{operation} for key {key:?} returned more than {limit} records; narrow the query or page through it"
    )]
    TooManyResults {
        operation: &'static str,
        key: String,
        limit: usize,
    },
}

/// Why the chaincode server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read TLS {what} file {path}: {source}; check the path and permissions")]
    TlsFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS {what} file {path} holds no PEM block; give a PEM-encoded {what}")]
    NotPem { what: &'static str, path: PathBuf },
    #[error("chaincode server transport failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}
