//! Fabric's own `peer` CLI (child processes) acting as one identity on the live network, for the tests that drive the deployed contract with it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use device_record::DeviceRecord;
use serde_json::{Value, json};
use test_support::fabric::LiveNetwork;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fabric's `peer` binary acting as one identity, as `network.sh env ORG IDENTITY` sets it up.
pub struct PeerCli {
    peer: PathBuf,
    env: Vec<(String, String)>,
    pub net: LiveNetwork,
}

impl PeerCli {
    pub fn new(org: &str, identity: &str) -> Self {
        let root = repo_root();
        let bin = run(Command::new(root.join("scripts/install-fabric.sh"))
            .arg("--print-bin")
            .current_dir(&root));
        assert!(
            bin.status.success(),
            "install-fabric.sh --print-bin: {}",
            text(&bin.stderr)
        );
        let peer = PathBuf::from(text(&bin.stdout).trim()).join("peer");
        // The export lines are shell-quoted; let bash evaluate them and report the result.
        let script =
            r#"set -e; lines=$(fabric-network/network.sh env "$1" "$2"); eval "$lines"; env -0"#;
        let out = run(Command::new("bash")
            .args(["-c", script, "bash", org, identity])
            .current_dir(&root));
        assert!(
            out.status.success(),
            "network.sh env {org} {identity}: {}",
            text(&out.stderr)
        );
        let env: Vec<(String, String)> = text(&out.stdout)
            .split('\0')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| {
                ["CORE_PEER_", "FABRIC_", "ORDERER_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(
            env.iter().any(|(k, _)| k == "CORE_PEER_MSPCONFIGPATH"),
            "{env:?}"
        );
        Self {
            peer,
            env,
            net: LiveNetwork::get(),
        }
    }

    pub fn var(&self, name: &str) -> &str {
        let found = self.env.iter().find(|(k, _)| k == name);
        &found
            .unwrap_or_else(|| panic!("network.sh env sets no {name}"))
            .1
    }

    pub fn chaincode(&self, verb: &str, args: &[&str]) -> Command {
        let mut command = Command::new(&self.peer);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let file = &self.net.file;
        command.args([
            "chaincode",
            verb,
            "-C",
            &file.channel,
            "-n",
            &file.chaincode,
        ]);
        command.arg("-c").arg(json!({ "Args": args }).to_string());
        command
    }

    /// `peer chaincode invoke` endorsed by every organisation's peer, waiting for the commit.
    pub fn invoke(&self, args: &[&str]) -> Output {
        let orgs: Vec<&str> = self
            .net
            .file
            .organizations
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        self.invoke_endorsed_by(&orgs, args)
    }

    /// `peer chaincode invoke` sending the proposal only to the peers of `orgs` (by name, e.g.
    /// `Org2`), then ordering whatever they endorsed and waiting for the commit.
    pub fn invoke_endorsed_by(&self, orgs: &[&str], args: &[&str]) -> Output {
        let mut command = self.chaincode("invoke", args);
        command.args(["--waitForEvent", "--tls"]);
        command.args([
            "-o",
            self.var("ORDERER_ADDRESS"),
            "--cafile",
            self.var("ORDERER_CA"),
        ]);
        for org in &self.net.file.organizations {
            if !orgs.contains(&org.name.as_str()) {
                continue;
            }
            let peer = &org.peers[0];
            command.args(["--peerAddresses", &peer.endpoint, "--tlsRootCertFiles"]);
            command.arg(self.net.file.resolve(&peer.tls_root_cert));
        }
        run(&mut command)
    }

    pub fn invoke_ok(&self, args: &[&str]) {
        let out = self.invoke(args);
        assert!(
            out.status.success(),
            "invoke {}: {}",
            args[0],
            text(&out.stderr)
        );
    }

    /// `peer chaincode query` on this identity's own peer.
    pub fn query(&self, args: &[&str]) -> Output {
        run(&mut self.chaincode("query", args))
    }

    /// The payload a successful query prints.
    pub fn query_ok(&self, args: &[&str]) -> String {
        let out = self.query(args);
        assert!(
            out.status.success(),
            "query {}: {}",
            args[0],
            text(&out.stderr)
        );
        text(&out.stdout).trim_end_matches('\n').to_string()
    }

    pub fn device(&self, uuid: &str) -> DeviceRecord {
        DeviceRecord::from_json(self.query_ok(&["GetDevice", uuid]).as_bytes()).unwrap()
    }

    pub fn history(&self, uuid: &str) -> Vec<Value> {
        serde_json::from_str(&self.query_ok(&["GetDeviceHistory", uuid])).unwrap()
    }
}
