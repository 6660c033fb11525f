//! Durations written as in a config file or environment variable: a whole number and a unit (`500ms`, `30s`, `10m`, `1h`).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses `text` as a whole number followed by `ms`, `s`, `m` or `h`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let expected = "expected a whole number and a unit, e.g. \"500ms\", \"30s\", \"10m\" or \"1h\"";
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; {expected}"))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "" => return Err(format!("{text:?} has no unit; {expected}")),
        other => {
            return Err(format!(
                "{text:?} has an unknown unit {other:?}; {expected}"
            ));
        }
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long a duration"))
}

/// How a duration is written back in messages: the largest unit that shows it exactly.
pub fn show(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0ms".into(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

/// `deserialize_with` for a duration written as a string with a unit.
pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    parse(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_required_and_understood() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse(" 10m "), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse("30").unwrap_err().contains("no unit"));
        assert!(parse("3 weeks").unwrap_err().contains("unknown unit"));
        assert!(parse("s").unwrap_err().contains("not a duration"));
        assert!(parse("-5s").is_err());
        assert!(parse("99999999999999999999h").is_err());
        assert_eq!(show(Duration::from_secs(600)), "10m");
        assert_eq!(show(Duration::from_millis(1500)), "1500ms");
    }
}
