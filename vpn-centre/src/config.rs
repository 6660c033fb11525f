//! Service settings: defaults, then a TOML file, then environment, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::autoban::AutoBanPolicy;
use crate::http::DEFAULT_BODY_LIMIT;
use crate::ledger_timeouts::LedgerTimeouts;
use crate::tls_listener::ListenerSettings;

/// Environment variable overriding `listen`.
pub const ENV_LISTEN: &str = "SF2C_VPN_LISTEN";
/// Environment variable overriding `mtls_listen`.
pub const ENV_MTLS_LISTEN: &str = "SF2C_VPN_MTLS_LISTEN";
/// Environment variable overriding `data_dir`.
pub const ENV_DATA_DIR: &str = "SF2C_VPN_DATA_DIR";
/// Environment variable overriding `network`.
pub const ENV_NETWORK: &str = "SF2C_VPN_NETWORK";
/// Environment variable overriding `org`.
pub const ENV_ORG: &str = "SF2C_VPN_ORG";
/// Environment variable overriding `identity`.
pub const ENV_IDENTITY: &str = "SF2C_VPN_IDENTITY";
/// Environment variable overriding `listeners.max_connections`.
pub const ENV_MAX_CONNECTIONS: &str = "SF2C_VPN_MAX_CONNECTIONS";
/// Environment variable overriding `listeners.header_read_timeout_seconds`.
pub const ENV_HEADER_READ_TIMEOUT: &str = "SF2C_VPN_HEADER_READ_TIMEOUT_SECONDS";
/// Environment variable overriding `listeners.idle_timeout_seconds`.
pub const ENV_IDLE_TIMEOUT: &str = "SF2C_VPN_IDLE_TIMEOUT_SECONDS";

/// How logs are written (`log_format` in the file, `--log-format` on the command line).
pub use service_log::LogFormat;

/// Settings of `vpn-centre serve`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Operators' listener: dashboard, enrolment, CA and CRL. HTTPS with the centre's own
    /// certificate, or plain HTTP with `insecure_dev_cookies` (loopback only).
    pub listen: SocketAddr,
    /// Validators' listener: the warnings API, mutual TLS with client certificates from our CA.
    pub mtls_listen: SocketAddr,
    pub data_dir: PathBuf,
    pub body_limit_bytes: usize,
    pub log_format: LogFormat,
    /// Operators file (`NAME:ARGON2ID-HASH` lines); `DATA_DIR/operators` when unset.
    pub operators_file: Option<PathBuf>,
    /// Base URL of the cloud sink whose counts the Requests page shows.
    pub sink_url: Option<String>,
    /// Minutes a dashboard session may stay unused.
    pub session_idle_minutes: u64,
    /// Drops `Secure` from the session cookie so a browser keeps it over plain HTTP.
    /// Development only: refused unless `listen` is a loopback address.
    pub insecure_dev_cookies: bool,
    /// CA files and PKI database; `DATA_DIR/pki` when unset.
    pub pki_dir: Option<PathBuf>,
    /// Virtual networks (CIDR) addresses are leased from: at most one IPv4 and one IPv6.
    pub virtual_networks: Vec<String>,
    /// Host names of the centre's own certificate (both listeners), besides `vpn-centre`.
    pub server_names: Vec<String>,
    /// Host names written into enrolled validators' certificates besides their virtual IPs
    /// (gateways reaching validators by another address, e.g. loopback in a local demo). Other
    /// services get their own names at `vpn-centre cert issue-service --server-name`.
    pub validator_server_names: Vec<String>,
    /// Days a device certificate stays valid.
    pub cert_validity_days: u64,
    /// Seconds between checks for revocations made by another process (`vpn-centre revoke`).
    pub crl_sync_seconds: u64,
    pub autoban: AutoBanPolicy,
    pub wireguard: WireGuardHub,
    /// `network.json` of the Fabric network holding the device registry; without it (and `org`)
    /// the centre runs with no ledger: no enrolment, no bans, "ledger not connected".
    pub network: Option<PathBuf>,
    /// Organisation (short name or MSP ID in `network.json`) whose peer the centre talks to.
    pub org: Option<String>,
    /// Identity the centre signs with: `admin` (default; bans and virtual IPs need a registry
    /// administrator), `client`, or an MSP folder of the organisation.
    pub identity: String,
    /// Days a warning is kept (on the centre's clock); 0 keeps warnings forever.
    pub warnings_max_age_days: u64,
    /// Most warning rows kept, the oldest going first; 0 lifts the bound.
    pub warnings_max_rows: u64,
    /// Connection limits and timeouts of each of the two listeners (`[listeners]`).
    pub listeners: ListenerSettings,
    /// Seconds each kind of ledger call may take (`[ledger_timeouts]`).
    pub ledger_timeouts: LedgerTimeouts,
}

/// The VPN hub devices tunnel to (`[wireguard]`), used by `vpn-centre wireguard`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WireGuardHub {
    /// Base64 public key of the hub (`wg pubkey`).
    pub hub_public_key: Option<String>,
    /// `host:port` devices connect to.
    pub hub_endpoint: Option<String>,
    pub persistent_keepalive: Option<u16>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7300)),
            mtls_listen: SocketAddr::from(([127, 0, 0, 1], 7301)),
            data_dir: PathBuf::from("vpn-centre-data"),
            body_limit_bytes: DEFAULT_BODY_LIMIT,
            log_format: LogFormat::Human,
            operators_file: None,
            sink_url: None,
            session_idle_minutes: 30,
            insecure_dev_cookies: false,
            pki_dir: None,
            virtual_networks: vec!["10.8.0.0/16".into(), "fd00:8::/64".into()],
            server_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            validator_server_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            cert_validity_days: 90,
            crl_sync_seconds: 2,
            autoban: AutoBanPolicy::default(),
            wireguard: WireGuardHub::default(),
            network: None,
            org: None,
            identity: "admin".into(),
            warnings_max_age_days: 30,
            warnings_max_rows: crate::warnings_retention::DEFAULT_MAX_ROWS,
            listeners: ListenerSettings::default(),
            ledger_timeouts: LedgerTimeouts::default(),
        }
    }
}

/// Why settings could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{name}={value:?} is not a socket address like 127.0.0.1:7300")]
    BadListen { name: &'static str, value: String },
    #[error(
        "insecure_dev_cookies is only allowed on a loopback address, not {0}; serve over TLS instead"
    )]
    InsecureCookiesOffLoopback(SocketAddr),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Defaults overlaid by `file` (if given) and then by the environment `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?
            }
            None => Config::default(),
        };
        if let Some(value) = env(ENV_LISTEN) {
            config.listen = value.parse().map_err(|_| ConfigError::BadListen {
                name: ENV_LISTEN,
                value: value.clone(),
            })?;
        }
        if let Some(value) = env(ENV_MTLS_LISTEN) {
            config.mtls_listen = value.parse().map_err(|_| ConfigError::BadListen {
                name: ENV_MTLS_LISTEN,
                value: value.clone(),
            })?;
        }
        if let Some(value) = env(ENV_DATA_DIR) {
            config.data_dir = PathBuf::from(value);
        }
        if let Some(value) = env(ENV_NETWORK) {
            config.network = Some(PathBuf::from(value));
        }
        if let Some(value) = env(ENV_ORG) {
            config.org = Some(value);
        }
        if let Some(value) = env(ENV_IDENTITY) {
            config.identity = value;
        }
        let number = |name: &'static str| -> Result<Option<u64>, ConfigError> {
            env(name)
                .map(|v| {
                    v.parse().map_err(|_| {
                        ConfigError::Invalid(format!("{name}={v:?} is not a whole number"))
                    })
                })
                .transpose()
        };
        if let Some(n) = number(ENV_MAX_CONNECTIONS)? {
            config.listeners.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = number(ENV_HEADER_READ_TIMEOUT)? {
            config.listeners.header_read_timeout_seconds = n;
        }
        if let Some(n) = number(ENV_IDLE_TIMEOUT)? {
            config.listeners.idle_timeout_seconds = n;
        }
        Ok(config)
    }

    /// Refuses combinations that would weaken a reachable deployment.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.insecure_dev_cookies && !self.listen.ip().is_loopback() {
            return Err(ConfigError::InsecureCookiesOffLoopback(self.listen));
        }
        self.autoban.check().map_err(ConfigError::Invalid)?;
        crate::pki::parse_networks(&self.virtual_networks).map_err(ConfigError::Invalid)?;
        if self.network.is_some() != self.org.is_some() {
            return Err(ConfigError::Invalid(
                "the ledger needs both `network` (the network.json path) and `org` (e.g. Org1); \
                 give both, or neither to run without a ledger"
                    .into(),
            ));
        }
        self.listeners.check().map_err(ConfigError::Invalid)?;
        self.ledger_timeouts.check().map_err(ConfigError::Invalid)?;
        if self.cert_validity_days == 0 || self.crl_sync_seconds == 0 {
            return Err(ConfigError::Invalid(
                "cert_validity_days and crl_sync_seconds must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The PKI directory: configured, or `pki` inside the data directory.
    pub fn pki_path(&self) -> PathBuf {
        self.pki_dir
            .clone()
            .unwrap_or_else(|| crate::pki::pki_dir(&self.data_dir))
    }

    /// PKI settings derived from this configuration.
    pub fn pki_settings(&self) -> Result<crate::pki::PkiSettings, ConfigError> {
        Ok(crate::pki::PkiSettings {
            dir: self.pki_path(),
            networks: crate::pki::parse_networks(&self.virtual_networks)
                .map_err(ConfigError::Invalid)?,
            enrolment: vpn_pki::EnrolmentConfig {
                leaf_validity: std::time::Duration::from_secs(self.cert_validity_days * 86_400),
                server_names: self.validator_server_names.clone(),
                ..vpn_pki::EnrolmentConfig::default()
            },
        })
    }

    /// Where the registry is, when both `network` and `org` are set.
    pub fn ledger_settings(&self) -> Option<fabric_client::LedgerSettings> {
        Some(fabric_client::LedgerSettings {
            network: self.network.clone()?,
            org: self.org.clone()?,
            identity: self.identity.clone(),
        })
    }

    /// The operators file: configured, or `operators` inside the data directory.
    pub fn operators_path(&self) -> PathBuf {
        self.operators_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("operators"))
    }

    /// How long and how many warnings the store keeps.
    pub fn warnings_retention(&self) -> crate::Retention {
        crate::Retention {
            max_age: (self.warnings_max_age_days > 0).then(|| {
                std::time::Duration::from_secs(self.warnings_max_age_days.saturating_mul(86_400))
            }),
            max_rows: (self.warnings_max_rows > 0).then_some(self.warnings_max_rows),
        }
    }

    /// The SQLite file inside the data directory.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("warnings.sqlite3")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centre.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\nlog_format = \"json\"\n",
        )
        .unwrap();

        let only_file = Config::load(Some(&file), |_| None).unwrap();
        assert_eq!(only_file.listen.port(), 9000);
        assert_eq!(only_file.data_dir, PathBuf::from("/from/file"));
        assert_eq!(only_file.log_format, LogFormat::Json);
        assert_eq!(only_file.body_limit_bytes, DEFAULT_BODY_LIMIT);

        let env = |k: &str| (k == ENV_DATA_DIR).then(|| "/from/env".to_string());
        let overridden = Config::load(Some(&file), env).unwrap();
        assert_eq!(overridden.data_dir, PathBuf::from("/from/env"));
        assert_eq!(overridden.listen.port(), 9000);
    }

    #[test]
    fn pki_autoban_and_hub_settings_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centre.toml");
        std::fs::write(
            &file,
            "mtls_listen = \"127.0.0.1:9443\"\nvirtual_networks = [\"10.9.0.0/24\"]\n\
             [autoban]\nwarnings = 3\nvalidators = 3\nwindow_seconds = 10\n\
             [wireguard]\nhub_endpoint = \"vpn.example:51820\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), |_| None).unwrap();
        assert_eq!(config.mtls_listen.port(), 9443);
        // Validators get their own names; the centre's stay its own.
        assert_eq!(
            config.pki_settings().unwrap().enrolment.server_names,
            config.validator_server_names
        );
        assert!(config.autoban.enabled);
        assert_eq!(
            config.autoban.to_string(),
            "auto-ban: 3 warnings from 3 validators within 10 s"
        );
        assert_eq!(
            config.wireguard.hub_endpoint.as_deref(),
            Some("vpn.example:51820")
        );
        let pki = config.pki_settings().unwrap();
        assert_eq!(pki.networks.len(), 1);
        assert_eq!(pki.dir, config.data_dir.join("pki"));
        assert!(config.check().is_ok());

        let bad = Config {
            virtual_networks: vec!["10.9.0.0/33".into()],
            ..Config::default()
        };
        assert!(matches!(bad.check(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn the_ledger_needs_network_and_org_together() {
        let config = Config::default();
        assert_eq!(config.ledger_settings(), None);
        assert_eq!(config.identity, "admin");
        let env = |k: &str| (k == ENV_NETWORK).then(|| "/run/network.json".to_string());
        let half = Config::load(None, env).unwrap();
        assert!(matches!(half.check(), Err(ConfigError::Invalid(m)) if m.contains("org")));
        let env = |k: &str| match k {
            ENV_NETWORK => Some("/run/network.json".to_string()),
            ENV_ORG => Some("Org2".to_string()),
            ENV_IDENTITY => Some("/msp/ops".to_string()),
            _ => None,
        };
        let full = Config::load(None, env).unwrap();
        assert!(full.check().is_ok());
        let ledger = full.ledger_settings().unwrap();
        assert_eq!(ledger.network, PathBuf::from("/run/network.json"));
        assert_eq!(
            (ledger.org.as_str(), ledger.identity.as_str()),
            ("Org2", "/msp/ops")
        );
    }

    #[test]
    fn bad_values_are_reported() {
        let env = |k: &str| (k == ENV_LISTEN).then(|| "localhost".to_string());
        let err = Config::load(None, env).unwrap_err();
        assert!(err.to_string().contains(ENV_LISTEN), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centre.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
        let err = Config::load(Some(&file), |_| None).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
    }

    #[test]
    fn plain_http_cookies_only_on_loopback() {
        let mut config = Config {
            insecure_dev_cookies: true,
            ..Config::default()
        };
        assert!(config.check().is_ok());
        config.listen = "0.0.0.0:7300".parse().unwrap();
        assert!(matches!(
            config.check(),
            Err(ConfigError::InsecureCookiesOffLoopback(_))
        ));
        config.insecure_dev_cookies = false;
        assert!(config.check().is_ok());
        config.autoban.validators = 9;
        assert!(matches!(config.check(), Err(ConfigError::Invalid(_))));
        assert_eq!(config.operators_path(), config.data_dir.join("operators"));
    }
}
