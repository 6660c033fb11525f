//! What can go wrong with the on-disk queue, with the file or row involved.

use std::path::PathBuf;

/// An error from [`crate::DiskQueue`].
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The database file could not be opened or prepared.
    #[error(
        "cannot open queue database {path}: {source}; check the directory exists and is writable"
    )]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// A read or write on an open queue failed.
    #[error("queue {operation} failed: {source}; the disk may be full or the file damaged")]
    Storage {
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// An item could not be serialised before pushing.
    #[error("cannot serialise item {index} of the pushed batch: {source}")]
    Encode {
        index: usize,
        #[source]
        source: serde_json::Error,
    },
    /// A stored row no longer decodes as the item type; nothing was removed.
    #[error(
        "queue row {id} cannot be decoded: {source}; remove it with `discard({id})` \
         if it is not recoverable"
    )]
    Corrupt {
        id: u64,
        #[source]
        source: serde_json::Error,
    },
    /// Another user of the queue panicked while holding it.
    #[error("queue lock poisoned by a panic in another thread; reopen the queue")]
    Poisoned,
}
