//! The shutdown signal shared by every background task and the listener.

use tokio::sync::watch;

/// Sender side: trigger once, every [`Shutdown`] sees it.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Receiver side, cheap to clone into tasks.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A connected pair.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// Whether shutdown has been asked for.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown is asked for (or the trigger is dropped).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}
