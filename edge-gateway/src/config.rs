//! Gateway configuration: a TOML file, then `EDGE_GATEWAY_*` environment overrides, then flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use uuid::Uuid;

use crate::error::GatewayError;

/// Prefix of the environment variables that override file settings.
pub const ENV_PREFIX: &str = "EDGE_GATEWAY_";

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
    ) -> Result<Config, GatewayError> {
        let text = std::fs::read_to_string(path).map_err(|source| GatewayError::ReadFile {
            what: "configuration file",
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_toml(&text, base, env, flags)
            .map_err(|e| GatewayError::Config(format!("{}: {e}", path.display())))
    }

    /// As [`Config::load`], from TOML text; relative paths are taken from `base`.
    pub fn from_toml(
        text: &str,
        base: &Path,
        env: impl Fn(&str) -> Option<String>,
        flags: &[(&str, toml::Value)],
    ) -> Result<Config, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        for (key, suffix) in OVERRIDABLE {
            if let Some(raw) = env(&format!("{ENV_PREFIX}{suffix}")) {
                set(&mut table, key, env_value(key, &raw));
            }
        }
        for (key, value) in flags {
            set(&mut table, key, value.clone());
        }
        let mut config: Config = table
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())?;
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
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
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

    fn validate(&self) -> Result<(), String> {
        if self.validators.is_empty() {
            return Err("`validators` is empty; list at least one https:// validator URL".into());
        }
        if let Some(bad) = self.validators.iter().find(|v| !v.starts_with("https://")) {
            return Err(format!(
                "validator {bad:?} is not an https:// URL; validators are only reached over TLS"
            ));
        }
        if !(1..=1000).contains(&self.batch_size) {
            return Err(format!("batch_size {} must be 1 to 1000", self.batch_size));
        }
        if self.sensor.interval_ms == 0
            || self.request_timeout_ms == 0
            || self.replay_window_ms == 0
        {
            return Err(
                "sensor.interval_ms, request_timeout_ms and replay_window_ms must be above 0"
                    .into(),
            );
        }
        if self.backoff_min_ms == 0 || self.backoff_min_ms > self.backoff_max_ms {
            return Err(format!(
                "backoff_min_ms {} must be above 0 and at most backoff_max_ms {}",
                self.backoff_min_ms, self.backoff_max_ms
            ));
        }
        if self.client_cert_path.is_some() != self.client_key_path.is_some() {
            return Err("client_cert_path and client_key_path must be given together".into());
        }
        Ok(())
    }
}

/// Environment values are text; numbers become integers and the validator list is split on commas.
fn env_value(key: &str, raw: &str) -> toml::Value {
    if key == "validators" {
        return toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        );
    }
    match raw.parse::<i64>() {
        Ok(n) if key.ends_with("_ms") || key.ends_with("size") || key.ends_with("seed") => {
            toml::Value::Integer(n)
        }
        _ => toml::Value::String(raw.to_string()),
    }
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
            "EDGE_GATEWAY_VALIDATORS" => Some("https://a:1/, https://b:2/".to_string()),
            "EDGE_GATEWAY_SENSOR_INTERVAL_MS" => Some("250".to_string()),
            "EDGE_GATEWAY_BATCH_SIZE" => Some("7".to_string()),
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
        let err = Config::from_toml(&http, Path::new("/"), no_env, &[]).unwrap_err();
        assert!(err.contains("https"), "{err}");
        let typo = format!("{FILE}\nbatchsize = 4\n").replace("[sensor]\n", "");
        let typo = typo.replace("kind = \"weather\"\ninterval_ms = 500\n", "");
        let err = Config::from_toml(&typo, Path::new("/"), no_env, &[]).unwrap_err();
        assert!(err.contains("batchsize"), "{err}");
    }
}
