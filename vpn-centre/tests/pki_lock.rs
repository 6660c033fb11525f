//! No PKI database lock across a ledger call: while one enrolment waits on a peer that accepts
//! and never answers (a network fault standing in for a hung peer, with the live network's real
//! identity and TLS root), revocation, the CRL, token issue and a second enrolment's token check
//! all answer promptly; the stuck enrolment ends at the ledger deadline as "unavailable", and its
//! token is given back.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::centre::{Centre, enrol_body};
use fabric_client::Deadlines;
use test_support::fabric::{LiveNetwork, unique_uuid};
use test_support::silent::SilentListener;
use vpn_centre::autoban::AutoBanPolicy;
use vpn_centre::fabric_registry::FabricRegistry;
use warnings_api::{ClientError, WarningClient};

const DEADLINE: Duration = Duration::from_secs(3);
const PROMPT: Duration = Duration::from_millis(500);

/// Awaits `step`, asserting it finishes promptly; returns its output.
async fn prompt<T>(what: &str, step: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(10), step)
        .await
        .unwrap_or_else(|_| panic!("{what} still waits after 10 s"));
    let took = started.elapsed();
    eprintln!("{what} while an enrolment waits on the ledger: {took:?}");
    assert!(took < PROMPT, "{what} took {took:?}");
    out
}

#[tokio::test]
async fn pki_operations_stay_prompt_while_an_enrolment_waits_on_a_silent_peer() {
    let net = LiveNetwork::get();
    let dir = tempfile::tempdir().unwrap();
    let silent = SilentListener::start().await;
    let silent_addr = silent.addr.to_string();
    let deadlines = Deadlines {
        evaluate: DEADLINE,
        endorse: DEADLINE,
        submit: DEADLINE,
        commit_status: DEADLINE,
    };
    let settings = net.settings_via("Org1", "admin", &silent_addr, dir.path());
    let registry = FabricRegistry::from_settings_with(&settings, deadlines).unwrap();
    let centre = Centre::start_on(dir.path(), AutoBanPolicy::default(), Arc::new(registry)).await;
    let client = WarningClient::new(&centre.url).unwrap();
    let service = centre.pki.issue_service("soon-revoked", &[]).await.unwrap();

    let device = unique_uuid();
    let ttl = Duration::from_secs(600);
    let token = centre.pki.issue_token(&device, ttl).await.unwrap().secret;
    let started = Instant::now();
    let stuck = {
        let (client, body) = (client.clone(), enrol_body(&token, &device));
        tokio::spawn(async move { client.enrol(&body).await })
    };
    // Let it reach its ledger read.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !stuck.is_finished(),
        "the enrolment should wait on the silent peer"
    );

    let revoked = prompt(
        "revocation",
        centre
            .pki
            .revoke(&service.uuid, rcgen::RevocationReason::Superseded),
    )
    .await
    .unwrap();
    assert_eq!(revoked, vec![service.serial_hex.clone()]);
    let crl = prompt(
        "CRL fetch",
        common::raw_request(centre.addr, "GET", "/v1/pki/crl", b""),
    )
    .await;
    assert_eq!(crl.0, 200);
    prompt("token issue", centre.pki.issue_token(&unique_uuid(), ttl))
        .await
        .unwrap();
    // The stuck enrolment reserved its token: a second try with it is told so at once.
    let again = prompt(
        "second enrolment",
        client.enrol(&enrol_body(&token, &device)),
    )
    .await;
    assert!(
        matches!(&again, Err(ClientError::Refused { status, body }) if status.as_u16() == 403 && body.error.contains("already used")),
        "{again:?}"
    );

    let outcome = stuck.await.unwrap();
    let took = started.elapsed();
    let Err(ClientError::Refused {
        status,
        body: error,
    }) = &outcome
    else {
        panic!("the enrolment should fail as unavailable, got {outcome:?}");
    };
    assert_eq!(status.as_u16(), 503, "{error:?}");
    assert!(
        error.error.contains("evaluate of GetDevice") && error.error.contains(&silent_addr),
        "{}",
        error.error
    );
    assert!(
        took >= DEADLINE && took < DEADLINE + Duration::from_secs(2),
        "the enrolment ended after {took:?}, deadline {DEADLINE:?}"
    );
    // Given back: the same token is not "already used" now, it meets the same silent peer.
    let retry = client.enrol(&enrol_body(&token, &device)).await;
    assert!(
        matches!(&retry, Err(ClientError::Refused { status, .. }) if status.as_u16() == 503),
        "{retry:?}"
    );
    drop(silent);
}
