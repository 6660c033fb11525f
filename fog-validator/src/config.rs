//! Validator configuration: a TOML file, then `SF2C_VALIDATOR_*` environment variables, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::client_auth::{ClientAuthError, ClientAuthSettings};
use crate::outbound::ClientTls;
use crate::server::ServerLimits;
use crate::validator::MessageLimits;
use fabric_client::LedgerSettings;

/// Everything a validator needs to run. Every field has a default except the TLS files and, while
/// `client_auth` is on, `client_ca` and `crl_url`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This validator's id, shown in forwarded records and warnings.
    pub id: String,
    /// HTTPS JSON-RPC listener.
    pub listen: SocketAddr,
    /// Optional plain-HTTP listener for `/healthz` and `/metrics` (keep it on 127.0.0.1).
    pub ops_listen: Option<SocketAddr>,
    /// Directory for the spool, the sequence store and the registry checkpoint.
    pub data_dir: PathBuf,
    /// Cloud sink base URL.
    pub sink_url: String,
    /// VPN Centre base URL; without it warnings are only logged.
    pub vpn_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Require gateway client certificates from `client_ca`, checked against the CRL at `crl_url`.
    /// `false` serves HTTPS to any client, for local experiments only.
    pub client_auth: bool,
    /// PEM certificate of the VPN Centre's CA, which issues gateway certificates.
    pub client_ca: Option<PathBuf>,
    /// The VPN Centre's CRL URL (plain HTTP is enough: the CRL is signed by the CA).
    pub crl_url: Option<String>,
    /// Milliseconds between CRL refreshes (default 500, at least 50): a revoked gateway is refused
    /// and its open connections closed within about this long. The centre serves the CRL from memory.
    pub crl_refresh_ms: u64,
    /// Older setting in whole seconds; when non-zero it overrides `crl_refresh_ms`.
    pub crl_refresh_secs: u64,
    /// Refuse every gateway once the CRL is past its nextUpdate (fail closed if the centre stays unreachable).
    pub crl_enforce_expiry: bool,
    /// CA that `https://` sink and VPN Centre certificates must chain to; defaults to `client_ca`.
    pub ca: Option<PathBuf>,
    /// Certificate the validator presents to the sink and the centre; defaults to `tls_cert`
    /// (the centre issues validators one certificate for both directions).
    pub client_cert: Option<PathBuf>,
    /// Key of `client_cert`; defaults to `tls_key`.
    pub client_key: Option<PathBuf>,
    /// `network.json` of the Fabric network holding the device registry.
    pub network: Option<PathBuf>,
    /// Organisation (short name or MSP ID in `network.json`) whose peer the validator reads from.
    pub org: Option<String>,
    /// Identity the validator reads the ledger as: `client` (default), `admin`, or an MSP folder.
    pub identity: String,
    pub limits: Limits,
    pub replay: Replay,
    pub recent: Recent,
    pub forward: Forward,
    pub warnings: Warnings,
    pub registry: RegistryConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_message_bytes: usize,
    pub max_batch: usize,
    pub max_connections: usize,
    pub request_timeout_ms: u64,
    pub header_read_timeout_ms: u64,
    pub tls_handshake_timeout_ms: u64,
    pub drain_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Replay {
    /// Largest accepted difference between a message timestamp and the validator clock.
    pub window_ms: u64,
    /// How often accepted sequence numbers are written to disk.
    pub flush_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Recent {
    pub per_device: usize,
    pub max_devices: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Forward {
    pub batch: usize,
    pub linger_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Warnings {
    pub queue: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// Cache misses that may ask the ledger in a burst.
    pub miss_burst: u32,
    /// Cache misses per second that may ask the ledger, sustained.
    pub miss_per_second: f64,
    /// How long start-up waits for a first snapshot when there is no checkpoint.
    pub startup_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            id: "fog-validator".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            ops_listen: None,
            data_dir: PathBuf::from("./fog-validator-data"),
            sink_url: "http://127.0.0.1:7400".into(),
            vpn_url: None,
            tls_cert: None,
            tls_key: None,
            client_auth: true,
            client_ca: None,
            crl_url: None,
            crl_refresh_ms: 500,
            crl_refresh_secs: 0,
            crl_enforce_expiry: true,
            ca: None,
            client_cert: None,
            client_key: None,
            network: None,
            org: None,
            identity: "client".into(),
            limits: Limits::default(),
            replay: Replay::default(),
            recent: Recent::default(),
            forward: Forward::default(),
            warnings: Warnings::default(),
            registry: RegistryConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_message_bytes: signed_message::MAX_MESSAGE_LEN,
            max_batch: 100,
            max_connections: 1024,
            request_timeout_ms: 10_000,
            header_read_timeout_ms: 5_000,
            tls_handshake_timeout_ms: 5_000,
            drain_timeout_ms: 5_000,
        }
    }
}

impl Default for Replay {
    fn default() -> Self {
        Self {
            window_ms: 300_000,
            flush_ms: 100,
        }
    }
}

impl Default for Recent {
    fn default() -> Self {
        Self {
            per_device: 100,
            max_devices: 10_000,
        }
    }
}

impl Default for Forward {
    fn default() -> Self {
        Self {
            batch: 200,
            linger_ms: 20,
        }
    }
}

impl Default for Warnings {
    fn default() -> Self {
        Self { queue: 10_000 }
    }
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            miss_burst: 20,
            miss_per_second: 5.0,
            startup_timeout_ms: 10_000,
        }
    }
}

/// A configuration that cannot be read or used.
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
    #[error(
        "no ledger configured: set `network` (the network.json path) and `org` (e.g. Org1), by flag, \
         config file or SF2C_VALIDATOR_NETWORK / SF2C_VALIDATOR_ORG; missing: {missing}"
    )]
    NoLedger { missing: &'static str },
    #[error("environment variable {name}={value:?} is not valid: {reason}")]
    Env {
        name: &'static str,
        value: String,
        reason: String,
    },
}

impl Config {
    /// Reads `path` (or starts from the defaults), then applies environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_path_buf(),
                    source,
                })?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Applies `SF2C_VALIDATOR_{ID,LISTEN,OPS_LISTEN,DATA_DIR,SINK_URL,VPN_URL,TLS_CERT,TLS_KEY}`,
    /// `SF2C_VALIDATOR_{CLIENT_AUTH,CLIENT_CA,CRL_URL,CRL_REFRESH_SECS,CRL_REFRESH_MS,CA,CLIENT_CERT,CLIENT_KEY}` and
    /// `SF2C_VALIDATOR_{NETWORK,ORG,IDENTITY}`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let addr = |name: &'static str, value: String| {
            value.parse::<SocketAddr>().map_err(|e| ConfigError::Env {
                name,
                value,
                reason: format!("{e}; expected IP:PORT"),
            })
        };
        if let Some(v) = var("SF2C_VALIDATOR_ID") {
            self.id = v;
        }
        if let Some(v) = var("SF2C_VALIDATOR_LISTEN") {
            self.listen = addr("SF2C_VALIDATOR_LISTEN", v)?;
        }
        if let Some(v) = var("SF2C_VALIDATOR_OPS_LISTEN") {
            self.ops_listen = Some(addr("SF2C_VALIDATOR_OPS_LISTEN", v)?);
        }
        if let Some(v) = var("SF2C_VALIDATOR_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = var("SF2C_VALIDATOR_SINK_URL") {
            self.sink_url = v;
        }
        if let Some(v) = var("SF2C_VALIDATOR_VPN_URL") {
            self.vpn_url = Some(v);
        }
        if let Some(v) = var("SF2C_VALIDATOR_TLS_CERT") {
            self.tls_cert = Some(v.into());
        }
        if let Some(v) = var("SF2C_VALIDATOR_TLS_KEY") {
            self.tls_key = Some(v.into());
        }
        if let Some(v) = var("SF2C_VALIDATOR_CLIENT_AUTH") {
            self.client_auth = v.parse().map_err(|_| ConfigError::Env {
                name: "SF2C_VALIDATOR_CLIENT_AUTH",
                value: v,
                reason: "expected true or false".into(),
            })?;
        }
        if let Some(v) = var("SF2C_VALIDATOR_CLIENT_CA") {
            self.client_ca = Some(v.into());
        }
        if let Some(v) = var("SF2C_VALIDATOR_CRL_URL") {
            self.crl_url = Some(v);
        }
        if let Some(v) = var("SF2C_VALIDATOR_CA") {
            self.ca = Some(v.into());
        }
        if let Some(v) = var("SF2C_VALIDATOR_CLIENT_CERT") {
            self.client_cert = Some(v.into());
        }
        if let Some(v) = var("SF2C_VALIDATOR_CLIENT_KEY") {
            self.client_key = Some(v.into());
        }
        if let Some(v) = var("SF2C_VALIDATOR_NETWORK") {
            self.network = Some(v.into());
        }
        if let Some(v) = var("SF2C_VALIDATOR_ORG") {
            self.org = Some(v);
        }
        if let Some(v) = var("SF2C_VALIDATOR_IDENTITY") {
            self.identity = v;
        }
        if let Some(v) = var("SF2C_VALIDATOR_CRL_REFRESH_SECS") {
            self.crl_refresh_secs = v.parse().map_err(|e| ConfigError::Env {
                name: "SF2C_VALIDATOR_CRL_REFRESH_SECS",
                value: v,
                reason: format!("{e}; expected whole seconds"),
            })?;
        }
        if let Some(v) = var("SF2C_VALIDATOR_CRL_REFRESH_MS") {
            self.crl_refresh_ms = v.parse().map_err(|e| ConfigError::Env {
                name: "SF2C_VALIDATOR_CRL_REFRESH_MS",
                value: v,
                reason: format!("{e}; expected whole milliseconds"),
            })?;
        }
        Ok(())
    }

    /// The identity the validator shows the sink and the centre over `https://`, with the defaults
    /// filled in; `None` when a CA, certificate or key is still missing.
    pub fn client_tls(&self) -> Option<ClientTls> {
        Some(ClientTls {
            ca: self.ca.clone().or_else(|| self.client_ca.clone())?,
            cert: self.client_cert.clone().or_else(|| self.tls_cert.clone())?,
            key: self.client_key.clone().or_else(|| self.tls_key.clone())?,
        })
    }

    /// Time between CRL fetches: `crl_refresh_secs` when set, else `crl_refresh_ms`, never below
    /// 50 ms (zero would make the refresher spin).
    pub fn crl_refresh(&self) -> Duration {
        if self.crl_refresh_secs > 0 {
            return Duration::from_secs(self.crl_refresh_secs);
        }
        Duration::from_millis(self.crl_refresh_ms.max(50))
    }

    /// The listener's client-certificate settings; `Ok(None)` when `client_auth = false`.
    pub fn client_auth_settings(&self) -> Result<Option<ClientAuthSettings>, ClientAuthError> {
        if !self.client_auth {
            return Ok(None);
        }
        let missing = |missing| ClientAuthError::Missing { missing };
        Ok(Some(ClientAuthSettings {
            client_ca: self.client_ca.clone().ok_or(missing("client_ca"))?,
            crl_url: self.crl_url.clone().ok_or(missing("crl_url"))?,
            refresh_every: self.crl_refresh(),
            enforce_crl_expiry: self.crl_enforce_expiry,
        }))
    }

    /// Where the registry is read from; both `network` and `org` are required.
    pub fn ledger_settings(&self) -> Result<LedgerSettings, ConfigError> {
        Ok(LedgerSettings {
            network: self
                .network
                .clone()
                .ok_or(ConfigError::NoLedger { missing: "network" })?,
            org: self
                .org
                .clone()
                .ok_or(ConfigError::NoLedger { missing: "org" })?,
            identity: self.identity.clone(),
        })
    }

    pub fn server_limits(&self) -> ServerLimits {
        let ms = Duration::from_millis;
        ServerLimits {
            max_body_bytes: self.limits.max_body_bytes,
            max_connections: self.limits.max_connections,
            request_timeout: ms(self.limits.request_timeout_ms),
            header_read_timeout: ms(self.limits.header_read_timeout_ms),
            tls_handshake_timeout: ms(self.limits.tls_handshake_timeout_ms),
            drain_timeout: ms(self.limits.drain_timeout_ms),
        }
    }

    pub fn message_limits(&self) -> MessageLimits {
        MessageLimits {
            max_message_bytes: self.limits.max_message_bytes,
            max_batch: self.limits.max_batch,
            max_recent: self.recent.per_device,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_then_env_overrides() {
        let mut config: Config = toml::from_str(
            r#"
            id = "fog-a"
            listen = "127.0.0.1:9000"
            [limits]
            max_batch = 7
            "#,
        )
        .unwrap();
        assert_eq!(config.id, "fog-a");
        assert_eq!(config.limits.max_batch, 7);
        assert_eq!(
            config.limits.max_connections,
            Limits::default().max_connections
        );
        config
            .apply_env(|name| match name {
                "SF2C_VALIDATOR_ID" => Some("fog-b".into()),
                "SF2C_VALIDATOR_LISTEN" => Some("127.0.0.1:9001".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.id, "fog-b");
        assert_eq!(config.listen.port(), 9001);
    }

    #[test]
    fn the_ledger_needs_a_network_file_and_an_organisation() {
        let mut config: Config = toml::from_str("network = \"run/network.json\"").unwrap();
        assert_eq!(config.identity, "client");
        let err = config.ledger_settings().unwrap_err();
        assert!(err.to_string().contains("missing: org"), "{err}");
        config
            .apply_env(|name| match name {
                "SF2C_VALIDATOR_ORG" => Some("Org2".into()),
                "SF2C_VALIDATOR_IDENTITY" => Some("/msp/reader".into()),
                _ => None,
            })
            .unwrap();
        let ledger = config.ledger_settings().unwrap();
        assert_eq!(ledger.network, PathBuf::from("run/network.json"));
        assert_eq!(
            (ledger.org.as_str(), ledger.identity.as_str()),
            ("Org2", "/msp/reader")
        );
        assert!(toml::from_str::<Config>("registry_snapshot = \"r.json\"").is_err());
    }

    #[test]
    fn unknown_keys_and_bad_env_are_refused() {
        assert!(toml::from_str::<Config>("lisen = \"127.0.0.1:1\"").is_err());
        let err = Config::default()
            .apply_env(|name| (name == "SF2C_VALIDATOR_LISTEN").then(|| "nowhere".into()))
            .unwrap_err();
        assert!(err.to_string().contains("SF2C_VALIDATOR_LISTEN"), "{err}");
    }

    #[test]
    fn the_outbound_identity_falls_back_to_the_listener_files() {
        let mut config = Config::default();
        assert_eq!(config.client_tls(), None);
        config.tls_cert = Some("server.pem".into());
        config.tls_key = Some("server-key.pem".into());
        config.client_ca = Some("vpn-ca.pem".into());
        let tls = config.client_tls().unwrap();
        assert_eq!(
            (tls.ca, tls.cert, tls.key),
            (
                "vpn-ca.pem".into(),
                "server.pem".into(),
                "server-key.pem".into()
            )
        );
        config.ca = Some("other-ca.pem".into());
        config.client_cert = Some("client.pem".into());
        config.client_key = Some("client-key.pem".into());
        let tls = config.client_tls().unwrap();
        assert_eq!(
            (tls.ca, tls.cert, tls.key),
            (
                "other-ca.pem".into(),
                "client.pem".into(),
                "client-key.pem".into()
            )
        );
    }

    #[test]
    fn client_certificates_are_required_unless_switched_off() {
        let mut config = Config::default();
        let err = config.client_auth_settings().unwrap_err();
        assert!(err.to_string().contains("client_ca"), "{err}");
        config.client_ca = Some("ca.pem".into());
        let err = config.client_auth_settings().unwrap_err();
        assert!(err.to_string().contains("crl_url"), "{err}");
        config.crl_url = Some("http://127.0.0.1:7300/v1/pki/crl".into());
        let settings = config.client_auth_settings().unwrap().unwrap();
        assert_eq!(settings.refresh_every, Duration::from_millis(500));
        config.crl_refresh_secs = 2;
        assert_eq!(config.crl_refresh(), Duration::from_secs(2));
        config.crl_refresh_secs = 0;

        config
            .apply_env(|name| (name == "SF2C_VALIDATOR_CLIENT_AUTH").then(|| "false".into()))
            .unwrap();
        assert!(config.client_auth_settings().unwrap().is_none());
        assert!(
            Config::default()
                .apply_env(|name| (name == "SF2C_VALIDATOR_CLIENT_AUTH").then(|| "no".into()))
                .is_err()
        );
    }
}
