//! Why a message was refused: one variant per cause, so a validator can map each to a stable code.

use crate::algorithm::{Algorithm, KeyFamily};

/// The part of a compact JWS a [`MessageError::Malformed`] points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The whole compact string (wrong number of dots, not ASCII, ...).
    Compact,
    /// The protected header (first segment).
    Header,
    /// The payload (second segment).
    Payload,
    /// The signature (third segment).
    Signature,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Compact => "compact serialization",
            Part::Header => "protected header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Stable, machine-readable name of a [`MessageError`]; also used by the test vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    TooLarge,
    Malformed,
    UnsupportedAlgorithm,
    AlgorithmKeyMismatch,
    KidMismatch,
    BadSignature,
    ClaimsInvalid,
    Key,
}

impl ErrorKind {
    /// The snake_case name written in `testdata/vectors.json` and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Malformed => "malformed",
            ErrorKind::UnsupportedAlgorithm => "unsupported_algorithm",
            ErrorKind::AlgorithmKeyMismatch => "algorithm_key_mismatch",
            ErrorKind::KidMismatch => "kid_mismatch",
            ErrorKind::BadSignature => "bad_signature",
            ErrorKind::ClaimsInvalid => "claims_invalid",
            ErrorKind::Key => "key",
        }
    }
}

/// Everything that can go wrong decoding, verifying or producing a message.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error(
        "message is {len} bytes, over the {max}-byte limit; split the measurements over several messages"
    )]
    TooLarge { len: usize, max: usize },

    #[error("malformed {part}: {reason}")]
    Malformed { part: Part, reason: String },

    #[error(
        "unsupported algorithm {alg:?} in the protected header; use one of RS256, PS256, EdDSA, ES256"
    )]
    UnsupportedAlgorithm { alg: String },

    #[error(
        "header algorithm {alg} needs {needs} key but the registered key is {found} key; sign with the registered key's algorithm"
    )]
    AlgorithmKeyMismatch {
        alg: Algorithm,
        needs: KeyFamily,
        found: KeyFamily,
    },

    #[error(
        "header kid {kid:?} is not the payload's device {device:?}; both must name the same device UUID"
    )]
    KidMismatch { kid: String, device: String },

    #[error(
        "public key verification failed ({alg} signature does not match the signing input and the registered key)"
    )]
    BadSignature { alg: Algorithm },

    #[error("invalid claims: {0}")]
    ClaimsInvalid(String),

    #[error("key error: {0}")]
    Key(String),
}

impl MessageError {
    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            MessageError::TooLarge { .. } => ErrorKind::TooLarge,
            MessageError::Malformed { .. } => ErrorKind::Malformed,
            MessageError::UnsupportedAlgorithm { .. } => ErrorKind::UnsupportedAlgorithm,
            MessageError::AlgorithmKeyMismatch { .. } => ErrorKind::AlgorithmKeyMismatch,
            MessageError::KidMismatch { .. } => ErrorKind::KidMismatch,
            MessageError::BadSignature { .. } => ErrorKind::BadSignature,
            MessageError::ClaimsInvalid(_) => ErrorKind::ClaimsInvalid,
            MessageError::Key(_) => ErrorKind::Key,
        }
    }

    pub(crate) fn malformed(part: Part, reason: impl Into<String>) -> Self {
        MessageError::Malformed {
            part,
            reason: reason.into(),
        }
    }
}
