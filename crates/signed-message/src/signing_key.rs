//! A device's private key: generate or load it, export it, and sign messages with it.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256, RsaKeyPair,
};

use crate::algorithm::{Algorithm, KeyFamily};
use crate::claims::Claims;
use crate::error::MessageError;
use crate::verifying_key::VerifyingKey;

/// A private key bound to the one algorithm its messages will name in the header.
pub struct SigningKey {
    alg: Algorithm,
    inner: Inner,
}

enum Inner {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
    EcP256(EcdsaKeyPair),
}

impl std::fmt::Debug for SigningKey {
    // Never print private material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn key_error(what: &str) -> impl Fn(aws_lc_rs::error::Unspecified) -> MessageError + '_ {
    move |_| MessageError::Key(format!("could not {what}"))
}

impl SigningKey {
    /// Generates a fresh key for `alg`: RSA-2048 for RS256/PS256, Ed25519, or P-256.
    pub fn generate(alg: Algorithm) -> Result<SigningKey, MessageError> {
        let inner = match alg.key_family() {
            KeyFamily::Rsa => Inner::Rsa(
                RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(key_error("generate an RSA-2048 key"))?,
            ),
            KeyFamily::Ed25519 => Inner::Ed25519(
                Ed25519KeyPair::generate().map_err(key_error("generate an Ed25519 key"))?,
            ),
            KeyFamily::EcP256 => Inner::EcP256(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(key_error("generate a P-256 key"))?,
            ),
        };
        Ok(SigningKey { alg, inner })
    }

    /// Loads a PKCS#8 (DER) private key that must belong to `alg`'s key family.
    pub fn from_pkcs8_der(der: &[u8], alg: Algorithm) -> Result<SigningKey, MessageError> {
        let family = alg.key_family();
        let reject = |e: aws_lc_rs::error::KeyRejected| {
            MessageError::Key(format!(
                "PKCS#8 private key is not {family} key usable for {alg} ({e}); pick the algorithm that matches the key"
            ))
        };
        let inner = match family {
            KeyFamily::Rsa => Inner::Rsa(RsaKeyPair::from_pkcs8(der).map_err(reject)?),
            KeyFamily::Ed25519 => Inner::Ed25519(Ed25519KeyPair::from_pkcs8(der).map_err(reject)?),
            KeyFamily::EcP256 => Inner::EcP256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(reject)?,
            ),
        };
        Ok(SigningKey { alg, inner })
    }

    /// Loads a `-----BEGIN PRIVATE KEY-----` (PKCS#8) PEM that must belong to `alg`'s key family.
    pub fn from_pkcs8_pem(pem_text: &str, alg: Algorithm) -> Result<SigningKey, MessageError> {
        let block = pem::parse(pem_text).map_err(|e| {
            MessageError::Key(format!(
                "private key PEM does not parse ({e}); expected a \"PRIVATE KEY\" block"
            ))
        })?;
        if block.tag() != "PRIVATE KEY" {
            return Err(MessageError::Key(format!(
                "PEM block is {:?}, expected \"PRIVATE KEY\" (PKCS#8); convert with `openssl pkcs8 -topk8 -nocrypt`",
                block.tag()
            )));
        }
        SigningKey::from_pkcs8_der(block.contents(), alg)
    }

    /// The algorithm every message signed with this key names.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public key as X.509 SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> Result<Vec<u8>, MessageError> {
        let der: Result<PublicKeyX509Der<'static>, _> = match &self.inner {
            Inner::Rsa(k) => k.public_key().as_der(),
            Inner::Ed25519(k) => k.public_key().as_der(),
            Inner::EcP256(k) => k.public_key().as_der(),
        };
        der.map(|d| d.as_ref().to_vec())
            .map_err(key_error("encode the public key as SPKI"))
    }

    /// The public key as a `PUBLIC KEY` (SPKI) PEM, the form the registry stores.
    pub fn public_key_pem(&self) -> Result<String, MessageError> {
        Ok(to_pem("PUBLIC KEY", self.public_key_der()?))
    }

    /// The private key as a `PRIVATE KEY` (unencrypted PKCS#8 v1) PEM; keep it secret.
    pub fn private_key_pem(&self) -> Result<String, MessageError> {
        let der: Vec<u8> = match &self.inner {
            Inner::Rsa(k) => AsDer::<Pkcs8V1Der>::as_der(k)
                .map(|d| d.as_ref().to_vec())
                .map_err(key_error("encode the RSA key as PKCS#8"))?,
            Inner::Ed25519(k) => k
                .to_pkcs8v1()
                .map(|d| d.as_ref().to_vec())
                .map_err(key_error("encode the Ed25519 key as PKCS#8"))?,
            Inner::EcP256(k) => k
                .to_pkcs8v1()
                .map(|d| d.as_ref().to_vec())
                .map_err(key_error("encode the P-256 key as PKCS#8"))?,
        };
        Ok(to_pem("PRIVATE KEY", der))
    }

    /// A verifier for this key's public half.
    pub fn verifying_key(&self) -> Result<VerifyingKey, MessageError> {
        VerifyingKey::from_spki_der(self.alg.key_family(), &self.public_key_der()?)
    }

    /// The raw JWS signature of `signing_input` (RSA: modulus-sized; Ed25519 and ES256: 64 bytes).
    pub fn sign_bytes(&self, signing_input: &[u8]) -> Result<Vec<u8>, MessageError> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Rsa(k) => {
                let padding = match self.alg {
                    Algorithm::PS256 => &RSA_PSS_SHA256,
                    _ => &RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(padding, &rng, signing_input, &mut sig)
                    .map_err(key_error("compute the RSA signature"))?;
                Ok(sig)
            }
            Inner::Ed25519(k) => Ok(k.sign(signing_input).as_ref().to_vec()),
            Inner::EcP256(k) => k
                .sign(&rng, signing_input)
                .map(|s| s.as_ref().to_vec())
                .map_err(key_error("compute the ECDSA signature")),
        }
    }

    /// Signs `claims` into a compact JWS; same as [`crate::encode`].
    pub fn sign(&self, claims: &Claims) -> Result<String, MessageError> {
        crate::compact::encode(self, claims)
    }
}

fn to_pem(tag: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}
