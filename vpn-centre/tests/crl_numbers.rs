//! CRL numbers survive a PKI reset: the real `vpn-centre serve` binary, whose PKI database is
//! deleted and created again with the same CA files, still publishes a CRL numbered above the
//! one validators already hold, so their verifier (which refuses a lower number, as a rollback)
//! takes it.

mod common;

use common::{BinaryServer, fetch_crl, issue_identity, revoke_with_cli};
use vpn_pki::CrlClientVerifier;
use x509_parser::num_bigint::BigUint;
use x509_parser::prelude::{CertificateRevocationList, FromDer};

fn number(der: &[u8]) -> BigUint {
    let (_, crl) = CertificateRevocationList::from_der(der).unwrap();
    crl.crl_number().cloned().expect("a CRL number")
}

#[tokio::test]
async fn a_reset_pki_database_publishes_higher_crl_numbers_than_clients_hold() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let first = BinaryServer::start(&["--data-dir", data], &[]);
    // A few CRLs signed in the first life: a revocation by the CLI, picked up by the centre.
    let (uuid, identity) = issue_identity(dir.path(), "retired-tool");
    revoke_with_cli(data, &uuid);
    let held = test_support::wait::until(
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(100),
        || async {
            let der = fetch_crl(&first.url, &identity.ca_pem).await.ok()?;
            let (_, crl) = CertificateRevocationList::from_der(&der).ok()?;
            (crl.iter_revoked_certificates().count() == 1).then_some(der)
        },
    )
    .await
    .expect("the centre serves the CRL listing the revocation")
    .0;
    // What a validator holds now.
    let validator = CrlClientVerifier::new(&identity.ca_pem, Some(&held), true).unwrap();
    assert!(first.terminate().success());

    // The reset: the database goes, the CA files stay.
    let pki = dir.path().join("pki");
    for name in ["pki.sqlite3", "pki.sqlite3-wal", "pki.sqlite3-shm"] {
        let _ = std::fs::remove_file(pki.join(name));
    }
    assert!(pki.join("ca.key.pem").exists() && !pki.join("pki.sqlite3").exists());
    let second = BinaryServer::start(&["--data-dir", data], &[]);
    let fresh = fetch_crl(&second.url, &identity.ca_pem).await.unwrap();
    assert!(
        number(&fresh) > number(&held),
        "CRL number {} after the reset is not above the {} clients hold",
        number(&fresh),
        number(&held)
    );
    assert!(
        validator.replace_crl(&fresh).unwrap(),
        "the validator should install the new CRL"
    );
}
