//! A CRL server that stops answering: the validator and the sink keep the last CRL while it is
//! fresh, then report `crl_stale` on `/healthz` (503) and refuse every new mutual-TLS handshake
//! once no fetch has confirmed it for `tls.crl_max_age`; when it answers again they recover.
//! Real TLS, the in-test CA's CRL server, a real sink on SQLite.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use device_record::NodeType;
use fog_validator::validator::now_ms;
use signed_message::Algorithm;
use support::ops::{KeepAlive, healthz, healthz_until, new_connection_admitted};
use support::*;
use test_doubles::{StaticRegistryFeed, TestDevice};

const MAX_AGE: Duration = Duration::from_secs(2);
const REFRESH: Duration = Duration::from_millis(200);

/// A sink behind mutual TLS whose CRL is refreshed every [`REFRESH`] and stale after [`MAX_AGE`].
async fn tls_sink(
    pki: &Pki,
    dir: &std::path::Path,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let tls = sink_tls(pki, dir, REFRESH).await;
    tls.verifier().set_max_age(MAX_AGE);
    serve_tls_sink(tls, &dir.join("sink.db")).await
}

/// A client presenting a service certificate of `pki` (the sink admits any certificate to /healthz).
fn operator(pki: &Pki, dir: &std::path::Path) -> Client {
    let (cert, key) = pki.service_files(dir, "operator");
    let read = |p| std::fs::read_to_string(p).unwrap();
    Client {
        config: Arc::new(
            vpn_pki::client_config(pki.ca.cert_pem(), &read(cert), &read(key)).unwrap(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crl_no_fetch_confirms_turns_stale_after_its_max_age_and_closes_the_door() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::start(dir.path()).await;
    let sink = Sink::start(&dir.path().join("fwd.db"), 0).await;
    let gateway = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let feed = Arc::new(StaticRegistryFeed::new(vec![gateway.record.clone()]));
    let mut cfg = config(&pki, &dir.path().join("v"), sink.url(), None);
    cfg.crl_refresh_secs = 0;
    cfg.crl_refresh_ms = REFRESH.as_millis() as u64;
    cfg.tls.crl_max_age = MAX_AGE;
    let validator = start(&cfg, feed).await;
    let ops = validator.ops_addr.unwrap();
    let gw = pki.client(&gateway.uuid);
    let (sink_addr, _sink_task) = tls_sink(&pki, dir.path()).await;
    let op = operator(&pki, dir.path());

    // Fresh: both healthy, both admit new connections.
    let (status, health) = healthz(ops).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["crl"]["stale"], false, "{health}");
    assert_eq!(health["crl"]["max_age_ms"], 2_000, "{health}");
    assert!(
        health["crl"]["age_ms"].as_u64().unwrap() < 2_000,
        "{health}"
    );
    let message = gateway.message(1, now_ms());
    assert_eq!(
        submit(&gw, validator.addr, &message).await["result"]["accepted"],
        true
    );
    let mut kept = KeepAlive::open(&op, sink_addr).await.unwrap();
    let (status, health) = kept.get_json("/healthz").await;
    assert_eq!(
        (status, &health["crl"]["stale"]),
        (200, &serde_json::json!(false)),
        "{health}"
    );

    pki.stop_crl();
    let stopped = Instant::now();
    let (status, health) = healthz_until(ops, Duration::from_secs(10), |s, _| s != 200).await;
    let took = stopped.elapsed();
    assert_eq!(
        (status, health["status"].as_str()),
        (503, Some("crl_stale")),
        "{health}"
    );
    // The last good fetch was about one refresh before the stop: stale not long before the bound
    // (half of it leaves room for a loaded machine's late ticks).
    assert!(
        took >= MAX_AGE / 2,
        "stale after {took:?}, long before the {MAX_AGE:?} bound"
    );
    assert_eq!(health["crl"]["stale"], true, "{health}");
    let reason = health["reason"].as_str().unwrap();
    assert!(
        reason.contains("2000 ms bound") && reason.contains("last fetch error"),
        "{reason}"
    );
    println!("CRL server stopped -> validator crl_stale after {took:?}");

    // New handshakes are refused, at the validator and at the sink.
    let refused = try_post(&gw, validator.addr, b"{}".to_vec()).await;
    assert!(
        refused.is_err(),
        "a new connection was admitted on a stale CRL: {refused:?}"
    );
    // The sink fetches on its own clock: its kept-alive connection sees it turn stale too (within
    // one refresh of the validator), and then it refuses new connections.
    let mut sink_health = kept.get_json("/healthz").await;
    for _ in 0..100 {
        if sink_health.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        sink_health = kept.get_json("/healthz").await;
    }
    let (status, health) = sink_health;
    assert_eq!(
        (status, health["status"].as_str()),
        (503, Some("crl_stale")),
        "{health}"
    );
    assert_eq!(health["crl"]["max_age_ms"], 2_000, "{health}");
    let refused = new_connection_admitted(&op, sink_addr).await;
    assert!(
        refused.is_err(),
        "the sink admitted a new connection on a stale CRL"
    );
    let (_, metrics) = support::ops::plain_get(ops, "/metrics").await;
    assert!(metrics.contains("fog_validator_crl_stale 1\n"), "{metrics}");

    // The CRL server answers again: fresh at once, new connections admitted.
    pki.restart_crl().await;
    let (status, health) = healthz_until(ops, Duration::from_secs(10), |s, _| s == 200).await;
    assert_eq!(status, 200, "{health}");
    let next = gateway.message(2, now_ms());
    assert_eq!(
        submit(&gw, validator.addr, &next).await["result"]["accepted"],
        true
    );
    let mut admitted = Err(String::new());
    for _ in 0..50 {
        admitted = new_connection_admitted(&op, sink_addr).await;
        if admitted.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admitted.is_ok(), "the sink still refuses: {admitted:?}");
    validator.shutdown().await;
}
