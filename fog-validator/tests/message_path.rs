//! End-to-end checks of the validator over mutual TLS (gateway certificates from an in-test CA, CRL
//! served over HTTP) with a real cloud sink and a real VPN Centre (both on SQLite, in-process) and the
//! in-process test double of the registry feed.

mod support;

use std::sync::Arc;
use std::time::Duration;

use device_record::{ChangeKind, NodeType};
use fog_validator::code;
use fog_validator::validator::now_ms;
use signed_message::Algorithm;
use support::*;
use test_doubles::StaticRegistryFeed;

use test_doubles::test_device::{TestDevice, tamper_payload};

struct World {
    _dir: tempfile::TempDir,
    pki: Pki,
    /// The gateway's own TLS client.
    client: Client,
    sink: Sink,
    vpn: Vpn,
    feed: Arc<StaticRegistryFeed>,
    gateway: TestDevice,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::start(dir.path()).await;
    let sink = Sink::start(&dir.path().join("sink.db"), 0).await;
    let vpn = Vpn::start(&dir.path().join("warnings.db")).await;
    let gateway = TestDevice::new(Algorithm::RS256, NodeType::Gateway);
    let feed = Arc::new(StaticRegistryFeed::new(vec![gateway.record.clone()]));
    let client = pki.client(&gateway.uuid);
    World {
        _dir: dir,
        pki,
        client,
        sink,
        vpn,
        feed,
        gateway,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_message_is_accepted_and_stored_exactly_once() {
    let mut w = world().await;
    let data = w._dir.path().join("validator");
    let running = start(
        &config(&w.pki, &data, w.sink.url(), Some(w.vpn.url())),
        w.feed.clone(),
    )
    .await;
    let message = w.gateway.next_message(now_ms());

    let answer = submit(&w.client, running.addr, &message).await;
    assert_eq!(answer["result"]["accepted"], true, "{answer}");
    assert_eq!(answer["result"]["device"], w.gateway.uuid.as_str());
    assert_eq!(answer["result"]["seq"], 1);

    let client = sink_api::SinkClient::new(&w.sink.url()).unwrap();
    let query = sink_api::TelemetryQuery {
        device: w.gateway.uuid.clone(),
        from_ms: None,
        to_ms: None,
        limit: None,
    };
    let mut rows = Vec::new();
    for _ in 0..300 {
        rows = client.query(&query).await.unwrap();
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].seq, 1);
    assert_eq!(rows[0].message, message);
    assert_eq!(rows[0].validator, "fog-test-1");
    assert_eq!(rows[0].data["humidity"], 40);

    // Recent data is answered from RAM.
    let body = serde_json::json!({"jsonrpc": "2.0", "id": "r", "method": "telemetry.recent", "params": {"device": w.gateway.uuid, "limit": 5}});
    let (_, body) = post(&w.client, running.addr, serde_json::to_vec(&body).unwrap()).await;
    let recent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(recent["result"]["records"][0]["seq"], 1, "{recent}");

    // The ops listener serves metrics that count the acceptance.
    let (_, metrics) = support::ops::plain_get(running.ops_addr.unwrap(), "/metrics").await;
    assert!(
        metrics.contains("fog_validator_accepted_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fog_validator_registry_cache_devices 1\n"),
        "{metrics}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_refused_with_its_code_and_leaves_a_warning() {
    let mut w = world().await;
    let impostor = TestDevice::new(Algorithm::RS256, NodeType::Gateway);
    let mut banned = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    banned.record.banned = true;
    banned.record.ban_reason = Some("tampered enclosure".into());
    let mut validator_node = TestDevice::new(Algorithm::ES256, NodeType::Validator);
    let mut unknown = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    let feed = Arc::new(StaticRegistryFeed::new(vec![
        w.gateway.record.clone(),
        banned.record.clone(),
        validator_node.record.clone(),
    ]));
    let data = w._dir.path().join("validator");
    let running = start(
        &config(&w.pki, &data, w.sink.url(), Some(w.vpn.url())),
        feed,
    )
    .await;
    let addr = running.addr;
    let before = now_ms();

    let now = now_ms();
    let good = w.gateway.next_message(now);
    assert!(submit(&w.client, addr, &good).await["result"]["accepted"] == true);

    // The impostor claims the gateway's UUID but signs with its own key.
    let forged = {
        let mut claims = impostor.claims(10, now);
        claims.device = w.gateway.uuid.clone();
        impostor.key.sign(&claims).unwrap()
    };
    // Each device connects with its own certificate; requests that name no device are sent by the
    // gateway, so their warnings name the gateway's certificate.
    let clients: std::collections::HashMap<String, Client> =
        [&w.gateway, &banned, &validator_node, &unknown]
            .into_iter()
            .map(|d| (d.uuid.clone(), w.pki.client(&d.uuid)))
            .collect();
    let cases: Vec<(&str, Vec<u8>, i64, Option<String>)> = vec![
        (
            "wrong key",
            rpc(&forged),
            1004,
            Some(w.gateway.uuid.clone()),
        ),
        (
            "banned",
            rpc(&banned.next_message(now)),
            1003,
            Some(banned.uuid.clone()),
        ),
        ("replay", rpc(&good), 1005, Some(w.gateway.uuid.clone())),
        (
            "tampered",
            rpc(&tamper_payload(&w.gateway.next_message(now))),
            1004,
            Some(w.gateway.uuid.clone()),
        ),
        (
            "unknown",
            rpc(&unknown.next_message(now)),
            1001,
            Some(unknown.uuid.clone()),
        ),
        (
            "validator sends",
            rpc(&validator_node.next_message(now)),
            1002,
            Some(validator_node.uuid.clone()),
        ),
        (
            "stale",
            rpc(&w.gateway.message(50, now - 3_600_000)),
            1005,
            Some(w.gateway.uuid.clone()),
        ),
        (
            "malformed jws",
            rpc("not.a.jws"),
            1007,
            Some(w.gateway.uuid.clone()),
        ),
        (
            "malformed json",
            b"{\"jsonrpc\": \"2.0\", ".to_vec(),
            -32700,
            Some(w.gateway.uuid.clone()),
        ),
        (
            "no such method",
            br#"{"jsonrpc":"2.0","id":1,"method":"telemetry.delete","params":{}}"#.to_vec(),
            -32601,
            Some(w.gateway.uuid.clone()),
        ),
        (
            "bad params",
            br#"{"jsonrpc":"2.0","id":1,"method":"telemetry.submit","params":{"msg":"x"}}"#
                .to_vec(),
            -32602,
            Some(w.gateway.uuid.clone()),
        ),
        (
            "not json-rpc",
            br#"{"id":1,"method":"telemetry.submit"}"#.to_vec(),
            -32600,
            Some(w.gateway.uuid.clone()),
        ),
    ];
    for (name, body, expected, device) in &cases {
        let client = &clients[device.as_deref().unwrap()];
        let (status, answer) = post(client, addr, body.clone()).await;
        assert_eq!(status, 200, "{name}");
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(error_code(&answer), Some(*expected), "{name}: {answer}");
        assert!(
            answer["error"]["data"]["reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{name}"
        );
    }
    // Oversized body: refused before parsing, with 413 and the oversized code.
    let huge = rpc(&"A".repeat(300 * 1024));
    let (status, answer) = post(&w.client, addr, huge).await;
    assert_eq!(status, 413);
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(error_code(&answer), Some(i64::from(code::OVERSIZED)));

    // Still serving honest devices.
    let next = w.gateway.next_message(now_ms());
    assert_eq!(submit(&w.client, addr, &next).await["result"]["seq"], 3);

    let expected = cases.len() + 1;
    let warnings = w.vpn.wait_for(expected).await;
    assert_eq!(warnings.len(), expected, "{warnings:#?}");
    let after = now_ms();
    for (name, _, code, device) in &cases {
        let found = warnings
            .iter()
            .find(|wn| i64::from(wn.warning.code) == *code && &wn.warning.offender_device == device)
            .unwrap_or_else(|| panic!("no warning for {name}: {warnings:#?}"));
        assert_eq!(found.warning.submitter, "fog-test-1");
        assert!(
            found.warning.offender_address.starts_with("127.0.0.1:"),
            "{name}"
        );
        assert!((before..=after).contains(&found.warning.time_ms), "{name}");
        assert!(!found.warning.reason.is_empty());
    }
    let banned_warning = warnings.iter().find(|wn| wn.warning.code == 1003).unwrap();
    assert!(
        banned_warning
            .warning
            .reason
            .starts_with("gateway is banned")
    );
    let key_warning = warnings.iter().find(|wn| wn.warning.code == 1004).unwrap();
    assert!(
        key_warning
            .warning
            .reason
            .starts_with("public key verification failed")
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_answer_each_entry_and_are_bounded() {
    let mut w = world().await;
    let data = w._dir.path().join("validator");
    let running = start(&config(&w.pki, &data, w.sink.url(), None), w.feed.clone()).await;
    let now = now_ms();
    let mut messages: Vec<String> = (0..5).map(|_| w.gateway.next_message(now)).collect();
    messages.insert(2, messages[1].clone()); // a replay inside the batch
    let answers = submit_batch(&w.client, running.addr, &messages).await;
    assert_eq!(answers.len(), 6);
    let codes: Vec<Option<i64>> = answers.iter().map(error_code).collect();
    assert_eq!(codes, vec![None, None, Some(1005), None, None, None]);
    assert_eq!(answers[5]["result"]["seq"], 5);

    // Over the batch limit (60 in tests): refused whole.
    let many: Vec<String> = (0..61).map(|_| w.gateway.next_message(now)).collect();
    let (status, body) = post(&w.client, running.addr, serde_json::to_vec(&many.iter().map(|m| serde_json::json!({"jsonrpc":"2.0","id":1,"method":"telemetry.submit","params":{"message":m}})).collect::<Vec<_>>()).unwrap()).await;
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error_code(&answer), Some(-32600), "{answer}");

    // A notification is processed but not answered.
    let note = serde_json::json!({"jsonrpc":"2.0","method":"telemetry.submit","params":{"message": w.gateway.message(100, now_ms())}});
    let (status, body) = post(&w.client, running.addr, serde_json::to_vec(&note).unwrap()).await;
    assert_eq!((status, body.len()), (204, 0));
    let again = submit(&w.client, running.addr, &w.gateway.message(100, now_ms())).await;
    assert_eq!(error_code(&again), Some(1005));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_event_refuses_the_next_message_and_survives_restart_without_the_ledger() {
    let mut w = world().await;
    let data = w._dir.path().join("validator");
    let cfg = config(&w.pki, &data, w.sink.url(), Some(w.vpn.url()));
    let running = start(&cfg, w.feed.clone()).await;
    let first = w.gateway.next_message(now_ms());
    assert_eq!(
        submit(&w.client, running.addr, &first).await["result"]["accepted"],
        true
    );

    let mut banned = w.gateway.record.clone();
    banned.banned = true;
    banned.ban_reason = Some("key leaked".into());
    banned.banned_timestamp = Some("2025-06-01T00:00:00Z".into());
    w.feed.commit(ChangeKind::Banned, banned);
    let validator = running.validator.clone();
    let uuid = w.gateway.uuid.clone();
    let took = eventually(Duration::from_secs(1), || {
        validator
            .registry
            .cache
            .get(&uuid)
            .is_some_and(|d| d.record.banned)
    })
    .await;
    assert!(took.is_some(), "ban not applied within one second");

    let second = w.gateway.next_message(now_ms());
    let answer = submit(&w.client, running.addr, &second).await;
    assert_eq!(error_code(&answer), Some(1003), "{answer}");
    assert!(
        answer["error"]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("key leaked")
    );
    running.shutdown().await;

    // Restart on the same data dir with the ledger unreachable: the checkpoint already knows the ban,
    // and the sequence store still knows seq 1.
    w.feed.set_reachable(false);
    let restarted = start(&cfg, w.feed.clone()).await;
    let third = w.gateway.next_message(now_ms());
    assert_eq!(
        error_code(&submit(&w.client, restarted.addr, &third).await),
        Some(1003)
    );
    assert_eq!(restarted.validator.replay.highest(&w.gateway.uuid), Some(1));
    restarted.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_stay_refused_after_restart() {
    let mut w = world().await;
    let data = w._dir.path().join("validator");
    let cfg = config(&w.pki, &data, w.sink.url(), None);
    let running = start(&cfg, w.feed.clone()).await;
    let message = w.gateway.next_message(now_ms());
    assert_eq!(
        submit(&w.client, running.addr, &message).await["result"]["accepted"],
        true
    );
    running.shutdown().await;
    let restarted = start(&cfg, w.feed.clone()).await;
    assert_eq!(
        error_code(&submit(&w.client, restarted.addr, &message).await),
        Some(1005)
    );
    restarted.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_down_then_up_stores_every_accepted_message_once() {
    let mut w = world().await;
    let port = test_support::free_port();
    let sink_url = format!("http://127.0.0.1:{port}");
    let data = w._dir.path().join("validator");
    let running = start(&config(&w.pki, &data, sink_url, None), w.feed.clone()).await;
    let now = now_ms();
    for _ in 0..3 {
        let batch: Vec<String> = (0..10).map(|_| w.gateway.next_message(now)).collect();
        let answers = submit_batch(&w.client, running.addr, &batch).await;
        assert!(
            answers.iter().all(|a| a["result"]["accepted"] == true),
            "{answers:?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        running.validator.forwarder.depth(),
        30,
        "accepted records must wait in the spool"
    );

    let sink = Sink::start(&w._dir.path().join("late-sink.db"), port).await;
    let client = sink_api::SinkClient::new(&sink.url()).unwrap();
    let mut total = 0;
    for _ in 0..1000 {
        total = client.counts().await.unwrap().total;
        if total >= 30 && running.validator.forwarder.depth() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counts = client.counts().await.unwrap();
    assert_eq!(total, 30);
    assert_eq!(counts.devices.len(), 1);
    assert_eq!(
        (counts.devices[0].rows, counts.devices[0].max_seq),
        (30, 30)
    );
    assert_eq!(running.validator.forwarder.depth(), 0);
    running.shutdown().await;
    sink.stop().await;
    drop(w.sink);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = world().await;
    let data = w._dir.path().join("validator");
    let mut cfg = config(&w.pki, &data, w.sink.url(), None);
    cfg.limits.header_read_timeout_ms = 300;
    let running = start(&cfg, w.feed.clone()).await;
    let tcp = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(w.client.config.clone());
    let mut stream = connector
        .connect(
            rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "server kept a slow client open");
    assert!(started.elapsed() >= Duration::from_millis(250));
    running.shutdown().await;
}

fn rpc(message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "telemetry.submit", "params": {"message": message}})).unwrap()
}
