//! The signed payload: which device, its sequence number, when, and the measurements.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::error::MessageError;

/// One measurement value: JSON number, string or boolean (no nulls, arrays or objects).
#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {
    Number(serde_json::Number),
    Text(String),
    Bool(bool),
}

/// The claims of one telemetry message.
///
/// Serialised with keys in the order `device`, `seq`, `ts`, `data` and `data` sorted by name,
/// so the same claims always give the same payload bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The sending device's UUID, lowercase hyphenated.
    pub device: String,
    /// Per-device sequence number; a validator accepts only values above the last one it saw.
    pub seq: u64,
    /// Send time, Unix milliseconds.
    pub ts: u64,
    /// Measurements by name.
    #[serde(deserialize_with = "unique_keys")]
    pub data: BTreeMap<String, Measurement>,
}

/// Longest measurement name accepted, in bytes.
pub const MAX_MEASUREMENT_NAME: usize = 128;

impl Claims {
    /// Builds claims for `device` with no measurements yet.
    pub fn new(device: Uuid, seq: u64, ts: u64) -> Claims {
        Claims {
            device: device.hyphenated().to_string(),
            seq,
            ts,
            data: BTreeMap::new(),
        }
    }

    /// Adds one measurement, replacing any previous value of that name.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Measurement>) -> Claims {
        self.data.insert(name.into(), value.into());
        self
    }

    /// The device UUID, once [`Claims::check`] has passed.
    pub fn device_uuid(&self) -> Result<Uuid, MessageError> {
        let uuid = Uuid::try_parse(&self.device).map_err(|e| {
            MessageError::ClaimsInvalid(format!("device {:?} is not a UUID: {e}", self.device))
        })?;
        // One spelling per device, so the kid comparison and registry lookups cannot be dodged by case or braces.
        if uuid.hyphenated().to_string() != self.device {
            return Err(MessageError::ClaimsInvalid(format!(
                "device {:?} must be written as a lowercase hyphenated UUID ({})",
                self.device,
                uuid.hyphenated()
            )));
        }
        Ok(uuid)
    }

    /// Checks the rules serde cannot express: canonical device UUID and measurement names.
    pub fn check(&self) -> Result<(), MessageError> {
        self.device_uuid()?;
        for name in self.data.keys() {
            if name.is_empty() || name.len() > MAX_MEASUREMENT_NAME {
                return Err(MessageError::ClaimsInvalid(format!(
                    "measurement name {name:?} must be 1 to {MAX_MEASUREMENT_NAME} bytes"
                )));
            }
        }
        Ok(())
    }

    /// The exact payload bytes this crate signs for these claims.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        // Strings, integers and finite numbers only: serialisation cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl From<f64> for Measurement {
    /// Non-finite values have no JSON form; they become the string "NaN"/"inf"/"-inf".
    fn from(v: f64) -> Measurement {
        serde_json::Number::from_f64(v)
            .map(Measurement::Number)
            .unwrap_or_else(|| Measurement::Text(v.to_string()))
    }
}

impl From<i64> for Measurement {
    fn from(v: i64) -> Measurement {
        Measurement::Number(v.into())
    }
}

impl From<u64> for Measurement {
    fn from(v: u64) -> Measurement {
        Measurement::Number(v.into())
    }
}

impl From<bool> for Measurement {
    fn from(v: bool) -> Measurement {
        Measurement::Bool(v)
    }
}

impl From<&str> for Measurement {
    fn from(v: &str) -> Measurement {
        Measurement::Text(v.to_owned())
    }
}

impl From<String> for Measurement {
    fn from(v: String) -> Measurement {
        Measurement::Text(v)
    }
}

impl Serialize for Measurement {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Measurement::Number(n) => n.serialize(serializer),
            Measurement::Text(s) => serializer.serialize_str(s),
            Measurement::Bool(b) => serializer.serialize_bool(*b),
        }
    }
}

struct MeasurementVisitor;

impl<'de> Visitor<'de> for MeasurementVisitor {
    type Value = Measurement;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a measurement: number, string or boolean")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Measurement, E> {
        Ok(Measurement::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Measurement, E> {
        Ok(Measurement::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Measurement, E> {
        Ok(Measurement::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Measurement, E> {
        serde_json::Number::from_f64(v)
            .map(Measurement::Number)
            .ok_or_else(|| E::custom("measurement number is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Measurement, E> {
        Ok(Measurement::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Measurement, E> {
        Ok(Measurement::Text(v))
    }
}

impl<'de> Deserialize<'de> for Measurement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Measurement, D::Error> {
        deserializer.deserialize_any(MeasurementVisitor)
    }
}

/// Reads the `data` object, refusing a name given twice (JSON parsers disagree on which copy wins).
fn unique_keys<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Measurement>, D::Error> {
    struct UniqueMap;

    impl<'de> Visitor<'de> for UniqueMap {
        type Value = BTreeMap<String, Measurement>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of measurements")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((name, value)) = map.next_entry::<String, Measurement>()? {
                if out.contains_key(&name) {
                    return Err(de::Error::custom(format!(
                        "measurement {name:?} appears twice"
                    )));
                }
                out.insert(name, value);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_map(UniqueMap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const DEVICE: &str = "0b6c7a52-5a3e-4f43-9d0e-2f3f4f6a7b8c";

    fn parse(json: &str) -> serde_json::Result<Claims> {
        serde_json::from_str(json)
    }

    #[test]
    fn serialises_in_a_fixed_order_and_parses_back() {
        let claims = Claims::new(Uuid::parse_str(DEVICE).unwrap(), 7, 1_700_000_000_123)
            .with("temp_c", 21.5)
            .with("door", "open")
            .with("alarm", false)
            .with("count", 3u64);
        let json = String::from_utf8(claims.to_json()).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"device":"{DEVICE}","seq":7,"ts":1700000000123,"data":{{"alarm":false,"count":3,"door":"open","temp_c":21.5}}}}"#
            )
        );
        assert_eq!(parse(&json).unwrap(), claims);
        claims.check().unwrap();
    }

    #[test]
    fn refuses_nested_null_and_duplicate_measurements() {
        let base = |data: &str| format!(r#"{{"device":"{DEVICE}","seq":1,"ts":2,"data":{data}}}"#);
        for data in [
            r#"{"a":null}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{"b":1}}"#,
            r#"{"a":1,"a":2}"#,
            "[]",
        ] {
            assert!(parse(&base(data)).is_err(), "{data}");
        }
    }

    #[test]
    fn refuses_unknown_fields_negative_and_missing_numbers() {
        for json in [
            format!(r#"{{"device":"{DEVICE}","seq":1,"ts":2,"data":{{}},"x":1}}"#),
            format!(r#"{{"device":"{DEVICE}","seq":-1,"ts":2,"data":{{}}}}"#),
            format!(r#"{{"device":"{DEVICE}","seq":1.5,"ts":2,"data":{{}}}}"#),
            format!(r#"{{"device":"{DEVICE}","ts":2,"data":{{}}}}"#),
            format!(r#"{{"device":"{DEVICE}","seq":18446744073709551616,"ts":2,"data":{{}}}}"#),
        ] {
            assert!(parse(&json).is_err(), "{json}");
        }
    }

    #[test]
    fn check_requires_canonical_uuid_and_sane_names() {
        let mut claims = parse(&format!(
            r#"{{"device":"{DEVICE}","seq":1,"ts":2,"data":{{"t":1}}}}"#
        ))
        .unwrap();
        claims.check().unwrap();
        for device in [
            DEVICE.to_uppercase(),
            format!("{{{DEVICE}}}"),
            DEVICE.replace('-', ""),
            "sensor-1".to_string(),
        ] {
            claims.device = device.clone();
            assert_eq!(
                claims.check().unwrap_err().kind(),
                ErrorKind::ClaimsInvalid,
                "{device}"
            );
        }
        claims.device = DEVICE.into();
        claims.data.insert(String::new(), true.into());
        assert_eq!(claims.check().unwrap_err().kind(), ErrorKind::ClaimsInvalid);
    }
}
