//! Fabric's own `peer` CLI as a child process, acting as one identity in the environment
//! `fabric-network/network.sh env ORG IDENTITY` prints for the network under test.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::json;

use super::{LiveNetwork, repo_root};

/// Runs `command` to completion; panics if it cannot be started.
fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// `out` of `peer chaincode VERB args`; panics with the CLI's stderr unless it succeeded.
fn succeeded(verb: &str, args: &[&str], out: Output) -> Output {
    assert!(
        out.status.success(),
        "peer chaincode {verb} {args:?}: {}",
        text(&out.stderr)
    );
    out
}

/// A CLI's output as text (lossily), for messages and assertions on stderr.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fabric's `peer` binary acting as one identity of one organisation.
pub struct PeerCli {
    peer: PathBuf,
    env: Vec<(String, String)>,
    net: LiveNetwork,
}

impl PeerCli {
    /// `org`'s `identity` (`admin` or `client`) on `net`.
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

    /// The network this identity acts on.
    pub fn net(&self) -> &LiveNetwork {
        &self.net
    }

    /// A variable of the identity's environment; panics if `network.sh env` did not set it.
    pub fn var(&self, name: &str) -> &str {
        let found = self.env.iter().find(|(k, _)| k == name);
        &found
            .unwrap_or_else(|| panic!("network.sh env sets no {name}"))
            .1
    }

    /// `peer chaincode VERB -C channel -n chaincode -c {"Args": args}` in this identity's
    /// environment, for the caller to add flags to and run.
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

    /// The `peer chaincode invoke` that sends the proposal only to the peers of `orgs` (by name,
    /// e.g. `Org2`), orders whatever they endorsed and waits for the commit (`--waitForEvent`).
    pub fn invoke_command(&self, orgs: &[&str], args: &[&str]) -> Command {
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
        command
    }

    /// Every organisation's name, so an invoke is endorsed by each one's peer.
    fn all_orgs(&self) -> Vec<&str> {
        let orgs = &self.net.file.organizations;
        orgs.iter().map(|o| o.name.as_str()).collect()
    }

    /// `peer chaincode invoke` endorsed by every organisation's peer, waiting for the commit.
    pub fn invoke(&self, args: &[&str]) -> Output {
        self.invoke_endorsed_by(&self.all_orgs(), args)
    }

    /// [`PeerCli::invoke`] endorsed only by the peers of `orgs`.
    pub fn invoke_endorsed_by(&self, orgs: &[&str], args: &[&str]) -> Output {
        run(&mut self.invoke_command(orgs, args))
    }

    /// [`PeerCli::invoke`] that must succeed; panics with the CLI's stderr if it fails.
    pub fn invoke_ok(&self, args: &[&str]) {
        succeeded("invoke", args, self.invoke(args));
    }

    /// [`PeerCli::invoke_ok`] awaited as a child of the test's runtime, so other tasks keep
    /// running while the CLI waits for the commit.
    pub async fn invoke_ok_async(&self, args: &[&str]) {
        let mut command =
            tokio::process::Command::from(self.invoke_command(&self.all_orgs(), args));
        let out = command
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run peer chaincode invoke: {e}"));
        succeeded("invoke", args, out);
    }

    /// `peer chaincode query` on this identity's own peer.
    pub fn query(&self, args: &[&str]) -> Output {
        run(&mut self.chaincode("query", args))
    }

    /// The payload a query that must succeed prints, without the trailing newline.
    pub fn query_ok(&self, args: &[&str]) -> String {
        let out = succeeded("query", args, self.query(args));
        text(&out.stdout).trim_end_matches('\n').to_string()
    }
}
