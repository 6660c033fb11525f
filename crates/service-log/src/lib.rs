//! Log setup shared by the binaries: `RUST_LOG`-filtered (default `info`) lines on stderr, human or JSON.

use std::io::IsTerminal;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text for people.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// `Json` when `json` is set: for binaries whose flag is `--log-json`.
    pub fn json_if(json: bool) -> Self {
        if json { Self::Json } else { Self::Human }
    }
}

/// The filter from `RUST_LOG`, or `info` when it is unset or unreadable.
fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the process-wide subscriber; call once, first thing in `main`.
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Like [`init`], but human lines carry colour codes only when stderr is a terminal: for a
/// process whose stderr is collected into files (the chaincode under its peer's tooling).
pub fn init_plain_unless_terminal(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;
    use serde::de::value::{Error, StrDeserializer};

    fn from_file(text: &str) -> Result<LogFormat, Error> {
        LogFormat::deserialize(StrDeserializer::<Error>::new(text))
    }

    #[test]
    fn flag_and_file_spellings_name_the_same_formats() {
        for (text, format) in [("human", LogFormat::Human), ("json", LogFormat::Json)] {
            assert_eq!(LogFormat::from_str(text, false), Ok(format));
            assert_eq!(from_file(text).unwrap(), format);
        }
        assert!(LogFormat::from_str("text", false).is_err());
        assert!(from_file("Json").is_err());
    }

    #[test]
    fn log_json_flag_maps_onto_the_format() {
        assert_eq!(LogFormat::json_if(true), LogFormat::Json);
        assert_eq!(LogFormat::json_if(false), LogFormat::default());
        assert_eq!(LogFormat::default(), LogFormat::Human);
    }
}
