//! The JSON-RPC 2.0 envelope of `telemetry.submit` and what each answer means for a queued message.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Value, json};

/// The method a validator serves for signed telemetry.
pub const METHOD: &str = "telemetry.submit";

/// Replay: without `error.data.stale` the sequence number was already used (the validator has the
/// message); with it the timestamp is outside the validator's window (the message must be re-signed).
pub const CODE_REPLAY: i64 = 1005;

/// The device is banned on the registry: the sender stops, keeping its queue.
pub const CODE_BANNED: i64 = 1003;

/// Codes that will never succeed on a resend: unknown device, not a gateway, banned,
/// signature invalid, oversized, malformed, certificate does not match the device. Any other
/// code (1009, the validator cannot reach its registry) is transient: keep and fail over.
pub const PERMANENT_CODES: [i64; 7] = [1001, 1002, 1003, 1004, 1006, 1007, 1008];

/// One `telemetry.submit` call.
pub fn request(id: u64, jws: &str) -> Value {
    json!({"jsonrpc": "2.0", "method": METHOD, "params": {"message": jws}, "id": id})
}

/// A JSON-RPC batch body for `(id, jws)` pairs.
pub fn batch_body<'a>(items: impl IntoIterator<Item = (u64, &'a str)>) -> Vec<u8> {
    let batch: Vec<Value> = items
        .into_iter()
        .map(|(id, jws)| request(id, jws))
        .collect();
    serde_json::to_vec(&batch).unwrap_or_default()
}

/// A JSON-RPC response object.
#[derive(Debug, Clone, Deserialize)]
pub struct Response {
    #[serde(default)]
    pub id: Value,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<RpcError>,
}

/// The `error` member of a response.
#[derive(Debug, Clone, Deserialize)]
pub struct RpcError {
    pub code: i64,
    #[serde(default)]
    pub message: String,
    /// Validators put the reason here, and for a stale 1005 `stale` and `validator_time_ms`.
    #[serde(default)]
    pub data: Option<Value>,
}

impl RpcError {
    /// The longer reason in `data.reason`, else the short message.
    fn reason(&self) -> String {
        match self.data.as_ref().and_then(|d| d.get("reason")?.as_str()) {
            Some(reason) => format!("{}: {reason}", self.message),
            None => self.message.clone(),
        }
    }

    /// Whether `data.stale` is true.
    fn is_stale(&self) -> bool {
        self.data
            .as_ref()
            .and_then(|d| d.get("stale")?.as_bool())
            .unwrap_or(false)
    }
}

/// What to do with a queued message after the validator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted: remove from the queue.
    Delivered,
    /// Refused for good (or a replay of a delivered message): remove, log and count.
    Refused { code: i64, message: String },
    /// Refused as stale (1005 with `data.stale`): the timestamp is outside the validator's window.
    /// `validator_time_ms` is the validator's clock when it decided, if it said.
    Stale {
        validator_time_ms: Option<u64>,
        message: String,
    },
    /// Not settled (internal error, unknown code, no answer): keep and resend.
    Retry { reason: String },
}

/// Classifies the answer for one message (`None`: the validator did not answer it).
pub fn classify(response: Option<&Response>) -> Outcome {
    let Some(resp) = response else {
        return Outcome::Retry {
            reason: "no response for this message in the batch".into(),
        };
    };
    match (&resp.error, &resp.result) {
        (Some(e), _) if e.code == CODE_REPLAY && e.is_stale() => Outcome::Stale {
            validator_time_ms: e
                .data
                .as_ref()
                .and_then(|d| d.get("validator_time_ms")?.as_u64()),
            message: e.reason(),
        },
        (Some(e), _) if e.code == CODE_REPLAY || PERMANENT_CODES.contains(&e.code) => {
            Outcome::Refused {
                code: e.code,
                message: e.reason(),
            }
        }
        (Some(e), _) => Outcome::Retry {
            reason: format!("error {}: {}", e.code, e.reason()),
        },
        (None, Some(_)) => Outcome::Delivered,
        (None, None) => Outcome::Retry {
            reason: "response has neither result nor error".into(),
        },
    }
}

/// Parses a batch answer into responses by numeric id.
///
/// A single object (not an array) is the validator refusing the whole request, e.g. a parse error.
pub fn parse_batch(body: &[u8]) -> Result<HashMap<u64, Response>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    let items = match value {
        Value::Array(items) => items,
        other => {
            let resp: Result<Response, _> = serde_json::from_value(other);
            return Err(match resp {
                Ok(Response { error: Some(e), .. }) => {
                    format!("whole request refused: error {}: {}", e.code, e.message)
                }
                _ => "answer to a batch is not an array".into(),
            });
        }
    };
    let mut out = HashMap::with_capacity(items.len());
    for item in items {
        let resp: Response =
            serde_json::from_value(item).map_err(|e| format!("malformed response object: {e}"))?;
        if let Some(id) = resp.id.as_u64() {
            out.insert(id, resp);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(text: &str) -> Response {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn success_permanent_replay_and_transient_answers_are_told_apart() {
        assert_eq!(
            classify(Some(&resp(
                r#"{"jsonrpc":"2.0","id":1,"result":{"accepted":true}}"#
            ))),
            Outcome::Delivered
        );
        for code in [1001, 1003, 1004, 1005, 1007, 1008] {
            let r = resp(&format!(
                r#"{{"jsonrpc":"2.0","id":1,"error":{{"code":{code},"message":"x"}}}}"#
            ));
            assert!(matches!(classify(Some(&r)), Outcome::Refused { code: c, .. } if c == code));
        }
        let internal =
            resp(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"sink down"}}"#);
        assert!(matches!(classify(Some(&internal)), Outcome::Retry { .. }));
        assert!(matches!(classify(None), Outcome::Retry { .. }));
    }

    #[test]
    fn a_stale_1005_is_told_apart_from_a_used_sequence_and_1009_is_transient() {
        let stale = resp(
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1005,"message":"replayed or stale message",
                "data":{"reason":"timestamp 5 ms is far","stale":true,"validator_time_ms":1700000000123}}}"#,
        );
        match classify(Some(&stale)) {
            Outcome::Stale {
                validator_time_ms,
                message,
            } => {
                assert_eq!(validator_time_ms, Some(1_700_000_000_123));
                assert!(message.contains("timestamp 5 ms is far"), "{message}");
            }
            other => panic!("stale 1005 classified as {other:?}"),
        }
        let used = resp(
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1005,"message":"replayed or stale message",
                "data":{"reason":"sequence 4 is not above 9"}}}"#,
        );
        assert!(matches!(
            classify(Some(&used)),
            Outcome::Refused { code: 1005, .. }
        ));
        let not_stale = resp(
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1005,"message":"x","data":{"stale":false}}}"#,
        );
        assert!(matches!(
            classify(Some(&not_stale)),
            Outcome::Refused { code: 1005, .. }
        ));
        let registry = resp(
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1009,"message":"registry unavailable"}}"#,
        );
        assert!(matches!(classify(Some(&registry)), Outcome::Retry { .. }));
    }

    #[test]
    fn batch_answers_are_matched_by_id_and_whole_request_errors_reported() {
        let body = br#"[{"jsonrpc":"2.0","id":9,"result":true},{"jsonrpc":"2.0","id":4,"error":{"code":1003,"message":"banned"}}]"#;
        let map = parse_batch(body).unwrap();
        assert_eq!(classify(map.get(&9)), Outcome::Delivered);
        assert!(matches!(
            classify(map.get(&4)),
            Outcome::Refused { code: 1003, .. }
        ));
        let err = parse_batch(
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#,
        )
        .unwrap_err();
        assert!(err.contains("-32700"), "{err}");
        assert!(parse_batch(b"<html>").is_err());
    }

    #[test]
    fn batch_body_is_an_array_of_submit_calls() {
        let body = batch_body([(3, "a.b.c"), (4, "d.e.f")]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v[1]["id"], 4);
        assert_eq!(v[0]["method"], METHOD);
        assert_eq!(v[0]["params"]["message"], "a.b.c");
    }
}
