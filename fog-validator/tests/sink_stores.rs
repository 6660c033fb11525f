//! The message path's storage promises, written once and run against the cloud sink on each of its
//! real stores: a SQLite file and a PostgreSQL server (initdb + postgres on 127.0.0.1).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use device_record::NodeType;
use fog_validator::validator::now_ms;
use signed_message::Algorithm;
use support::stores::{SinkStore, StoreSink};
use support::*;
use test_doubles::StaticRegistryFeed;
use test_doubles::TestDevice;

/// Messages per request while traffic runs.
const BATCH: usize = 5;

/// A PKI, one registered gateway with its client certificate, and the registry test double.
struct World {
    dir: tempfile::TempDir,
    pki: Pki,
    client: Client,
    gateway: TestDevice,
    feed: Arc<StaticRegistryFeed>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::start(dir.path()).await;
    let gateway = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let feed = Arc::new(StaticRegistryFeed::new(vec![gateway.record.clone()]));
    let client = pki.client(&gateway.uuid);
    World {
        dir,
        pki,
        client,
        gateway,
        feed,
    }
}

/// Every row the sink holds for `device`, ordered by seq.
async fn rows(sink_url: &str, device: &str) -> Vec<sink_api::TelemetryRecord> {
    let query = sink_api::TelemetryQuery {
        device: device.into(),
        from_ms: None,
        to_ms: None,
        limit: Some(10_000),
    };
    let mut rows = sink_api::SinkClient::new(sink_url)
        .unwrap()
        .query(&query)
        .await
        .unwrap();
    rows.sort_by_key(|r| r.seq);
    rows
}

async fn a_valid_message_is_stored_exactly_once(store: SinkStore) {
    let mut w = world().await;
    let sink = StoreSink::start(&store, 0).await;
    let cfg = config(&w.pki, &w.dir.path().join("validator"), sink.url(), None);
    let running = start(&cfg, w.feed.clone()).await;

    let message = w.gateway.next_message(now_ms());
    let answer = submit(&w.client, running.addr, &message).await;
    assert_eq!(answer["result"]["accepted"], true, "{answer}");

    let validator = running.validator.clone();
    let drained = eventually(Duration::from_secs(5), || validator.forwarder.depth() == 0).await;
    assert!(drained.is_some(), "the spool was not drained to the sink");
    // The spool acks only after the sink answered, so the row is there now; a late duplicate
    // would show up as a second row.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stored = rows(&sink.url(), &w.gateway.uuid).await;
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(stored[0].seq, 1);
    assert_eq!(stored[0].message, message);
    assert_eq!(stored[0].validator, "fog-test-1");
    assert_eq!(stored[0].data["humidity"], 40);
    let counts = sink_api::SinkClient::new(&sink.url())
        .unwrap()
        .counts()
        .await
        .unwrap();
    assert_eq!(counts.total, 1);
    running.shutdown().await;
    sink.stop().await;
}

async fn a_sink_restarted_under_traffic_stores_every_accepted_message_once(store: SinkStore) {
    let w = world().await;
    let device = w.gateway.uuid.clone();
    let sink = StoreSink::start(&store, 0).await;
    let (port, sink_url) = (sink.addr.port(), sink.url());
    let cfg = config(&w.pki, &w.dir.path().join("validator"), sink.url(), None);
    let running = start(&cfg, w.feed.clone()).await;

    // Traffic: one batch every 10 ms until told to stop; every message must be accepted.
    let accepted = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let (accepted, done) = (accepted.clone(), done.clone());
        let (client, addr, mut gateway) = (w.client.clone(), running.addr, w.gateway);
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let batch: Vec<String> =
                    (0..BATCH).map(|_| gateway.next_message(now_ms())).collect();
                let answers = submit_batch(&client, addr, &batch).await;
                assert!(
                    answers.iter().all(|a| a["result"]["accepted"] == true),
                    "{answers:?}"
                );
                accepted.fetch_add(BATCH as u64, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let client = sink_api::SinkClient::new(&sink_url).unwrap();
    let mut live = false;
    for _ in 0..500 {
        if client.counts().await.unwrap().total >= 20 {
            live = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(live, "the sink never received the first 20 messages");

    sink.stop().await;
    let at_stop = accepted.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiting = running.validator.forwarder.depth();
    let at_restart = accepted.load(Ordering::SeqCst);
    assert!(
        at_restart > at_stop,
        "no traffic was accepted while the sink was down"
    );
    assert!(
        waiting > 0,
        "nothing waited in the spool while the sink was down"
    );

    let sink = StoreSink::start(&store, port).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    done.store(true, Ordering::SeqCst);
    sender.await.unwrap();
    let total = accepted.load(Ordering::SeqCst);
    assert!(total > at_restart, "no traffic after the sink came back");

    let validator = running.validator.clone();
    let drained = eventually(Duration::from_secs(20), || validator.forwarder.depth() == 0).await;
    assert!(
        drained.is_some(),
        "the spool was not drained after the restart"
    );
    let stored = rows(&sink.url(), &device).await;
    let seqs: Vec<u64> = stored.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "every accepted message exactly once"
    );
    let counts = sink_api::SinkClient::new(&sink.url())
        .unwrap()
        .counts()
        .await
        .unwrap();
    assert_eq!(counts.total, total);
    println!(
        "{}: {total} messages accepted, {} while the sink was down, {waiting} waiting in the spool \
         before the restart; all stored once",
        store.url().split(':').next().unwrap_or_default(),
        at_restart - at_stop,
    );
    running.shutdown().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_valid_message_is_stored_exactly_once() {
    a_valid_message_is_stored_exactly_once(SinkStore::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_valid_message_is_stored_exactly_once() {
    a_valid_message_is_stored_exactly_once(SinkStore::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_sink_restarted_under_traffic_stores_every_accepted_message_once() {
    a_sink_restarted_under_traffic_stores_every_accepted_message_once(SinkStore::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_sink_restarted_under_traffic_stores_every_accepted_message_once() {
    a_sink_restarted_under_traffic_stores_every_accepted_message_once(SinkStore::postgres().await)
        .await;
}
