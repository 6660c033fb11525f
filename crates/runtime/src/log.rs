//! Log setup shared by the binaries: `RUST_LOG`-filtered (default `info`) lines on stderr, human or JSON.

use std::io::IsTerminal;

use serde::Deserialize;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written (`--log-format`, or `log_format` in a config file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text for people.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The logging flags every binary takes; flatten it into the top-level `clap` parser.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct LogArgs {
    /// Log line format on stderr; wins over a config file's `log_format` [default: human].
    #[arg(long, value_enum, global = true)]
    pub log_format: Option<LogFormat>,
    /// Log as JSON lines: the same as --log-format json, which wins when both are given.
    #[arg(long, global = true, env = "LOG_JSON")]
    pub log_json: bool,
}

impl LogArgs {
    /// The format the flags ask for, if any.
    pub fn format(&self) -> Option<LogFormat> {
        self.log_format
            .or_else(|| self.log_json.then_some(LogFormat::Json))
    }

    /// The flags' format, else `configured` (a config file's, or the default).
    pub fn format_or(&self, configured: LogFormat) -> LogFormat {
        self.format().unwrap_or(configured)
    }
}

/// Whether human lines carry colour codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Colour {
    /// Colour when stderr is a terminal and `NO_COLOR` is unset or empty: a log piped into a file
    /// or a collector gets no escape codes.
    #[default]
    Default,
    /// Only when stderr is a terminal: for a process whose stderr is collected into files (the
    /// chaincode under its peer's tooling).
    WhenTerminal,
}

/// A process's log setup: the format and the colour policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Logging {
    pub format: LogFormat,
    pub colour: Colour,
}

impl From<LogFormat> for Logging {
    fn from(format: LogFormat) -> Self {
        Logging {
            format,
            colour: Colour::Default,
        }
    }
}

impl Logging {
    /// Plain text unless stderr is a terminal; see [`Colour::WhenTerminal`].
    pub fn plain_unless_terminal(format: LogFormat) -> Self {
        Logging {
            format,
            colour: Colour::WhenTerminal,
        }
    }

    /// Installs the process-wide subscriber writing to stderr. Call once, first thing; a later
    /// call leaves the first subscriber in place.
    pub fn init(self) {
        let terminal = std::io::stderr().is_terminal();
        let ansi = match self.colour {
            Colour::Default => terminal && !no_color(std::env::var_os("NO_COLOR")),
            Colour::WhenTerminal => terminal,
        };
        // An earlier subscriber (a second call, or a test's) keeps receiving the events.
        let _ = subscriber(self.format, ansi, filter_from_env(), std::io::stderr).try_init();
    }
}

/// Whether `NO_COLOR` (its value) asks for no colour: set and not empty, as no-color.org says.
fn no_color(value: Option<std::ffi::OsString>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

/// The filter from `RUST_LOG`, or `info` when it is unset or unreadable.
fn filter_from_env() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The subscriber [`Logging::init`] installs, writing to `writer`, with colour codes if `ansi`.
fn subscriber<W>(
    format: LogFormat,
    ansi: bool,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Human => Box::new(builder.finish()),
        LogFormat::Json => Box::new(builder.json().finish()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Parser, ValueEnum};
    use serde::de::value::{Error, StrDeserializer};
    use std::sync::{Arc, Mutex};

    fn from_file(text: &str) -> Result<LogFormat, Error> {
        LogFormat::deserialize(StrDeserializer::<Error>::new(text))
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
        #[command(subcommand)]
        command: Option<Sub>,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        Serve,
    }

    fn parse(args: &[&str]) -> Result<LogArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("bin").chain(args.iter().copied())).map(|c| c.log)
    }

    /// What `subscriber` writes while `event` runs, under `filter`.
    fn written(format: LogFormat, filter: &str, event: impl FnOnce()) -> String {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let make = move || Writer(sink.clone());
        let subscriber = subscriber(format, false, EnvFilter::new(filter), make);
        tracing::subscriber::with_default(subscriber, event);
        String::from_utf8(buffer.lock().unwrap().clone()).unwrap()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Writer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
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
    fn the_default_format_is_human() {
        assert_eq!(LogFormat::default(), LogFormat::Human);
    }

    #[test]
    fn both_flag_spellings_parse_anywhere_and_format_wins() {
        let none = parse(&[]).unwrap();
        assert_eq!(none.format(), None);
        assert_eq!(none.format_or(LogFormat::Json), LogFormat::Json);
        // Global: accepted after the subcommand too.
        let json = parse(&["serve", "--log-json"]).unwrap();
        assert_eq!(json.format_or(LogFormat::Human), LogFormat::Json);
        let human = parse(&["--log-format", "human", "--log-json"]).unwrap();
        assert_eq!(human.format(), Some(LogFormat::Human));
        let err = parse(&["--log-format", "xml"]).unwrap_err().to_string();
        assert!(err.contains("xml") && err.contains("json"), "{err}");
    }

    #[test]
    fn no_color_counts_only_when_not_empty() {
        assert!(!no_color(None));
        assert!(!no_color(Some("".into())));
        assert!(no_color(Some("1".into())));
    }

    #[test]
    fn json_lines_are_json_and_the_filter_applies() {
        let text = written(LogFormat::Json, "info", || {
            tracing::debug!("hidden by the filter");
            tracing::info!(device = "d1", "accepted");
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON object");
        assert_eq!(line["fields"]["message"], "accepted", "{text}");
        assert_eq!(line["fields"]["device"], "d1", "{text}");
        assert_eq!(line["level"], "INFO", "{text}");

        let text = written(LogFormat::Human, "debug", || {
            tracing::debug!(device = "d1", "accepted");
        });
        assert!(
            text.contains("DEBUG") && text.contains("device=\"d1\""),
            "{text}"
        );
        assert!(
            !text.contains('\u{1b}'),
            "no colour codes when ansi is off: {text:?}"
        );
        assert!(!text.trim_start().starts_with('{'), "{text}");
    }
}
