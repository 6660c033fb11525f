//! The JWS algorithms a message may be signed with, and the key family each one needs.

use std::fmt;

/// A JWS `alg` value accepted in the protected header (RFC 7518 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    PS256,
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// ECDSA over P-256 with SHA-256, signature as fixed 64-byte r||s.
    ES256,
}

impl Algorithm {
    /// Every accepted algorithm, in the order the documentation lists them.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::EdDSA,
        Algorithm::ES256,
    ];

    /// The `alg` string as written in the header.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::PS256 => "PS256",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
        }
    }

    /// Parses a header `alg`; names are case-sensitive as in RFC 7515, and "none" is never accepted.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    /// The key family a key must belong to for this algorithm.
    pub fn key_family(self) -> KeyFamily {
        match self {
            Algorithm::RS256 | Algorithm::PS256 => KeyFamily::Rsa,
            Algorithm::EdDSA => KeyFamily::Ed25519,
            Algorithm::ES256 => KeyFamily::EcP256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of key behind a signature, independent of padding or hash choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    /// RSA, 2048 to 8192 bits.
    Rsa,
    /// Ed25519.
    Ed25519,
    /// ECDSA on NIST P-256.
    EcP256,
}

impl fmt::Display for KeyFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFamily::Rsa => "an RSA",
            KeyFamily::Ed25519 => "an Ed25519",
            KeyFamily::EcP256 => "a P-256 ECDSA",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_refused() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
        }
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("rs256"), None);
        assert_eq!(Algorithm::from_name("HS256"), None);
    }

    #[test]
    fn rsa_algorithms_share_a_family() {
        assert_eq!(Algorithm::RS256.key_family(), Algorithm::PS256.key_family());
        assert_ne!(Algorithm::EdDSA.key_family(), Algorithm::ES256.key_family());
    }
}
