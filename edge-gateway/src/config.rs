//! Gateway configuration: a TOML file, then `SF2C_GATEWAY_*` environment overrides, then flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use runtime::config::{Env, resolve_relative};
use serde::Deserialize;
use uuid::Uuid;

pub use runtime::ConfigError;

/// Prefix of the environment variables that override file settings.
pub const ENV_PREFIX: &str = "SF2C_GATEWAY_";
/// The prefix before every service used `SF2C_*`; still read, with a deprecation warning.
pub const LEGACY_ENV_PREFIX: &str = "EDGE_GATEWAY_";

/// Settings that may be overridden, as (dotted TOML key, environment variable suffix).
const OVERRIDABLE: &[(&str, &str)] = &[
    ("device_uuid", "DEVICE_UUID"),
    ("key_path", "KEY_PATH"),
    ("key_algorithm", "KEY_ALGORITHM"),
    ("validators", "VALIDATORS"),
    ("ca_path", "CA_PATH"),
    ("client_cert_path", "CLIENT_CERT_PATH"),
    ("client_key_path", "CLIENT_KEY_PATH"),
    ("queue_path", "QUEUE_PATH"),
    ("parked_path", "PARKED_PATH"),
    ("replay_window_ms", "REPLAY_WINDOW_MS"),
    ("batch_size", "BATCH_SIZE"),
    ("metrics_listen", "METRICS_LISTEN"),
    ("request_timeout_ms", "REQUEST_TIMEOUT_MS"),
    ("backoff_min_ms", "BACKOFF_MIN_MS"),
    ("backoff_max_ms", "BACKOFF_MAX_MS"),
    ("sensor.kind", "SENSOR_KIND"),
    ("sensor.interval_ms", "SENSOR_INTERVAL_MS"),
    ("sensor.seed", "SENSOR_SEED"),
    ("sensor.path", "SENSOR_PATH"),
];

/// Everything the daemon needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This device's UUID as enrolled in the registry.
    pub device_uuid: Uuid,
    /// PKCS#8 PEM private key written by `edge-gateway keygen`.
    pub key_path: PathBuf,
    /// RS256, PS256, EdDSA or ES256; when absent it follows the key (RSA keys sign RS256).
    #[serde(default)]
    pub key_algorithm: Option<String>,
    /// Fog validator URLs (`https://host:port/path`), tried in order, failing over to the next.
    pub validators: Vec<String>,
    /// PEM file of the CA certificates that validator certificates must chain to.
    pub ca_path: PathBuf,
    /// Client certificate chain (PEM) for mutual TLS, with `client_key_path`.
    #[serde(default)]
    pub client_cert_path: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[serde(default)]
    pub client_key_path: Option<PathBuf>,
    /// SQLite file holding the outgoing queue and the sequence counter.
    #[serde(default = "default_queue_path")]
    pub queue_path: PathBuf,
    /// SQLite file of messages refused as stale even after re-signing; they are kept, not sent.
    /// Default: the queue file's name with `.parked.db`.
    #[serde(default)]
    pub parked_path: Option<PathBuf>,
    /// The validators' replay window (their `replay.window_ms`): a stale refusal from a validator
    /// whose clock is further than this from ours is clock skew, and re-signing would not help.
    #[serde(default = "default_replay_window_ms")]
    pub replay_window_ms: u64,
    /// Most messages sent in one JSON-RPC batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Where to serve `/metrics` and `/health` (e.g. "127.0.0.1:9464"); off when absent.
    #[serde(default)]
    pub metrics_listen: Option<String>,
    /// How long one HTTPS exchange with a validator may take.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// First pause after every validator failed; doubles up to `backoff_max_ms`.
    #[serde(default = "default_backoff_min_ms")]
    pub backoff_min_ms: u64,
    /// Longest pause between rounds of attempts.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Which sensor to read.
    #[serde(default)]
    pub sensor: SensorConfig,
}

/// The sensor section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorConfig {
    /// `weather` (simulated station) or `ndjson` (JSON lines from a file, device or stdin).
    #[serde(default)]
    pub kind: SensorKind,
    /// Weather: time between readings.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// Weather: random seed, for reproducible runs.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Ndjson: file or device to read; "-" or absent means stdin.
    #[serde(default)]
    pub path: Option<PathBuf>,
}

/// The sensor kinds the gateway knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SensorKind {
    #[default]
    Weather,
    Ndjson,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            kind: SensorKind::default(),
            interval_ms: default_interval_ms(),
            seed: None,
            path: None,
        }
    }
}

fn default_queue_path() -> PathBuf {
    PathBuf::from("edge-gateway-queue.db")
}
fn default_replay_window_ms() -> u64 {
    300_000
}
fn default_batch_size() -> usize {
    50
}
fn default_request_timeout_ms() -> u64 {
    5_000
}
fn default_backoff_min_ms() -> u64 {
    200
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_interval_ms() -> u64 {
    1_000
}

impl Config {
    /// Reads `path`, applies environment overrides (looked up with `env`) and then `flags`
    /// (dotted key, value), resolves relative paths against the file's directory and validates.
    pub fn load(
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
        flags: &[(&str, toml::Value)],
    ) -> Result<Config, ConfigError> {
        let table = runtime::config::read_file(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::layered(path, table, base, &env, flags)
    }

    /// As [`Config::load`], from TOML text; relative paths are taken from `base`.
    pub fn from_toml(
        text: &str,
        base: &Path,
        env: impl Fn(&str) -> Option<String>,
        flags: &[(&str, toml::Value)],
    ) -> Result<Config, ConfigError> {
        let path = Path::new("(inline TOML)");
        let table = runtime::config::parse(path, text)?;
        Config::layered(path, table, base, &env, flags)
    }

    /// The file's table, overlaid key by key by the environment and the flags, then typed: so a
    /// variable or flag can supply a key the file leaves out.
    fn layered(
        path: &Path,
        mut table: toml::Table,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &[(&str, toml::Value)],
    ) -> Result<Config, ConfigError> {
        let lookup = |name: &str| with_legacy_name(name, env);
        let env = Env::new(ENV_PREFIX, &lookup);
        for (key, suffix) in OVERRIDABLE {
            if let Some(value) = env_value(&env, key, suffix)? {
                set(&mut table, key, value);
            }
        }
        for (key, value) in flags {
            set(&mut table, key, value.clone());
        }
        let mut config: Config =
            table
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: path.to_path_buf(),
                    detail: e.message().trim_end().to_string(),
                })?;
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    /// Where parked messages go: `parked_path`, else next to the queue file.
    pub fn parked_path(&self) -> PathBuf {
        self.parked_path
            .clone()
            .unwrap_or_else(|| self.queue_path.with_extension("parked.db"))
    }

    /// The request timeout as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| resolve_relative(base, p);
        join(&mut self.key_path);
        join(&mut self.ca_path);
        join(&mut self.queue_path);
        if let Some(p) = self.client_cert_path.as_mut() {
            join(p);
        }
        if let Some(p) = self.parked_path.as_mut() {
            join(p);
        }
        if let Some(p) = self.client_key_path.as_mut() {
            join(p);
        }
        if let Some(p) = self.sensor.path.as_mut() {
            if p != Path::new("-") {
                join(p);
            }
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.validators.is_empty() {
            return Err(ConfigError::invalid(
                "validators",
                "empty; list at least one https:// validator URL",
            ));
        }
        if let Some(bad) = self.validators.iter().find(|v| !v.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "validators",
                format!("{bad:?} is not an https:// URL; validators are only reached over TLS"),
            ));
        }
        if !(1..=1000).contains(&self.batch_size) {
            return Err(ConfigError::invalid(
                "batch_size",
                format!("{} must be 1 to 1000", self.batch_size),
            ));
        }
        for (key, value) in [
            ("sensor.interval_ms", self.sensor.interval_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("replay_window_ms", self.replay_window_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be above 0"));
            }
        }
        if self.backoff_min_ms == 0 || self.backoff_min_ms > self.backoff_max_ms {
            return Err(ConfigError::invalid(
                "backoff_min_ms",
                format!(
                    "{} must be above 0 and at most backoff_max_ms {}",
                    self.backoff_min_ms, self.backoff_max_ms
                ),
            ));
        }
        if self.client_cert_path.is_some() != self.client_key_path.is_some() {
            return Err(ConfigError::invalid(
                "client_cert_path",
                "client_cert_path and client_key_path must be given together",
            ));
        }
        Ok(())
    }
}

/// The variable `name` (`SF2C_GATEWAY_*`), else its old `EDGE_GATEWAY_*` name, with a warning
/// that the old name goes away.
fn with_legacy_name(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(value) = env(name) {
        return Some(value);
    }
    let legacy = format!("{LEGACY_ENV_PREFIX}{}", name.strip_prefix(ENV_PREFIX)?);
    let value = env(&legacy)?;
    tracing::warn!(
        variable = %legacy,
        replacement = %name,
        "{legacy} is deprecated; set {name} instead"
    );
    Some(value)
}

/// A variable's value as TOML: numbers for the numeric keys (a bad one names its variable), the
/// validator list split on commas, text for the rest.
fn env_value(env: &Env<'_>, key: &str, suffix: &str) -> Result<Option<toml::Value>, ConfigError> {
    if key == "validators" {
        // One lookup: a deprecated name is warned about once.
        return Ok(env
            .list(suffix)
            .map(|list| toml::Value::Array(list.into_iter().map(toml::Value::String).collect())));
    }
    if key.ends_with("_ms") || key.ends_with("size") || key.ends_with("seed") {
        return Ok(env.value::<i64>(suffix)?.map(toml::Value::Integer));
    }
    Ok(env.raw(suffix).map(toml::Value::String))
}

fn set(table: &mut toml::Table, dotted: &str, value: toml::Value) {
    match dotted.split_once('.') {
        Some((section, rest)) => {
            let entry = table
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                set(inner, rest, value);
            }
        }
        None => {
            table.insert(dotted.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
device_uuid = "0b6f1d3e-52a4-4c1b-9a57-3f0c2b7e9d10"
key_path = "device.key"
validators = ["https://127.0.0.1:8443/rpc"]
ca_path = "/etc/sf2c/ca.pem"
[sensor]
kind = "weather"
interval_ms = 500
"#;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn file_values_load_and_relative_paths_follow_the_file() {
        let c = Config::from_toml(FILE, Path::new("/opt/gw"), no_env, &[]).unwrap();
        assert_eq!(c.key_path, Path::new("/opt/gw/device.key"));
        assert_eq!(c.ca_path, Path::new("/etc/sf2c/ca.pem"));
        assert_eq!(c.queue_path, Path::new("/opt/gw/edge-gateway-queue.db"));
        assert_eq!(c.sensor.interval_ms, 500);
        assert_eq!(c.batch_size, 50);
        assert_eq!(c.replay_window_ms, 300_000);
        assert_eq!(
            c.parked_path(),
            Path::new("/opt/gw/edge-gateway-queue.parked.db")
        );
    }

    #[test]
    fn environment_overrides_file_and_flags_override_environment() {
        let env = |k: &str| match k {
            "SF2C_GATEWAY_VALIDATORS" => Some("https://a:1/, https://b:2/".to_string()),
            "SF2C_GATEWAY_SENSOR_INTERVAL_MS" => Some("250".to_string()),
            "SF2C_GATEWAY_BATCH_SIZE" => Some("7".to_string()),
            _ => None,
        };
        let c = Config::from_toml(FILE, Path::new("/"), env, &[]).unwrap();
        assert_eq!(c.validators, vec!["https://a:1/", "https://b:2/"]);
        assert_eq!(c.sensor.interval_ms, 250);
        assert_eq!(c.batch_size, 7);
        let flags = [("batch_size", toml::Value::Integer(3))];
        let c = Config::from_toml(FILE, Path::new("/"), env, &flags).unwrap();
        assert_eq!(c.batch_size, 3);
    }

    #[test]
    fn plain_http_validators_and_unknown_keys_are_refused() {
        let http = FILE.replace("https://127.0.0.1", "http://127.0.0.1");
        let err = Config::from_toml(&http, Path::new("/"), no_env, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("https"), "{err}");
        let typo = format!("{FILE}\nbatchsize = 4\n").replace("[sensor]\n", "");
        let typo = typo.replace("kind = \"weather\"\ninterval_ms = 500\n", "");
        let err = Config::from_toml(&typo, Path::new("/"), no_env, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("batchsize"), "{err}");
    }

    #[test]
    fn old_edge_gateway_names_still_work_and_new_names_win() {
        let old = |k: &str| match k {
            "EDGE_GATEWAY_BATCH_SIZE" => Some("9".to_string()),
            "EDGE_GATEWAY_SENSOR_INTERVAL_MS" => Some("250".to_string()),
            _ => None,
        };
        let c = Config::from_toml(FILE, Path::new("/"), old, &[]).unwrap();
        assert_eq!((c.batch_size, c.sensor.interval_ms), (9, 250));
        let both = |k: &str| match k {
            "SF2C_GATEWAY_BATCH_SIZE" => Some("4".to_string()),
            other => old(other),
        };
        let c = Config::from_toml(FILE, Path::new("/"), both, &[]).unwrap();
        assert_eq!(c.batch_size, 4);
    }

    #[test]
    fn a_bad_number_in_the_environment_names_the_variable() {
        let env = |k: &str| (k == "SF2C_GATEWAY_BATCH_SIZE").then(|| "many".to_string());
        let err = Config::from_toml(FILE, Path::new("/"), env, &[]).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Env { var, .. } if var == "SF2C_GATEWAY_BATCH_SIZE"),
            "{err}"
        );
    }
}
