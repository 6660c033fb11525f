//! Enrolment end to end over real SQLite and the in-process ledger test double: what is recorded, what is refused, and that refusals change nothing.

mod common;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{enroller, now, record, register_and_enrol, uuid};
use device_record::NodeType;
use rusqlite::Connection;
use vpn_pki::{EnrolError, EnrolRequest, LeafKey, PoolError, Role, TokenError};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::*;

fn key_pem() -> String {
    rcgen::KeyPair::generate().unwrap().public_key_pem()
}

fn counts(dir: &std::path::Path) -> (i64, i64, i64) {
    let c = Connection::open(dir.join("pki.db")).unwrap();
    let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    (
        n("SELECT COUNT(*) FROM ip_leases"),
        n("SELECT COUNT(*) FROM issued_certs"),
        n("SELECT COUNT(*) FROM enrolment_tokens WHERE used_at IS NOT NULL"),
    )
}

#[tokio::test]
async fn enrolment_records_ip_on_ledger_and_issues_a_chained_cert() {
    let dir = tempfile::tempdir().unwrap();
    let e = enroller(dir.path(), &["10.8.0.0/24", "fd00:8::/64"]);
    let dev = uuid(1);
    let (done, _key) = register_and_enrol(&e, &dev, NodeType::Gateway).await;

    assert_eq!(
        e.ledger().get(&dev).unwrap().virtual_ip,
        done.virtual_ip.to_string()
    );
    assert_eq!(Some(done.virtual_ip), done.lease.v4);
    let v6 = done.lease.v6.unwrap();
    assert!("fd00:8::/64".parse::<vpn_pki::Cidr>().unwrap().contains(v6));
    assert_eq!(done.ca_pem, e.ca().cert_pem());

    let der = rustls::pki_types::pem::PemObject::from_pem_slice(done.cert_pem.as_bytes())
        .map(|d: rustls::pki_types::CertificateDer<'static>| d)
        .unwrap();
    let (_, cert) = parse_x509_certificate(&der).unwrap();
    let (_, ca) = parse_x509_certificate(e.ca().cert_der()).unwrap();
    cert.verify_signature(Some(ca.public_key())).unwrap();
    assert_eq!(cert.issuer(), ca.subject());
    // The role is the registry's node_type.
    assert_eq!(Role::of_certificate(&der), Some(Role::Gateway));
    let names = &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    let urn = format!("urn:uuid:{dev}");
    assert!(names.contains(&GeneralName::URI(&urn)));
    let IpAddr::V4(v4) = done.virtual_ip else {
        panic!("primary must be IPv4")
    };
    assert!(names.contains(&GeneralName::IPAddress(&v4.octets())));
    let IpAddr::V6(v6) = v6 else { unreachable!() };
    assert!(names.contains(&GeneralName::IPAddress(&v6.octets())));
    let serial: Vec<u8> = (0..32)
        .step_by(2)
        .map(|i| u8::from_str_radix(&done.serial_hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(
        cert.serial,
        x509_parser::num_bigint::BigUint::from_bytes_be(&serial)
    );
    assert_eq!(counts(dir.path()), (2, 1, 1));
}

#[tokio::test]
async fn token_is_single_use_and_reenrolment_keeps_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let e = enroller(dir.path(), &["10.8.0.0/24"]);
    let dev = uuid(2);
    e.ledger().insert(record(&dev, NodeType::Gateway));
    let token = e
        .issue_token(&dev, Duration::from_secs(300), now())
        .await
        .unwrap();
    let req = EnrolRequest {
        token: token.secret.clone(),
        uuid: dev.clone(),
        key: LeafKey::PublicKey(key_pem()),
    };
    let first = e.enrol(&req, now()).await.unwrap();
    let version = e.ledger().get(&dev).unwrap().version;
    let again = e.enrol(&req, now()).await.unwrap_err();
    assert!(
        matches!(again, EnrolError::Token(TokenError::Used { .. })),
        "{again}"
    );

    let token2 = e
        .issue_token(&dev, Duration::from_secs(300), now())
        .await
        .unwrap();
    let second = e
        .enrol(
            &EnrolRequest {
                token: token2.secret,
                ..req
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(first.virtual_ip, second.virtual_ip);
    assert_ne!(first.serial_hex, second.serial_hex);
    // Same address already on the ledger: no second write.
    assert_eq!(e.ledger().get(&dev).unwrap().version, version);
}

#[tokio::test]
async fn unregistered_banned_or_ledger_failure_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = enroller(dir.path(), &["10.8.0.0/24", "fd00:8::/64"]);
    let dev = uuid(3);
    let token = e
        .issue_token(&dev, Duration::from_secs(300), now())
        .await
        .unwrap();
    let req = EnrolRequest {
        token: token.secret.clone(),
        uuid: dev.clone(),
        key: LeafKey::PublicKey(key_pem()),
    };

    let err = e.enrol(&req, now()).await.unwrap_err();
    assert!(matches!(err, EnrolError::NotRegistered { .. }), "{err}");
    assert_eq!(counts(dir.path()), (0, 0, 0));

    let mut banned = record(&dev, NodeType::Gateway);
    banned.banned = true;
    e.ledger().insert(banned);
    let err = e.enrol(&req, now()).await.unwrap_err();
    assert!(matches!(err, EnrolError::Banned { .. }), "{err}");
    assert_eq!(counts(dir.path()), (0, 0, 0));

    e.ledger().set_banned(&dev, false);
    e.ledger().fail_writes(true);
    let err = e.enrol(&req, now()).await.unwrap_err();
    assert!(matches!(err, EnrolError::Ledger { .. }), "{err}");
    assert_eq!(counts(dir.path()), (0, 0, 0));
    assert_eq!(e.ledger().get(&dev).unwrap().virtual_ip, "");
    assert!(e.lease_of(&dev).await.unwrap().is_none());

    // The same token still works once the cause is gone: it was never consumed.
    e.ledger().fail_writes(false);
    let done = e.enrol(&req, now()).await.unwrap();
    assert_eq!(
        e.ledger().get(&dev).unwrap().virtual_ip,
        done.virtual_ip.to_string()
    );
    assert_eq!(counts(dir.path()), (2, 1, 1));

    let err = e
        .enrol(
            &EnrolRequest {
                uuid: uuid(4),
                ..req
            },
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EnrolError::Token(TokenError::Unknown | TokenError::Used { .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn concurrent_enrolments_get_unique_addresses_in_both_families() {
    let dir = tempfile::tempdir().unwrap();
    let e = Arc::new(enroller(dir.path(), &["10.20.0.0/24", "fd00:20::/112"]));
    let n = 60;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let e = e.clone();
            let kind = if i % 5 == 0 {
                NodeType::Validator
            } else {
                NodeType::Gateway
            };
            tokio::spawn(async move {
                let done = register_and_enrol(&e, &uuid(100 + i), kind).await.0;
                let der =
                    rustls::pki_types::pem::PemObject::from_pem_slice(done.cert_pem.as_bytes())
                        .map(|d: rustls::pki_types::CertificateDer<'static>| d)
                        .unwrap();
                assert_eq!(Role::of_certificate(&der), Some(Role::of_node_type(kind)));
                done
            })
        })
        .collect();
    let mut v4 = HashSet::new();
    let mut v6 = HashSet::new();
    for t in tasks {
        let done = t.await.unwrap();
        assert!(v4.insert(done.lease.v4.unwrap()));
        assert!(v6.insert(done.lease.v6.unwrap()));
    }
    assert_eq!((v4.len(), v6.len()), (n as usize, n as usize));
    let hubs: HashSet<IpAddr> = e.pool().hub_addresses().into_iter().collect();
    assert!(v4.iter().chain(&v6).all(|ip| !hubs.contains(ip)));
    let on_ledger: HashSet<String> = (0..n)
        .map(|i| e.ledger().get(&uuid(100 + i)).unwrap().virtual_ip)
        .collect();
    assert_eq!(on_ledger.len(), n as usize);
}

#[tokio::test]
async fn exhausted_pool_refuses_without_consuming_the_token_and_retire_frees_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let e = enroller(dir.path(), &["10.30.0.0/29"]);
    let mut held = Vec::new();
    for i in 0..5 {
        held.push(
            register_and_enrol(&e, &uuid(200 + i), NodeType::Gateway)
                .await
                .0,
        );
    }
    let late = uuid(299);
    e.ledger().insert(record(&late, NodeType::Gateway));
    let token = e
        .issue_token(&late, Duration::from_secs(300), now())
        .await
        .unwrap();
    let req = EnrolRequest {
        token: token.secret,
        uuid: late.clone(),
        key: LeafKey::PublicKey(key_pem()),
    };
    let err = e.enrol(&req, now()).await.unwrap_err();
    assert!(
        matches!(err, EnrolError::Pool(PoolError::Exhausted { .. })),
        "{err}"
    );

    // Deleting a device from the registry frees its address, which the waiting device then gets.
    let gone = uuid(202);
    let revoked = e.retire_device(&gone, now()).await.unwrap();
    assert_eq!(revoked, vec![held[2].serial_hex.clone()]);
    e.ledger().remove(&gone); // deleted from the registry, so its IP is free there too
    let done = e.enrol(&req, now()).await.unwrap();
    assert_eq!(done.virtual_ip, held[2].virtual_ip);
}
