//! Sensors: where readings come from. Each sensor sends measurement maps into a channel.

pub mod ndjson;
pub mod weather;

use std::collections::BTreeMap;

use signed_message::Measurement;

/// One reading: measurement name to value.
pub type Measurements = BTreeMap<String, Measurement>;
