//! The CA's files, leaf contents and refusals.

use super::*;
use base64::Engine;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::*;

const DEV: &str = "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b";
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

fn leaf(role: CertRole, key: LeafKey) -> LeafRequest {
    LeafRequest {
        uuid: DEV.into(),
        role,
        virtual_ips: vec!["10.8.0.2".parse().unwrap(), "fd00:8::2".parse().unwrap()],
        server_names: vec!["localhost".into(), "127.0.0.1".into()],
        key,
        validity: Duration::from_secs(3600),
        now: 1_700_000_000,
    }
}

#[test]
fn persists_with_private_key_mode_and_reloads_the_same_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let ca = CertificateAuthority::load_or_create(&ca_dir, "Test CA", YEAR, 1_700_000_000).unwrap();
    let mode = fs::metadata(ca_dir.join(CA_KEY_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = CertificateAuthority::load_or_create(&ca_dir, "ignored", YEAR, 0).unwrap();
    assert_eq!(again.cert_pem(), ca.cert_pem());
    // A leaf issued by the reloaded CA verifies under the original certificate.
    let key = KeyPair::generate().unwrap();
    let cert = again
        .issue(&leaf(
            CertRole::Client,
            LeafKey::PublicKey(key.public_key_pem()),
        ))
        .unwrap();
    let (_, parsed) = parse_x509_certificate(&cert.der).unwrap();
    let (_, ca_cert) = parse_x509_certificate(ca.cert_der()).unwrap();
    parsed.verify_signature(Some(ca_cert.public_key())).unwrap();
    assert_eq!(parsed.issuer(), ca_cert.subject());

    fs::set_permissions(ca_dir.join(CA_KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        CertificateAuthority::load(&ca_dir),
        Err(CaError::KeyPermissions { .. })
    ));
    fs::remove_file(ca_dir.join(CA_KEY_FILE)).unwrap();
    assert!(matches!(
        CertificateAuthority::load_or_create(&ca_dir, "x", YEAR, 0),
        Err(CaError::HalfPresent { .. })
    ));
}

#[test]
fn leaf_carries_uuid_ips_usage_and_random_serial() {
    let ca = CertificateAuthority::generate("Test CA", YEAR, 1_700_000_000).unwrap();
    let key = KeyPair::generate().unwrap();
    let csr = CertificateParams::new(vec!["evil.example".to_string()])
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let server = ca
        .issue(&leaf(CertRole::ClientAndServer, LeafKey::Csr(csr)))
        .unwrap();
    let client = ca
        .issue(&leaf(
            CertRole::Client,
            LeafKey::PublicKey(key.public_key_pem()),
        ))
        .unwrap();
    assert_ne!(server.serial_hex, client.serial_hex);
    assert_eq!(server.serial_hex.len(), 32);
    assert_eq!(server.not_after, 1_700_000_000 + 3600);

    let (_, s) = parse_x509_certificate(&server.der).unwrap();
    assert_eq!(
        s.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        DEV
    );
    assert_eq!(
        s.public_key().raw,
        parse_x509_certificate(&client.der)
            .unwrap()
            .1
            .public_key()
            .raw
    );
    let names = &s
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    let uri = format!("urn:uuid:{DEV}");
    assert!(names.contains(&GeneralName::URI(&uri)));
    assert!(names.contains(&GeneralName::IPAddress(&[10, 8, 0, 2])));
    assert!(names.contains(&GeneralName::IPAddress(&[127, 0, 0, 1])));
    assert!(names.contains(&GeneralName::DNSName("localhost")));
    // The CSR's own names are not copied.
    assert!(!names.contains(&GeneralName::DNSName("evil.example")));
    let eku = s.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);

    let (_, c) = parse_x509_certificate(&client.der).unwrap();
    let eku = c.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    let names = &c
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert!(!names.contains(&GeneralName::DNSName("localhost")));
}

#[test]
fn refuses_garbage_keys_and_tampered_csr() {
    let ca = CertificateAuthority::generate("Test CA", YEAR, 0).unwrap();
    assert!(matches!(
        ca.issue(&leaf(CertRole::Client, LeafKey::PublicKey("nope".into()))),
        Err(CaError::BadPublicKey(_))
    ));
    let key = KeyPair::generate().unwrap();
    let csr = CertificateParams::new(vec!["a.example".to_string()])
        .unwrap()
        .serialize_request(&key)
        .unwrap();
    let mut der = csr.der().to_vec();
    let n = der.len();
    der[n - 5] ^= 0x55; // corrupt the signature
    let tampered = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    assert!(matches!(
        ca.issue(&leaf(CertRole::Client, LeafKey::Csr(tampered))),
        Err(CaError::BadCsr(_))
    ));
}
