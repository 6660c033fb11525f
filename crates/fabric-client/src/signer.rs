//! ECDSA P-256 / SHA-256 signing in the form Fabric verifies: DER encoded, low-S.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
};
use thiserror::Error;

use crate::low_s;

/// Why a key could not be used or a signature could not be made.
#[derive(Debug, Error)]
pub enum SignError {
    #[error(
        "private key is not an ECDSA P-256 key in PKCS#8 or SEC1 DER ({0}); Fabric identities here must use P-256"
    )]
    BadKey(String),
    #[error("generating an ECDSA P-256 key failed")]
    KeyGeneration,
    #[error("ECDSA signing failed inside the crypto library")]
    Signing,
    #[error(transparent)]
    Malformed(#[from] low_s::MalformedSignature),
}

/// A P-256 private key that signs Fabric messages.
pub struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print key material
        f.debug_struct("Signer")
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Loads a private key from DER: PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    pub fn from_private_key_der(der: &[u8]) -> Result<Self, SignError> {
        let key = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map_err(|e| SignError::BadKey(e.to_string()))?;
        Ok(Self {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// Creates a fresh random key (tools and tests; real identities come from an MSP).
    pub fn generate() -> Result<Self, SignError> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .map_err(|_| SignError::KeyGeneration)?;
        Ok(Self {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// The key as PKCS#8 v1 DER, e.g. to write a keystore file.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, SignError> {
        let doc = self
            .key
            .to_pkcs8v1()
            .map_err(|_| SignError::KeyGeneration)?;
        Ok(doc.as_ref().to_vec())
    }

    /// Uncompressed SEC1 public point (0x04 || X || Y), as found in the certificate.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// Signs SHA-256(message) and returns a low-S DER signature.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let sig = self
            .key
            .sign(&self.rng, message)
            .map_err(|_| SignError::Signing)?;
        Ok(low_s::normalize_der(sig.as_ref())?)
    }
}

/// Checks a DER ECDSA P-256 / SHA-256 signature against an uncompressed public point.
/// Accepts high-S too; use [`low_s::is_low_s_der`] to apply Fabric's extra rule.
pub fn verify(public_key: &[u8], message: &[u8], signature_der: &[u8]) -> bool {
    signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key)
        .verify(message, signature_der)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::low_s::{RawSignature, is_low_s_der};

    #[test]
    fn signatures_verify_and_are_low_s() {
        let signer = Signer::generate().unwrap();
        // with random k about half the raw signatures are high-S, so 200
        // signatures exercise the normalisation path with near certainty
        for i in 0..200u32 {
            let message = format!("message {i}");
            let sig = signer.sign(message.as_bytes()).unwrap();
            assert!(verify(signer.public_key(), message.as_bytes(), &sig));
            assert!(is_low_s_der(&sig), "signature {i} is high-S");
        }
    }

    #[test]
    fn raw_library_signatures_are_sometimes_high_s() {
        // shows the normalisation above is needed and reached
        let signer = Signer::generate().unwrap();
        let high = (0..64)
            .filter(|_| {
                let raw = signer.key.sign(&signer.rng, b"m").unwrap();
                !is_low_s_der(raw.as_ref())
            })
            .count();
        assert!(high > 0, "64 raw signatures were all low-S");
    }

    #[test]
    fn signature_does_not_verify_other_message_or_key() {
        let signer = Signer::generate().unwrap();
        let other = Signer::generate().unwrap();
        let sig = signer.sign(b"ban device 42").unwrap();
        assert!(!verify(signer.public_key(), b"ban device 43", &sig));
        assert!(!verify(other.public_key(), b"ban device 42", &sig));
    }

    #[test]
    fn high_s_twin_verifies_and_normalises_back() {
        let signer = Signer::generate().unwrap();
        let sig = signer.sign(b"payload").unwrap();
        let low = RawSignature::from_der(&sig).unwrap();
        // build (r, n - s): valid ECDSA, but the form Fabric refuses
        let high = low.twin();
        assert!(!high.is_low_s());
        let high_der = high.to_der();
        assert!(verify(signer.public_key(), b"payload", &high_der));
        assert_eq!(low_s::normalize_der(&high_der).unwrap(), sig);
    }

    #[test]
    fn pkcs8_round_trip_keeps_the_key() {
        let signer = Signer::generate().unwrap();
        let der = signer.to_pkcs8_der().unwrap();
        let again = Signer::from_private_key_der(&der).unwrap();
        assert_eq!(again.public_key(), signer.public_key());
        let sig = again.sign(b"x").unwrap();
        assert!(verify(signer.public_key(), b"x", &sig));
    }

    #[test]
    fn rejects_non_key_bytes() {
        let err = Signer::from_private_key_der(b"not a key").unwrap_err();
        assert!(err.to_string().contains("P-256"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let signer = Signer::generate().unwrap();
        let der = signer.to_pkcs8_der().unwrap();
        let shown = format!("{signer:?}");
        let public_hex = hex::encode(signer.public_key());
        assert!(shown.contains(&public_hex));
        // no 16-byte run of the PKCS#8 blob outside the public key may appear
        for window in der.windows(16) {
            let window_hex = hex::encode(window);
            if !public_hex.contains(&window_hex) {
                assert!(!shown.contains(&window_hex));
            }
        }
    }
}
