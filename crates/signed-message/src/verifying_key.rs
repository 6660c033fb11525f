//! A device's public key, parsed once into a ready verifier so each message costs only the signature check.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA256,
};

use device_record::public_key::parse_spki_der;
use device_record::{KeyAlgorithm, PublicKeyInfo, parse_public_key_pem};

use crate::algorithm::{Algorithm, KeyFamily};
use crate::error::MessageError;

/// Smallest and largest RSA modulus accepted, in bits.
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// A public key ready to verify messages; cheap to share between threads (`Send + Sync`).
#[derive(Debug)]
pub struct VerifyingKey {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    // Both paddings are parsed up front so RS256 and PS256 each verify without a re-parse.
    Rsa {
        pkcs1: ParsedPublicKey,
        pss: ParsedPublicKey,
        bits: usize,
    },
    Ed25519(ParsedPublicKey),
    EcP256(ParsedPublicKey),
}

impl VerifyingKey {
    /// Builds the verifier for a key the registry has already parsed and accepted.
    pub fn from_public_key(info: &PublicKeyInfo) -> Result<VerifyingKey, MessageError> {
        let family = family_of(info.algorithm);
        let der = info.spki_der.as_slice();
        let reject = |e: aws_lc_rs::error::KeyRejected| {
            MessageError::Key(format!(
                "{family} public key (fingerprint {}) was refused by the verifier ({e}); re-enrol the device with a valid key",
                info.fingerprint
            ))
        };
        let inner = match family {
            KeyFamily::Rsa => {
                let bits = info.bits as usize;
                if !RSA_BITS.contains(&bits) {
                    return Err(MessageError::Key(format!(
                        "RSA key is {bits} bits; only {}..={} bits are accepted, enrol a key in that range",
                        RSA_BITS.start(),
                        RSA_BITS.end()
                    )));
                }
                Inner::Rsa {
                    pkcs1: ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
                        .map_err(reject)?,
                    pss: ParsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, der).map_err(reject)?,
                    bits,
                }
            }
            KeyFamily::Ed25519 => {
                Inner::Ed25519(ParsedPublicKey::new(&ED25519, der).map_err(reject)?)
            }
            KeyFamily::EcP256 => {
                Inner::EcP256(ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, der).map_err(reject)?)
            }
        };
        Ok(VerifyingKey { inner })
    }

    /// Parses a registry public key PEM (`PUBLIC KEY` SPKI or `RSA PUBLIC KEY` PKCS#1) with the registry's own rules.
    pub fn from_public_key_pem(pem_text: &str) -> Result<VerifyingKey, MessageError> {
        let info = parse_public_key_pem(pem_text).map_err(|e| MessageError::Key(e.to_string()))?;
        VerifyingKey::from_public_key(&info)
    }

    /// Parses an X.509 SubjectPublicKeyInfo (DER) of any supported family.
    pub fn from_spki_der_any(der: &[u8]) -> Result<VerifyingKey, MessageError> {
        let info = parse_spki_der(der).map_err(|e| MessageError::Key(e.to_string()))?;
        VerifyingKey::from_public_key(&info)
    }

    /// Parses an X.509 SubjectPublicKeyInfo (DER) that must be of `family`.
    pub fn from_spki_der(family: KeyFamily, der: &[u8]) -> Result<VerifyingKey, MessageError> {
        let info = parse_spki_der(der).map_err(|e| MessageError::Key(e.to_string()))?;
        let found = family_of(info.algorithm);
        if found != family {
            return Err(MessageError::Key(format!(
                "expected {family} public key but the SubjectPublicKeyInfo holds {found} key"
            )));
        }
        VerifyingKey::from_public_key(&info)
    }

    /// The family of this key.
    pub fn family(&self) -> KeyFamily {
        match self.inner {
            Inner::Rsa { .. } => KeyFamily::Rsa,
            Inner::Ed25519(_) => KeyFamily::Ed25519,
            Inner::EcP256(_) => KeyFamily::EcP256,
        }
    }

    /// RSA modulus size in bits, or `None` for elliptic-curve keys.
    pub fn rsa_bits(&self) -> Option<usize> {
        match self.inner {
            Inner::Rsa { bits, .. } => Some(bits),
            _ => None,
        }
    }

    /// Checks `signature` over `message` for `alg`; the key's family must be the one `alg` needs.
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), MessageError> {
        let parsed = match (&self.inner, alg) {
            (Inner::Rsa { pkcs1, .. }, Algorithm::RS256) => pkcs1,
            (Inner::Rsa { pss, .. }, Algorithm::PS256) => pss,
            (Inner::Ed25519(key), Algorithm::EdDSA) => key,
            (Inner::EcP256(key), Algorithm::ES256) => key,
            _ => {
                return Err(MessageError::AlgorithmKeyMismatch {
                    alg,
                    needs: alg.key_family(),
                    found: self.family(),
                });
            }
        };
        parsed
            .verify_sig(message, signature)
            .map_err(|_| MessageError::BadSignature { alg })
    }
}

fn family_of(algorithm: KeyAlgorithm) -> KeyFamily {
    match algorithm {
        KeyAlgorithm::Rsa => KeyFamily::Rsa,
        KeyAlgorithm::Ed25519 => KeyFamily::Ed25519,
        KeyAlgorithm::EcdsaP256 => KeyFamily::EcP256,
    }
}
