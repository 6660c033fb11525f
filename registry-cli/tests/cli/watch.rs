//! `sf2c-registry watch` on the live network: events as they commit, and resuming from a checkpoint.

use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::fabric::unique_uuid;

use crate::support::{Cli, read_until};

const EVENT_WAIT: Duration = Duration::from_secs(20);

fn event(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("watch printed {line:?}: {e}"))
}

/// Whether a `--json watch` line is the event of transaction `tx`.
fn is_tx(line: &str, tx: &Value) -> bool {
    event(line)["tx_id"] == *tx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_a_line_for_each_write_as_it_commits() {
    let cli = Cli::live();
    let uuid = unique_uuid();
    let reg = cli.register(&uuid, "Gateway").await;
    let block = reg["block"].to_string();

    // From the registration's block, so the stream is known to be open before the next write.
    let (mut child, mut lines) = cli.spawn(&["--json", "watch", "--from-block", &block]);
    let seen = read_until(&mut lines, EVENT_WAIT, |l| is_tx(l, &reg["tx_id"])).await;
    let registered = event(seen.last().unwrap());
    assert_eq!(registered["block"], reg["block"]);
    assert_eq!(registered["event"]["change"], "Registered");
    assert_eq!(registered["event"]["uuid"], uuid.as_str());
    assert_eq!(registered["event"]["record"], reg["result"]);
    for earlier in &seen {
        assert!(event(earlier)["block"].as_u64() >= reg["block"].as_u64());
    }

    let ban = cli.json(&["ban", &uuid, "--reason", "seal broken"]).await;
    let committed = Instant::now();
    let seen = read_until(&mut lines, EVENT_WAIT, |l| is_tx(l, &ban["tx_id"])).await;
    println!("ban committed -> watch line: {:?}", committed.elapsed());
    let banned = event(seen.last().unwrap());
    assert_eq!(banned["block"], ban["block"]);
    let change = &banned["event"];
    assert_eq!(
        (&change["change"], &change["version"]),
        (&"Banned".into(), &2.into())
    );
    assert_eq!(change["reason"], "seal broken");
    assert_eq!(change["record"]["banned"], true);

    child.kill().await.unwrap();
    assert!(child.try_wait().unwrap().is_some(), "watch still running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_after_the_last_event_in_its_checkpoint_file() {
    let cli = Cli::live();
    let uuid = unique_uuid();
    let reg = cli.register(&uuid, "Gateway").await;
    let ban = cli.json(&["ban", &uuid, "--reason", "first"]).await;
    let unban = cli.json(&["unban", &uuid, "--reason", "cleared"]).await;
    let from = reg["block"].to_string();

    // Committed history does not change: one uninterrupted run is the reference (other writers'
    // events included).
    let (mut child, mut lines) = cli.spawn(&["--json", "watch", "--from-block", &from]);
    let reference: Vec<String> = read_until(&mut lines, EVENT_WAIT, |l| is_tx(l, &unban["tx_id"]))
        .await
        .iter()
        .map(|l| event(l)["tx_id"].as_str().unwrap().to_string())
        .collect();
    child.kill().await.unwrap();
    let through_ban = 1 + reference.iter().position(|t| ban["tx_id"] == *t).unwrap();

    let cp = cli.dir.path().join("watch.checkpoint");
    let cp = cp.to_str().unwrap();
    let (from, cli) = (from.as_str(), &cli);
    let run = |count: usize| {
        let count = count.to_string();
        async move {
            let args = [
                "watch",
                "--from-block",
                from,
                "--checkpoint",
                cp,
                "--count",
                &count,
            ];
            cli.ok(&args).await
        }
    };
    let one = run(through_ban).await;
    let two = run(reference.len() - through_ban).await;
    let printed: Vec<String> = one
        .lines()
        .chain(two.lines())
        .map(|l| {
            l.rsplit_once(" tx ")
                .unwrap()
                .1
                .split_whitespace()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        printed, reference,
        "the second run continues right after the first"
    );

    let last = two.lines().last().unwrap();
    for part in ["Unbanned", uuid.as_str(), "v3", "reason: cleared"] {
        assert!(last.contains(part), "{part:?} not in {last:?}");
    }
    let banned = one.lines().last().unwrap();
    assert!(
        banned.contains("Banned") && banned.contains("reason: first"),
        "{banned}"
    );
}
