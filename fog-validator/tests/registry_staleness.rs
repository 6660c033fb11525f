//! Bounded fail-closed on the live ledger: the real validator binary reads Org2's peer through a
//! TCP path the test cuts. Past `registry.max_staleness` `/healthz` answers 503 `stale` naming
//! why, every submit is refused with 1009 and no warning is sent; a ban committed meanwhile is
//! enforced once the path is back and the validator healthy again.

mod support;

use std::time::{Duration, Instant};

use fog_validator::code;
use fog_validator::validator::now_ms;
use support::child::{ChildConfig, ValidatorProcess, peer_addr};
use support::ledger::registered_gateway;
use support::ops::{healthz, healthz_until, plain_get};
use support::proxy::TcpProxy;
use support::*;
use test_support::fabric::LiveNetwork;
use test_support::wait::until;
use warnings_api::WarningFilter;

const MAX_STALENESS: Duration = Duration::from_secs(3);
const PROBE: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_from_its_peer_the_validator_turns_stale_refuses_1009_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    let gateway = registered_gateway(&admin).await;

    let pki = Pki::start(dir.path()).await;
    let sink = Sink::start(&dir.path().join("sink.db"), 0).await;
    let vpn = Vpn::start(&dir.path().join("warnings.db")).await;
    let proxy = TcpProxy::start(peer_addr(&net, "Org2")).await;
    let network = net
        .settings_via("Org2", "client", &proxy.addr.to_string(), dir.path())
        .network;
    let data = dir.path().join("validator");
    let extra = format!(
        "[registry]\nmax_staleness = \"{}ms\"\nprobe_interval = \"{}ms\"\n",
        MAX_STALENESS.as_millis(),
        PROBE.as_millis()
    );
    let mut validator = ValidatorProcess::spawn(
        dir.path(),
        "fog-stale",
        &ChildConfig {
            pki: &pki,
            data_dir: &data,
            sink_url: sink.url(),
            vpn_url: Some(vpn.url()),
            network: &network,
            org: "Org2",
            extra: &extra,
        },
    );
    let health = validator.wait_ok(Duration::from_secs(60)).await;
    assert_eq!(health["registry_max_staleness_ms"], 3_000, "{health}");
    let client = pki.client(&gateway.uuid);
    let answer = submit(&client, validator.addr, &gateway.message(1, now_ms())).await;
    assert_eq!(answer["result"]["accepted"], true, "{answer}");
    let (_, health) = healthz(validator.ops).await;
    assert!(
        health["registry_stale_ms"].as_u64().unwrap() <= 3_000,
        "{health}"
    );

    // The validator loses its peer; the ledger itself goes on (a ban commits meanwhile).
    proxy.cut();
    let cut = Instant::now();
    let (status, health) =
        healthz_until(validator.ops, Duration::from_secs(30), |s, _| s == 503).await;
    let took = cut.elapsed();
    println!("peer cut -> /healthz stale after {took:?}");
    assert_eq!(
        (status, health["status"].as_str()),
        (503, Some("stale")),
        "{health}"
    );
    assert!(
        took >= MAX_STALENESS / 2,
        "stale after {took:?}, before the {MAX_STALENESS:?} bound could pass"
    );
    let reason = health["reason"].as_str().unwrap();
    assert!(
        reason.contains("stream down") || reason.contains("probe failing"),
        "{reason}"
    );
    admin
        .submit(
            "BanDevice",
            &[gateway.uuid.as_bytes(), b"lost in the field".as_slice()],
        )
        .await
        .unwrap();

    let answer = submit(&client, validator.addr, &gateway.message(2, now_ms())).await;
    assert_eq!(error_code(&answer), Some(1009), "{answer}");
    assert_eq!(answer["error"]["message"], "registry unavailable");
    let (_, metrics) = plain_get(validator.ops, "/metrics").await;
    assert!(
        metrics.contains("fog_validator_registry_stale 1\n"),
        "{metrics}"
    );
    // A parse error still warns (so warnings flow), the 1009 did not.
    let (status, _) = post(&client, validator.addr, b"{not json".to_vec()).await;
    assert_eq!(status, 200);
    let warnings = vpn.wait_for(1).await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].warning.code, code::PARSE_ERROR);
    let filter = WarningFilter {
        code: Some(code::REGISTRY_UNAVAILABLE),
        ..WarningFilter::default()
    };
    assert_eq!(vpn.store.count(&filter).unwrap(), 0);

    // The path comes back: the stream resumes from the checkpoint, the probe answers, and the
    // ban committed while cut off is enforced.
    proxy.restore().await;
    let (status, health) =
        healthz_until(validator.ops, Duration::from_secs(30), |s, _| s == 200).await;
    assert_eq!(status, 200, "{health}\n{}", validator.log());
    let mut seq = 2;
    let banned = until(Duration::from_secs(10), Duration::from_millis(100), || {
        seq += 1;
        let message = gateway.message(seq, now_ms());
        let client = client.clone();
        let addr = validator.addr;
        async move {
            let answer = submit(&client, addr, &message).await;
            (error_code(&answer) == Some(1003)).then_some(())
        }
    })
    .await;
    assert!(
        banned.is_some(),
        "the ban committed while cut off is not enforced"
    );
}
