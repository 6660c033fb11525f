//! A backlog refused as stale (timestamp outside the validator's window) is re-signed and
//! delivered once with its reading time kept; a validator with a skewed clock does not make the
//! gateway re-sign in a loop; a reading refused stale after two re-signs is parked, not dropped;
//! 1009 (registry unavailable) keeps messages queued and fails over. Against the validator double.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use common::validator_double::ValidatorDouble;
use common::{DeviceDir, TestPki, wait_for, write_lines};
use disk_queue::DiskQueue;
use edge_gateway::signer::QueuedMessage;
use edge_gateway::stale::{FIRST_SEQ, TAKEN_MS};
use edge_gateway::{Config, Gateway};
use signed_message::{Algorithm, Claims, Measurement, VerifyingKey};

fn number(m: &Measurement) -> i64 {
    match m {
        Measurement::Number(n) => n.as_i64().unwrap(),
        other => panic!("not a number: {other:?}"),
    }
}

/// A gateway config reading `lines`, sending to `validators`, metrics on a free port.
fn config(device: &DeviceDir, validators: &[String], lines: &[&str]) -> Config {
    let input = device.path("readings.ndjson");
    write_lines(
        &input,
        &lines.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
    );
    let path = device.write_config("gw.toml", validators, &input);
    let mut config = Config::load(&path, |_| None, &[]).unwrap();
    config.metrics_listen = Some("127.0.0.1:0".into());
    config
}

/// The queued messages, decoded: (message, claims).
fn queued(config: &Config, key: &VerifyingKey) -> Vec<(QueuedMessage, Claims)> {
    let queue = DiskQueue::<QueuedMessage>::open(&config.queue_path).unwrap();
    queue
        .peek(1000)
        .unwrap()
        .into_iter()
        .map(|(_, m)| {
            let claims = signed_message::decode_and_verify(&m.jws, key).unwrap();
            (m, claims)
        })
        .collect()
}

async fn health(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_backlog_is_re_signed_and_delivered_once_keeping_the_reading_time() {
    const WINDOW_MS: u64 = 1_000;
    let pki = TestPki::new();
    let device = DeviceDir::new(&pki, Algorithm::EdDSA);
    let key = VerifyingKey::from_public_key_pem(&device.enrolment.public_key).unwrap();
    let double = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    double.set_window(Some(WINDOW_MS));
    // The outage: every request fails until the readings are older than the window.
    double.answer_http_status(Some(503));
    let lines: Vec<String> = (0..6).map(|n| format!(r#"{{"n": {n}}}"#)).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let config = config(&device, std::slice::from_ref(&double.url), &lines);
    let gateway = Gateway::start(&config).await.unwrap();
    let m = Arc::clone(gateway.metrics());
    wait_for(Duration::from_secs(10), "6 readings queued", || {
        m.signed.load(Relaxed) == 6
    })
    .await;
    let originals: BTreeMap<i64, (u64, u64)> = queued(&config, &key)
        .iter()
        .map(|(m, c)| (number(&c.data["n"]), (m.seq, c.ts)))
        .collect();
    assert_eq!(originals.len(), 6);
    tokio::time::sleep(Duration::from_millis(WINDOW_MS + 300)).await;
    double.answer_http_status(None);
    wait_for(Duration::from_secs(20), "6 deliveries", || {
        m.delivered.load(Relaxed) == 6 && m.queue_depth.load(Relaxed) == 0
    })
    .await;
    gateway.shutdown().await.unwrap();

    let accepted = double.accepted();
    let ns: Vec<i64> = accepted.iter().map(|a| number(&a.data["n"])).collect();
    assert_eq!(
        ns,
        (0..6).collect::<Vec<_>>(),
        "each reading once, in order"
    );
    for a in &accepted {
        let (first_seq, taken) = originals[&number(&a.data["n"])];
        assert_eq!(number(&a.data[TAKEN_MS]) as u64, taken, "reading time kept");
        assert_eq!(number(&a.data[FIRST_SEQ]) as u64, first_seq);
        assert!(a.seq > first_seq && a.ts > taken + WINDOW_MS, "{a:?}");
    }
    assert!(accepted.windows(2).all(|w| w[1].seq > w[0].seq));
    // Each original was refused stale once and never resent; no copy was refused.
    let mut stale = double.stale();
    stale.sort_unstable();
    assert_eq!(stale, originals.values().map(|v| v.0).collect::<Vec<_>>());
    assert_eq!(m.resigned.load(Relaxed), 6);
    assert_eq!(m.parked.load(Relaxed), 0);
    assert_eq!(m.refused_count(1005), 6);
    assert!(!m.clock_skew.load(Relaxed));
    let parked = DiskQueue::<QueuedMessage>::open(&config.parked_path()).unwrap();
    assert_eq!(parked.len().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_clock_far_off_keeps_messages_queued_without_re_signing() {
    let pki = TestPki::new();
    let device = DeviceDir::new(&pki, Algorithm::EdDSA);
    let key = VerifyingKey::from_public_key_pem(&device.enrolment.public_key).unwrap();
    let double = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    double.set_window(Some(1_000));
    double.set_clock_offset(600_000);
    let mut config = config(
        &device,
        std::slice::from_ref(&double.url),
        &[r#"{"n": 0}"#, r#"{"n": 1}"#, r#"{"n": 2}"#],
    );
    config.replay_window_ms = 1_000;
    let gateway = Gateway::start(&config).await.unwrap();
    let m = Arc::clone(gateway.metrics());
    let addr = gateway.metrics_addr().unwrap();
    wait_for(Duration::from_secs(10), "clock skew reported", || {
        m.clock_skew.load(Relaxed) && m.signed.load(Relaxed) == 3
    })
    .await;
    let requests_then = double.requests();
    // Long enough for many resends at the 20-200 ms backoff; none may re-sign.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let answer = health(addr).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("clock skew"), "{answer}");
    assert_eq!(m.resigned.load(Relaxed), 0, "re-signed despite the skew");
    assert_eq!(m.parked.load(Relaxed), 0);
    let skew = m.clock_skew_ms.load(Relaxed);
    assert!((595_000..=605_000).contains(&skew), "skew {skew}");
    let waiting = queued(&config, &key);
    let ns: Vec<i64> = waiting.iter().map(|(_, c)| number(&c.data["n"])).collect();
    assert_eq!(ns, vec![0, 1, 2], "the messages wait, unchanged");
    assert!(
        waiting
            .iter()
            .all(|(m, c)| m.resigned == 0 && !c.data.contains_key(TAKEN_MS))
    );
    // Backing off: at most one request per backoff step (20 ms doubling to 200 ms).
    let resends = double.requests() - requests_then;
    assert!((1..=15).contains(&resends), "{resends} requests in 1.5 s");
    assert!(double.accepted().is_empty());

    // The validator's clock is fixed: the now-old readings are re-signed and delivered.
    double.set_clock_offset(0);
    wait_for(Duration::from_secs(20), "3 deliveries", || {
        m.delivered.load(Relaxed) == 3 && m.queue_depth.load(Relaxed) == 0
    })
    .await;
    let answer = health(addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    gateway.shutdown().await.unwrap();
    let ns: Vec<i64> = double
        .accepted()
        .iter()
        .map(|a| number(&a.data["n"]))
        .collect();
    assert_eq!(ns, vec![0, 1, 2]);
    assert_eq!(m.resigned.load(Relaxed), 3);
    assert!(!m.clock_skew.load(Relaxed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_refused_stale_after_two_re_signs_is_parked_not_dropped() {
    let pki = TestPki::new();
    let device = DeviceDir::new(&pki, Algorithm::EdDSA);
    let key = VerifyingKey::from_public_key_pem(&device.enrolment.public_key).unwrap();
    let double = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    let config = config(
        &device,
        std::slice::from_ref(&double.url),
        &[
            r#"{"n": 0}"#,
            r#"{"n": 1, "always_stale": true}"#,
            r#"{"n": 2}"#,
        ],
    );
    let gateway = Gateway::start(&config).await.unwrap();
    let m = Arc::clone(gateway.metrics());
    wait_for(Duration::from_secs(20), "one message parked", || {
        m.parked.load(Relaxed) == 1 && m.queue_depth.load(Relaxed) == 0
    })
    .await;
    // Time for a wrong resend to show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    gateway.shutdown().await.unwrap();

    let ns: Vec<i64> = double
        .accepted()
        .iter()
        .map(|a| number(&a.data["n"]))
        .collect();
    assert_eq!(ns, vec![0, 2]);
    assert_eq!(
        double.stale().len(),
        3,
        "the original and two copies, then nothing"
    );
    assert_eq!(m.resigned.load(Relaxed), 2);
    let parked = DiskQueue::<QueuedMessage>::open(&config.parked_path()).unwrap();
    let kept = parked.peek(10).unwrap();
    assert_eq!(kept.len(), 1);
    let claims = signed_message::decode_and_verify(&kept[0].1.jws, &key).unwrap();
    assert_eq!(number(&claims.data["n"]), 1);
    assert_eq!(kept[0].1.resigned, 2);
    assert_eq!(number(&claims.data[FIRST_SEQ]) as u64, double.stale()[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1009_keeps_messages_queued_and_the_gateway_fails_over() {
    let pki = TestPki::new();
    let device = DeviceDir::new(&pki, Algorithm::EdDSA);
    let unavailable = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    unavailable.answer_code(Some(1009));
    let good = ValidatorDouble::start(&pki, &device.enrolment.public_key).await;
    let config = config(
        &device,
        &[unavailable.url.clone(), good.url.clone()],
        &[r#"{"n": 0}"#, r#"{"n": 1}"#, r#"{"n": 2}"#],
    );
    let gateway = Gateway::start(&config).await.unwrap();
    let m = Arc::clone(gateway.metrics());
    wait_for(Duration::from_secs(20), "3 deliveries", || {
        m.delivered.load(Relaxed) == 3
    })
    .await;
    gateway.shutdown().await.unwrap();
    let ns: Vec<i64> = good
        .accepted()
        .iter()
        .map(|a| number(&a.data["n"]))
        .collect();
    assert_eq!(ns, vec![0, 1, 2]);
    assert!(unavailable.requests() >= 1 && unavailable.accepted().is_empty());
    assert_eq!(
        m.refused_count(1009),
        0,
        "1009 is not a refusal of the message"
    );
    assert!(m.failovers.load(Relaxed) >= 1);
}
