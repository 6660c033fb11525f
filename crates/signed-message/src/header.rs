//! The JWS protected header: which algorithm signed the message and which device claims to have.

use serde::{Deserialize, Deserializer, Serialize};

use crate::algorithm::Algorithm;
use crate::error::{MessageError, Part};

/// The `typ` every telemetry message carries, so a token minted for another purpose is refused.
pub const MESSAGE_TYPE: &str = "sf2c-telemetry+jws";

/// A checked protected header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The signing algorithm named by `alg`.
    pub alg: Algorithm,
    /// The `kid`: the UUID of the signing device, as written.
    pub kid: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    alg: String,
    typ: String,
    kid: String,
    // Presence alone is refused (even `null`), so record only whether it was there.
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

impl Header {
    /// Parses and checks the decoded header bytes.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Header, MessageError> {
        // Peek at alg first so "none" and unknown algorithms get their own error even when the rest is odd.
        let raw: RawHeader = serde_json::from_slice(bytes).map_err(|e| {
            let alg = serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .and_then(|v| v.get("alg").and_then(|a| a.as_str()).map(str::to_owned));
            match alg {
                Some(alg) if Algorithm::from_name(&alg).is_none() => {
                    MessageError::UnsupportedAlgorithm { alg }
                }
                _ => MessageError::malformed(
                    Part::Header,
                    format!("expected JSON {{\"alg\",\"typ\",\"kid\"}} and nothing else: {e}"),
                ),
            }
        })?;
        let alg = Algorithm::from_name(&raw.alg)
            .ok_or(MessageError::UnsupportedAlgorithm { alg: raw.alg })?;
        if raw.crit {
            return Err(MessageError::malformed(
                Part::Header,
                "\"crit\" is present; no header extensions are supported, remove it",
            ));
        }
        if raw.typ != MESSAGE_TYPE {
            return Err(MessageError::malformed(
                Part::Header,
                format!("typ is {:?}, expected {MESSAGE_TYPE:?}", raw.typ),
            ));
        }
        Ok(Header { alg, kid: raw.kid })
    }

    /// The exact header JSON this crate signs: keys in the order alg, typ, kid, no whitespace.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let out = HeaderOut {
            alg: self.alg.as_str(),
            typ: MESSAGE_TYPE,
            kid: &self.kid,
        };
        // Serialising three string fields cannot fail.
        serde_json::to_vec(&out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const KID: &str = "0b6c7a52-5a3e-4f43-9d0e-2f3f4f6a7b8c";

    fn parse(json: &str) -> Result<Header, MessageError> {
        Header::parse(json.as_bytes())
    }

    #[test]
    fn round_trips_through_its_own_json() {
        let header = Header {
            alg: Algorithm::ES256,
            kid: KID.into(),
        };
        let json = header.to_json();
        assert_eq!(
            String::from_utf8(json.clone()).unwrap(),
            format!(r#"{{"alg":"ES256","typ":"sf2c-telemetry+jws","kid":"{KID}"}}"#)
        );
        assert_eq!(Header::parse(&json).unwrap(), header);
    }

    #[test]
    fn refuses_none_and_unknown_algorithms() {
        for alg in ["none", "HS256", "rs256"] {
            let err = parse(&format!(
                r#"{{"alg":"{alg}","typ":"{MESSAGE_TYPE}","kid":"{KID}"}}"#
            ))
            .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm, "{alg}");
        }
        // "none" is refused even when other fields are missing.
        let err = parse(r#"{"alg":"none"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm);
    }

    #[test]
    fn refuses_crit_even_when_null() {
        for crit in ["[\"exp\"]", "null", "[]"] {
            let err = parse(&format!(
                r#"{{"alg":"RS256","typ":"{MESSAGE_TYPE}","kid":"{KID}","crit":{crit}}}"#
            ))
            .unwrap_err();
            assert!(err.to_string().contains("crit"), "{crit}: {err}");
        }
    }

    #[test]
    fn refuses_wrong_typ_missing_kid_and_extra_fields() {
        for json in [
            format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{KID}"}}"#),
            format!(r#"{{"alg":"RS256","typ":"{MESSAGE_TYPE}"}}"#),
            format!(r#"{{"alg":"RS256","typ":"{MESSAGE_TYPE}","kid":"{KID}","jku":"http://x"}}"#),
            format!(r#"{{"alg":"RS256","alg":"RS256","typ":"{MESSAGE_TYPE}","kid":"{KID}"}}"#),
            "[]".to_string(),
        ] {
            let err = parse(&json).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Malformed, "{json}");
        }
    }
}
