//! The real `fog-validator` binary as a child process on a config file of the test's, reading the
//! live ledger; killed by PID (SIGKILL, as a crash) when the test asks or its guard drops.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::fabric::LiveNetwork;

use super::Pki;
use super::ops::healthz;

/// What a child validator is given; the rest of its config comes from `extra` (TOML tables).
pub struct ChildConfig<'a> {
    pub pki: &'a Pki,
    pub data_dir: &'a Path,
    pub sink_url: String,
    pub vpn_url: Option<String>,
    /// `network.json` and the organisation whose peer it reads, as the client identity.
    pub network: &'a Path,
    pub org: &'a str,
    /// Extra TOML, e.g. "[registry]\nmax_staleness = \"3s\"\n".
    pub extra: &'a str,
}

/// A running `fog-validator serve`.
pub struct ValidatorProcess {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub ops: SocketAddr,
    log: PathBuf,
}

impl ValidatorProcess {
    /// Writes `{dir}/{name}.toml` and starts the binary on it, logging to `{dir}/{name}.log`.
    pub fn spawn(dir: &Path, name: &str, c: &ChildConfig<'_>) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{}", test_support::free_port())
            .parse()
            .unwrap();
        let ops: SocketAddr = format!("127.0.0.1:{}", test_support::free_port())
            .parse()
            .unwrap();
        let vpn = c
            .vpn_url
            .as_ref()
            .map(|u| format!("vpn_url = {u:?}\n"))
            .unwrap_or_default();
        let toml = format!(
            "id = {name:?}\nlisten = \"{addr}\"\nops_listen = \"{ops}\"\ndata_dir = {:?}\n\
             sink_url = {:?}\n{vpn}tls_cert = {:?}\ntls_key = {:?}\nclient_ca = {:?}\n\
             crl_url = {:?}\ncrl_refresh_ms = 200\nnetwork = {:?}\norg = {:?}\n\
             identity = \"client\"\n{}\n[forward]\nlinger_ms = 5\n",
            c.data_dir,
            c.sink_url,
            c.pki.cert,
            c.pki.key,
            c.pki.ca_file,
            c.pki.crl_url,
            c.network,
            c.org,
            c.extra,
        );
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, toml).unwrap();
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_fog-validator"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("cannot start the fog-validator binary");
        Self {
            child: Some(child),
            addr,
            ops,
            log,
        }
    }

    /// Waits until `/healthz` answers `ok` (the registry loaded, the CRL fresh); returns it.
    pub async fn wait_ok(&mut self, limit: Duration) -> Value {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < limit {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("the validator exited with {status}:\n{}", self.log());
            }
            if tokio::net::TcpStream::connect(self.ops).await.is_ok() {
                let (code, body) = healthz(self.ops).await;
                if code == 200 && body["status"] == "ok" {
                    return body;
                }
                last = Some(body);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no healthy validator within {limit:?} (last /healthz: {last:?}):\n{}",
            self.log()
        );
    }

    /// SIGKILL by PID, no chance to save anything: a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ValidatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The address of `org`'s first peer in the live network.
pub fn peer_addr(net: &LiveNetwork, org: &str) -> SocketAddr {
    let organization = net.file.organization(org).unwrap();
    let endpoint = &organization.peers[0].endpoint;
    endpoint
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("peer endpoint {endpoint}: {e}"))
        .next()
        .unwrap()
}
