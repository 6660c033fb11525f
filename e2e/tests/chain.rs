//! The whole chain end to end on the live Fabric network: the edge gateway's library signs and sends over mutual TLS to two real fog validators, which forward to the real cloud sink (SQLite, mutual TLS) and report refusals to the real VPN Centre, whose auto-ban bans on the ledger and revokes certificates.
//!
//! The validators (reading as Org2's client on Org2's peer) learn the ban from the chaincode
//! event stream after the centre's transaction (signed as Org1's admin) commits, and the
//! revocation from the centre's CRL. The delays printed at the end are measured against real
//! commits.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use e2e::chain::{Chain, Fog};
use e2e::gateway::{self, HeldConnection, Outcome};
use fog_validator::code;
use test_support::wait::until;
use vpn_centre::autoban::AutoBanPolicy;

const POLL: Duration = Duration::from_millis(5);

fn accepted(outcome: Outcome, what: &str) -> (u64, String) {
    match outcome {
        Outcome::Accepted { seq, jws } => (seq, jws),
        other => panic!("{what}: expected acceptance, got {other:?}"),
    }
}

/// Sends the impostor's next message on `conn` until `fog` answers 1003; returns the time since
/// `from`. Messages before the ban reaches the validator are refused as forged (1004).
async fn until_refused_as_banned(conn: &mut HeldConnection, fog: &Fog, from: Instant) -> Duration {
    for n in 100.. {
        match conn.send(n).await {
            Outcome::Refused(c) if c == i64::from(code::BANNED) => return from.elapsed(),
            Outcome::Refused(c) if c == i64::from(code::SIGNATURE_INVALID) => {}
            other => panic!("{}: expected 1003 or 1004, got {other:?}", fog.device.uuid),
        }
        assert!(
            from.elapsed() < Duration::from_secs(10),
            "{} still does not refuse the banned gateway after 10 s",
            fog.device.uuid
        );
        tokio::time::sleep(POLL).await;
    }
    unreachable!()
}

/// Opens new connections as the impostor until `fog` refuses them in TLS; returns the time
/// since `from`. Until its CRL refresh the validator still admits it and answers 1003.
async fn until_tls_refused(
    config: &edge_gateway::Config,
    fog: &Fog,
    from: Instant,
) -> (Duration, String) {
    let metrics = &fog.running.validator.metrics;
    let handshake_failures = metrics.tls_handshake_failures.load(Ordering::Relaxed);
    let closed = metrics.revoked_connections_closed.load(Ordering::Relaxed);
    for n in 200.. {
        match gateway::send_new(config, n).await {
            Outcome::NoAnswer(why) => {
                // Refused in the handshake, or admitted just before the CRL arrived and then
                // closed by it: both are the revocation at work.
                let failures = metrics.tls_handshake_failures.load(Ordering::Relaxed);
                let now_closed = metrics.revoked_connections_closed.load(Ordering::Relaxed);
                assert!(
                    failures > handshake_failures || now_closed > closed,
                    "{}: no answer, but no TLS refusal either: {why}",
                    fog.device.uuid
                );
                return (from.elapsed(), why);
            }
            Outcome::Refused(c) if c == i64::from(code::BANNED) => {}
            other => panic!(
                "{}: expected 1003 or a TLS refusal, got {other:?}",
                fog.device.uuid
            ),
        }
        assert!(
            from.elapsed() < Duration::from_secs(15),
            "{} still admits the revoked certificate after 15 s",
            fog.device.uuid
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_gateway_is_stored_once_and_an_impersonator_is_auto_banned_everywhere() {
    let policy = AutoBanPolicy::default();
    let chain = Chain::start(2, policy).await;
    let (v1, v2) = (&chain.fogs[0], &chain.fogs[1]);

    // Enrolment over HTTP: every device holds a certificate and a lease, and the ledger shows it.
    let mut leases = HashSet::new();
    for device in chain.devices() {
        let record = chain.ledger.device(&device.uuid).await;
        let tls = device.tls();
        assert_eq!(
            record.virtual_ip, tls.virtual_ip,
            "lease of {} not on the ledger",
            device.uuid
        );
        let ip = tls.virtual_ip.parse().expect("an IP address");
        assert!(chain.centre.network.contains(ip), "{ip} not from the pool");
        assert_eq!(record.node_type, device.node_type);
        assert_eq!(record.version, 2, "registered, then enrolled: {record:?}");
        assert_eq!(record.public_key.trim(), device.public_key.trim());
        assert!(!record.banned);
        leases.insert(tls.virtual_ip.clone());
    }
    assert_eq!(
        leases.len(),
        chain.devices().len(),
        "leases are not distinct"
    );

    // The honest gateway: three readings through v1, each accepted and stored.
    let honest = &chain.honest.uuid;
    let honest_v1 = gateway::config(&chain.honest, &chain.honest.signing_key, &[v1.running.addr]);
    let honest_v2 = gateway::config(&chain.honest, &chain.honest.signing_key, &[v2.running.addr]);
    let mut sent = Vec::new();
    for n in 1..=3 {
        sent.push(accepted(
            gateway::send_new(&honest_v1, n).await,
            "honest via v1",
        ));
    }
    let stored = |n: usize| {
        let chain = &chain;
        move || async move {
            let rows = chain.sink.rows(&chain.admin, &chain.honest.uuid).await;
            (rows.len() >= n).then_some(rows)
        }
    };
    until(Duration::from_secs(10), POLL, stored(3))
        .await
        .expect("three accepted messages not in the sink within 10 s");

    // The last of them again, to v2, which has not seen it: v2 accepts and forwards it, and the
    // sink keeps the copy it has. At v1 the same message is a replay.
    let (last_seq, last_jws) = sent[2].clone();
    let mut to_v2 = HeldConnection::new(&honest_v2, v2.running.addr);
    accepted(to_v2.resend(last_seq, &last_jws).await, "resend via v2");
    let dup = until(Duration::from_secs(10), POLL, || async {
        let n = v2
            .running
            .validator
            .metrics
            .forward_duplicates
            .load(Ordering::Relaxed);
        (n >= 1).then_some(n)
    })
    .await;
    assert!(
        dup.is_some(),
        "v2 never delivered the resent message to the sink"
    );
    let mut to_v1 = HeldConnection::new(&honest_v1, v1.running.addr);
    assert_eq!(
        to_v1.resend(last_seq, &last_jws).await,
        Outcome::Refused(i64::from(code::REPLAY))
    );
    sent.push(accepted(
        gateway::send_new(&honest_v2, 4).await,
        "honest via v2",
    ));

    let (rows, _) = until(Duration::from_secs(10), POLL, stored(4))
        .await
        .expect("fourth message not in the sink");
    let stored_seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    let sent_seqs: Vec<u64> = sent.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        stored_seqs, sent_seqs,
        "each accepted message stored exactly once"
    );
    for (row, (_, jws)) in rows.iter().zip(&sent) {
        assert_eq!(&row.message, jws);
        assert_eq!(&row.device, honest);
    }
    let by: Vec<&str> = rows.iter().map(|r| r.validator.as_str()).collect();
    let (id1, id2) = (
        v1.running.validator.id.as_str(),
        v2.running.validator.id.as_str(),
    );
    assert_eq!(
        by,
        [id1, id1, id1, id2],
        "the first delivery of each message is the one kept"
    );

    // The impostor: its own certificate, but messages signed with a key that is not registered.
    let imp = &chain.impostor.uuid;
    let forged =
        |fog: &Fog| gateway::config(&chain.impostor, &chain.forged_key, &[fog.running.addr]);
    let mut at_v1 = HeldConnection::new(&forged(v1), v1.running.addr);
    let mut at_v2 = HeldConnection::new(&forged(v2), v2.running.addr);
    let sig = Outcome::Refused(i64::from(code::SIGNATURE_INVALID));
    for n in 0..(policy.warnings as u64 - 1) {
        let conn = if n % 2 == 0 { &mut at_v1 } else { &mut at_v2 };
        assert_eq!(conn.send(n).await, sig);
    }
    let below = policy.warnings - 1;
    until(Duration::from_secs(10), POLL, || async {
        (chain.centre.refusals_about(imp) >= below as u64).then_some(())
    })
    .await
    .expect("the validators' warnings did not reach the centre");
    assert!(
        !chain.ledger.device(imp).await.banned,
        "banned below the policy"
    );

    // The warning that crosses the policy.
    assert_eq!(at_v2.send(50).await, sig);
    let (record, _) = until(Duration::from_secs(10), POLL, || async {
        let record = chain.ledger.device(imp).await;
        record.banned.then_some(record)
    })
    .await
    .expect("the auto-ban never reached the ledger");
    let ban_seen = Instant::now();
    assert_eq!(
        record.ban_reason.as_deref(),
        Some(policy.to_string().as_str())
    );
    assert_eq!(
        policy.to_string(),
        "auto-ban: 5 warnings from 2 validators within 60 s"
    );

    // Both validators refuse its next message as banned, on connections opened before the ban
    // (so no CRL is involved): the ban reached them through the event stream.
    let (d1, d2) = tokio::join!(
        until_refused_as_banned(&mut at_v1, v1, ban_seen),
        until_refused_as_banned(&mut at_v2, v2, ban_seen)
    );
    for fog in [v1, v2] {
        assert!(fog.sees_banned(imp));
        assert_eq!(
            fog.lookups(),
            0,
            "the cache was kept current by events, not lookups"
        );
    }

    // The warnings: about the impostor, forged signatures, submitted as each validator's certificate.
    let warnings = chain.centre.warnings_about(imp);
    assert!(
        chain.centre.refusals_about(imp) >= policy.warnings as u64,
        "{warnings:?}"
    );
    let submitters: HashSet<&str> = warnings
        .iter()
        .map(|w| w.warning.submitter.as_str())
        .collect();
    let fogs: HashSet<&str> = [v1.device.uuid.as_str(), v2.device.uuid.as_str()].into();
    assert_eq!(submitters, fogs);
    assert!(
        warnings
            .iter()
            .all(|w| w.warning.code == code::SIGNATURE_INVALID || w.warning.code == code::BANNED),
        "{warnings:?}"
    );
    // The honest gateway's only warning is the replay v1 refused.
    let about_honest = chain.centre.warnings_about(honest);
    assert_eq!(about_honest.len(), 1, "{about_honest:?}");
    assert_eq!(about_honest[0].warning.code, code::REPLAY);
    assert_eq!(about_honest[0].warning.submitter, v1.device.uuid);

    // The ban revoked its certificate: the centre refuses it at once, the validators after
    // their next CRL refresh.
    let (_, centre_refused_after) = until(Duration::from_secs(10), POLL, || async {
        chain
            .centre
            .refuses_tls_of(&chain.impostor)
            .await
            .then_some(())
    })
    .await
    .expect("the centre never refused the revoked certificate");
    let revoked = Instant::now();
    let revoked_since_ban = revoked - ban_seen;
    let (c1, c2) = (forged(v1), forged(v2));
    let ((t1, why1), (t2, why2)) = tokio::join!(
        until_tls_refused(&c1, v1, revoked),
        until_tls_refused(&c2, v2, revoked)
    );

    // The honest gateway is untouched: new connections, accepted, stored.
    sent.push(accepted(
        gateway::send_new(&honest_v1, 5).await,
        "honest via v1 after the ban",
    ));
    sent.push(accepted(
        gateway::send_new(&honest_v2, 6).await,
        "honest via v2 after the ban",
    ));
    until(Duration::from_secs(10), POLL, stored(6))
        .await
        .expect("the honest gateway's later messages not stored");
    assert!(
        chain.sink.rows(&chain.admin, imp).await.is_empty(),
        "impostor data stored"
    );

    println!("ban seen on the ledger -> first 1003: v1 {d1:?}, v2 {d2:?}");
    println!(
        "ban seen on the ledger -> centre refuses the certificate: at most {revoked_since_ban:?} \
         (polled for {centre_refused_after:?} after the 1003s)"
    );
    println!("revocation -> new TLS connection refused: v1 {t1:?} ({why1}); v2 {t2:?} ({why2})");
    chain.shutdown().await;
}
