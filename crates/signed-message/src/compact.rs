//! The JWS compact serialization: split and decode a message before trusting it, and produce one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::claims::Claims;
use crate::error::{MessageError, Part};
use crate::header::Header;
use crate::signing_key::SigningKey;
use crate::verifying_key::VerifyingKey;

/// Longest compact message accepted, in bytes; checked before any decoding.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// A message whose structure, header and claims are checked but whose signature is not yet.
///
/// Look the device up by [`Unverified::claims`]`.device`, then call [`Unverified::verify`]
/// with its registered key. Nothing here may be acted on before that succeeds.
#[derive(Debug, Clone)]
pub struct Unverified<'a> {
    header: Header,
    claims: Claims,
    payload: Vec<u8>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> Unverified<'a> {
    /// The checked protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The claims as sent; not yet authenticated.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The decoded payload bytes the claims were parsed from.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The exact bytes the signature covers: `BASE64URL(header) "." BASE64URL(payload)`.
    pub fn signing_input(&self) -> &'a str {
        self.signing_input
    }

    /// The decoded signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Checks the signature with the device's registered key and returns the claims.
    pub fn verify(&self, key: &VerifyingKey) -> Result<Claims, MessageError> {
        self.check_signature(key)?;
        Ok(self.claims.clone())
    }

    /// Like [`Unverified::verify`], without copying the claims.
    pub fn into_verified(self, key: &VerifyingKey) -> Result<Claims, MessageError> {
        self.check_signature(key)?;
        Ok(self.claims)
    }

    fn check_signature(&self, key: &VerifyingKey) -> Result<(), MessageError> {
        key.verify(
            self.header.alg,
            self.signing_input.as_bytes(),
            &self.signature,
        )
    }
}

fn decode_segment(part: Part, segment: &str) -> Result<Vec<u8>, MessageError> {
    if segment.is_empty() {
        return Err(MessageError::malformed(part, "segment is empty"));
    }
    // The engine refuses padding and non-zero trailing bits, so each message has exactly one spelling.
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| MessageError::malformed(part, format!("not unpadded base64url: {e}")))
}

/// Splits `compact` and checks everything that can be checked without the device's key:
/// size, base64url, header (alg, typ, no crit), claims, and that `kid` names the payload's device.
pub fn decode_unverified(compact: &str) -> Result<Unverified<'_>, MessageError> {
    if compact.len() > MAX_MESSAGE_LEN {
        return Err(MessageError::TooLarge {
            len: compact.len(),
            max: MAX_MESSAGE_LEN,
        });
    }
    let mut parts = compact.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MessageError::malformed(
            Part::Compact,
            "expected three base64url segments separated by '.'",
        ));
    };

    let header = Header::parse(&decode_segment(Part::Header, header_b64)?)?;
    let payload = decode_segment(Part::Payload, payload_b64)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => MessageError::ClaimsInvalid(e.to_string()),
        _ => MessageError::malformed(Part::Payload, format!("not JSON: {e}")),
    })?;
    claims.check()?;
    if header.kid != claims.device {
        return Err(MessageError::KidMismatch {
            kid: header.kid,
            device: claims.device,
        });
    }
    let signature = decode_segment(Part::Signature, signature_b64)?;
    let signing_input = &compact[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Unverified {
        header,
        claims,
        payload,
        signing_input,
        signature,
    })
}

/// Decodes and verifies in one step, for callers that already hold the key.
pub fn decode_and_verify(compact: &str, key: &VerifyingKey) -> Result<Claims, MessageError> {
    decode_unverified(compact)?.into_verified(key)
}

/// Signs `claims` with `key` into a compact JWS whose header names the key's algorithm and the claims' device.
pub fn encode(key: &SigningKey, claims: &Claims) -> Result<String, MessageError> {
    claims.check()?;
    let header = Header {
        alg: key.algorithm(),
        kid: claims.device.clone(),
    };
    let mut out = URL_SAFE_NO_PAD.encode(header.to_json());
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(claims.to_json(), &mut out);
    let signature = key.sign_bytes(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut out);
    if out.len() > MAX_MESSAGE_LEN {
        return Err(MessageError::TooLarge {
            len: out.len(),
            max: MAX_MESSAGE_LEN,
        });
    }
    Ok(out)
}
