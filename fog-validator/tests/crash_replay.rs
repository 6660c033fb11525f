//! Replay state is on disk at the moment of acceptance: the real validator binary (a child
//! process reading the live ledger) accepts a gateway's messages, is SIGKILLed the instant the
//! answer arrives, restarts on the same data directory, and refuses the same messages as used
//! sequence numbers (1005, not stale); nothing new reaches the sink.

mod support;

use std::time::Duration;

use fog_validator::validator::now_ms;
use support::child::{ChildConfig, ValidatorProcess};
use support::ledger::registered_gateway;
use support::ops::plain_get;
use support::*;
use test_support::fabric::LiveNetwork;
use test_support::wait::until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_answered_accepted_stay_used_after_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    let gateway = registered_gateway(&admin).await;
    let pki = Pki::start(dir.path()).await;
    let sink = Sink::start(&dir.path().join("sink.db"), 0).await;
    let data = dir.path().join("validator");
    let settings = ChildConfig {
        pki: &pki,
        data_dir: &data,
        sink_url: sink.url(),
        vpn_url: None,
        network: &net.network_json,
        org: "Org2",
        extra: "",
    };
    let client = pki.client(&gateway.uuid);

    let mut first = ValidatorProcess::spawn(dir.path(), "fog-crash-1", &settings);
    first.wait_ok(Duration::from_secs(60)).await;
    // One message alone, then a batch: each answered accepted, the process killed at once.
    let single = gateway.message(1, now_ms());
    let answer = submit(&client, first.addr, &single).await;
    first.kill();
    assert_eq!(answer["result"]["accepted"], true, "{answer}");

    let mut second = ValidatorProcess::spawn(dir.path(), "fog-crash-2", &settings);
    second.wait_ok(Duration::from_secs(60)).await;
    let batch: Vec<String> = (2..=11).map(|seq| gateway.message(seq, now_ms())).collect();
    let answers = submit_batch(&client, second.addr, &batch).await;
    second.kill();
    assert!(
        answers.iter().all(|a| a["result"]["accepted"] == true),
        "{answers:?}"
    );

    let mut third = ValidatorProcess::spawn(dir.path(), "fog-crash-3", &settings);
    third.wait_ok(Duration::from_secs(60)).await;
    let mut again = vec![single];
    again.extend(batch);
    for answer in submit_batch(&client, third.addr, &again).await {
        assert_eq!(error_code(&answer), Some(1005), "{answer}");
        let data = answer["error"]["data"].as_object().unwrap();
        assert!(
            !data.contains_key("stale"),
            "a used seq, not a stale one: {answer}"
        );
    }

    // The spooled records reach the sink once each; the restarted validators accepted nothing new.
    let query = sink_api::TelemetryQuery {
        device: gateway.uuid.clone(),
        from_ms: None,
        to_ms: None,
        limit: None,
    };
    let sink_client = sink_api::SinkClient::new(&sink.url()).unwrap();
    let stored = until(
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            let rows = sink_client.query(&query).await.unwrap();
            (rows.len() >= 11).then_some(rows)
        },
    )
    .await;
    let (rows, _) = stored.expect("the accepted messages did not all reach the sink");
    let mut seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
    let (_, metrics) = plain_get(third.ops, "/metrics").await;
    assert!(
        metrics.contains("fog_validator_accepted_total 0\n")
            && metrics.contains("fog_validator_refused_total{code=\"1005\"} 11\n"),
        "{metrics}"
    );
}
