//! The gateway in-process against the validator test double: signing, failover, refusals, a ban,
//! bad input.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use common::validator_double::ValidatorDouble;
use common::{DeviceDir, TestPki, dead_validator_url, http_get, wait_for, write_lines};
use edge_gateway::keygen::{ENROLMENT_FILE, Enrolment, KeygenOptions, keygen, load_signing_key};
use edge_gateway::send_once::send_once;
use edge_gateway::sensor::ndjson::parse_line;
use edge_gateway::{Config, Gateway, GatewayError};
use signed_message::{Algorithm, Measurement, VerifyingKey};

fn load(path: &std::path::Path) -> Config {
    Config::load(path, |_| None, &[]).unwrap()
}

fn number(m: &Measurement) -> i64 {
    match m {
        Measurement::Number(n) => n.as_i64().unwrap(),
        other => panic!("not a number: {other:?}"),
    }
}

#[test]
fn keygen_writes_a_private_key_and_an_enrolment_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let opts = KeygenOptions {
        out_dir: dir.path().to_path_buf(),
        alg: Algorithm::ES256,
        uuid: None,
        node_type: "Gateway".into(),
        force: false,
    };
    let first = keygen(&opts).unwrap();
    let mode = std::fs::metadata(&first.key_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "key mode {mode:o}");
    let pem = std::fs::read_to_string(&first.key_path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let on_disk: Enrolment =
        serde_json::from_slice(&std::fs::read(dir.path().join(ENROLMENT_FILE)).unwrap()).unwrap();
    assert_eq!(on_disk, first.enrolment);
    assert_eq!(on_disk.node_type, "Gateway");
    assert_eq!(on_disk.key_algorithm, "ECDSA-P256");
    assert!(VerifyingKey::from_public_key_pem(&on_disk.public_key).is_ok());

    assert!(matches!(keygen(&opts), Err(GatewayError::KeyExists { .. })));
    assert_eq!(
        std::fs::read_to_string(&first.key_path).unwrap(),
        pem,
        "key was replaced"
    );
    let forced = keygen(&KeygenOptions {
        force: true,
        ..opts
    })
    .unwrap();
    assert_ne!(std::fs::read_to_string(&forced.key_path).unwrap(), pem);
    assert_ne!(forced.enrolment.public_key, first.enrolment.public_key);
}

#[test]
fn an_exposed_device_key_is_made_private_on_keygen_and_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let opts = KeygenOptions {
        out_dir: dir.path().to_path_buf(),
        alg: Algorithm::ES256,
        uuid: None,
        node_type: "Gateway".into(),
        force: true,
    };
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let key = keygen(&opts).unwrap().key_path;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    load_signing_key(&key, None).unwrap();
    assert_eq!(
        mode(&key),
        0o600,
        "loading leaves a group/world-readable key"
    );

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let replaced = keygen(&opts).unwrap().key_path;
    assert_eq!(mode(&replaced), 0o600, "--force keeps the old file's mode");
}

#[tokio::test]
async fn send_once_signs_with_the_enrolled_key_and_the_validator_accepts_it() {
    let pki = TestPki::new();
    for alg in [Algorithm::RS256, Algorithm::EdDSA] {
        let device = DeviceDir::new(&pki, alg);
        let double = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
        let input = device.path("unused.ndjson");
        let config =
            load(&device.write_config("gw.toml", std::slice::from_ref(&double.url), &input));
        let reading = parse_line(r#"{"temperature_c": 21.5, "door": "closed"}"#)
            .unwrap()
            .unwrap();
        let report = send_once(&config, reading.clone()).await.unwrap();
        assert_eq!(report.validator.as_deref(), Some(double.url.as_str()));
        assert_eq!(report.answer.unwrap()["result"]["accepted"], true);
        // The message itself verifies with the enrolment key and names this device.
        let key = VerifyingKey::from_public_key_pem(&device.enrolment.public_key).unwrap();
        let claims = signed_message::decode_and_verify(&report.jws, &key).unwrap();
        assert_eq!(claims.device, device.enrolment.uuid.to_string());
        assert_eq!(claims.seq, report.seq);
        assert_eq!(claims.data, reading);
        let accepted = double.accepted();
        assert_eq!(accepted.len(), 1, "{alg}");
        assert_eq!(accepted[0].seq, report.seq);

        // A key that is not the enrolled one is refused as a bad signature.
        let other = DeviceDir::new(&pki, alg);
        let stranger = ValidatorDouble::start(&pki, &other.enrolment.public_key).await;
        let config =
            load(&device.write_config("gw2.toml", std::slice::from_ref(&stranger.url), &input));
        let report = send_once(&config, reading).await.unwrap();
        assert_eq!(report.answer.unwrap()["error"]["code"], 1004);
        assert!(stranger.accepted().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_past_a_dead_and_a_failing_validator_and_skips_bad_input_lines() {
    let pki = TestPki::new();
    let device = DeviceDir::new(&pki, Algorithm::EdDSA);
    let failing = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    failing.answer_http_status(Some(503));
    let good = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    let input = device.path("readings.ndjson");
    let mut lines: Vec<String> = (0..7).map(|n| format!(r#"{{"n": {n}}}"#)).collect();
    lines.insert(2, "this is not json".into());
    lines.insert(5, r#"{"n": [1, 2]}"#.into());
    write_lines(&input, &lines);
    let validators = vec![dead_validator_url(), failing.url.clone(), good.url.clone()];
    let mut config = load(&device.write_config("gw.toml", &validators, &input));
    config.metrics_listen = Some("127.0.0.1:0".into());

    let gateway = Gateway::start(&config).await.unwrap();
    let m = std::sync::Arc::clone(gateway.metrics());
    wait_for(Duration::from_secs(20), "7 deliveries", || {
        m.delivered.load(Relaxed) == 7
    })
    .await;
    let addr = gateway.metrics_addr().unwrap();
    let scraped = scrape(addr).await;
    gateway.shutdown().await.unwrap();

    let ns: Vec<i64> = good
        .accepted()
        .iter()
        .map(|a| number(&a.data["n"]))
        .collect();
    assert_eq!(
        ns,
        (0..7).collect::<Vec<_>>(),
        "order or completeness broken"
    );
    assert!(failing.requests() >= 1, "the 503 validator was never tried");
    assert!(failing.accepted().is_empty());
    assert_eq!(m.bad_input.load(Relaxed), 2);
    assert_eq!(m.read.load(Relaxed), 7);
    assert!(m.failovers.load(Relaxed) >= 2);
    assert_eq!(m.current_validator.load(Relaxed), 2);
    assert_eq!(m.queue_depth.load(Relaxed), 0);
    assert!(
        scraped.contains("edge_gateway_delivered_total 7\n"),
        "{scraped}"
    );
    assert!(
        scraped.contains(&format!(
            "edge_gateway_current_validator{{url=\"{}\"}} 1",
            good.url
        )),
        "{scraped}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_refusals_are_dropped_and_counted_and_the_rest_delivered_in_order() {
    let pki = TestPki::new();
    let device = DeviceDir::new(&pki, Algorithm::EdDSA);
    let double = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    let input = device.path("readings.ndjson");
    let lines = vec![
        r#"{"n": 0}"#.to_string(),
        r#"{"n": 1, "refuse_code": 1001}"#.into(),
        r#"{"n": 2}"#.into(),
        r#"{"n": 3, "refuse_code": 1007}"#.into(),
        r#"{"n": 4, "refuse_code": 1001}"#.into(),
        r#"{"n": 5}"#.into(),
        r#"{"n": 6, "refuse_code": 1005}"#.into(),
        r#"{"n": 7}"#.into(),
    ];
    write_lines(&input, &lines);
    let config = load(&device.write_config("gw.toml", std::slice::from_ref(&double.url), &input));
    let gateway = Gateway::start(&config).await.unwrap();
    let m = std::sync::Arc::clone(gateway.metrics());
    wait_for(Duration::from_secs(20), "queue drained", || {
        m.signed.load(Relaxed) == 8 && m.queue_depth.load(Relaxed) == 0
    })
    .await;
    gateway.shutdown().await.unwrap();

    let ns: Vec<i64> = double
        .accepted()
        .iter()
        .map(|a| number(&a.data["n"]))
        .collect();
    assert_eq!(ns, vec![0, 2, 5, 7]);
    assert_eq!(m.delivered.load(Relaxed), 4);
    assert_eq!(m.refused_count(1001), 2);
    assert_eq!(m.refused_count(1007), 1);
    assert_eq!(m.refused_count(1005), 1);
    // Each refused message was sent once: dropping it did not loop.
    assert_eq!(double.refused().len(), 4);
    let queue: disk_queue::DiskQueue<edge_gateway::signer::QueuedMessage> =
        disk_queue::DiskQueue::open(&config.queue_path).unwrap();
    assert_eq!(queue.len().unwrap(), 0);
}

#[tokio::test]
async fn a_transient_error_keeps_the_message_queued_until_a_validator_takes_it() {
    let pki = TestPki::new();
    let device = DeviceDir::new(&pki, Algorithm::EdDSA);
    let double = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    double.answer_http_status(Some(500));
    let input = device.path("readings.ndjson");
    write_lines(&input, &[r#"{"n": 1}"#.into(), r#"{"n": 2}"#.into()]);
    let config = load(&device.write_config("gw.toml", std::slice::from_ref(&double.url), &input));
    let gateway = Gateway::start(&config).await.unwrap();
    let m = std::sync::Arc::clone(gateway.metrics());
    wait_for(Duration::from_secs(10), "repeated failures", || {
        m.send_failures.load(Relaxed) >= 3
    })
    .await;
    assert_eq!(m.queue_depth.load(Relaxed), 2);
    assert_eq!(m.delivered.load(Relaxed), 0);
    double.answer_http_status(None);
    wait_for(Duration::from_secs(10), "delivery after recovery", || {
        m.delivered.load(Relaxed) == 2
    })
    .await;
    gateway.shutdown().await.unwrap();
    assert_eq!(double.accepted().len(), 2);
    assert!(double.refused().is_empty());
}

/// A minimal HTTP/1.1 GET of /metrics over plain TCP.
async fn scrape(addr: std::net::SocketAddr) -> String {
    let out = http_get(addr, "/metrics").await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1003_stops_sending_keeps_the_rest_queued_and_health_says_banned() {
    let pki = TestPki::new();
    let device = DeviceDir::new(&pki, Algorithm::EdDSA);
    let double = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    let input = device.path("readings.ndjson");
    let lines = vec![
        r#"{"n": 0}"#.to_string(),
        r#"{"n": 1, "refuse_code": 1003}"#.into(),
        r#"{"n": 2}"#.into(),
        r#"{"n": 3}"#.into(),
    ];
    write_lines(&input, &lines);
    let mut config =
        load(&device.write_config("gw.toml", std::slice::from_ref(&double.url), &input));
    config.metrics_listen = Some("127.0.0.1:0".into());
    // One message a request: the double, unlike a validator, would accept the rest of a batch.
    config.batch_size = 1;
    let gateway = Gateway::start(&config).await.unwrap();
    let m = std::sync::Arc::clone(gateway.metrics());
    wait_for(
        Duration::from_secs(20),
        "banned with every reading signed",
        || m.banned.load(Relaxed) && m.signed.load(Relaxed) == 4,
    )
    .await;
    let health = http_get(gateway.metrics_addr().unwrap(), "/health").await;
    assert!(health.starts_with("HTTP/1.1 503"), "{health}");
    assert!(health.ends_with("banned\n"), "{health}");
    // Nothing is sent after the 1003, even with time to retry.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let err = gateway.shutdown().await.unwrap_err();
    assert!(matches!(err, GatewayError::Banned { .. }), "{err}");
    assert!(
        err.to_string().contains(&device.enrolment.uuid.to_string()),
        "{err}"
    );

    let ns: Vec<i64> = double
        .accepted()
        .iter()
        .map(|a| number(&a.data["n"]))
        .collect();
    assert_eq!(ns, vec![0], "only the reading before the ban is delivered");
    assert_eq!(
        double.refused().len(),
        1,
        "the refused message was not resent"
    );
    assert_eq!(m.refused_count(1003), 1);
    let queue: disk_queue::DiskQueue<edge_gateway::signer::QueuedMessage> =
        disk_queue::DiskQueue::open(&config.queue_path).unwrap();
    assert_eq!(
        queue.len().unwrap(),
        3,
        "the refused reading and the rest stay queued"
    );
}
