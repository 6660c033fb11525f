//! Per-call deadlines on the live network: a paused peer or orderer, a transaction that never
//! commits, or a peer address that accepts and never answers ends the call with
//! `GatewayError::Timeout` naming the call, the peer and the deadline, within about the deadline.
//!
//! Nodes are paused with SIGSTOP by the PID `network.sh` recorded (checked against the process
//! name first) and resumed with SIGCONT when the guard drops, also when an assertion fails. The
//! tests that pause take turns, so one never sees another's pause.

mod live;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use fabric_client::{Call, Contract, Deadlines, GatewayError, connect};
use live::*;
use test_support::silent::SilentListener;
use tokio::sync::Mutex;

/// Short enough for a quick test, long enough for a healthy call on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_millis(2500);
/// How late after the deadline the error may come (timer and scheduling slack).
const SLACK: Duration = Duration::from_millis(1500);

static PAUSES: Mutex<()> = Mutex::const_new(());

fn deadlines() -> Deadlines {
    Deadlines {
        evaluate: DEADLINE,
        endorse: DEADLINE,
        submit: DEADLINE,
        commit_status: DEADLINE,
    }
}

/// Nodes of the live network stopped with SIGSTOP; SIGCONT when dropped.
struct Paused {
    pids: Vec<String>,
}

/// Pauses every node whose PID file name starts with `prefix` (e.g. `orderer`).
fn pause(net: &LiveNetwork, prefix: &str) -> Paused {
    let dir = net.dir().join("pids");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path: PathBuf = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if !name.starts_with(prefix) {
            continue;
        }
        // `PID COMMAND`, as network.sh writes it; a PID reused by another program is left alone.
        let text = std::fs::read_to_string(&path).unwrap();
        let mut words = text.split_whitespace();
        let (pid, command) = (words.next().unwrap(), words.next().unwrap_or(""));
        let running = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert_eq!(running.trim(), command, "{name} (PID {pid}) is not running");
        signal("-STOP", pid);
        pids.push(pid.to_string());
    }
    assert!(
        !pids.is_empty(),
        "no node named {prefix}* in {}",
        dir.display()
    );
    Paused { pids }
}

fn signal(which: &str, pid: &str) {
    let status = Command::new("kill").args([which, pid]).status().unwrap();
    assert!(status.success(), "kill {which} {pid} failed");
}

impl Drop for Paused {
    fn drop(&mut self) {
        for pid in &self.pids {
            signal("-CONT", pid);
        }
    }
}

/// Asserts `result` is a timeout of `call` through `endpoint`, reported within about the deadline.
fn assert_timeout<T: std::fmt::Debug>(
    result: Result<T, GatewayError>,
    call: Call,
    endpoint: &str,
    started: Instant,
) {
    let took = started.elapsed();
    let err = result.expect_err("the call should have timed out");
    assert!(
        matches!(&err, GatewayError::Timeout { call: c, endpoint: e, deadline, .. }
            if *c == call && e == endpoint && *deadline == DEADLINE),
        "{err:?}"
    );
    assert!(
        took >= DEADLINE && took < DEADLINE + SLACK,
        "{call} timed out after {took:?}, deadline {DEADLINE:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&call.to_string()) && text.contains(endpoint) && text.contains("2500 ms"),
        "{text}"
    );
    eprintln!("{call}: timeout reported after {took:?}: {text}");
}

async fn contract(net: &LiveNetwork, identity: &str) -> Contract {
    net.contract("Org1", identity)
        .await
        .with_deadlines(deadlines())
}

fn org1_endpoint(net: &LiveNetwork) -> String {
    net.file.organization("Org1").unwrap().peers[0]
        .endpoint
        .clone()
}

async fn healthy(contract: &Contract) {
    within(
        "evaluate after resuming",
        contract.evaluate("DeviceExists", &[unique_uuid()]),
    )
    .await
    .unwrap_or_else(|e| panic!("the network did not recover: {e}"));
}

#[tokio::test]
async fn evaluate_on_a_paused_peer_times_out() {
    let _turn = PAUSES.lock().await;
    let net = LiveNetwork::get();
    let reader = contract(&net, "client").await;
    // The connection is up before the pause: the request itself goes unanswered.
    healthy(&reader).await;
    let started = Instant::now();
    let result = {
        let _paused = pause(&net, "peer0.org1");
        reader.evaluate("DeviceExists", &[unique_uuid()]).await
    };
    assert_timeout(result, Call::Evaluate, &org1_endpoint(&net), started);
    healthy(&reader).await;
}

#[tokio::test]
async fn endorsement_waiting_on_a_paused_peer_of_the_other_organisation_times_out() {
    let _turn = PAUSES.lock().await;
    let net = LiveNetwork::get();
    let admin = contract(&net, "admin").await;
    healthy(&admin).await;
    let body = request(&unique_uuid(), &unique_virtual_ip(), &p256_pem(), &[]);
    let started = Instant::now();
    let result = {
        // Each device write needs Org2's endorsement too; Org1's gateway waits for it.
        let _paused = pause(&net, "peer0.org2");
        admin.submit("RegisterDevice", &[body]).await
    };
    assert_timeout(result, Call::Endorse, &org1_endpoint(&net), started);
    healthy(&admin).await;
}

#[tokio::test]
async fn submit_to_paused_orderers_times_out() {
    let _turn = PAUSES.lock().await;
    let net = LiveNetwork::get();
    let admin = contract(&net, "admin").await;
    healthy(&admin).await;
    // A fresh device: should the orderers still order it after resuming, nothing else changes.
    let body = request(&unique_uuid(), &unique_virtual_ip(), &p256_pem(), &[]);
    let options = fabric_client::SubmitOptions::default();
    let result = {
        let _paused = pause(&net, "orderer");
        // Endorsement needs only the peers; time the submit alone.
        let started = Instant::now();
        let result = admin
            .submit_async("RegisterDevice", &[body], &options)
            .await;
        (
            result.map(|(_, commit)| commit.tx_id().to_string()),
            started,
        )
    };
    assert_timeout(result.0, Call::Submit, &org1_endpoint(&net), result.1);
    healthy(&admin).await;
}

#[tokio::test]
async fn waiting_for_a_transaction_that_never_commits_times_out() {
    let net = LiveNetwork::get();
    let reader = contract(&net, "client").await;
    // A transaction ID no one submitted: the peer waits for a commit that never comes.
    let tx_id: String = (0..4).map(|_| unique_uuid().replace('-', "")).collect();
    let commit = reader.network().commit_of(&tx_id[..64]);
    let started = Instant::now();
    let result = commit.status().await;
    assert_timeout(result, Call::CommitStatus, &org1_endpoint(&net), started);
    // The same wait with a longer deadline of its own reports a real commit at once.
    let (_, done) = register(&live_admin(&net).await, &unique_uuid()).await;
    let status = reader
        .network()
        .commit_of(done.tx_id)
        .with_deadline(Duration::from_secs(30))
        .status()
        .await
        .unwrap();
    assert!(
        status.is_valid() && status.block == done.block,
        "{status:?}"
    );
}

async fn live_admin(net: &LiveNetwork) -> Contract {
    net.contract("Org1", "admin").await
}

#[tokio::test]
async fn a_peer_address_that_accepts_and_never_answers_times_out() {
    let net = LiveNetwork::get();
    let dir = tempfile::tempdir().unwrap();
    // A network fault, not a peer: the socket accepts, then says nothing, not even TLS.
    let silent = SilentListener::start().await;
    let silent_addr = silent.addr.to_string();
    let settings = net.settings_via("Org1", "client", &silent_addr, dir.path());
    let connection = connect(&settings).unwrap();
    let contract = connection
        .network
        .contract(&connection.chaincode)
        .with_deadlines(deadlines());
    let started = Instant::now();
    let result = contract.evaluate("DeviceExists", &[unique_uuid()]).await;
    assert_timeout(result, Call::Evaluate, &silent_addr, started);
    drop(silent);
}
