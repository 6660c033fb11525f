//! Bans made on the ledger without the VPN Centre, by the paths an operator has: our Gateway
//! client, the `sf2c-registry` CLI and Fabric's `peer` CLI (both child processes), each timed to
//! the moment the commit is confirmed to the submitter.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use fabric_client::Contract;
use test_support::fabric::PeerCli;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::ledger::{Ledger, WRITER_ORG};

/// How a ban reaches the ledger; each acts as Org1's admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanPath {
    /// `BanDevice` submitted through our Gateway client, returning once committed.
    GatewayClient,
    /// `sf2c-registry ban`, which prints its result once the transaction committed.
    RegistryCli,
    /// `peer chaincode invoke --waitForEvent`, which exits once the transaction committed.
    PeerCli,
}

impl BanPath {
    pub fn name(self) -> &'static str {
        match self {
            BanPath::GatewayClient => "Gateway client",
            BanPath::RegistryCli => "sf2c-registry",
            BanPath::PeerCli => "peer CLI",
        }
    }
}

/// `sf2c-registry`: `SF2C_REGISTRY_BIN` when set, else built by cargo in this build's profile
/// (cheap when up to date) under the cargo target directory.
pub fn registry_cli() -> PathBuf {
    if let Some(bin) = std::env::var_os("SF2C_REGISTRY_BIN") {
        return PathBuf::from(bin);
    }
    test_support::workspace_bin("registry-cli", "sf2c-registry")
}

/// Bans devices by any [`BanPath`] on the network under test.
pub struct Banner {
    network: PathBuf,
    admin: Contract,
    cli: PathBuf,
    peer: PeerCli,
}

impl Banner {
    pub async fn new(ledger: &Ledger) -> Self {
        Self {
            network: ledger.net.network_json.clone(),
            admin: ledger.net.contract(WRITER_ORG, "admin").await,
            cli: registry_cli(),
            peer: PeerCli::new(&ledger.net, WRITER_ORG, "admin"),
        }
    }

    /// Bans `uuid` by `path`; returns when, and the instant at which, the submitter learnt that
    /// the ban committed. Panics with the tool's error if the ban fails.
    pub async fn ban(&self, path: BanPath, uuid: &str, reason: &str) -> Instant {
        match path {
            BanPath::GatewayClient => {
                self.admin
                    .submit("BanDevice", &[uuid, reason])
                    .await
                    .unwrap_or_else(|e| panic!("BanDevice {uuid} as Org1's admin: {e}"));
                Instant::now()
            }
            BanPath::RegistryCli => self.ban_with_cli(uuid, reason).await,
            BanPath::PeerCli => {
                self.peer
                    .invoke_ok_async(&["BanDevice", uuid, reason])
                    .await;
                Instant::now()
            }
        }
    }

    /// `sf2c-registry ban`: the confirmation is its first line of output (printed after the
    /// commit), which comes a little before the process has exited.
    async fn ban_with_cli(&self, uuid: &str, reason: &str) -> Instant {
        let mut child = tokio::process::Command::new(&self.cli)
            .arg("--network")
            .arg(&self.network)
            .args(["--org", WRITER_ORG, "--identity", "admin", "ban", uuid])
            .args(["--reason", reason])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.cli.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let mut stdout = BufReader::new(stdout);
        let mut first = String::new();
        let read = stdout.read_line(&mut first).await;
        let confirmed = Instant::now();
        // Read the rest too: a closed pipe would fail the CLI's later prints.
        let _ = stdout.read_to_string(&mut first).await;
        let mut errors = String::new();
        let _ = stderr.read_to_string(&mut errors).await;
        let status = child.wait().await.expect("wait for sf2c-registry");
        assert!(
            status.success() && matches!(read, Ok(n) if n > 0),
            "sf2c-registry ban {uuid}: {status}; {errors}"
        );
        confirmed
    }
}
