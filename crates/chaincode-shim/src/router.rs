//! Delivers the peer's RESPONSE/ERROR messages to the transaction that asked, by channel and txid.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Mutex, MutexGuard};

use sf2c_protos::protos::ChaincodeMessage;

/// A transaction waits for one reply at a time; a little room absorbs a stray duplicate.
const REPLY_QUEUE: usize = 4;

/// Reply senders by (channel, txid); `None` once the stream has closed.
type Routes = Option<HashMap<(String, String), SyncSender<ChaincodeMessage>>>;

/// Running transactions of one stream, keyed like Fabric keys them: channel + txid.
pub(crate) struct Router {
    routes: Mutex<Routes>,
}

/// What became of a routed message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Routed {
    Delivered,
    NoSuchTransaction,
    NotWaiting,
}

impl Router {
    pub(crate) fn new() -> Self {
        Router {
            routes: Mutex::new(Some(HashMap::new())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Routes> {
        // A panic elsewhere cannot leave the map half-updated; keep serving.
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a transaction; `None` if one with the same channel and txid is running or the
    /// stream has closed.
    pub(crate) fn open(&self, channel: &str, txid: &str) -> Option<Receiver<ChaincodeMessage>> {
        let mut guard = self.lock();
        let routes = guard.as_mut()?;
        let key = (channel.to_string(), txid.to_string());
        if routes.contains_key(&key) {
            return None;
        }
        let (tx, rx) = sync_channel(REPLY_QUEUE);
        routes.insert(key, tx);
        Some(rx)
    }

    pub(crate) fn close(&self, channel: &str, txid: &str) {
        if let Some(routes) = self.lock().as_mut() {
            routes.remove(&(channel.to_string(), txid.to_string()));
        }
    }

    pub(crate) fn route(&self, msg: ChaincodeMessage) -> Routed {
        let guard = self.lock();
        let Some(sender) = guard
            .as_ref()
            .and_then(|r| r.get(&(msg.channel_id.clone(), msg.txid.clone())))
        else {
            return Routed::NoSuchTransaction;
        };
        match sender.try_send(msg) {
            Ok(()) => Routed::Delivered,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Routed::NotWaiting,
        }
    }

    /// The stream is gone: every waiting transaction sees its reply channel close.
    pub(crate) fn shut(&self) {
        self.lock().take();
    }
}
