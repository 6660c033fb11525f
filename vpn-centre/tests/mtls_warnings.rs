//! The validators' mutual-TLS listener in-process, with the `MemoryRegistry` test double as the
//! ledger: who gets in, that the submitter is the certificate's UUID, that forged warnings ban
//! nobody, and that auto-ban and the dashboard's ban both revoke the device's certificates.

mod common;

use common::centre::{Centre, pki_in};
use common::dashboard_server::{FORM, send, session};
use common::sample;
use device_record::NodeType;
use hyper::StatusCode;
use vpn_centre::autoban::AutoBanPolicy;
use vpn_centre::registry::CentreRegistry;
use warnings_api::{ClientError, TlsIdentity, WarningClient, WarningFilter};

const GW: &str = "3b0c8a52-6f1e-4d7a-9c2b-5e8f1a3d7c60";
const V1: &str = "8e2f4c1a-9b3d-4e5f-a6c7-d8e9f0a1b2c3";
const V2: &str = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d";

fn policy() -> AutoBanPolicy {
    AutoBanPolicy::default()
}

/// True when the TLS layer refused: no HTTP answer came back at all.
fn refused_by_tls(result: Result<u64, ClientError>) -> bool {
    matches!(result, Err(ClientError::Unreachable { .. }))
}

fn http_status(result: Result<u64, ClientError>) -> Option<StatusCode> {
    match result {
        Err(ClientError::Refused { status, .. }) => Some(status),
        Ok(_) => Some(StatusCode::OK),
        Err(_) => None,
    }
}

async fn count(client: &WarningClient) -> Result<u64, ClientError> {
    client.count(&WarningFilter::default()).await
}

/// A service certificate (role `service`) of the centre: reads and deletes warnings.
async fn service_identity(centre: &Centre, name: &str) -> TlsIdentity {
    let issued = centre.pki.issue_service(name, &[]).await.unwrap();
    TlsIdentity {
        ca_pem: centre.pki.ca_pem().to_string(),
        cert_pem: issued.cert_pem,
        key_pem: issued.key_pem,
    }
}

#[tokio::test]
async fn a_validator_certificate_is_accepted_and_is_the_submitter() {
    let dir = tempfile::tempdir().unwrap();
    let centre = Centre::start(dir.path(), policy()).await;
    let validator = centre.enrol(V1, NodeType::Validator).await;
    let client = centre.client(&validator);
    // The body claims another validator; the certificate decides.
    let stored = client
        .report(&sample("validator-someone-else", None, -32001, 1_000))
        .await
        .unwrap();
    assert_eq!(stored.warning.submitter, V1);
    // Validators submit; reading is for services and operators.
    assert_eq!(
        http_status(count(&client).await),
        Some(StatusCode::FORBIDDEN)
    );
    let reader = centre.client(&service_identity(&centre, "demo-tools").await);
    let page = reader
        .list(&WarningFilter::default(), None, None)
        .await
        .unwrap();
    assert_eq!(page.warnings, vec![stored.clone()]);
    reader.delete(stored.id).await.unwrap();
    assert_eq!(count(&reader).await.unwrap(), 0);
}

#[tokio::test]
async fn no_certificate_a_foreign_ca_or_a_revoked_certificate_is_refused_at_the_tls_layer() {
    let dir = tempfile::tempdir().unwrap();
    let centre = Centre::start(dir.path(), policy()).await;
    let validator = service_identity(&centre, "demo-tools").await;
    let revocable = centre.enrol(V1, NodeType::Validator).await;
    assert_eq!(count(&centre.client(&validator)).await.unwrap(), 0);

    // No client certificate.
    let anonymous = WarningClient::with_ca(&centre.mtls_url, centre.pki.ca_pem()).unwrap();
    assert!(refused_by_tls(count(&anonymous).await));

    // A certificate from another CA, bound to the same UUID.
    let other_dir = tempfile::tempdir().unwrap();
    let other = pki_in(other_dir.path(), None).await;
    let foreign = other.issue_service(V1, &[]).await.unwrap();
    let impostor = TlsIdentity {
        ca_pem: centre.pki.ca_pem().to_string(),
        cert_pem: foreign.cert_pem,
        key_pem: foreign.key_pem,
    };
    assert!(refused_by_tls(count(&centre.client(&impostor)).await));

    // Plain HTTP on the mutual-TLS port gets no answer either.
    let plain = WarningClient::new(&centre.mtls_url.replace("https", "http")).unwrap();
    assert!(count(&plain).await.is_err());

    // Revoked: the very next connection is refused.
    assert_eq!(
        http_status(count(&centre.client(&revocable)).await),
        Some(StatusCode::FORBIDDEN)
    );
    centre
        .pki
        .revoke(V1, rcgen::RevocationReason::KeyCompromise)
        .await
        .unwrap();
    assert!(refused_by_tls(count(&centre.client(&revocable)).await));
}

#[tokio::test]
async fn forged_warnings_ban_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let centre = Centre::start(dir.path(), policy()).await;
    let target = centre.enrol(GW, NodeType::Gateway).await;
    let lone = centre.enrol(V1, NodeType::Validator).await;
    let outsider_gw = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f";
    let gateway = centre.enrol(outsider_gw, NodeType::Gateway).await;
    let service = centre.pki.issue_service("cloud-sink", &[]).await.unwrap();
    let service = TlsIdentity {
        ca_pem: centre.pki.ca_pem().to_string(),
        cert_pem: service.cert_pem,
        key_pem: service.key_pem,
    };

    let about_target = |n: u64| sample(V2, Some(GW), 1004, 1_000 + n);
    // A gateway and a service certificate may not submit at all.
    for identity in [&gateway, &service] {
        let err = centre
            .client(identity)
            .report_batch(&(0..10).map(about_target).collect::<Vec<_>>())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ClientError::Refused { status, .. } if *status == StatusCode::FORBIDDEN),
            "{err:?}"
        );
    }
    // One validator claiming to be two in the body: counted as one, so no ban.
    let lone_client = centre.client(&lone);
    for n in 0..10 {
        let mut w = about_target(n);
        w.submitter = if n % 2 == 0 { V1 } else { V2 }.to_string();
        lone_client.report(&w).await.unwrap();
    }
    // Without a certificate nothing arrives.
    let anonymous = WarningClient::with_ca(&centre.mtls_url, centre.pki.ca_pem()).unwrap();
    assert!(anonymous.report(&about_target(99)).await.is_err());

    assert!(!centre.registry.current(GW).unwrap().banned);
    let reader = centre.client(&service_identity(&centre, "demo-tools").await);
    let stored = count(&reader).await.unwrap();
    assert_eq!(stored, 10, "only the lone validator's warnings are stored");
    // Ten identical refusals within a minute are one row with a count.
    let page = reader
        .list(&WarningFilter::default(), None, None)
        .await
        .unwrap();
    assert_eq!(page.warnings.len(), 1, "{page:?}");
    assert_eq!(
        (page.warnings[0].count, page.warnings[0].last_ms),
        (10, 1_009)
    );
    // The target's certificate still works (it gets an HTTP answer, not a TLS refusal).
    assert_eq!(
        http_status(count(&centre.client(&target)).await),
        Some(StatusCode::FORBIDDEN)
    );
}

#[tokio::test]
async fn warnings_from_two_validators_auto_ban_the_device_and_revoke_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let centre = Centre::start(dir.path(), policy()).await;
    let target = centre.enrol(GW, NodeType::Gateway).await;
    let v1 = centre.client(&centre.enrol(V1, NodeType::Validator).await);
    let v2 = centre.client(&centre.enrol(V2, NodeType::Validator).await);
    assert_eq!(
        http_status(count(&centre.client(&target)).await),
        Some(StatusCode::FORBIDDEN)
    );

    // A warning with no offender device never counts, nor does a refusal that does not prove
    // the device misbehaved (banned, malformed, a stale timestamp, a JSON-RPC error).
    for n in 0..6 {
        v1.report(&sample("x", None, 1004, 1_000 + n))
            .await
            .unwrap();
    }
    for (n, code) in [1003, 1007, 1006, -32602, 1001].into_iter().enumerate() {
        for client in [&v1, &v2] {
            client
                .report(&sample("x", Some(GW), code, 1_500 + n as u64))
                .await
                .unwrap();
        }
    }
    for client in [&v1, &v2, &v1] {
        let mut stale = sample("x", Some(GW), 1005, 1_600);
        stale.stale = true;
        client.report(&stale).await.unwrap();
    }
    // Bad signature, another device's name, a replay: these count.
    for (n, code) in [1004, 1008, 1005, 1004].into_iter().enumerate() {
        let client = if n % 2 == 0 { &v1 } else { &v2 };
        client
            .report(&sample("x", Some(GW), code, 2_000 + n as u64))
            .await
            .unwrap();
    }
    assert!(
        !centre.registry.current(GW).unwrap().banned,
        "tripped early"
    );
    v2.report(&sample("x", Some(GW), 1004, 3_000))
        .await
        .unwrap();

    let record = centre.registry.current(GW).unwrap();
    assert!(record.banned);
    assert_eq!(
        record.ban_reason.as_deref(),
        Some("auto-ban: 5 warnings from 2 validators within 60 s")
    );
    assert!(refused_by_tls(count(&centre.client(&target)).await));

    // More warnings do not ban it again: one ban in its history.
    for n in 0..10 {
        let client = if n % 2 == 0 { &v1 } else { &v2 };
        client
            .report(&sample("x", Some(GW), 1004, 4_000 + n))
            .await
            .unwrap();
    }
    let history = centre.registry.history(GW).await.unwrap();
    let bans = history
        .windows(2)
        .filter(|p| {
            let was = p[0].record.as_ref().is_some_and(|r| r.banned);
            let is = p[1].record.as_ref().is_some_and(|r| r.banned);
            !was && is
        })
        .count();
    assert_eq!(bans, 1, "{history:?}");
}

#[tokio::test]
async fn a_dashboard_ban_revokes_the_certificate_too() {
    let dir = tempfile::tempdir().unwrap();
    let centre = Centre::start(dir.path(), policy()).await;
    let target = centre.enrol(GW, NodeType::Gateway).await;
    assert_eq!(
        http_status(count(&centre.client(&target)).await),
        Some(StatusCode::FORBIDDEN)
    );
    let (cookie, csrf) = session(centre.addr).await;
    let reply = send(
        centre.addr,
        "POST",
        &format!("/dashboard/devices/{GW}/ban"),
        &[FORM, ("Cookie", &cookie)],
        &format!("csrf={csrf}&reason=tampered+casing"),
    )
    .await;
    assert_eq!(reply.status, 303, "{reply:?}");
    let record = centre.registry.current(GW).unwrap();
    assert!(record.banned);
    assert_eq!(record.ban_reason.as_deref(), Some("tampered casing"));
    assert!(refused_by_tls(count(&centre.client(&target)).await));

    // Unbanning does not bring the old certificate back; re-enrolling does.
    let reply = send(
        centre.addr,
        "POST",
        &format!("/dashboard/devices/{GW}/unban"),
        &[FORM, ("Cookie", &cookie)],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(reply.status, 303, "{reply:?}");
    assert!(refused_by_tls(count(&centre.client(&target)).await));
    let fresh = centre.enrol_registered(GW).await;
    assert_eq!(
        http_status(count(&centre.client(&fresh)).await),
        Some(StatusCode::FORBIDDEN)
    );
}
