//! Sink settings: defaults, then a TOML file, then environment, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::http::Limits;
use crate::store::DEFAULT_DATABASE;

/// Environment variable overriding the listen address.
pub const ENV_LISTEN: &str = "SF2C_SINK_LISTEN";
/// Environment variable overriding the database URL.
pub const ENV_DATABASE: &str = "SF2C_SINK_DATABASE";
/// Listen address when nothing else is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7400";

/// A settings problem, naming where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{origin} listen address {value:?} is not IP:PORT: {source}")]
    Listen {
        origin: &'static str,
        value: String,
        #[source]
        source: std::net::AddrParseError,
    },
}

/// The TOML file; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub max_batch_records: Option<usize>,
    pub max_query_records: Option<u32>,
}

/// Settings the sink runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: String,
    pub limits: Limits,
}

/// Values given on the command line, which win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub database: Option<String>,
}

impl Config {
    /// Resolves settings from `file` (if any), the environment read through `env`, and `flags`.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: Overrides,
    ) -> Result<Self, ConfigError> {
        let file_config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.into(),
                    source,
                })?
            }
            None => FileConfig::default(),
        };
        let parse_listen = |origin, value: String| {
            value.parse().map_err(|source| ConfigError::Listen {
                origin,
                value,
                source,
            })
        };
        let listen = match (flags.listen, env(ENV_LISTEN), file_config.listen) {
            (Some(addr), _, _) => addr,
            (None, Some(value), _) => parse_listen("environment SF2C_SINK_LISTEN", value)?,
            (None, None, Some(value)) => parse_listen("config file", value)?,
            (None, None, None) => parse_listen("default", DEFAULT_LISTEN.into())?,
        };
        let database = flags
            .database
            .or_else(|| env(ENV_DATABASE))
            .or(file_config.database)
            .unwrap_or_else(|| DEFAULT_DATABASE.into());
        let defaults = Limits::default();
        let limits = Limits {
            max_body_bytes: file_config
                .max_body_bytes
                .unwrap_or(defaults.max_body_bytes),
            max_batch_records: file_config
                .max_batch_records
                .unwrap_or(defaults.max_batch_records),
            max_query_records: file_config
                .max_query_records
                .unwrap_or(defaults.max_query_records),
        };
        Ok(Self {
            listen,
            database,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn flags_beat_environment_beat_file() {
        let f = file(
            "listen = \"127.0.0.1:1\"\ndatabase = \"sqlite:file.db\"\nmax_batch_records = 7\n",
        );
        let env = |k: &str| (k == ENV_DATABASE).then(|| "postgres://env/db".to_string());
        let c = Config::load(Some(f.path()), env, Overrides::default()).unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.database, "postgres://env/db");
        assert_eq!(c.limits.max_batch_records, 7);
        let flags = Overrides {
            listen: Some("127.0.0.1:2".parse().unwrap()),
            database: Some("sqlite:flag.db".into()),
        };
        let c = Config::load(Some(f.path()), env, flags).unwrap();
        assert_eq!(
            (c.listen.port(), c.database.as_str()),
            (2, "sqlite:flag.db")
        );
    }

    #[test]
    fn unknown_keys_and_bad_addresses_are_errors() {
        let f = file("databse = \"typo\"\n");
        assert!(matches!(
            Config::load(Some(f.path()), |_| None, Overrides::default()),
            Err(ConfigError::Parse { .. })
        ));
        let env = |k: &str| (k == ENV_LISTEN).then(|| "nowhere".to_string());
        assert!(matches!(
            Config::load(None, env, Overrides::default()),
            Err(ConfigError::Listen { .. })
        ));
    }
}
