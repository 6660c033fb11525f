//! Fabric's own `peer` CLI as a child process, with the environment `fabric-network/network.sh env
//! ORG IDENTITY` prints for the network under test: an operator's ban that bypasses our code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use test_support::fabric::LiveNetwork;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fabric's `peer` binary acting as one identity of one organisation.
pub struct PeerCli {
    peer: PathBuf,
    env: Vec<(String, String)>,
    net: LiveNetwork,
}

impl PeerCli {
    /// `org`'s `identity` (`admin` or `client`) on the network `SF2C_NETWORK` names.
    pub fn new(net: &LiveNetwork, org: &str, identity: &str) -> Self {
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
        // The export lines are shell-quoted; let bash evaluate them and report the result. The run
        // directory is the one holding network.json, so a network under SF2C_RUN_DIR is found.
        let script =
            r#"set -e; lines=$(fabric-network/network.sh env "$1" "$2"); eval "$lines"; env -0"#;
        let out = run(Command::new("bash")
            .args(["-c", script, "bash", org, identity])
            .env("SF2C_RUN_DIR", net.dir())
            .current_dir(&root));
        assert!(
            out.status.success(),
            "network.sh env {org} {identity}: {}",
            text(&out.stderr)
        );
        let mut env: Vec<(String, String)> = text(&out.stdout)
            .split('\0')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| {
                ["CORE_PEER_", "FABRIC_", "ORDERER_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // `network.sh env` derives ports from SF2C_PORT_OFFSET in the caller's environment, which
        // the run directory does not record; network.json has the network's real endpoints.
        let own = net
            .file
            .organization(org)
            .unwrap_or_else(|e| panic!("{}: {e}", net.network_json.display()));
        let orderer = net
            .file
            .orderers
            .first()
            .expect("network.json lists an orderer");
        env.retain(|(k, _)| k != "CORE_PEER_ADDRESS" && k != "ORDERER_ADDRESS");
        env.push(("CORE_PEER_ADDRESS".into(), own.peers[0].endpoint.clone()));
        env.push(("ORDERER_ADDRESS".into(), orderer.endpoint.clone()));
        assert!(
            env.iter().any(|(k, _)| k == "CORE_PEER_MSPCONFIGPATH"),
            "network.sh env printed no MSP path: {env:?}"
        );
        Self {
            peer,
            env,
            net: net.clone(),
        }
    }

    fn var(&self, name: &str) -> &str {
        let found = self.env.iter().find(|(k, _)| k == name);
        &found
            .unwrap_or_else(|| panic!("network.sh env sets no {name}"))
            .1
    }

    /// `peer chaincode invoke -c {"Args": args}` endorsed by every organisation's peer, waiting
    /// for the commit (`--waitForEvent`); panics with the CLI's stderr if it fails.
    pub async fn invoke(&self, args: &[&str]) {
        let file = &self.net.file;
        let mut command = tokio::process::Command::new(&self.peer);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command.args([
            "chaincode",
            "invoke",
            "-C",
            &file.channel,
            "-n",
            &file.chaincode,
        ]);
        command.arg("-c").arg(json!({ "Args": args }).to_string());
        command.args(["--waitForEvent", "--tls"]);
        command.args(["-o", self.var("ORDERER_ADDRESS")]);
        command.args(["--cafile", self.var("ORDERER_CA")]);
        for org in &file.organizations {
            let peer = &org.peers[0];
            command.args(["--peerAddresses", &peer.endpoint, "--tlsRootCertFiles"]);
            command.arg(file.resolve(&peer.tls_root_cert));
        }
        let out = command
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run peer chaincode invoke: {e}"));
        assert!(
            out.status.success(),
            "peer chaincode invoke {args:?}: {}",
            text(&out.stderr)
        );
    }
}
