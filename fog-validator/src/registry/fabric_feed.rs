//! `FabricRegistryFeed`: the registry read from the `device-registry` chaincode through a peer's Gateway.
//!
//! - snapshot: pages through `ListDevices` (evaluate, never ordered);
//! - events: the chaincode event stream from a block, `DeviceRegistry` events parsed as [`RegistryEvent`];
//! - lookups: `GetDevice` (evaluate); "device ... is not registered" means `None`;
//! - probe: the channel height (`qscc GetChainInfo`), a cheap proof the peer answers.
//!
//! Where a snapshot resumes: a listing carries no block number, so before reading the first page
//! the feed asks the peer for the channel's height (`qscc GetChainInfo`). Every change in a block
//! below that height is visible to the pages read after it; the follower then reads events from
//! that height on. Events that repeat what the listing already shows are ignored by the cache
//! (version order). (A real peer answers an event-stream request only with its first event, so
//! "open a stream before listing" cannot tell when the stream really started; the height can.)
//! Each organisation here runs one peer, so the height and the listing come from the same ledger.

use std::time::Duration;

use device_record::contract::{DevicePage, not_registered};
use device_record::{DeviceRecord, EVENT_NAME, RegistryEvent};
use fabric_client::{
    ChaincodeEvents, Contract, GatewayError, LedgerConnectError, LedgerSettings, StartPosition,
    connect,
};
use tokio::sync::mpsc;

use super::feed::{BoxFuture, EventStream, FeedError, RegistryFeed};

/// Records per `ListDevices` call (the contract allows up to 1000).
const PAGE_SIZE: u32 = 500;
/// How long opening an event stream may take before the caller stops waiting for it.
const OPEN_WAIT: Duration = Duration::from_secs(2);
/// Events buffered between the peer and the follower.
const BUFFER: usize = 1024;

/// The registry on the ledger, read as one organisation's identity.
pub struct FabricRegistryFeed {
    contract: Contract,
}

impl FabricRegistryFeed {
    /// Reads the registry through `contract` (its network's identity signs every request).
    pub fn new(contract: Contract) -> Self {
        Self { contract }
    }

    /// Builds the feed from `network.json`, an organisation and an identity; does not dial yet.
    pub fn from_settings(settings: &LedgerSettings) -> Result<Self, LedgerConnectError> {
        let connection = connect(settings)?;
        Ok(Self::new(connection.network.contract(connection.chaincode)))
    }

    /// Opens the event stream at `start`; `Ok(None)` when the peer has not answered within
    /// [`OPEN_WAIT`] (the request keeps going in `opening`, which the caller may still await).
    async fn open(&self, start: StartPosition) -> Result<OpenedOrWaiting, FeedError> {
        let network = self.contract.network().clone();
        let chaincode = self.contract.chaincode().to_string();
        let mut opening =
            tokio::spawn(async move { network.chaincode_events(&chaincode, start).await });
        match tokio::time::timeout(OPEN_WAIT, &mut opening).await {
            Ok(Ok(Ok(events))) => Ok(OpenedOrWaiting::Opened(Box::new(events))),
            Ok(Ok(Err(e))) => Err(feed_error("opening the chaincode event stream", &e)),
            Ok(Err(e)) => Err(FeedError(format!("event stream task failed: {e}"))),
            Err(_) => Ok(OpenedOrWaiting::Waiting(opening)),
        }
    }

    async fn list_all(&self) -> Result<Vec<DeviceRecord>, FeedError> {
        let page_size = PAGE_SIZE.to_string();
        let mut bookmark = String::new();
        let mut records = Vec::new();
        loop {
            let bytes = self
                .contract
                .evaluate("ListDevices", &[page_size.as_bytes(), bookmark.as_bytes()])
                .await
                .map_err(|e| feed_error("ListDevices", &e))?;
            let page: DevicePage = serde_json::from_slice(&bytes).map_err(|e| {
                FeedError(format!(
                    "ListDevices answered something that is not a page of records ({e}); \
                     check the chaincode version"
                ))
            })?;
            records.extend(page.records);
            if page.bookmark.is_empty() {
                return Ok(records);
            }
            bookmark = page.bookmark;
        }
    }
}

/// A stream the peer accepted, or the request still waiting for its answer.
enum OpenedOrWaiting {
    Opened(Box<ChaincodeEvents>),
    Waiting(tokio::task::JoinHandle<Result<ChaincodeEvents, GatewayError>>),
}

fn feed_error(what: &str, e: &GatewayError) -> FeedError {
    FeedError(format!("{what} failed: {e}"))
}

impl RegistryFeed for FabricRegistryFeed {
    fn snapshot(&self) -> BoxFuture<'_, Result<(Vec<DeviceRecord>, u64), FeedError>> {
        Box::pin(async move {
            let height =
                self.contract.network().block_height().await.map_err(|e| {
                    feed_error("reading the channel height (qscc GetChainInfo)", &e)
                })?;
            let records = self.list_all().await?;
            Ok((records, height))
        })
    }

    fn events_from(&self, from_block: u64) -> BoxFuture<'_, Result<EventStream, FeedError>> {
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(BUFFER);
            let opened = self.open(StartPosition::Block(from_block)).await?;
            tokio::spawn(forward(opened, tx));
            Ok(rx)
        })
    }

    fn get_device<'a>(
        &'a self,
        uuid: &'a str,
    ) -> BoxFuture<'a, Result<Option<DeviceRecord>, FeedError>> {
        Box::pin(async move {
            match self
                .contract
                .evaluate("GetDevice", &[uuid.as_bytes()])
                .await
            {
                Ok(bytes) => DeviceRecord::from_json(&bytes).map(Some).map_err(|e| {
                    FeedError(format!("GetDevice {uuid} answered a malformed record: {e}"))
                }),
                Err(e) if is_not_registered(&e, uuid) => Ok(None),
                Err(e) => Err(feed_error(&format!("GetDevice {uuid}"), &e)),
            }
        })
    }

    fn probe(&self) -> BoxFuture<'_, Result<u64, FeedError>> {
        Box::pin(async move {
            self.contract
                .network()
                .block_height()
                .await
                .map_err(|e| feed_error("ledger probe (qscc GetChainInfo)", &e))
        })
    }
}

/// Whether the peer's answer is the contract's own "not registered" refusal for `uuid`.
pub(crate) fn is_not_registered(e: &GatewayError, uuid: &str) -> bool {
    // Built by the function the contract's own error uses, so the text cannot drift from what it sends.
    let refusal = not_registered(uuid);
    e.peer_status().is_some_and(|s| {
        s.message.contains(&refusal) || s.details.iter().any(|d| d.message.contains(&refusal))
    })
}

/// Passes registry events to the follower until either side stops; ending drops `tx`, which the
/// follower reads as a lost connection and reconnects from its last block.
async fn forward(opened: OpenedOrWaiting, tx: mpsc::Sender<(u64, RegistryEvent)>) {
    let mut events = match opened {
        OpenedOrWaiting::Opened(events) => *events,
        OpenedOrWaiting::Waiting(opening) => {
            let result = tokio::select! {
                _ = tx.closed() => return,
                r = opening => r,
            };
            match result {
                Ok(Ok(events)) => events,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "chaincode event stream refused");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "chaincode event stream task failed");
                    return;
                }
            }
        }
    };
    loop {
        let next = tokio::select! {
            _ = tx.closed() => return,
            next = events.next() => next,
        };
        let event = match next {
            Some(Ok(event)) => event,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "chaincode event stream failed");
                return;
            }
            None => return,
        };
        if event.name != EVENT_NAME {
            continue;
        }
        match RegistryEvent::from_json(&event.payload) {
            Ok(mut change) => {
                if change.tx_id.is_empty() {
                    change.tx_id = event.tx_id.clone();
                }
                if tx.send((event.block, change)).await.is_err() {
                    return;
                }
            }
            // Only a broken chaincode writes this; the change it describes cannot be applied.
            Err(e) => tracing::error!(
                block = event.block,
                tx_id = %event.tx_id,
                error = %e,
                "registry event is not valid JSON; skipped — check the chaincode version"
            ),
        }
    }
}
