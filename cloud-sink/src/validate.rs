//! Checks a whole ingest batch before anything is stored, so a bad batch changes nothing.

use sink_api::wire::TelemetryRecord;

/// Largest value both stores keep in a signed 64-bit column.
const MAX_STORED_INT: u64 = i64::MAX as u64;

/// A record the sink refuses, with where it sits in the batch and which field is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {index}: field `{field}` {reason}")]
pub struct InvalidRecord {
    pub index: usize,
    pub field: &'static str,
    pub reason: String,
}

/// Validates every record and returns the batch with device UUIDs in canonical form.
///
/// The canonical form keeps `(device, seq)` unique whatever UUID spelling a validator used.
pub fn validate_batch(
    records: Vec<TelemetryRecord>,
) -> Result<Vec<TelemetryRecord>, InvalidRecord> {
    records
        .into_iter()
        .enumerate()
        .map(|(index, record)| validate_record(index, record))
        .collect()
}

fn validate_record(
    index: usize,
    mut record: TelemetryRecord,
) -> Result<TelemetryRecord, InvalidRecord> {
    let bad = |field: &'static str, reason: String| InvalidRecord {
        index,
        field,
        reason,
    };
    record.device = canonical_device(&record.device).map_err(|reason| bad("device", reason))?;
    for (field, value) in [
        ("seq", record.seq),
        ("ts_ms", record.ts_ms),
        ("received_ms", record.received_ms),
    ] {
        if value > MAX_STORED_INT {
            return Err(bad(
                field,
                format!("is {value}, above the maximum {MAX_STORED_INT}"),
            ));
        }
    }
    if record.validator.trim().is_empty() {
        return Err(bad(
            "validator",
            "is empty; set it to the accepting validator's id".into(),
        ));
    }
    if record.validator.contains('\0') {
        return Err(bad("validator", "contains a NUL character".into()));
    }
    if !record.data.is_object() {
        return Err(bad(
            "data",
            format!(
                "must be a JSON object of measurements, got {}",
                json_kind(&record.data)
            ),
        ));
    }
    check_compact_jws(&record.message).map_err(|reason| bad("message", reason))?;
    Ok(record)
}

/// Parses a device UUID and returns its lowercase hyphenated form.
pub fn canonical_device(device: &str) -> Result<String, String> {
    uuid::Uuid::try_parse(device)
        .map(|id| id.hyphenated().to_string())
        .map_err(|e| format!("is not a UUID ({device:?}): {e}"))
}

/// The evidence must look like a compact JWS: three base64url parts separated by dots.
fn check_compact_jws(message: &str) -> Result<(), String> {
    let parts: Vec<&str> = message.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "must be a compact JWS (header.payload.signature), found {} dot-separated parts",
            parts.len()
        ));
    }
    let base64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    for (name, part) in ["header", "payload", "signature"].iter().zip(&parts) {
        if part.is_empty() {
            return Err(format!("has an empty JWS {name}"));
        }
        if !part.chars().all(base64url) {
            return Err(format!("has a JWS {name} that is not base64url"));
        }
    }
    Ok(())
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(seq: u64) -> TelemetryRecord {
        TelemetryRecord {
            device: "6F9619FF-8B86-D011-B42D-00C04FC964FF".into(),
            seq,
            ts_ms: 1_700_000_000_000,
            received_ms: 1_700_000_000_050,
            validator: "fog-1".into(),
            data: json!({"temp": 21.5}),
            message: "eyJhbGciOiJFZERTQSJ9.eyJzZXEiOjF9.c2ln".into(),
        }
    }

    #[test]
    fn canonicalises_device_uuid() {
        let out = validate_batch(vec![record(1)]).unwrap();
        assert_eq!(out[0].device, "6f9619ff-8b86-d011-b42d-00c04fc964ff");
    }

    #[test]
    fn names_index_and_field_of_first_bad_record() {
        let mut bad = record(2);
        bad.data = json!([1, 2]);
        let err = validate_batch(vec![record(1), bad]).unwrap_err();
        assert_eq!((err.index, err.field), (1, "data"));
    }

    #[test]
    fn refuses_each_bad_field() {
        type Spoil = fn(&mut TelemetryRecord);
        let cases: Vec<(&str, Spoil)> = vec![
            ("device", |r| r.device = "not-a-uuid".into()),
            ("seq", |r| r.seq = u64::MAX),
            ("ts_ms", |r| r.ts_ms = MAX_STORED_INT + 1),
            ("validator", |r| r.validator = "  ".into()),
            ("message", |r| r.message = "a.b".into()),
            ("message", |r| r.message = "a.b c.d".into()),
            ("message", |r| r.message = "a..d".into()),
        ];
        for (field, spoil) in cases {
            let mut r = record(1);
            spoil(&mut r);
            let err = validate_batch(vec![r]).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
    }
}
