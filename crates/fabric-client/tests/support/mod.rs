//! Test fixtures: MSP folders with real P-256 keys and self-signed certificates made by rcgen.

#![allow(dead_code)]

use std::fs;
use std::path::Path;

pub struct Credential {
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn credential(name: &str) -> Credential {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Credential {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Writes `signcerts/<cert_name>` and each `(file name, contents)` into `keystore/`.
pub fn write_msp(dir: &Path, cert_name: &str, cert_pem: &str, keys: &[(&str, &str)]) {
    fs::create_dir_all(dir.join("signcerts")).unwrap();
    fs::create_dir_all(dir.join("keystore")).unwrap();
    fs::write(dir.join("signcerts").join(cert_name), cert_pem).unwrap();
    for (name, contents) in keys {
        fs::write(dir.join("keystore").join(name), contents).unwrap();
    }
}
