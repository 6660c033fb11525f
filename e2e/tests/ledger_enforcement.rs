//! The ledger drives revocation: a ban or delete made without the centre (the `sf2c-registry` CLI
//! as a child process, our Gateway client as Org1's admin) revokes the device's certificates, a
//! real validator refuses its handshakes and closes its open connection, and a centre restarted
//! after bans committed while it was down revokes them from its checkpoint.

use std::path::Path;
use std::time::{Duration, Instant};

use device_record::NodeType;
use e2e::centre::Centre;
use e2e::ledger::Ledger;
use e2e::tls_probe::{Refused, closed_within, open};
use vpn_centre::autoban::AutoBanPolicy;

const POLL: Duration = Duration::from_millis(5);
const BANS: usize = 5;

/// Polls `check` every [`POLL`] until it holds; the time taken, or a panic after `limit`.
async fn time_until<F, Fut>(from: Instant, limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if check().await {
            return from.elapsed();
        }
        assert!(from.elapsed() < limit, "{what} not seen within {limit:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// A validator on 127.0.0.1:0 with the default CRL refresh (500 ms) and no reachable sink.
async fn validator(
    dir: &Path,
    ledger: &Ledger,
    centre: &Centre,
) -> fog_validator::RunningValidator {
    let device = centre.new_device(dir, ledger, NodeType::Validator).await;
    e2e::validator::start(dir, &device, centre, "http://127.0.0.1:9", ledger).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_by_the_cli_and_a_delete_by_the_gateway_client_revoke_and_close_connections() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::connect().await;
    let cli = e2e::bans::registry_cli();
    let centre = Centre::start(
        dir.path(),
        &ledger.centre_settings(),
        AutoBanPolicy::default(),
    )
    .await;
    let fog = validator(dir.path(), &ledger, &centre).await;
    let settings = ledger.centre_settings();

    let (mut to_crl, mut to_refusal) = (Vec::new(), Vec::new());
    for i in 0..=BANS {
        let gw = centre
            .new_device(dir.path(), &ledger, NodeType::Gateway)
            .await;
        let cert = gw.cert_der();
        let mut held = open(&gw, fog.addr)
            .await
            .expect("an enrolled gateway's keep-alive connection is admitted");
        assert!(!centre.crl_lists(&cert).await);
        let committed = if i < BANS {
            let out = tokio::process::Command::new(&cli)
                .arg("--network")
                .arg(&settings.network)
                .args([
                    "--org",
                    "Org1",
                    "--identity",
                    "admin",
                    "ban",
                    &gw.uuid,
                    "--reason",
                ])
                .arg("ledger enforcement test")
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "sf2c-registry ban: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Instant::now()
        } else {
            // A second path: DeleteDevice through our Gateway client as Org1's admin.
            ledger
                .net
                .contract("Org1", "admin")
                .await
                .submit("DeleteDevice", &[gw.uuid.as_bytes()])
                .await
                .unwrap();
            Instant::now()
        };
        to_crl.push(
            time_until(
                committed,
                Duration::from_secs(2),
                "the revoked serial in the CRL",
                || centre.crl_lists(&cert),
            )
            .await,
        );
        to_refusal.push(
            time_until(
                committed,
                Duration::from_secs(3),
                "TLS refusal at the validator",
                || async { matches!(open(&gw, fog.addr).await, Err(Refused::Tls(_))) },
            )
            .await,
        );
        assert!(
            closed_within(&mut held, Duration::from_secs(1)).await,
            "the validator kept the revoked gateway's open connection"
        );
    }
    let closed = fog
        .validator
        .metrics
        .revoked_connections_closed
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(closed >= (BANS + 1) as u64, "{closed} connections closed");
    // Each first TLS failure above was the revocation: refused in the handshake, or admitted
    // while the new CRL was being installed and closed by it right after (besides the held ones).
    let refused = fog
        .validator
        .metrics
        .tls_handshake_failures
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        refused + closed >= 2 * (BANS + 1) as u64,
        "{refused} handshakes refused, {closed} connections closed"
    );
    let (c50, cmax) = p50_max(to_crl);
    let (t50, tmax) = p50_max(to_refusal);
    println!(
        "{} revocations (CLI bans and a delete): commit -> CRL p50 {c50:?} max {cmax:?}; \
         commit -> TLS refusal p50 {t50:?} max {tmax:?}",
        BANS + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_centre_revokes_bans_committed_while_it_was_down() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::connect().await;
    let centre = Centre::start(
        dir.path(),
        &ledger.centre_settings(),
        AutoBanPolicy::default(),
    )
    .await;
    let gw = centre
        .new_device(dir.path(), &ledger, NodeType::Gateway)
        .await;
    let cert = gw.cert_der();
    // The follower has saved its starting position once the checkpoint file exists.
    let checkpoint = dir
        .path()
        .join(vpn_centre::ledger_follower::CHECKPOINT_FILE);
    time_until(
        Instant::now(),
        Duration::from_secs(20),
        "the follower's checkpoint",
        || async { checkpoint.exists() },
    )
    .await;
    drop(centre);
    ledger
        .net
        .contract("Org1", "admin")
        .await
        .submit(
            "BanDevice",
            &[gw.uuid.as_bytes(), &b"banned while the centre was down"[..]],
        )
        .await
        .unwrap();
    let centre = Centre::start(
        dir.path(),
        &ledger.centre_settings(),
        AutoBanPolicy::default(),
    )
    .await;
    let took = time_until(
        Instant::now(),
        Duration::from_secs(10),
        "revocation after restart",
        || centre.crl_lists(&cert),
    )
    .await;
    println!("restarted centre revoked the ban committed while it was down in {took:?}");
}

fn p50_max(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}
