//! The real `edge-gateway run` process: store-and-forward across a restart, sequence numbers across restarts.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::validator_double::ValidatorDouble;
use common::{ChildGuard, DeviceDir, TestPki, dead_validator_url, wait_for, write_lines};
use disk_queue::DiskQueue;
use edge_gateway::signer::QueuedMessage;
use signed_message::{Algorithm, Measurement};

fn start(config: &Path) -> ChildGuard {
    let child = Command::new(env!("CARGO_BIN_EXE_edge-gateway"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    ChildGuard(Some(child))
}

fn queued(path: &Path) -> u64 {
    DiskQueue::<QueuedMessage>::open(path)
        .and_then(|q| q.len())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_messages_wait_on_disk_and_a_restarted_gateway_delivers_each_once_in_order() {
    let pki = TestPki::new();
    let device = DeviceDir::new(&pki, Algorithm::RS256);
    let queue_path = device.path("queue.db");

    // Run 1: no validator reachable; every reading must end up on disk.
    let input = device.path("first.ndjson");
    write_lines(
        &input,
        &(0..12)
            .map(|n| format!(r#"{{"n": {n}}}"#))
            .collect::<Vec<_>>(),
    );
    let offline = device.write_config(
        "offline.toml",
        &[dead_validator_url(), dead_validator_url()],
        &input,
    );
    let gw = start(&offline);
    assert!(gw.pid() > 0);
    wait_for(Duration::from_secs(20), "12 queued messages", || {
        queued(&queue_path) == 12
    })
    .await;
    assert!(
        gw.terminate().await,
        "gateway did not exit cleanly on SIGTERM"
    );
    assert_eq!(queued(&queue_path), 12, "shutdown must keep the queue");

    // Run 2: a validator is up; the backlog goes out, nothing new is read.
    let double = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    let empty = device.path("empty.ndjson");
    std::fs::write(&empty, "").unwrap();
    let online = device.write_config("online.toml", std::slice::from_ref(&double.url), &empty);
    let gw = start(&online);
    wait_for(Duration::from_secs(20), "backlog delivered", || {
        double.accepted().len() == 12
    })
    .await;
    wait_for(Duration::from_secs(10), "queue acknowledged", || {
        queued(&queue_path) == 0
    })
    .await;
    assert!(gw.terminate().await);
    let accepted = double.accepted();
    let ns: Vec<i64> = accepted.iter().map(|a| number(&a.data["n"])).collect();
    assert_eq!(
        ns,
        (0..12).collect::<Vec<_>>(),
        "delivered out of order or incomplete"
    );
    assert!(
        double.refused().is_empty(),
        "something was sent twice: {:?}",
        double.refused()
    );
    let last_seq = accepted.last().unwrap().seq;

    // Run 3: the queue is empty now; new readings must still get numbers never used before.
    let more = device.path("more.ndjson");
    write_lines(
        &more,
        &(12..15)
            .map(|n| format!(r#"{{"n": {n}}}"#))
            .collect::<Vec<_>>(),
    );
    let again = device.write_config("again.toml", std::slice::from_ref(&double.url), &more);
    let gw = start(&again);
    wait_for(Duration::from_secs(20), "3 more deliveries", || {
        double.accepted().len() == 15
    })
    .await;
    assert!(gw.terminate().await);
    let seqs: Vec<u64> = double.accepted().iter().map(|a| a.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq reused or reordered: {seqs:?}"
    );
    assert!(seqs[12] > last_seq);
    assert!(
        double.refused().is_empty(),
        "a replayed seq was refused: {:?}",
        double.refused()
    );
}

fn number(m: &Measurement) -> i64 {
    match m {
        Measurement::Number(n) => n.as_i64().unwrap(),
        other => panic!("not a number: {other:?}"),
    }
}
