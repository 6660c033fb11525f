//! What feeds the validator's registry cache: the ledger (snapshot, event stream, single lookups)
//! behind one trait.

use std::future::Future;
use std::pin::Pin;

use device_record::{DeviceRecord, RegistryEvent};
use tokio::sync::mpsc;

/// A boxed future, so the trait can be used as `Arc<dyn RegistryFeed>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Events as they are committed: (block number, event). The stream ends when the connection drops.
pub type EventStream = mpsc::Receiver<(u64, RegistryEvent)>;

/// The registry feed could not answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("registry feed unavailable: {0}")]
pub struct FeedError(pub String);

/// Read access to the device registry on the ledger: what fills and refreshes the cache.
pub trait RegistryFeed: Send + Sync + 'static {
    /// Every record, and a block from which [`RegistryFeed::events_from`] misses no later change.
    /// Events from that block on may repeat what the snapshot holds; the cache ignores them by version.
    fn snapshot(&self) -> BoxFuture<'_, Result<(Vec<DeviceRecord>, u64), FeedError>>;
    /// Events of blocks `>= from_block`, in commit order, then live ones.
    fn events_from(&self, from_block: u64) -> BoxFuture<'_, Result<EventStream, FeedError>>;
    /// One record, read directly.
    fn get_device<'a>(
        &'a self,
        uuid: &'a str,
    ) -> BoxFuture<'a, Result<Option<DeviceRecord>, FeedError>>;
    /// A cheap read proving the ledger answers (run every few seconds while the event stream is
    /// up, so a stream that went silent cannot pass for a current cache); returns the block height.
    fn probe(&self) -> BoxFuture<'_, Result<u64, FeedError>>;
}
