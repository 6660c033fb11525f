//! Parsing and checking of device public keys (PEM), so every component agrees on which keys are allowed.
//!
//! The rule, used by the chaincode and every verifier alike: RSA with a 2048–8192-bit modulus and
//! e = 65537, Ed25519, or ECDSA P-256 (uncompressed point); one PEM block of at most
//! [`MAX_PEM_BYTES`] bytes. A key is stored in one canonical spelling, [`PublicKeyInfo::pem`].

use serde::{Deserialize, Serialize};

pub use crate::pem::MAX_PEM_BYTES;
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::RSAPublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Smallest RSA modulus the registry accepts, in bits.
pub const MIN_RSA_BITS: u32 = 2048;
/// Largest RSA modulus the registry accepts, in bits (the verifiers' limit too).
pub const MAX_RSA_BITS: u32 = 8192;
/// The one RSA public exponent accepted.
pub const RSA_EXPONENT: u64 = 65537;

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_CURVE_P256: &str = "1.2.840.10045.3.1.7";
const OID_ED25519: &str = "1.3.101.112";

/// DER of the AlgorithmIdentifier { rsaEncryption, NULL }, used to wrap PKCS#1 keys into SPKI.
const RSA_ALGORITHM_ID_DER: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/// DER of the AlgorithmIdentifier { id-Ed25519 } (no parameters).
const ED25519_ALGORITHM_ID_DER: [u8; 7] = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER of the AlgorithmIdentifier { id-ecPublicKey, prime256v1 }.
const P256_ALGORITHM_ID_DER: [u8; 21] = [
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
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

impl PublicKeyInfo {
    /// The key's canonical text: one `PUBLIC KEY` (SPKI) block, 64-character lines, LF endings.
    pub fn pem(&self) -> String {
        crate::pem::encode("PUBLIC KEY", &self.spki_der)
    }
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
    #[error("RSA key has {bits} bits; at most {MAX_RSA_BITS} are accepted, generate a smaller key")]
    RsaTooLarge { bits: u32 },
    #[error(
        "RSA public exponent is {exponent}; only {RSA_EXPONENT} is accepted, generate the key with e = {RSA_EXPONENT}"
    )]
    RsaExponent { exponent: String },
    #[error(
        "public key PEM is {bytes} bytes; at most {max} are accepted, supply just the key's PEM block"
    )]
    TooLarge { bytes: usize, max: usize },
    #[error(
        "public key text holds {count} PEM blocks; supply exactly one (-----BEGIN PUBLIC KEY-----)"
    )]
    MultiplePemBlocks { count: usize },
    #[error(
        "elliptic-curve key uses curve {curve}; only P-256 (1.2.840.10045.3.1.7) is accepted, or use Ed25519"
    )]
    UnsupportedCurve { curve: String },
    #[error(
        "key algorithm {oid} is not accepted; use RSA (2048-8192 bits, e = 65537), Ed25519 or ECDSA P-256"
    )]
    UnsupportedAlgorithm { oid: String },
    #[error("{algorithm} key material is invalid: {reason}")]
    MalformedKey {
        algorithm: KeyAlgorithm,
        reason: String,
    },
}

/// Parses a PEM public key ("PUBLIC KEY" SPKI or "RSA PUBLIC KEY" PKCS#1) and checks it is allowed.
///
/// The text must be exactly one PEM block (whitespace around it is ignored), at most
/// [`MAX_PEM_BYTES`] long. Store [`PublicKeyInfo::pem`], not the text given.
pub fn parse_public_key_pem(pem: &str) -> Result<PublicKeyInfo, KeyError> {
    let (label, der) = crate::pem::parse_single_block(pem)?;
    match label.as_str() {
        "PUBLIC KEY" => parse_spki_der(&der),
        "RSA PUBLIC KEY" => parse_pkcs1_der(&der),
        other => Err(KeyError::UnsupportedPemLabel {
            label: other.to_string(),
        }),
    }
}

/// Parses a DER SubjectPublicKeyInfo and checks it is allowed; `spki_der` is re-encoded from the
/// key's parts, so two spellings of one key get one fingerprint.
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
            let (bits, pkcs1) = rsa_key(key_bytes)?;
            (KeyAlgorithm::Rsa, bits, pkcs1)
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
    let algorithm_id: &[u8] = match algorithm {
        KeyAlgorithm::Rsa => &RSA_ALGORITHM_ID_DER,
        KeyAlgorithm::Ed25519 => &ED25519_ALGORITHM_ID_DER,
        KeyAlgorithm::EcdsaP256 => &P256_ALGORITHM_ID_DER,
    };
    Ok(info(algorithm, bits, raw, algorithm_id))
}

/// The accepted key with its SPKI DER built from `algorithm_id` and `raw`.
fn info(algorithm: KeyAlgorithm, bits: u32, raw: Vec<u8>, algorithm_id: &[u8]) -> PublicKeyInfo {
    let mut bit_string = vec![0x03];
    push_der_length(&mut bit_string, raw.len() + 1);
    bit_string.push(0x00); // no unused bits
    bit_string.extend_from_slice(&raw);
    let mut spki = vec![0x30];
    push_der_length(&mut spki, algorithm_id.len() + bit_string.len());
    spki.extend_from_slice(algorithm_id);
    spki.extend_from_slice(&bit_string);
    PublicKeyInfo {
        algorithm,
        bits,
        raw,
        fingerprint: fingerprint(&spki),
        spki_der: spki,
    }
}

/// Parses a DER PKCS#1 RSAPublicKey, checks it, and wraps it into SPKI form.
fn parse_pkcs1_der(der: &[u8]) -> Result<PublicKeyInfo, KeyError> {
    let (bits, pkcs1) = rsa_key(der).map_err(|e| match e {
        KeyError::MalformedKey { reason, .. } => KeyError::MalformedDer {
            label: "RSA PUBLIC KEY".to_string(),
            reason,
        },
        other => other,
    })?;
    Ok(info(KeyAlgorithm::Rsa, bits, pkcs1, &RSA_ALGORITHM_ID_DER))
}

/// Reads a PKCS#1 RSAPublicKey, refusing keys outside the rule; returns the modulus size and the
/// key re-encoded as minimal DER.
fn rsa_key(pkcs1: &[u8]) -> Result<(u32, Vec<u8>), KeyError> {
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
    if key.try_exponent().ok() != Some(RSA_EXPONENT) {
        let exponent = match key.try_exponent() {
            Ok(e) => e.to_string(),
            Err(_) => format!("a {}-byte integer", key.exponent.len()),
        };
        return Err(KeyError::RsaExponent { exponent });
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
    if bits > MAX_RSA_BITS {
        return Err(KeyError::RsaTooLarge { bits });
    }
    let mut body = der_unsigned_integer(modulus);
    body.extend(der_unsigned_integer(&RSA_EXPONENT.to_be_bytes()));
    let mut der = vec![0x30];
    push_der_length(&mut der, body.len());
    der.extend(body);
    Ok((bits, der))
}

/// A DER INTEGER holding the unsigned big-endian `magnitude` (leading zeros dropped).
fn der_unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let first = magnitude
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(magnitude.len());
    let digits = &magnitude[first..];
    let pad = digits.first().is_none_or(|b| b & 0x80 != 0);
    let mut out = vec![0x02];
    push_der_length(&mut out, digits.len() + usize::from(pad));
    if pad {
        out.push(0x00);
    }
    out.extend_from_slice(digits);
    out
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
mod tests;
