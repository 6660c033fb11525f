//! Sink settings: defaults, then a TOML file, then environment, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::http::Limits;
use crate::pg_tls::{PgTlsError, PgTlsSettings};
use crate::store::DEFAULT_DATABASE;
use crate::tls::{DEFAULT_CRL_REFRESH, TlsSettings};

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
    #[error(
        "TLS is half configured: {missing} missing; give all of tls_cert, tls_key, client_ca and crl_url, or none for plain HTTP on loopback"
    )]
    PartialTls { missing: String },
    #[error("crl_refresh_secs must be at least 1 and crl_refresh_ms at least 50")]
    CrlRefresh,
    #[error(transparent)]
    PostgresTls(#[from] PgTlsError),
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
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
    pub crl_url: Option<String>,
    pub crl_refresh_secs: Option<u64>,
    /// Milliseconds between CRL fetches; wins over `crl_refresh_secs`.
    pub crl_refresh_ms: Option<u64>,
    /// `disable`, `require` or `verify-full`, as `sslmode` in the database URL.
    pub postgres_sslmode: Option<String>,
    /// PEM CA file for `verify-full`, as `sslrootcert` in the database URL.
    pub postgres_sslrootcert: Option<PathBuf>,
}

/// Settings the sink runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: String,
    pub limits: Limits,
    /// HTTPS with client certificates; `None` means plain HTTP, allowed on loopback only.
    pub tls: Option<TlsSettings>,
    /// TLS to PostgreSQL, merged with the database URL's own `sslmode` / `sslrootcert` when opened.
    pub postgres_tls: PgTlsSettings,
}

/// Values given on the command line, which win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub database: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
    pub crl_url: Option<String>,
    pub crl_refresh_secs: Option<u64>,
    /// Milliseconds between CRL fetches; wins over `crl_refresh_secs`.
    pub crl_refresh_ms: Option<u64>,
    pub postgres_sslmode: Option<String>,
    pub postgres_sslrootcert: Option<PathBuf>,
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
        let tls = tls_settings(
            flags.tls_cert.or(file_config.tls_cert),
            flags.tls_key.or(file_config.tls_key),
            flags.client_ca.or(file_config.client_ca),
            flags.crl_url.or(file_config.crl_url),
            flags.crl_refresh_secs.or(file_config.crl_refresh_secs),
            flags.crl_refresh_ms.or(file_config.crl_refresh_ms),
        )?;
        let postgres_tls = PgTlsSettings {
            mode: match (flags.postgres_sslmode, file_config.postgres_sslmode) {
                (Some(v), _) => Some(PgTlsSettings::parse_mode("--postgres-sslmode", &v)?),
                (None, Some(v)) => Some(PgTlsSettings::parse_mode(
                    "config file postgres_sslmode",
                    &v,
                )?),
                (None, None) => None,
            },
            root_cert: flags
                .postgres_sslrootcert
                .or(file_config.postgres_sslrootcert),
        };
        Ok(Self {
            listen,
            database,
            limits,
            tls,
            postgres_tls,
        })
    }
}

/// All four TLS settings together, or none of them.
fn tls_settings(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    crl_url: Option<String>,
    refresh_secs: Option<u64>,
    refresh_ms: Option<u64>,
) -> Result<Option<TlsSettings>, ConfigError> {
    let crl_refresh = match (refresh_ms, refresh_secs) {
        (Some(ms), _) if ms < 50 => return Err(ConfigError::CrlRefresh),
        (Some(ms), _) => std::time::Duration::from_millis(ms),
        (None, Some(0)) => return Err(ConfigError::CrlRefresh),
        (None, Some(secs)) => std::time::Duration::from_secs(secs),
        (None, None) => DEFAULT_CRL_REFRESH,
    };
    match (cert, key, client_ca, crl_url) {
        (None, None, None, None) => Ok(None),
        (Some(cert), Some(key), Some(client_ca), Some(crl_url)) => Ok(Some(TlsSettings {
            cert,
            key,
            client_ca,
            crl_url,
            crl_refresh,
        })),
        (cert, key, ca, url) => {
            let missing: Vec<&str> = [
                ("tls_cert", cert.is_none()),
                ("tls_key", key.is_none()),
                ("client_ca", ca.is_none()),
                ("crl_url", url.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, absent)| absent.then_some(name))
            .collect();
            Err(ConfigError::PartialTls {
                missing: missing.join(", "),
            })
        }
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
            ..Overrides::default()
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

    #[test]
    fn tls_settings_come_all_together_with_a_default_refresh() {
        let f = file(
            "tls_cert = \"sink.pem\"\ntls_key = \"sink.key\"\nclient_ca = \"ca.pem\"\ncrl_url = \"http://127.0.0.1:7300/v1/pki/crl\"\n",
        );
        let c = Config::load(Some(f.path()), |_| None, Overrides::default()).unwrap();
        let tls = c.tls.unwrap();
        assert_eq!(tls.client_ca, PathBuf::from("ca.pem"));
        assert_eq!(tls.crl_refresh, DEFAULT_CRL_REFRESH);
        let flags = Overrides {
            crl_refresh_secs: Some(5),
            ..Overrides::default()
        };
        let c = Config::load(Some(f.path()), |_| None, flags.clone()).unwrap();
        assert_eq!(c.tls.unwrap().crl_refresh.as_secs(), 5);
        let flags = Overrides {
            crl_refresh_ms: Some(200),
            ..flags
        };
        let c = Config::load(Some(f.path()), |_| None, flags).unwrap();
        assert_eq!(c.tls.unwrap().crl_refresh.as_millis(), 200);
        assert!(
            Config::load(None, |_| None, Overrides::default())
                .unwrap()
                .tls
                .is_none()
        );
    }

    #[test]
    fn postgres_tls_flags_beat_the_file_and_bad_modes_are_named() {
        let f = file("postgres_sslmode = \"require\"\npostgres_sslrootcert = \"pg-ca.pem\"\n");
        let c = Config::load(Some(f.path()), |_| None, Overrides::default()).unwrap();
        assert_eq!(c.postgres_tls.mode, Some(crate::pg_tls::SslMode::Require));
        assert_eq!(c.postgres_tls.root_cert, Some(PathBuf::from("pg-ca.pem")));
        let flags = Overrides {
            postgres_sslmode: Some("verify-full".into()),
            ..Overrides::default()
        };
        let c = Config::load(Some(f.path()), |_| None, flags).unwrap();
        assert_eq!(
            c.postgres_tls.mode,
            Some(crate::pg_tls::SslMode::VerifyFull)
        );
        let f = file("postgres_sslmode = \"verify_full\"\n");
        let err = Config::load(Some(f.path()), |_| None, Overrides::default()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("postgres_sslmode") && text.contains("\"verify_full\""),
            "{text}"
        );
    }

    #[test]
    fn half_configured_tls_names_what_is_missing() {
        let f = file("tls_cert = \"sink.pem\"\nclient_ca = \"ca.pem\"\n");
        match Config::load(Some(f.path()), |_| None, Overrides::default()) {
            Err(ConfigError::PartialTls { missing }) => assert_eq!(missing, "tls_key, crl_url"),
            other => panic!("expected PartialTls, got {other:?}"),
        }
        let zero = Overrides {
            crl_refresh_secs: Some(0),
            ..Overrides::default()
        };
        assert!(matches!(
            Config::load(None, |_| None, zero),
            Err(ConfigError::CrlRefresh)
        ));
    }
}
