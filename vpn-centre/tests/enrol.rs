//! Enrolment end to end over HTTP against the in-process centre, with the `MemoryRegistry` test
//! double as the ledger: IP recorded, certificate binding UUID and IPs, single-use tokens,
//! unregistered and banned devices refused, CA and CRL published, attempts limited per address.

mod common;

use common::centre::{Centre, enrol_body, unenrolled};
use common::dashboard_server::send;
use device_record::NodeType;
use vpn_centre::autoban::AutoBanPolicy;
use vpn_centre::registry::CentreRegistry;
use warnings_api::{ClientError, WarningClient};
use x509_parser::prelude::{FromDer, GeneralName, parse_x509_certificate};
use x509_parser::revocation_list::CertificateRevocationList;

const GW: &str = "3b0c8a52-6f1e-4d7a-9c2b-5e8f1a3d7c60";
const VALIDATOR: &str = "8e2f4c1a-9b3d-4e5f-a6c7-d8e9f0a1b2c3";

fn der_of(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

fn refusal(e: ClientError) -> (u16, String) {
    match e {
        ClientError::Refused { status, body } => (status.as_u16(), body.error),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn enrolment_records_the_ip_on_the_ledger_and_certifies_uuid_and_ips() {
    let dir = tempfile::tempdir().unwrap();
    let centre = Centre::start(dir.path(), AutoBanPolicy::default()).await;
    centre.registry.register(unenrolled(GW, NodeType::Gateway));
    let token = centre
        .pki
        .issue_token(GW, std::time::Duration::from_secs(600))
        .await
        .unwrap();
    let client = WarningClient::new(&centre.url).unwrap();
    let answer = client.enrol(&enrol_body(&token.secret, GW)).await.unwrap();

    let v4 = answer.virtual_ip.v4.expect("an IPv4 address");
    let v6 = answer.virtual_ip.v6.expect("an IPv6 address");
    assert!(v4.to_string().starts_with("10.8.0."), "{v4}");
    assert!(v6.to_string().starts_with("fd00:8::"), "{v6}");
    let record = centre.registry.current(GW).unwrap();
    assert_eq!(record.virtual_ip, v4.to_string());

    let cert_der = der_of(&answer.certificate);
    let (_, cert) = parse_x509_certificate(&cert_der).unwrap();
    let ca_der = der_of(&answer.ca);
    let (_, ca) = parse_x509_certificate(&ca_der).unwrap();
    assert_eq!(cert.issuer(), ca.subject());
    assert_eq!(answer.ca, centre.pki.ca_pem());
    let san = cert.subject_alternative_name().unwrap().unwrap();
    let names = &san.value.general_names;
    assert!(
        names.contains(&GeneralName::URI(&format!("urn:uuid:{GW}"))),
        "{names:?}"
    );
    let ips: Vec<_> = names
        .iter()
        .filter_map(|n| match n {
            GeneralName::IPAddress(b) => Some(b.to_vec()),
            _ => None,
        })
        .collect();
    let octets = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V4(a) => a.octets().to_vec(),
        std::net::IpAddr::V6(a) => a.octets().to_vec(),
    };
    assert!(
        ips.contains(&octets(v4)) && ips.contains(&octets(v6)),
        "{ips:?}"
    );

    // The token is single use.
    let (status, error) = refusal(
        client
            .enrol(&enrol_body(&token.secret, GW))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 403);
    assert!(error.contains("already used"), "{error}");

    // A second device gets a different address.
    centre
        .registry
        .register(unenrolled(VALIDATOR, NodeType::Validator));
    let token = centre
        .pki
        .issue_token(VALIDATOR, std::time::Duration::from_secs(600))
        .await
        .unwrap();
    let other = client
        .enrol(&enrol_body(&token.secret, VALIDATOR))
        .await
        .unwrap();
    assert_ne!(other.virtual_ip.v4, answer.virtual_ip.v4);
    assert_ne!(other.virtual_ip.v6, answer.virtual_ip.v6);
}

#[tokio::test]
async fn unregistered_and_banned_devices_cannot_enrol() {
    let dir = tempfile::tempdir().unwrap();
    let centre = Centre::start(dir.path(), AutoBanPolicy::default()).await;
    let client = WarningClient::new(&centre.url).unwrap();
    let ttl = std::time::Duration::from_secs(600);

    let token = centre.pki.issue_token(GW, ttl).await.unwrap();
    let (status, error) = refusal(
        client
            .enrol(&enrol_body(&token.secret, GW))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 404, "{error}");
    assert!(error.contains("not registered"), "{error}");

    centre.registry.register(unenrolled(GW, NodeType::Gateway));
    centre.registry.ban(GW, "stolen").await.unwrap();
    let (status, error) = refusal(
        client
            .enrol(&enrol_body(&token.secret, GW))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 403, "{error}");
    assert!(error.contains("banned"), "{error}");
    assert_eq!(centre.registry.current(GW).unwrap().virtual_ip, "");

    // Nothing was consumed by the refusals: once unbanned, the same token works.
    centre.registry.unban(GW).await.unwrap();
    client.enrol(&enrol_body(&token.secret, GW)).await.unwrap();

    // A wrong token is refused before the registry is consulted.
    let (status, _) = refusal(
        client
            .enrol(&enrol_body("not-a-token", GW))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 403);
}

#[tokio::test]
async fn ca_and_signed_crl_are_published_and_the_crl_lists_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let centre = Centre::start(dir.path(), AutoBanPolicy::default()).await;
    let ca = send(centre.addr, "GET", "/v1/pki/ca", &[], "").await;
    assert_eq!(ca.status, 200);
    assert_eq!(ca.body, centre.pki.ca_pem());

    let identity = centre.enrol(GW, NodeType::Gateway).await;
    let serial = {
        let der = der_of(&identity.cert_pem);
        let (_, cert) = parse_x509_certificate(&der).unwrap();
        cert.raw_serial().to_vec()
    };
    let crl_has_serial = |der: Vec<u8>| {
        let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
        let ca_der = der_of(centre.pki.ca_pem());
        let (_, ca) = parse_x509_certificate(&ca_der).unwrap();
        assert_eq!(crl.issuer(), ca.subject());
        crl.iter_revoked_certificates()
            .any(|r| r.raw_serial() == serial.as_slice())
    };
    assert!(!crl_has_serial(fetch_crl(&centre.url).await));
    centre
        .pki
        .revoke(GW, rcgen::RevocationReason::KeyCompromise)
        .await
        .unwrap();
    assert!(crl_has_serial(fetch_crl(&centre.url).await));
}

async fn fetch_crl(url: &str) -> Vec<u8> {
    vpn_pki::fetch_crl(&format!("{url}/v1/pki/crl"))
        .await
        .unwrap()
}

#[tokio::test]
async fn enrolment_attempts_are_limited_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let centre = Centre::start(dir.path(), AutoBanPolicy::default()).await;
    let attempt = serde_json::to_string(&enrol_body("guess", GW)).unwrap();
    let json = ("Content-Type", "application/json");
    let mut statuses = Vec::new();
    for _ in 0..=vpn_centre::enrol_api::ENROL_ATTEMPTS_PER_MINUTE {
        statuses.push(
            send(centre.addr, "POST", "/v1/enrol", &[json], &attempt)
                .await
                .status,
        );
    }
    let limit = vpn_centre::enrol_api::ENROL_ATTEMPTS_PER_MINUTE;
    assert!(statuses[..limit].iter().all(|s| *s == 403), "{statuses:?}");
    assert_eq!(statuses[limit], 429, "{statuses:?}");
}

#[tokio::test]
async fn an_address_taken_on_the_ledger_or_lost_to_a_concurrent_write_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let centre = Centre::start(dir.path(), AutoBanPolicy::default()).await;
    // Registered by hand at the pool's first address; the centre has not heard of it.
    let by_hand = "5d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a";
    centre
        .registry
        .register(common::memory_registry::gateway(by_hand, 2));
    centre.registry.register(unenrolled(GW, NodeType::Gateway));
    // The write of the next address then loses to a concurrent change.
    centre.registry.lose_next_ip_writes(1);
    let client = WarningClient::new(&centre.url).unwrap();
    let token = centre
        .pki
        .issue_token(GW, std::time::Duration::from_secs(600))
        .await
        .unwrap();
    let answer = client.enrol(&enrol_body(&token.secret, GW)).await.unwrap();
    let v4 = answer.virtual_ip.v4.unwrap();
    assert_eq!(v4.to_string(), "10.8.0.4");
    assert_eq!(centre.registry.current(GW).unwrap().virtual_ip, "10.8.0.4");
    let taken: std::net::IpAddr = "10.8.0.2".parse().unwrap();
    assert_eq!(
        centre.pki.ledger_holder(taken).await.unwrap().as_deref(),
        Some(by_hand)
    );
    assert_eq!(centre.pki.lease_of(GW).await.unwrap().unwrap().v4, Some(v4));
    // The address lost to the conflict was given back: the next device gets it.
    centre
        .registry
        .register(unenrolled(VALIDATOR, NodeType::Validator));
    let token = centre
        .pki
        .issue_token(VALIDATOR, std::time::Duration::from_secs(600))
        .await
        .unwrap();
    let next = client
        .enrol(&enrol_body(&token.secret, VALIDATOR))
        .await
        .unwrap();
    assert_eq!(next.virtual_ip.v4.unwrap().to_string(), "10.8.0.3");
}
