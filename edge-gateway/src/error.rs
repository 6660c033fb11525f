//! Errors of the gateway library, each naming the input involved and what to do about it.

use std::path::PathBuf;

/// An error from the edge gateway library.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(
        "private key file {path} has mode {mode:03o} (readable by other users) and its mode could not be fixed ({source}); run `chmod 600 {path}`"
    )]
    KeyExposed {
        path: PathBuf,
        mode: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {what} {path}: {source}")]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {what} {path}: {source}")]
    WriteFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} already exists; pass --force to replace the device key (the old enrolment becomes useless)"
    )]
    KeyExists { path: PathBuf },
    #[error("configuration: {0}")]
    Config(String),
    #[error("device key {path}: {source}")]
    Key {
        path: PathBuf,
        #[source]
        source: signed_message::MessageError,
    },
    #[error("cannot sign reading with seq {seq}: {source}")]
    Sign {
        seq: u64,
        #[source]
        source: signed_message::MessageError,
    },
    #[error("sequence store {path}: {source}; check the file is writable and not damaged")]
    Sequence {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Queue(#[from] disk_queue::QueueError),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("metrics listener {addr}: {source}; choose a free address with --metrics-listen")]
    Metrics {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "device {device} is banned on the registry (validator {validator} answered 1003); not sending until restarted after an unban; queued messages stay on disk"
    )]
    Banned {
        device: uuid::Uuid,
        validator: String,
    },
    #[error("cannot re-sign stale messages: {0}")]
    Resign(String),
    #[error("a background task stopped unexpectedly: {0}")]
    Task(String),
}
