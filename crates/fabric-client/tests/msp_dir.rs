//! Loading identities from MSP folders laid out as cryptogen and Fabric CA write them.

mod support;

use fabric_client::{Identity, IdentityError, Signer, SigningIdentity, verify};
use prost::Message;
use sf2c_protos::msp::SerializedIdentity;

#[test]
fn loads_cryptogen_layout_and_serializes() {
    let dir = tempfile::tempdir().unwrap();
    let user = support::credential("User1@org1.example.com");
    support::write_msp(
        dir.path(),
        "User1@org1.example.com-cert.pem",
        &user.cert_pem,
        &[("priv_sk", &user.key_pem)],
    );
    let loaded = SigningIdentity::load_msp_dir("Org1MSP", dir.path()).unwrap();
    assert_eq!(loaded.identity().msp_id(), "Org1MSP");
    assert_eq!(loaded.identity().cert_pem(), user.cert_pem.as_bytes());

    let decoded = SerializedIdentity::decode(loaded.identity().serialize().as_slice()).unwrap();
    assert_eq!(decoded.mspid, "Org1MSP");
    assert_eq!(decoded.id_bytes, user.cert_pem.as_bytes());

    // the loaded key signs for the certificate's public key
    let sig = loaded.sign(b"register device").unwrap();
    assert!(verify(
        loaded.identity().public_key(),
        b"register device",
        &sig
    ));
}

#[test]
fn picks_the_key_matching_the_certificate_among_several() {
    let dir = tempfile::tempdir().unwrap();
    let old = support::credential("old");
    let current = support::credential("admin");
    // sorted order puts the stale key first
    support::write_msp(
        dir.path(),
        "cert.pem",
        &current.cert_pem,
        &[("aaaa_sk", &old.key_pem), ("bbbb_sk", &current.key_pem)],
    );
    let loaded = SigningIdentity::load_msp_dir("Org2MSP", dir.path()).unwrap();
    let sig = loaded.sign(b"m").unwrap();
    assert!(verify(loaded.identity().public_key(), b"m", &sig));
}

#[test]
fn accepts_a_private_key_pem_without_sk_suffix_and_ignores_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let user = support::credential("user");
    support::write_msp(
        dir.path(),
        "cert.pem",
        &user.cert_pem,
        &[("README", "not a key"), ("key.pem", &user.key_pem)],
    );
    assert!(SigningIdentity::load_msp_dir("Org1MSP", dir.path()).is_ok());
}

#[test]
fn missing_signcerts_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = SigningIdentity::load_msp_dir("Org1MSP", dir.path()).unwrap_err();
    assert!(matches!(err, IdentityError::Read { .. }), "{err:?}");
    let expected = dir.path().join("signcerts").display().to_string();
    assert!(err.to_string().contains(&expected), "{err}");
}

#[test]
fn empty_keystore_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let user = support::credential("user");
    support::write_msp(dir.path(), "cert.pem", &user.cert_pem, &[]);
    let err = SigningIdentity::load_msp_dir("Org1MSP", dir.path()).unwrap_err();
    assert!(matches!(err, IdentityError::NoPrivateKey { .. }), "{err:?}");
    assert!(err.to_string().contains("keystore"), "{err}");
}

#[test]
fn key_of_another_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let user = support::credential("user");
    let stranger = support::credential("stranger");
    support::write_msp(
        dir.path(),
        "cert.pem",
        &user.cert_pem,
        &[("priv_sk", &stranger.key_pem)],
    );
    let err = SigningIdentity::load_msp_dir("Org1MSP", dir.path()).unwrap_err();
    assert!(matches!(err, IdentityError::KeyMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("cert.pem"), "{err}");
}

#[test]
fn corrupt_sk_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let user = support::credential("user");
    support::write_msp(
        dir.path(),
        "cert.pem",
        &user.cert_pem,
        &[("priv_sk", "garbage")],
    );
    let err = SigningIdentity::load_msp_dir("Org1MSP", dir.path()).unwrap_err();
    assert!(err.to_string().contains("priv_sk"), "{err}");
}

#[test]
fn two_certificates_are_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let a = support::credential("a");
    let b = support::credential("b");
    support::write_msp(dir.path(), "a.pem", &a.cert_pem, &[("priv_sk", &a.key_pem)]);
    std::fs::write(dir.path().join("signcerts/b.pem"), &b.cert_pem).unwrap();
    let err = SigningIdentity::load_msp_dir("Org1MSP", dir.path()).unwrap_err();
    assert!(
        matches!(err, IdentityError::SeveralCertificates { count: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn identity_checks_msp_id_and_certificate() {
    let user = support::credential("user");
    assert!(matches!(
        Identity::new("", user.cert_pem.clone()),
        Err(IdentityError::EmptyMspId)
    ));
    assert!(matches!(
        Identity::new("Org1MSP", user.key_pem.clone()),
        Err(IdentityError::NotCertificate { .. })
    ));
    assert!(matches!(
        Identity::new("Org1MSP", "no pem here"),
        Err(IdentityError::BadPem { .. })
    ));
    let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        Identity::new("Org1MSP", broken),
        Err(IdentityError::BadCertificate { .. })
    ));
}

#[test]
fn signing_identity_refuses_a_foreign_key() {
    let user = support::credential("user");
    let identity = Identity::new("Org1MSP", user.cert_pem).unwrap();
    let err = SigningIdentity::new(identity, Signer::generate().unwrap()).unwrap_err();
    assert!(
        matches!(err, IdentityError::KeyNotForCertificate { .. }),
        "{err:?}"
    );
}
