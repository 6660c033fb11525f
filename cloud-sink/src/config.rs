//! Sink settings: defaults, then a TOML file, then `SF2C_SINK_*` variables, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runtime::config::{self, Env, Layered, flag_some};
use serde::Deserialize;

pub use runtime::ConfigError;

use crate::http::Limits;
use crate::pg_tls::{PgTlsSettings, SslMode};
use crate::store::DEFAULT_DATABASE;
use crate::tls::{DEFAULT_CRL_REFRESH, TlsSettings};

/// Prefix of the sink's environment variables: `SF2C_SINK_<KEY>` for every key of the file.
pub const ENV_PREFIX: &str = "SF2C_SINK_";
/// Environment variable overriding the listen address.
pub const ENV_LISTEN: &str = "SF2C_SINK_LISTEN";
/// Environment variable overriding the database URL.
pub const ENV_DATABASE: &str = "SF2C_SINK_DATABASE";
/// Listen address when nothing else is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7400";

/// The settings as the layers fill them (the TOML file's keys); every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `IP:PORT`; checked when the layers are merged, so a bad one is named by its key.
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

impl Layered for FileConfig {
    const ENV_PREFIX: &'static str = ENV_PREFIX;

    fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        // Parsed here only to name the variable in the error; kept as text like the file's.
        if let Some(listen) = env.value::<SocketAddr>("LISTEN")? {
            self.listen = Some(listen.to_string());
        }
        env.set_some("DATABASE", &mut self.database)?;
        env.set_some("MAX_BODY_BYTES", &mut self.max_body_bytes)?;
        env.set_some("MAX_BATCH_RECORDS", &mut self.max_batch_records)?;
        env.set_some("MAX_QUERY_RECORDS", &mut self.max_query_records)?;
        env.set_some("TLS_CERT", &mut self.tls_cert)?;
        env.set_some("TLS_KEY", &mut self.tls_key)?;
        env.set_some("CLIENT_CA", &mut self.client_ca)?;
        env.set_some("CRL_URL", &mut self.crl_url)?;
        env.set_some("CRL_REFRESH_SECS", &mut self.crl_refresh_secs)?;
        env.set_some("CRL_REFRESH_MS", &mut self.crl_refresh_ms)?;
        env.set_some("POSTGRES_SSLMODE", &mut self.postgres_sslmode)?;
        env.set_some("POSTGRES_SSLROOTCERT", &mut self.postgres_sslrootcert)
    }
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

/// Values given on the command line, which win over everything else (the `serve` flags).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Address to listen on [env: SF2C_SINK_LISTEN] [default: 127.0.0.1:7400].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// `sqlite:PATH` or a `postgres://` URL [env: SF2C_SINK_DATABASE] [default: sqlite:./cloud-sink.db].
    #[arg(long)]
    pub database: Option<String>,
    /// PEM certificate chain the sink presents; enables HTTPS with client certificates.
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate client certificates must chain to (the VPN Centre's CA).
    #[arg(long)]
    pub client_ca: Option<PathBuf>,
    /// URL of the VPN Centre's CRL; fetched before serving, then every --crl-refresh-ms.
    #[arg(long)]
    pub crl_url: Option<String>,
    /// Seconds between CRL fetches (older flag; --crl-refresh-ms wins).
    #[arg(long)]
    pub crl_refresh_secs: Option<u64>,
    /// Milliseconds between CRL fetches [default: 250, at least 50].
    #[arg(long)]
    pub crl_refresh_ms: Option<u64>,
    /// TLS to PostgreSQL: disable, require (encrypts, checks nothing) or verify-full
    /// [default: the URL's sslmode, else disable].
    #[arg(long)]
    pub postgres_sslmode: Option<String>,
    /// PEM CA file the PostgreSQL server's certificate must chain to (verify-full).
    #[arg(long)]
    pub postgres_sslrootcert: Option<PathBuf>,
}

impl Overrides {
    /// Lays the flags given over `layers`.
    fn apply(self, layers: &mut FileConfig) {
        flag_some(&mut layers.listen, self.listen.map(|a| a.to_string()));
        flag_some(&mut layers.database, self.database);
        flag_some(&mut layers.tls_cert, self.tls_cert);
        flag_some(&mut layers.tls_key, self.tls_key);
        flag_some(&mut layers.client_ca, self.client_ca);
        flag_some(&mut layers.crl_url, self.crl_url);
        flag_some(&mut layers.crl_refresh_secs, self.crl_refresh_secs);
        flag_some(&mut layers.crl_refresh_ms, self.crl_refresh_ms);
        flag_some(&mut layers.postgres_sslmode, self.postgres_sslmode);
        flag_some(&mut layers.postgres_sslrootcert, self.postgres_sslrootcert);
    }
}

impl Config {
    /// Resolves settings from `file` (if any), the environment read through `env`, and `flags`.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: Overrides,
    ) -> Result<Self, ConfigError> {
        let layers: FileConfig = config::load(file, env, |layers| flags.apply(layers))?;
        Self::from_layers(layers)
    }

    /// The settings in force once every layer is merged; errors name the key at fault.
    fn from_layers(layers: FileConfig) -> Result<Self, ConfigError> {
        let listen = layers.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = listen.parse().map_err(|e| {
            ConfigError::invalid("listen", format!("{listen:?} is not IP:PORT: {e}"))
        })?;
        let defaults = Limits::default();
        let limits = Limits {
            max_body_bytes: layers.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            max_batch_records: layers
                .max_batch_records
                .unwrap_or(defaults.max_batch_records),
            max_query_records: layers
                .max_query_records
                .unwrap_or(defaults.max_query_records),
        };
        let crl_refresh = crl_refresh(layers.crl_refresh_secs, layers.crl_refresh_ms)?;
        let tls = tls_settings(
            layers.tls_cert,
            layers.tls_key,
            layers.client_ca,
            layers.crl_url,
            crl_refresh,
        )?;
        let mode = layers
            .postgres_sslmode
            .map(|v| v.parse::<SslMode>())
            .transpose()
            .map_err(|reason| ConfigError::invalid("postgres_sslmode", reason))?;
        Ok(Self {
            listen,
            database: layers.database.unwrap_or_else(|| DEFAULT_DATABASE.into()),
            limits,
            tls,
            postgres_tls: PgTlsSettings {
                mode,
                root_cert: layers.postgres_sslrootcert,
            },
        })
    }
}

/// The CRL refresh period: `crl_refresh_ms` wins over `crl_refresh_secs`.
fn crl_refresh(secs: Option<u64>, ms: Option<u64>) -> Result<Duration, ConfigError> {
    match (ms, secs) {
        (Some(ms), _) if ms < 50 => Err(ConfigError::invalid(
            "crl_refresh_ms",
            format!("{ms} is below the minimum of 50"),
        )),
        (Some(ms), _) => Ok(Duration::from_millis(ms)),
        (None, Some(0)) => Err(ConfigError::invalid(
            "crl_refresh_secs",
            "must be at least 1",
        )),
        (None, Some(secs)) => Ok(Duration::from_secs(secs)),
        (None, None) => Ok(DEFAULT_CRL_REFRESH),
    }
}

/// All four TLS settings together, or none of them.
fn tls_settings(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    crl_url: Option<String>,
    crl_refresh: Duration,
) -> Result<Option<TlsSettings>, ConfigError> {
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
            Err(ConfigError::invalid(
                missing.join(", "),
                "missing: TLS is half configured; give all of tls_cert, tls_key, client_ca and crl_url, or none for plain HTTP on loopback",
            ))
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
            Err(ConfigError::Env { var, .. }) if var == ENV_LISTEN
        ));
        let f = file("listen = \"nowhere\"\n");
        assert!(matches!(
            Config::load(Some(f.path()), |_| None, Overrides::default()),
            Err(ConfigError::Invalid { key, .. }) if key == "listen"
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
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "tls_key, crl_url"),
            other => panic!("expected the missing TLS keys, got {other:?}"),
        }
        let zero = Overrides {
            crl_refresh_secs: Some(0),
            ..Overrides::default()
        };
        assert!(matches!(
            Config::load(None, |_| None, zero),
            Err(ConfigError::Invalid { key, .. }) if key == "crl_refresh_secs"
        ));
    }

    #[test]
    fn every_key_has_a_sink_variable() {
        let env = |k: &str| {
            let value = match k {
                "SF2C_SINK_TLS_CERT" => "sink.pem",
                "SF2C_SINK_TLS_KEY" => "sink.key",
                "SF2C_SINK_CLIENT_CA" => "ca.pem",
                "SF2C_SINK_CRL_URL" => "http://127.0.0.1:7300/v1/pki/crl",
                "SF2C_SINK_CRL_REFRESH_MS" => "400",
                "SF2C_SINK_MAX_BATCH_RECORDS" => "9",
                "SF2C_SINK_POSTGRES_SSLMODE" => "require",
                _ => return None,
            };
            Some(value.to_string())
        };
        let c = Config::load(None, env, Overrides::default()).unwrap();
        let tls = c.tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("sink.pem"));
        assert_eq!(tls.crl_refresh.as_millis(), 400);
        assert_eq!(c.limits.max_batch_records, 9);
        assert_eq!(c.postgres_tls.mode, Some(crate::pg_tls::SslMode::Require));
    }
}
