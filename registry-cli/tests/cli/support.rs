//! Runs `sf2c-registry` as a child process against the live network, and writes its input files.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use test_support::fabric::{LiveNetwork, unique_uuid, unique_virtual_ip};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

pub const BIN: &str = env!("CARGO_BIN_EXE_sf2c-registry");
/// No single command may take longer (a submit commits in about a second).
const COMMAND_LIMIT: Duration = Duration::from_secs(90);

/// The binary pointed at one `network.json`, with a scratch folder for key and enrolment files.
pub struct Cli {
    pub network: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Cli {
    /// The live network.
    pub fn live() -> Cli {
        Cli::at(LiveNetwork::get().network_json)
    }

    pub fn at(network: PathBuf) -> Cli {
        Cli {
            network,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--network")
            .arg(&self.network)
            .args(args)
            .kill_on_drop(true);
        cmd
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        tokio::time::timeout(COMMAND_LIMIT, self.command(args).output())
            .await
            .unwrap_or_else(|_| {
                panic!("sf2c-registry {args:?} did not finish in {COMMAND_LIMIT:?}")
            })
            .unwrap()
    }

    /// Stdout of a command that must succeed.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "sf2c-registry {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The JSON a successful command prints (`--json` is added).
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?} printed {text:?}: {e}"))
    }

    /// Stderr of a command that must fail with exit status 1 and print nothing on stdout.
    pub async fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "sf2c-registry {args:?} should fail; stdout {:?}, stderr {stderr:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
        stderr
    }

    /// The device as the ledger holds it now, or `None` when it is not registered.
    pub async fn device(&self, uuid: &str) -> Option<Value> {
        let out = self.run(&["--json", "get", uuid]).await;
        if out.status.success() {
            return Some(serde_json::from_slice(&out.stdout).unwrap());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("device {uuid} is not registered")),
            "{stderr}"
        );
        None
    }

    /// Starts a long-running command (e.g. `watch`) whose stdout is read line by line.
    pub fn spawn(&self, args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        (child, lines)
    }

    /// Writes a fresh SubjectPublicKeyInfo PEM file (`ed25519` or P-256); returns its path and text.
    pub fn key_file(&self, ed25519: bool) -> (String, String) {
        let alg = if ed25519 {
            &rcgen::PKCS_ED25519
        } else {
            &rcgen::PKCS_ECDSA_P256_SHA256
        };
        let pem = rcgen::KeyPair::generate_for(alg).unwrap().public_key_pem();
        let path = self.file(&format!("{}.pem", unique_uuid()), &pem);
        (path, pem)
    }

    /// Writes an enrolment file in the shape `edge-gateway keygen` produces; returns its path and key.
    pub fn enrolment(&self, uuid: &str, node_type: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let enrolment = serde_json::json!({
            "uuid": uuid,
            "node_type": node_type,
            "public_key": key.public_key_pem(),
            "key_algorithm": "ECDSA-P256",
        });
        let text = serde_json::to_string_pretty(&enrolment).unwrap();
        let path = self.file(&format!("enrolment-{uuid}.json"), &text);
        (path, key.public_key_pem())
    }

    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Registers a new Gateway with flags as the Org1 admin; returns the committed JSON.
    pub async fn register(&self, uuid: &str, node_type: &str) -> Value {
        let (key, _) = self.key_file(false);
        let ip = fresh_ip();
        self.json(&[
            "register",
            "--uuid",
            uuid,
            "--type",
            node_type,
            "--public-key",
            &key,
            "--virtual-ip",
            &ip,
        ])
        .await
    }
}

/// A unique virtual IP in the canonical text the registry stores.
pub fn fresh_ip() -> String {
    unique_virtual_ip().parse::<Ipv6Addr>().unwrap().to_string()
}

/// Reads lines until one satisfies `wanted` (up to `limit`); returns every line read, that one last.
pub async fn read_until(
    lines: &mut Lines<BufReader<ChildStdout>>,
    limit: Duration,
    mut wanted: impl FnMut(&str) -> bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(limit, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = wanted(&line);
            seen.push(line);
            if done {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "wanted line not printed; got {seen:?}");
    seen
}

/// A copy of `live`'s network.json in `dir` whose peers all point at a closed 127.0.0.1 port;
/// every other path is made absolute so the copy works from anywhere. Returns it and the port.
pub fn unreachable_network(live: &LiveNetwork, dir: &Path) -> (PathBuf, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut file = live.file.clone();
    let absolute = |p: &mut PathBuf| *p = live.file.resolve(p);
    for org in &mut file.organizations {
        for peer in &mut org.peers {
            peer.endpoint = format!("127.0.0.1:{port}");
            absolute(&mut peer.tls_root_cert);
        }
        for id in [&mut org.admin, &mut org.client] {
            for p in [&mut id.msp_dir, &mut id.cert, &mut id.key]
                .into_iter()
                .flatten()
            {
                absolute(p);
            }
        }
    }
    for orderer in &mut file.orderers {
        absolute(&mut orderer.tls_root_cert);
    }
    let path = dir.join("network.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    (path, port)
}
