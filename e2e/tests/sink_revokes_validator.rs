//! The sink's side of "validators and sink drop live connections": a validator banned on the
//! ledger (by the other organisation's admin through our Gateway client, so neither the centre
//! nor Org1 made the ban) loses the connection it holds open to the sink, on which the sink had
//! just stored its telemetry, and cannot open another; a second validator's connection is kept.

use std::time::{Duration, Instant};

use device_record::NodeType;
use e2e::chain::CentreAndSink;
use e2e::device::Device;
use e2e::tls_probe::{Stream, closed_within, exchange, open, until_tls_refused};
use serde_json::json;

/// `POST /v1/ingest` of one record about `device` on the held connection, as `validator` would
/// forward it; the answer's status line.
async fn ingest(stream: &mut Stream, validator: &Device, device: &str) -> String {
    let body = json!({ "records": [{
        "device": device,
        "seq": 1,
        "ts_ms": 1_700_000_000_000u64,
        "received_ms": 1_700_000_000_100u64,
        "validator": format!("fog-{}", &validator.uuid[..8]),
        "data": { "temperature_c": 21.5 },
        "message": "eyJhbGciOiJFUzI1NiJ9.eyJzZXEiOjF9.c2ln",
    }]})
    .to_string();
    let request = format!(
        "POST /v1/ingest HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: keep-alive\r\n\r\n{body}",
        body.len()
    );
    let answer = exchange(stream, request.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("ingest on the held connection: {e:?}"));
    answer.lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_drops_a_validator_banned_on_the_ledger() {
    let parts = CentreAndSink::start().await;
    let (root, ledger, centre, sink) = (parts.root(), &parts.ledger, &parts.centre, &parts.sink);
    let banned = centre.new_device(root, ledger, NodeType::Validator).await;
    let other = centre.new_device(root, ledger, NodeType::Validator).await;
    let reader = centre
        .new_device(root, ledger, NodeType::Administrator)
        .await;

    // Both validators' connections are admitted for ingest, and what they send is stored.
    let mut held = open(&banned, sink.addr).await.expect("validator admitted");
    let mut kept = open(&other, sink.addr).await.expect("validator admitted");
    let (first, second) = (
        test_support::fabric::unique_uuid(),
        test_support::fabric::unique_uuid(),
    );
    assert!(
        ingest(&mut held, &banned, &first)
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert_eq!(sink.rows(&reader, &first).await.len(), 1);
    let health = "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";
    let alive = exchange(&mut held, health.as_bytes()).await;
    assert!(
        matches!(&alive, Ok(a) if a.starts_with("HTTP/1.1 200")),
        "{alive:?}"
    );

    let submitted = Instant::now();
    ledger
        .net
        .contract("Org2", "admin")
        .await
        .submit(
            "BanDevice",
            &[banned.uuid.as_str(), "validator seen forging"],
        )
        .await
        .unwrap();
    let confirmed = Instant::now();
    let limit = Duration::from_secs(5);
    assert!(
        closed_within(&mut held, limit).await,
        "the sink kept the banned validator's open connection"
    );
    let closed_after = confirmed.elapsed();
    let took = submitted.elapsed();
    let refused = until_tls_refused(&banned, sink.addr, Duration::from_millis(10), limit).await;
    assert!(
        refused.is_some(),
        "the sink still admits the banned validator"
    );
    let record = ledger.device_when(&banned.uuid, |r| r.banned).await;
    assert_eq!(record.banned_by_msp.as_deref(), Some("Org2MSP"));

    // The other validator was not touched: its connection is still open and still stores.
    assert!(
        ingest(&mut kept, &other, &second)
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert_eq!(sink.rows(&reader, &second).await.len(), 1);
    println!(
        "sink closed the banned validator's connection {took:?} after the ban was submitted, \
         {closed_after:?} after its commit was confirmed"
    );
}
