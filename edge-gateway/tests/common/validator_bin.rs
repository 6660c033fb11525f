//! The `fog-validator` binary as a child process: built if needed, started from a TOML config
//! file, waited for until it listens, and stopped by PID (SIGTERM) like an operator would.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{ChildGuard, wait_for};

/// The `fog-validator` binary, built if needed (cheap when up to date).
pub fn binary() -> PathBuf {
    test_support::workspace_bin("fog-validator", "fog-validator")
}

/// A validator process serving on `listen`; its log goes to `log`.
pub struct ValidatorProcess {
    pub listen: SocketAddr,
    pub log: PathBuf,
    child: Option<ChildGuard>,
}

impl ValidatorProcess {
    /// Starts `bin serve --config config` and waits (up to 60 s) until `listen` accepts TCP.
    pub async fn start(bin: &Path, config: &Path, listen: SocketAddr, log: &Path) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut guard = ChildGuard(Some(child));
        wait_for(Duration::from_secs(60), "the validator to listen", || {
            if let Some(Ok(Some(status))) = guard.0.as_mut().map(|c| c.try_wait()) {
                panic!("fog-validator exited with {status}:\n{}", tail(log));
            }
            std::net::TcpStream::connect(listen).is_ok()
        })
        .await;
        ValidatorProcess {
            listen,
            log: log.to_path_buf(),
            child: Some(guard),
        }
    }

    /// Stops it by PID with SIGTERM and waits for a clean exit.
    pub async fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            assert!(
                child.terminate().await,
                "fog-validator did not exit cleanly on SIGTERM:\n{}",
                tail(&self.log)
            );
        }
    }
}

/// The last 40 lines of a log file, for failure messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
