//! A ban made with Fabric's own `peer chaincode invoke` (Org1's admin, in the environment
//! `network.sh env Org1 admin` prints) stops a live gateway without any of our tools: the
//! validator refuses its traffic, the centre revokes its certificate from the ledger's events,
//! and both the validator and the sink close the connections it held open and refuse new ones.

use std::time::{Duration, Instant};

use device_record::NodeType;
use e2e::chain::{CentreAndSink, Fog};
use e2e::tls_probe::{closed_within, open, until_tls_refused};
use e2e::traffic::Traffic;
use test_support::fabric::PeerCli;

const LIMIT: Duration = Duration::from_secs(5);

/// Polls `check` every 20 ms until it holds, for at most `limit`.
async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !check() {
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_by_the_peer_cli_closes_and_refuses_the_gateway_at_a_validator_and_the_sink() {
    let parts = CentreAndSink::start().await;
    let (root, ledger, centre, sink) = (parts.root(), &parts.ledger, &parts.centre, &parts.sink);
    let fog_device = centre.new_device(root, ledger, NodeType::Validator).await;
    let running = e2e::validator::start(root, &fog_device, centre, &sink.url, ledger).await;
    let fog = Fog {
        device: fog_device,
        running,
    };
    let gw = centre.new_device(root, ledger, NodeType::Gateway).await;
    let bystander = centre.new_device(root, ledger, NodeType::Gateway).await;

    let traffic = Traffic::start(&gw, &[fog.running.addr], Duration::from_millis(20));
    assert!(
        eventually(Duration::from_secs(10), || traffic.accepted(0) > 0).await,
        "the enrolled gateway's traffic was never accepted"
    );
    let mut to_fog = open(&gw, fog.running.addr)
        .await
        .expect("admitted by the validator");
    let mut to_sink = open(&gw, sink.addr).await.expect("admitted by the sink");
    let mut others = [
        open(&bystander, fog.running.addr)
            .await
            .expect("bystander at the validator"),
        open(&bystander, sink.addr)
            .await
            .expect("bystander at the sink"),
    ];

    PeerCli::new(&ledger.net, "Org1", "admin")
        .invoke_ok_async(&["BanDevice", &gw.uuid, "banned with the peer CLI"])
        .await;
    let confirmed = Instant::now();
    let record = ledger.device_when(&gw.uuid, |r| r.banned).await;
    assert_eq!(record.banned_by_msp.as_deref(), Some("Org1MSP"));

    // The validator follows the ledger: the gateway's live traffic is refused as banned.
    assert!(
        eventually(LIMIT, || fog.sees_banned(&gw.uuid)).await,
        "the validator's registry never showed the ban"
    );
    // The centre follows the ledger too: it revokes, and both servers act on the new CRL.
    assert!(
        closed_within(&mut to_fog, LIMIT).await,
        "the validator kept the banned gateway's open connection"
    );
    assert!(
        closed_within(&mut to_sink, LIMIT).await,
        "the sink kept the banned gateway's open connection"
    );
    let every = Duration::from_millis(10);
    let fog_refused = until_tls_refused(&gw, fog.running.addr, every, LIMIT).await;
    let sink_refused = until_tls_refused(&gw, sink.addr, every, LIMIT).await;
    assert!(
        fog_refused.is_some(),
        "the validator still admits the banned certificate"
    );
    assert!(
        sink_refused.is_some(),
        "the sink still admits the banned certificate"
    );
    assert!(centre.crl_lists(&gw.cert_der()).await);
    let took = confirmed.elapsed();

    // Its traffic is refused from then on: nothing more is accepted.
    let accepted = traffic.accepted(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(traffic.accepted(0), accepted, "accepted after the ban");
    assert!(traffic.failures() > 0);

    // Only the banned certificate: the bystander's connections stay open and new ones are admitted.
    for held in &mut others {
        assert!(
            !closed_within(held, Duration::from_millis(200)).await,
            "a bystander's connection was closed"
        );
    }
    assert!(open(&bystander, fog.running.addr).await.is_ok());
    assert!(open(&bystander, sink.addr).await.is_ok());
    println!(
        "peer CLI ban: connections closed and new handshakes refused at validator and sink within {took:?}"
    );
    drop(traffic);
    fog.running.shutdown().await;
}
