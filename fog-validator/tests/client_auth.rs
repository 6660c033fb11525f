//! Mutual TLS on the gateway listener, over real handshakes on 127.0.0.1: who gets in, revocation through
//! the CRL, and that a certificate only lets a gateway send for itself.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use device_record::NodeType;
use fog_validator::validator::now_ms;
use fog_validator::{StartError, code};
use signed_message::Algorithm;
use support::*;
use test_doubles::StaticRegistryFeed;
use test_doubles::TestDevice;
use vpn_pki::{CertRole, CertificateAuthority};

struct World {
    dir: tempfile::TempDir,
    pki: Pki,
    sink: Sink,
    vpn: Vpn,
    a: TestDevice,
    b: TestDevice,
    feed: Arc<StaticRegistryFeed>,
}

/// A PKI, a sink, a VPN Centre and two registered gateways, `a` and `b`.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::start(dir.path()).await;
    let sink = Sink::start(&dir.path().join("sink.db"), 0).await;
    let vpn = Vpn::start(&dir.path().join("warnings.db")).await;
    let a = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let b = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
    let feed = Arc::new(StaticRegistryFeed::new(vec![
        a.record.clone(),
        b.record.clone(),
    ]));
    World {
        dir,
        pki,
        sink,
        vpn,
        a,
        b,
        feed,
    }
}

fn handshake_failures(running: &fog_validator::RunningValidator) -> u64 {
    running
        .validator
        .metrics
        .tls_handshake_failures
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// Waits for the validator to count `n` failed handshakes (it counts after sending its alert).
async fn expect_handshake_failures(running: &fog_validator::RunningValidator, n: u64) {
    let counted = eventually(Duration::from_secs(2), || handshake_failures(running) == n).await;
    assert!(
        counted.is_some(),
        "handshake failures: {} (expected {n})",
        handshake_failures(running)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_gateway_with_its_certificate_is_accepted() {
    let w = world().await;
    let data = w.dir.path().join("validator");
    let running = start(
        &config(&w.pki, &data, w.sink.url(), Some(w.vpn.url())),
        w.feed.clone(),
    )
    .await;
    // The gateway's files as enrolment leaves them: signing key, client certificate and key, CA.
    let issued = issue(&w.pki.ca, &w.a.uuid, CertRole::Client);
    let gw = w.dir.path().join("gateway");
    std::fs::create_dir_all(&gw).unwrap();
    vpn_pki::write_private_key(
        &gw.join("signing.pem"),
        w.a.key.private_key_pem().unwrap().as_bytes(),
    )
    .unwrap();
    std::fs::write(gw.join("client.pem"), &issued.cert_pem).unwrap();
    vpn_pki::write_private_key(&gw.join("client-key.pem"), issued.key_pem.as_bytes()).unwrap();
    let toml = format!(
        r#"
        device_uuid = "{uuid}"
        key_path = "signing.pem"
        validators = ["https://127.0.0.1:{port}/"]
        ca_path = "{ca}"
        client_cert_path = "client.pem"
        client_key_path = "client-key.pem"
        queue_path = "queue.db"
        "#,
        uuid = w.a.uuid,
        port = running.addr.port(),
        ca = w.pki.ca_file.display(),
    );
    let gw_config = edge_gateway::Config::from_toml(&toml, &gw, |_| None, &[]).unwrap();
    let mut reading = edge_gateway::sensor::Measurements::new();
    reading.insert("temperature".into(), 21.5.into());
    let report = edge_gateway::send_once::send_once(&gw_config, reading)
        .await
        .unwrap();
    let answer = report.answer.expect("the validator answered");
    assert_eq!(answer["result"]["accepted"], true, "{answer}");
    assert_eq!(answer["result"]["device"], w.a.uuid.as_str());
    assert_eq!(handshake_failures(&running), 0);

    // Without its client certificate the same gateway does not get in.
    let mut no_cert = gw_config.clone();
    no_cert.client_cert_path = None;
    no_cert.client_key_path = None;
    let mut reading = edge_gateway::sensor::Measurements::new();
    reading.insert("temperature".into(), 22.0.into());
    let report = edge_gateway::send_once::send_once(&no_cert, reading)
        .await
        .unwrap();
    assert!(report.answer.is_none(), "{:?}", report.answer);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    expect_handshake_failures(&running, 1).await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_certificate_or_one_from_another_ca_is_refused_at_the_handshake() {
    let mut w = world().await;
    let data = w.dir.path().join("validator");
    let running = start(
        &config(&w.pki, &data, w.sink.url(), Some(w.vpn.url())),
        w.feed.clone(),
    )
    .await;
    let body = rpc(&w.a.next_message(now_ms()));

    let err = try_post(&w.pki.anonymous_client(), running.addr, body.clone())
        .await
        .unwrap_err();
    assert!(err.contains("CertificateRequired"), "{err}");

    // A certificate naming the right device, but from a CA the validator does not trust.
    let rogue =
        CertificateAuthority::generate("Rogue CA", Duration::from_secs(86400), unix_now()).unwrap();
    let foreign = w
        .pki
        .client_with(&issue(&rogue, &w.a.uuid, CertRole::Client));
    let err = try_post(&foreign, running.addr, body.clone())
        .await
        .unwrap_err();
    assert!(err.contains("UnknownCA"), "{err}");
    expect_handshake_failures(&running, 2).await;

    // Neither reached JSON-RPC: the message is still new and is accepted from the real gateway.
    let answer = submit(
        &w.pki.client(&w.a.uuid),
        running.addr,
        &decode_message(&body),
    )
    .await;
    assert_eq!(answer["result"]["seq"], 1, "{answer}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_gateway_is_refused_new_connections_while_others_still_work() {
    let mut w = world().await;
    let data = w.dir.path().join("validator");
    let running = start(
        &config(&w.pki, &data, w.sink.url(), Some(w.vpn.url())),
        w.feed.clone(),
    )
    .await;
    let (client_a, client_b) = (w.pki.client(&w.a.uuid), w.pki.client(&w.b.uuid));
    let first = w.a.next_message(now_ms());
    assert_eq!(
        submit(&client_a, running.addr, &first).await["result"]["accepted"],
        true
    );

    w.pki.revoke(&w.a.uuid);
    let revoked_at = Instant::now();
    let mut refused = None;
    while revoked_at.elapsed() < Duration::from_secs(5) {
        let message = w.a.next_message(now_ms());
        match try_post(&client_a, running.addr, rpc(&message)).await {
            Err(e) if e.contains("CertificateRevoked") => {
                refused = Some(e);
                break;
            }
            // The CRL also closes the connection the client kept open; its next one is refused.
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = revoked_at.elapsed();
    let err = refused.expect("the revoked gateway still got in after 5 s");
    assert!(err.contains("CertificateRevoked"), "{err}");
    // Refresh every second (tests), plus the fetch and one probe.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    println!("revoked gateway refused {took:?} after revocation");

    let answer = submit(&client_b, running.addr, &w.b.next_message(now_ms())).await;
    assert_eq!(answer["result"]["accepted"], true, "{answer}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_device_is_refused_with_its_code_and_a_warning() {
    let mut w = world().await;
    let data = w.dir.path().join("validator");
    let running = start(
        &config(&w.pki, &data, w.sink.url(), Some(w.vpn.url())),
        w.feed.clone(),
    )
    .await;
    let client_a = w.pki.client(&w.a.uuid);
    // `a` relays a message that `b` really signed.
    let of_b = w.b.next_message(now_ms());
    let answer = submit(&client_a, running.addr, &of_b).await;
    assert_eq!(
        error_code(&answer),
        Some(i64::from(code::CERT_MISMATCH)),
        "{answer}"
    );
    assert_eq!(
        answer["error"]["message"],
        "certificate does not match device"
    );
    let reason = answer["error"]["data"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&w.a.uuid) && reason.contains(&w.b.uuid),
        "{reason}"
    );

    let warnings = w.vpn.wait_for(1).await;
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let warning = &warnings[0].warning;
    assert_eq!(warning.code, code::CERT_MISMATCH);
    assert_eq!(warning.offender_device.as_deref(), Some(w.a.uuid.as_str()));
    assert!(warning.offender_address.starts_with("127.0.0.1:"));

    // The refusal used none of b's state: b's own connection delivers the same message as seq 1.
    let answer = submit(&w.pki.client(&w.b.uuid), running.addr, &of_b).await;
    assert_eq!(answer["result"]["seq"], 1, "{answer}");
    let metrics = running.validator.metrics.render(Default::default());
    assert!(
        metrics.contains("fog_validator_refused_total{code=\"1008\"} 1\n"),
        "{metrics}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_first_crl_the_validator_does_not_start() {
    let w = world().await;
    let data = w.dir.path().join("validator");
    let mut cfg = config(&w.pki, &data, w.sink.url(), None);
    cfg.crl_url = Some(format!(
        "http://127.0.0.1:{}/v1/pki/crl",
        test_support::free_port()
    ));
    let err = match fog_validator::start(&cfg, w.feed.clone()).await {
        Err(e) => e,
        Ok(_) => panic!("started without a CRL"),
    };
    assert!(matches!(err, StartError::ClientAuth(_)), "{err:?}");
    assert!(err.to_string().contains("no CRL before serving"), "{err}");

    cfg.crl_url = None;
    let err = match fog_validator::start(&cfg, w.feed.clone()).await {
        Err(e) => e,
        Ok(_) => panic!("started without a CRL URL"),
    };
    assert!(err.to_string().contains("crl_url"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_auth_false_admits_clients_without_certificates() {
    let mut w = world().await;
    let data = w.dir.path().join("validator");
    let mut cfg = config(&w.pki, &data, w.sink.url(), None);
    cfg.client_auth = false;
    cfg.client_ca = None;
    cfg.crl_url = None;
    let running = start(&cfg, w.feed.clone()).await;
    let answer = submit(
        &w.pki.anonymous_client(),
        running.addr,
        &w.a.next_message(now_ms()),
    )
    .await;
    assert_eq!(answer["result"]["accepted"], true, "{answer}");
    assert!(running.client_auth.is_none());
    running.shutdown().await;
}

fn rpc(message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "telemetry.submit", "params": {"message": message}})).unwrap()
}

/// The message inside a body built by [`rpc`].
fn decode_message(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    value["params"]["message"].as_str().unwrap().to_owned()
}
