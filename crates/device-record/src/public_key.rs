//! Parsing and checking of device public keys (PEM), so every component agrees on which keys are allowed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::RSAPublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Smallest RSA modulus the registry accepts, in bits.
pub const MIN_RSA_BITS: u32 = 2048;

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_CURVE_P256: &str = "1.2.840.10045.3.1.7";
const OID_ED25519: &str = "1.3.101.112";

/// DER of the AlgorithmIdentifier { rsaEncryption, NULL }, used to wrap PKCS#1 keys into SPKI.
const RSA_ALGORITHM_ID_DER: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// The signature algorithms a device key may belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    #[serde(rename = "RSA")]
    Rsa,
    #[serde(rename = "Ed25519")]
    Ed25519,
    #[serde(rename = "ECDSA-P256")]
    EcdsaP256,
}

impl KeyAlgorithm {
    /// The name used in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa => "RSA",
            KeyAlgorithm::Ed25519 => "Ed25519",
            KeyAlgorithm::EcdsaP256 => "ECDSA-P256",
        }
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed, allowed public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyInfo {
    pub algorithm: KeyAlgorithm,
    /// RSA modulus bits; 256 for Ed25519 and P-256.
    pub bits: u32,
    /// RSA: PKCS#1 RSAPublicKey DER; Ed25519: 32 bytes; P-256: 65-byte uncompressed point.
    pub raw: Vec<u8>,
    /// The key as X.509 SubjectPublicKeyInfo DER (PKCS#1 input is wrapped into this form).
    pub spki_der: Vec<u8>,
    /// Lowercase hex SHA-256 of `spki_der`.
    pub fingerprint: String,
}

/// Why a public key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "public key is not PEM text ({reason}); supply a PEM block starting with -----BEGIN PUBLIC KEY-----"
    )]
    NotPem { reason: String },
    #[error(
        "PEM block is labelled {label:?}; only \"PUBLIC KEY\" (SPKI) and \"RSA PUBLIC KEY\" (PKCS#1) are accepted"
    )]
    UnsupportedPemLabel { label: String },
    #[error("PEM block {label:?} does not hold valid DER: {reason}")]
    MalformedDer { label: String, reason: String },
    #[error("RSA key has {bits} bits; at least {MIN_RSA_BITS} are required, generate a larger key")]
    RsaTooSmall { bits: u32 },
    #[error(
        "elliptic-curve key uses curve {curve}; only P-256 (1.2.840.10045.3.1.7) is accepted, or use Ed25519"
    )]
    UnsupportedCurve { curve: String },
    #[error("key algorithm {oid} is not accepted; use RSA (>= 2048 bits), Ed25519 or ECDSA P-256")]
    UnsupportedAlgorithm { oid: String },
    #[error("{algorithm} key material is invalid: {reason}")]
    MalformedKey {
        algorithm: KeyAlgorithm,
        reason: String,
    },
}

/// Parses a PEM public key ("PUBLIC KEY" SPKI or "RSA PUBLIC KEY" PKCS#1) and checks it is allowed.
pub fn parse_public_key_pem(pem: &str) -> Result<PublicKeyInfo, KeyError> {
    let (_, block) =
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| KeyError::NotPem {
            reason: e.to_string(),
        })?;
    match block.label.as_str() {
        "PUBLIC KEY" => parse_spki_der(&block.contents),
        "RSA PUBLIC KEY" => parse_pkcs1_der(&block.contents),
        other => Err(KeyError::UnsupportedPemLabel {
            label: other.to_string(),
        }),
    }
}

/// Parses a DER SubjectPublicKeyInfo and checks it is allowed.
pub fn parse_spki_der(der: &[u8]) -> Result<PublicKeyInfo, KeyError> {
    let malformed = |reason: String| KeyError::MalformedDer {
        label: "PUBLIC KEY".to_string(),
        reason,
    };
    let (rest, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} trailing bytes after the key",
            rest.len()
        )));
    }
    let key_bytes: &[u8] = &spki.subject_public_key.data;
    let oid = spki.algorithm.algorithm.to_id_string();
    let (algorithm, bits, raw) = match oid.as_str() {
        OID_RSA_ENCRYPTION => {
            let bits = rsa_modulus_bits(key_bytes)?;
            (KeyAlgorithm::Rsa, bits, key_bytes.to_vec())
        }
        OID_ED25519 => {
            if key_bytes.len() != 32 {
                return Err(KeyError::MalformedKey {
                    algorithm: KeyAlgorithm::Ed25519,
                    reason: format!("expected 32 bytes, found {}", key_bytes.len()),
                });
            }
            // Not every 32-byte string is a point: refuse keys no verifier could use.
            let mut point = [0u8; 32];
            point.copy_from_slice(key_bytes);
            if curve25519_dalek::edwards::CompressedEdwardsY(point)
                .decompress()
                .is_none()
            {
                return Err(KeyError::MalformedKey {
                    algorithm: KeyAlgorithm::Ed25519,
                    reason: "the 32 bytes are not a point on Curve25519".to_string(),
                });
            }
            (KeyAlgorithm::Ed25519, 256, key_bytes.to_vec())
        }
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_else(|| "(missing curve parameter)".to_string());
            if curve != OID_CURVE_P256 {
                return Err(KeyError::UnsupportedCurve { curve });
            }
            // Only the uncompressed form: verifiers take the 65-byte point as is.
            if key_bytes.len() != 65 || key_bytes[0] != 0x04 {
                return Err(KeyError::MalformedKey {
                    algorithm: KeyAlgorithm::EcdsaP256,
                    reason: format!(
                        "expected a 65-byte uncompressed point starting with 0x04, found {} bytes",
                        key_bytes.len()
                    ),
                });
            }
            if p256::PublicKey::from_sec1_bytes(key_bytes).is_err() {
                return Err(KeyError::MalformedKey {
                    algorithm: KeyAlgorithm::EcdsaP256,
                    reason: "the point is not on the P-256 curve".to_string(),
                });
            }
            (KeyAlgorithm::EcdsaP256, 256, key_bytes.to_vec())
        }
        _ => return Err(KeyError::UnsupportedAlgorithm { oid }),
    };
    Ok(PublicKeyInfo {
        algorithm,
        bits,
        raw,
        spki_der: spki.raw.to_vec(),
        fingerprint: fingerprint(spki.raw),
    })
}

/// Parses a DER PKCS#1 RSAPublicKey, checks it, and wraps it into SPKI form.
fn parse_pkcs1_der(der: &[u8]) -> Result<PublicKeyInfo, KeyError> {
    let bits = rsa_modulus_bits(der).map_err(|e| match e {
        KeyError::MalformedKey { reason, .. } => KeyError::MalformedDer {
            label: "RSA PUBLIC KEY".to_string(),
            reason,
        },
        other => other,
    })?;
    let mut bit_string = vec![0x03];
    push_der_length(&mut bit_string, der.len() + 1);
    bit_string.push(0x00); // no unused bits
    bit_string.extend_from_slice(der);
    let mut spki = vec![0x30];
    push_der_length(&mut spki, RSA_ALGORITHM_ID_DER.len() + bit_string.len());
    spki.extend_from_slice(&RSA_ALGORITHM_ID_DER);
    spki.extend_from_slice(&bit_string);
    Ok(PublicKeyInfo {
        algorithm: KeyAlgorithm::Rsa,
        bits,
        raw: der.to_vec(),
        fingerprint: fingerprint(&spki),
        spki_der: spki,
    })
}

/// Reads a PKCS#1 RSAPublicKey and returns its modulus size, refusing small or malformed keys.
fn rsa_modulus_bits(pkcs1: &[u8]) -> Result<u32, KeyError> {
    let malformed = |reason: &str| KeyError::MalformedKey {
        algorithm: KeyAlgorithm::Rsa,
        reason: reason.to_string(),
    };
    let (rest, key) =
        RSAPublicKey::from_der(pkcs1).map_err(|_| malformed("not a PKCS#1 RSAPublicKey"))?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes after the RSAPublicKey"));
    }
    if key.modulus.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(malformed("modulus is negative"));
    }
    match key.try_exponent() {
        Ok(e) if e >= 3 && e % 2 == 1 => {}
        _ => return Err(malformed("public exponent must be an odd integer >= 3")),
    }
    let modulus = match key.modulus.iter().position(|b| *b != 0) {
        Some(first) => &key.modulus[first..],
        None => return Err(malformed("modulus is zero")),
    };
    let bits = (modulus.len() as u64 - 1) * 8 + u64::from(8 - modulus[0].leading_zeros());
    let bits = u32::try_from(bits).map_err(|_| malformed("modulus is absurdly large"))?;
    if bits < MIN_RSA_BITS {
        return Err(KeyError::RsaTooSmall { bits });
    }
    Ok(bits)
}

/// Appends a DER definite length.
fn push_der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Lowercase hex SHA-256 of the SPKI DER.
pub fn fingerprint(spki_der: &[u8]) -> String {
    hex::encode(Sha256::digest(spki_der))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;

    const RSA1024_SPKI: &str = include_str!("../tests/fixtures/rsa1024-spki.pem");
    const RSA1024_PKCS1: &str = include_str!("../tests/fixtures/rsa1024-pkcs1.pem");

    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let body: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            body.join("\n")
        )
    }

    fn rsa2048() -> (Vec<u8>, Vec<u8>) {
        let kp = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs1 = kp.public_key().as_ref().to_vec();
        let spki = kp.public_key().as_der().unwrap().as_ref().to_vec();
        (pkcs1, spki)
    }

    #[test]
    fn rsa_2048_spki_and_pkcs1_give_the_same_key() {
        let (pkcs1, spki) = rsa2048();
        let a = parse_public_key_pem(&pem("PUBLIC KEY", &spki)).unwrap();
        let b = parse_public_key_pem(&pem("RSA PUBLIC KEY", &pkcs1)).unwrap();
        assert_eq!(a.algorithm, KeyAlgorithm::Rsa);
        assert_eq!(a.bits, 2048);
        assert_eq!(a.raw, pkcs1);
        assert_eq!(a.spki_der, spki);
        // The hand-built SPKI wrapper must be byte-identical to the library's encoding.
        assert_eq!(b, a);
        assert_eq!(
            a.fingerprint,
            hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki))
        );
    }

    #[test]
    fn rsa_1024_is_refused_naming_the_size() {
        for fixture in [RSA1024_SPKI, RSA1024_PKCS1] {
            let err = parse_public_key_pem(fixture).unwrap_err();
            assert_eq!(err, KeyError::RsaTooSmall { bits: 1024 });
            assert!(err.to_string().contains("1024 bits"), "{err}");
        }
    }

    #[test]
    fn p256_and_ed25519_keys_are_accepted() {
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let info = parse_public_key_pem(&ec.public_key_pem()).unwrap();
        assert_eq!(info.algorithm, KeyAlgorithm::EcdsaP256);
        assert_eq!(info.bits, 256);
        assert_eq!(info.raw, ec.public_key_raw());
        assert_eq!(info.raw.len(), 65);
        assert_eq!(
            info.spki_der,
            rcgen::PublicKeyData::subject_public_key_info(&ec)
        );

        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let info = parse_public_key_pem(&ed.public_key_pem()).unwrap();
        assert_eq!(info.algorithm, KeyAlgorithm::Ed25519);
        assert_eq!(info.raw, ed.public_key_raw());
        assert_eq!(info.fingerprint.len(), 64);
        assert!(
            info.fingerprint
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
    }

    #[test]
    fn p384_is_refused_as_unsupported_curve() {
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let err = parse_public_key_pem(&ec.public_key_pem()).unwrap_err();
        assert_eq!(
            err,
            KeyError::UnsupportedCurve {
                curve: "1.3.132.0.34".to_string()
            }
        );
    }

    #[test]
    fn other_algorithms_are_refused() {
        // SPKI with the X25519 OID (1.3.101.110) and a 32-byte key.
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(&[7u8; 32]);
        let err = parse_public_key_pem(&pem("PUBLIC KEY", &der)).unwrap_err();
        assert_eq!(
            err,
            KeyError::UnsupportedAlgorithm {
                oid: "1.3.101.110".to_string()
            }
        );
    }

    #[test]
    fn non_pem_bad_label_and_bad_der_each_have_their_own_error() {
        assert!(matches!(
            parse_public_key_pem("ssh-ed25519 AAAA device@x").unwrap_err(),
            KeyError::NotPem { .. }
        ));
        let cert_label = pem("CERTIFICATE", &[0x30, 0x00]);
        assert_eq!(
            parse_public_key_pem(&cert_label).unwrap_err(),
            KeyError::UnsupportedPemLabel {
                label: "CERTIFICATE".to_string()
            }
        );
        let garbage = pem("PUBLIC KEY", &[0x04, 0x03, 1, 2, 3]);
        assert!(matches!(
            parse_public_key_pem(&garbage).unwrap_err(),
            KeyError::MalformedDer { .. }
        ));
        let garbage = pem("RSA PUBLIC KEY", &[0x30, 0x03, 1, 2, 3]);
        assert!(matches!(
            parse_public_key_pem(&garbage).unwrap_err(),
            KeyError::MalformedDer { .. }
        ));
    }

    #[test]
    fn p256_point_off_the_curve_is_malformed() {
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let good = parse_public_key_pem(&ec.public_key_pem()).unwrap();
        let mut der = good.spki_der.clone();
        // Change the last byte of y: (x, y') is then almost surely not on the curve.
        let last = der.len() - 1;
        der[last] ^= 0x01;
        let err = parse_public_key_pem(&pem("PUBLIC KEY", &der)).unwrap_err();
        assert!(
            matches!(&err, KeyError::MalformedKey { algorithm: KeyAlgorithm::EcdsaP256, reason } if reason.contains("not on the P-256 curve")),
            "{err:?}"
        );
    }

    #[test]
    fn ed25519_bytes_that_are_not_a_point_are_malformed() {
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        // y = 2 has no matching x on Curve25519, so it does not decompress.
        let mut y = [0u8; 32];
        y[0] = 2;
        der.extend_from_slice(&y);
        let err = parse_public_key_pem(&pem("PUBLIC KEY", &der)).unwrap_err();
        assert!(
            matches!(&err, KeyError::MalformedKey { algorithm: KeyAlgorithm::Ed25519, reason } if reason.contains("not a point")),
            "{err:?}"
        );
    }

    #[test]
    fn ed25519_with_wrong_length_is_malformed() {
        let mut der = vec![
            0x30, 0x29, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x20, 0x00,
        ];
        der.extend_from_slice(&[7u8; 31]);
        let err = parse_public_key_pem(&pem("PUBLIC KEY", &der)).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::MalformedKey {
                    algorithm: KeyAlgorithm::Ed25519,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn der_length_encoding_handles_long_forms() {
        let mut v = Vec::new();
        push_der_length(&mut v, 0x7f);
        push_der_length(&mut v, 0x80);
        push_der_length(&mut v, 0x1234);
        assert_eq!(v, vec![0x7f, 0x81, 0x80, 0x82, 0x12, 0x34]);
    }
}
