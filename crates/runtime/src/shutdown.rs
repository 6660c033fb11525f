//! One shutdown signal for a whole service: a trigger, cloneable listeners, and SIGINT/SIGTERM.
//!
//! The service's tasks each hold a [`Shutdown`] and stop once it fires; the binary fires the
//! [`ShutdownTrigger`] on a signal ([`on_signals`]), and tests fire it directly.

use std::fmt;
use std::future::poll_fn;
use std::task::Poll;

use tokio::signal::unix::SignalKind;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Listens for the shutdown signal; cheap to clone into every task.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// Fires the shutdown signal, for every [`Shutdown`] made from it. Dropping it fires it too, so a
/// task can never wait on a trigger nobody holds.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// A connected trigger and listener.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl Shutdown {
    /// Whether shutdown has been asked for.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown is asked for (at once if it already was).
    pub async fn wait(&mut self) {
        // An error means the trigger is gone, which also means stop.
        let _ = self.rx.wait_for(|stop| *stop).await;
    }

    /// [`Shutdown::wait`] as an owned future, for APIs that take `impl Future + 'static`
    /// (graceful-shutdown hooks of servers).
    pub async fn wait_owned(mut self) {
        self.wait().await
    }
}

impl ShutdownTrigger {
    /// Asks every listener to stop; later calls change nothing.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether shutdown has been asked for.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }
}

impl Drop for ShutdownTrigger {
    fn drop(&mut self) {
        self.trigger();
    }
}

/// A signal that asks the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C in a terminal.
    Interrupt,
    /// SIGTERM: `kill`, systemd, a supervisor or a test harness.
    Terminate,
}

impl Signal {
    /// The usual name, e.g. `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A signal handler could not be installed (for example outside a tokio runtime with its I/O
/// driver enabled).
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for {signal}: {source}")]
pub struct SignalError {
    pub signal: Signal,
    #[source]
    pub source: std::io::Error,
}

/// SIGINT and SIGTERM handlers. They are installed when this is made, so a signal that arrives
/// before anyone waits is still seen, never the default "terminate at once".
#[derive(Debug)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs both handlers; call inside a tokio runtime.
    pub fn install() -> Result<Self, SignalError> {
        let listen = |signal_kind, signal| {
            tokio::signal::unix::signal(signal_kind)
                .map_err(|source| SignalError { signal, source })
        };
        Ok(Signals {
            interrupt: listen(SignalKind::interrupt(), Signal::Interrupt)?,
            terminate: listen(SignalKind::terminate(), Signal::Terminate)?,
        })
    }

    /// Waits for the next SIGINT or SIGTERM and logs which one arrived.
    pub async fn recv(&mut self) -> Signal {
        let signal = poll_fn(|cx| {
            // tokio never ends these streams (`Ready(None)`); only `Some` is a signal.
            if let Poll::Ready(Some(())) = self.interrupt.poll_recv(cx) {
                return Poll::Ready(Signal::Interrupt);
            }
            if let Poll::Ready(Some(())) = self.terminate.poll_recv(cx) {
                return Poll::Ready(Signal::Terminate);
            }
            Poll::Pending
        })
        .await;
        tracing::info!(%signal, "{signal} received; shutting down");
        signal
    }
}

/// Fires `trigger` on the first SIGINT or SIGTERM, from a task spawned on the current runtime;
/// the handlers are installed before this returns. The task ends with the signal it saw.
pub fn on_signals(trigger: ShutdownTrigger) -> Result<JoinHandle<Signal>, SignalError> {
    let mut signals = Signals::install()?;
    Ok(tokio::spawn(async move {
        let signal = signals.recv().await;
        trigger.trigger();
        signal
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_signals;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Log lines written while `body` runs on a current-thread runtime on this thread.
    fn logged<T>(body: impl std::future::Future<Output = T>) -> (T, String) {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let out = runtime.block_on(body);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        (out, text)
    }

    #[test]
    fn every_listener_sees_the_trigger_even_late_ones() {
        let (trigger, mut first) = channel();
        let mut second = first.clone();
        assert!(!first.is_triggered() && !trigger.is_triggered());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let waiting = tokio::spawn(async move {
                first.wait().await;
                first.is_triggered()
            });
            tokio::task::yield_now().await;
            assert!(!waiting.is_finished(), "nothing triggered yet");
            trigger.trigger();
            assert!(waiting.await.unwrap());
            // Already triggered: a clone and a new subscriber return at once.
            second.wait().await;
            assert!(second.is_triggered());
            let mut late = Shutdown {
                rx: trigger.tx.subscribe(),
            };
            tokio::time::timeout(Duration::from_secs(1), late.wait())
                .await
                .expect("a late listener sees an earlier trigger");
        });
    }

    #[test]
    fn dropping_the_trigger_stops_every_listener() {
        let (trigger, shutdown) = channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let waiting = tokio::spawn(shutdown.clone().wait_owned());
            drop(trigger);
            tokio::time::timeout(Duration::from_secs(1), waiting)
                .await
                .expect("the listener returns once the trigger is gone")
                .unwrap();
        });
        assert!(shutdown.is_triggered());
    }

    #[test]
    fn sigterm_and_sigint_are_told_apart_and_logged() {
        let _lock = test_signals::lock();
        for (sent, expected) in [("TERM", Signal::Terminate), ("INT", Signal::Interrupt)] {
            let (seen, log) = logged(async {
                let mut signals = Signals::install().expect("install handlers");
                let stop = async move { signals.recv().await };
                // The handlers are in place before the signal is sent: the process survives it.
                test_signals::send(sent);
                tokio::time::timeout(Duration::from_secs(5), stop)
                    .await
                    .expect("the signal arrives within 5 s")
            });
            assert_eq!(seen, expected);
            assert!(
                log.contains(&format!("{} received; shutting down", expected.name())),
                "{log}"
            );
        }
    }

    #[test]
    fn on_signals_fires_the_trigger() {
        let _lock = test_signals::lock();
        let (seen, _log) = logged(async {
            let (trigger, mut shutdown) = channel();
            let task = on_signals(trigger).expect("install handlers");
            assert!(!shutdown.is_triggered());
            test_signals::send("TERM");
            tokio::time::timeout(Duration::from_secs(5), shutdown.wait())
                .await
                .expect("SIGTERM fires the shutdown within 5 s");
            task.await.unwrap()
        });
        assert_eq!(seen, Signal::Terminate);
    }
}
