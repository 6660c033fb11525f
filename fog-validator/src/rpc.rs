//! JSON-RPC 2.0 over the request body: parses single and batch requests, dispatches `telemetry.submit`
//! and `telemetry.recent`, and shapes results and errors (`{code, message, data: {reason}}`).

use std::time::Instant;

use serde_json::{Value, json};

use crate::caller::Caller;
use crate::refusal::{Refusal, code};
use crate::validator::Validator;

/// Submits a signed telemetry message: params `{"message": "<compact JWS>"}`.
pub const METHOD_SUBMIT: &str = "telemetry.submit";
/// Lists recent accepted readings of a device: params `{"device": "<uuid>", "limit": n}`. A
/// device may ask only about itself (its certificate's UUID); services and operators about any.
pub const METHOD_RECENT: &str = "telemetry.recent";

/// One parsed entry of a request. `id: None` marks a notification (no answer).
enum Call {
    Submit {
        id: Option<Value>,
        message: String,
    },
    Recent {
        id: Option<Value>,
        device: String,
        limit: usize,
    },
    Invalid {
        id: Option<Value>,
        refusal: Refusal,
    },
}

/// Answers a request body; `None` when nothing is to be answered (only notifications).
pub async fn handle(
    validator: &Validator,
    body: &[u8],
    caller: &Caller,
    started: Instant,
) -> Option<Value> {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => {
            let refusal = Refusal::new(code::PARSE_ERROR, format!("request body is not JSON: {e}"));
            validator.refuse(&refusal, caller);
            return Some(error_response(Value::Null, &refusal));
        }
    };
    match parsed {
        Value::Array(entries) => {
            let refusal = if entries.is_empty() {
                Some(Refusal::new(
                    code::INVALID_REQUEST,
                    "empty batch; send at least one request",
                ))
            } else if entries.len() > validator.limits.max_batch {
                Some(Refusal::new(
                    code::INVALID_REQUEST,
                    format!(
                        "batch of {} requests is over the limit of {}; split it",
                        entries.len(),
                        validator.limits.max_batch
                    ),
                ))
            } else {
                None
            };
            if let Some(refusal) = refusal {
                validator.refuse(&refusal, caller);
                return Some(error_response(Value::Null, &refusal));
            }
            let calls = entries.into_iter().map(parse_call).collect();
            let answers: Vec<Value> = run(validator, calls, caller, started)
                .await
                .into_iter()
                .flatten()
                .collect();
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        single => run(validator, vec![parse_call(single)], caller, started)
            .await
            .into_iter()
            .next()
            .flatten(),
    }
}

/// Runs the calls of one request; all submissions are decided together so they are spooled in one write.
async fn run(
    validator: &Validator,
    calls: Vec<Call>,
    caller: &Caller,
    started: Instant,
) -> Vec<Option<Value>> {
    let messages: Vec<String> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Submit { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    let mut outcomes = validator.submit(&messages, caller).await.into_iter();
    let elapsed = started.elapsed();
    for _ in &messages {
        validator.metrics.observe_latency(elapsed);
    }
    calls
        .into_iter()
        .map(|call| match call {
            Call::Submit { id, .. } => {
                let outcome = outcomes.next()?;
                let id = id?;
                Some(match outcome {
                    Ok(accepted) => result_response(
                        id,
                        json!({ "accepted": true, "device": accepted.device, "seq": accepted.seq }),
                    ),
                    Err(refusal) => error_response(id, &refusal),
                })
            }
            Call::Recent { id, device, limit } => {
                if !caller.identity.may_read(&device) {
                    let refusal = Refusal::new(
                        code::CERT_MISMATCH,
                        format!(
                            "certificate does not match device: this client certificate may not \
                             read the readings of {device}; a gateway may only read its own"
                        ),
                    );
                    validator.refuse(&refusal, caller);
                    return Some(error_response(id?, &refusal));
                }
                let entries = validator
                    .recent
                    .recent(&device, limit.min(validator.limits.max_recent));
                Some(result_response(
                    id?,
                    json!({ "device": device, "records": entries }),
                ))
            }
            Call::Invalid { id, refusal } => {
                validator.refuse(&refusal, caller);
                Some(error_response(id?, &refusal))
            }
        })
        .collect()
}

fn parse_call(entry: Value) -> Call {
    let Value::Object(mut obj) = entry else {
        return invalid(
            Some(Value::Null),
            code::INVALID_REQUEST,
            "a request must be a JSON object",
        );
    };
    let id = match obj.remove("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_) | Value::Null)) => Some(id),
        Some(_) => {
            return invalid(
                Some(Value::Null),
                code::INVALID_REQUEST,
                "id must be a string, a number or null",
            );
        }
    };
    // An invalid request is answered even without an id (JSON-RPC 2.0 §5: id null).
    let answer_id = Some(id.clone().unwrap_or(Value::Null));
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(
            answer_id,
            code::INVALID_REQUEST,
            "member \"jsonrpc\" must be exactly \"2.0\"",
        );
    }
    let Some(Value::String(method)) = obj.remove("method") else {
        return invalid(
            answer_id,
            code::INVALID_REQUEST,
            "member \"method\" must be a string",
        );
    };
    let params = obj.remove("params").unwrap_or(Value::Null);
    match method.as_str() {
        METHOD_SUBMIT => match params.get("message") {
            Some(Value::String(message)) if params.is_object() => Call::Submit {
                id,
                message: message.clone(),
            },
            _ => invalid(
                id,
                code::INVALID_PARAMS,
                "params must be {\"message\": \"<compact JWS>\"}",
            ),
        },
        METHOD_RECENT => {
            let device = params.get("device").and_then(Value::as_str);
            let limit = match params.get("limit") {
                None => Some(10),
                Some(v) => v.as_u64().map(|n| n.min(usize::MAX as u64) as usize),
            };
            match (device, limit) {
                (Some(device), Some(limit)) if params.is_object() => Call::Recent {
                    id,
                    device: device.to_owned(),
                    limit,
                },
                _ => invalid(
                    id,
                    code::INVALID_PARAMS,
                    "params must be {\"device\": \"<uuid>\", \"limit\": <positive integer, optional>}",
                ),
            }
        }
        other => invalid(
            id,
            code::METHOD_NOT_FOUND,
            format!("method {other:?} does not exist; use {METHOD_SUBMIT} or {METHOD_RECENT}"),
        ),
    }
}

fn invalid(id: Option<Value>, code: i32, reason: impl Into<String>) -> Call {
    Call::Invalid {
        id,
        refusal: Refusal::new(code, reason),
    }
}

fn result_response(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// The JSON-RPC error object for a refusal. A stale timestamp adds `"stale": true` and the
/// validator clock (`validator_time_ms`) to `data`, so a gateway can tell it from a used sequence
/// number (same code 1005, no `stale`).
pub fn error_response(id: Value, refusal: &Refusal) -> Value {
    let mut data = json!({ "reason": refusal.reason });
    if let Some(now) = refusal.stale_at_ms {
        data["stale"] = Value::Bool(true);
        data["validator_time_ms"] = now.into();
    }
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": refusal.code,
            "message": code::title(refusal.code),
            "data": data,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stale_timestamp_carries_stale_and_the_validator_clock() {
        let stale = Refusal::new(code::REPLAY, "too old").stale_at(1_700_000_000_123);
        let answer = error_response(json!(7), &stale);
        assert_eq!(answer["error"]["code"], 1005);
        assert_eq!(answer["error"]["data"]["stale"], true);
        assert_eq!(
            answer["error"]["data"]["validator_time_ms"],
            1_700_000_000_123u64
        );
        let used = error_response(json!(8), &Refusal::new(code::REPLAY, "seq used"));
        assert_eq!(used["error"]["code"], 1005);
        let data = used["error"]["data"].as_object().unwrap();
        assert!(
            !data.contains_key("stale") && !data.contains_key("validator_time_ms"),
            "{used}"
        );
        assert_eq!(data["reason"], "seq used");
    }
}
