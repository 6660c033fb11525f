//! What every SF2C-BC binary shares: signals and shutdown, logging, config layering, exit status.
//!
//! A binary's `main` parses its flags and hands its library's `run` to [`serve`] (long-running
//! services, stopped by SIGINT/SIGTERM through a [`Shutdown`]) or [`main`] (one-shot commands).
//! Settings come from [`config`]: defaults, then a TOML file, then `SF2C_*` variables, then flags.

pub mod config;
pub mod log;
pub mod run;
pub mod shutdown;

pub use config::ConfigError;
pub use log::{LogArgs, LogFormat, Logging};
pub use run::{Exit, main, serve};
pub use shutdown::{Shutdown, ShutdownTrigger};

/// Serialises the tests that send real signals to this process: every listener sees every signal.
#[cfg(test)]
pub(crate) mod test_signals {
    use std::sync::{Mutex, MutexGuard};

    static LOCK: Mutex<()> = Mutex::new(());

    /// Holds the lock for one test; a panicking test must not block the others.
    pub fn lock() -> MutexGuard<'static, ()> {
        LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends `signal` (e.g. "TERM") to this process with the system's `kill`.
    pub fn send(signal: &str) {
        let pid = std::process::id().to_string();
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}").as_str(), &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}: {status}");
    }
}
