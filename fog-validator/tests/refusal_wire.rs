//! What a gateway reads in a refusal that is not its fault: a stale timestamp (1005 with
//! `error.data.stale` and the validator clock, unlike a used sequence number) and a registry the
//! ledger has not confirmed for too long (1009, no warning, `/healthz` 503 `stale`). Over mutual
//! TLS, with a real sink and centre; the registry feed is the test double so the ledger can go
//! away and come back on cue (the live-network version is `tests/registry_staleness.rs`).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use device_record::NodeType;
use fog_validator::code;
use fog_validator::validator::now_ms;
use signed_message::Algorithm;
use support::ops::{healthz, healthz_until, plain_get};
use support::*;
use test_doubles::{StaticRegistryFeed, TestDevice};
use warnings_api::WarningFilter;

struct World {
    dir: tempfile::TempDir,
    pki: Pki,
    sink: Sink,
    vpn: Vpn,
    feed: Arc<StaticRegistryFeed>,
    gateway: TestDevice,
    client: Client,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::start(dir.path()).await;
    let sink = Sink::start(&dir.path().join("sink.db"), 0).await;
    let vpn = Vpn::start(&dir.path().join("warnings.db")).await;
    let gateway = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let feed = Arc::new(StaticRegistryFeed::new(vec![gateway.record.clone()]));
    let client = pki.client(&gateway.uuid);
    World {
        dir,
        pki,
        sink,
        vpn,
        feed,
        gateway,
        client,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_timestamp_says_so_with_the_validator_clock_and_a_used_seq_does_not() {
    let w = world().await;
    let cfg = config(&w.pki, &w.dir.path().join("v"), w.sink.url(), None);
    let running = start(&cfg, w.feed.clone()).await;

    let before = now_ms();
    let old = w.gateway.message(7, before - 2 * cfg.replay.window_ms);
    let answer = submit(&w.client, running.addr, &old).await;
    let after = now_ms();
    assert_eq!(error_code(&answer), Some(1005), "{answer}");
    let data = &answer["error"]["data"];
    assert_eq!(data["stale"], true, "{answer}");
    let clock = data["validator_time_ms"]
        .as_u64()
        .expect("validator_time_ms");
    assert!(
        (before..=after).contains(&clock),
        "validator_time_ms {clock} is not the validator's clock at the time ({before}..{after})"
    );

    // The same seq with a current timestamp is accepted (a stale refusal consumed nothing) ...
    let fresh = w.gateway.message(7, now_ms());
    let answer = submit(&w.client, running.addr, &fresh).await;
    assert_eq!(answer["result"]["accepted"], true, "{answer}");
    // ... and sent again it is a used sequence number: 1005 without `stale`.
    let answer = submit(&w.client, running.addr, &fresh).await;
    assert_eq!(error_code(&answer), Some(1005), "{answer}");
    let data = answer["error"]["data"].as_object().unwrap();
    assert!(
        !data.contains_key("stale") && !data.contains_key("validator_time_ms"),
        "{answer}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_staleness_bound_every_submit_is_refused_1009_without_a_warning() {
    let w = world().await;
    let mut cfg = config(
        &w.pki,
        &w.dir.path().join("v"),
        w.sink.url(),
        Some(w.vpn.url()),
    );
    cfg.registry.max_staleness = Duration::from_millis(1_500);
    cfg.registry.probe_interval = Duration::from_millis(200);
    let running = start(&cfg, w.feed.clone()).await;
    let ops = running.ops_addr.unwrap();

    let answer = submit(&w.client, running.addr, &w.gateway.message(1, now_ms())).await;
    assert_eq!(answer["result"]["accepted"], true, "{answer}");
    let (status, health) = healthz(ops).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (200, Some("ok")),
        "{health}"
    );
    assert!(
        health["registry_stale_ms"].as_u64().unwrap() < 1_500,
        "{health}"
    );

    // The ledger goes away: the stream ends, probes fail, the cache ages.
    let lost = Instant::now();
    w.feed.set_reachable(false);
    // Within the bound the cache still decides.
    let answer = submit(&w.client, running.addr, &w.gateway.message(2, now_ms())).await;
    assert_eq!(answer["result"]["accepted"], true, "{answer}");
    let (status, health) = healthz_until(ops, Duration::from_secs(10), |s, _| s == 503).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (503, Some("stale")),
        "{health}"
    );
    assert!(
        lost.elapsed() >= Duration::from_millis(750),
        "stale after only {:?}, before the 1.5 s bound could pass",
        lost.elapsed()
    );
    let reason = health["reason"].as_str().unwrap();
    assert!(reason.contains("stream down"), "{reason}");
    assert!(
        health["registry_stale_ms"].as_u64().unwrap() > 1_500,
        "{health}"
    );

    let batch = [
        w.gateway.message(3, now_ms()),
        w.gateway.message(4, now_ms()),
    ];
    for answer in submit_batch(&w.client, running.addr, &batch).await {
        assert_eq!(error_code(&answer), Some(1009), "{answer}");
        assert_eq!(answer["error"]["message"], "registry unavailable");
        let why = answer["error"]["data"]["reason"].as_str().unwrap();
        assert!(why.contains("stream down"), "{why}");
    }
    let (_, metrics) = plain_get(ops, "/metrics").await;
    assert!(
        metrics.contains("fog_validator_registry_stale 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fog_validator_refused_total{code=\"1009\"} 2\n"),
        "{metrics}"
    );
    // Warnings still flow (a body that is not JSON is the sender's fault) ...
    let (status, _) = post(&w.client, running.addr, b"{not json".to_vec()).await;
    assert_eq!(status, 200);
    let warnings = w.vpn.wait_for(1).await;
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].warning.code, code::PARSE_ERROR);
    // ... but none was sent for 1009: it is not the device's fault.
    let filter = WarningFilter {
        code: Some(code::REGISTRY_UNAVAILABLE),
        ..WarningFilter::default()
    };
    assert_eq!(w.vpn.store.count(&filter).unwrap(), 0);

    // The ledger comes back: the stream reopens, a probe answers, the cache is current again.
    w.feed.set_reachable(true);
    let (status, health) = healthz_until(ops, Duration::from_secs(20), |s, _| s == 200).await;
    assert_eq!(status, 200, "{health}");
    let answer = submit(&w.client, running.addr, &w.gateway.message(3, now_ms())).await;
    assert_eq!(answer["result"]["accepted"], true, "{answer}");
    running.shutdown().await;
}
