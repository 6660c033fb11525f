//! Settings of `vpn-centre serve`: defaults, then a TOML file, then `SF2C_VPN_*` variables, then
//! command-line flags, layered by [`runtime::config`] with its one [`ConfigError`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use runtime::config::{self, Env, Layered};
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

pub use runtime::ConfigError;
/// How logs are written (`log_format` in the file, `--log-format` on the command line).
pub use runtime::LogFormat;

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

impl Layered for Config {
    const ENV_PREFIX: &'static str = "SF2C_VPN_";

    fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        env.set(key(ENV_LISTEN), &mut self.listen)?;
        env.set(key(ENV_MTLS_LISTEN), &mut self.mtls_listen)?;
        env.set(key(ENV_DATA_DIR), &mut self.data_dir)?;
        env.set_some(key(ENV_NETWORK), &mut self.network)?;
        env.set_some(key(ENV_ORG), &mut self.org)?;
        env.set(key(ENV_IDENTITY), &mut self.identity)?;
        let listeners = &mut self.listeners;
        env.set(key(ENV_MAX_CONNECTIONS), &mut listeners.max_connections)?;
        env.set(
            key(ENV_HEADER_READ_TIMEOUT),
            &mut listeners.header_read_timeout_seconds,
        )?;
        env.set(key(ENV_IDLE_TIMEOUT), &mut listeners.idle_timeout_seconds)
    }

    /// Refuses combinations that would weaken a reachable deployment, naming the key at fault.
    fn check(&self) -> Result<(), ConfigError> {
        if self.insecure_dev_cookies && !self.listen.ip().is_loopback() {
            return Err(ConfigError::invalid(
                "insecure_dev_cookies",
                format!(
                    "only allowed on a loopback address, not {}; serve over TLS instead",
                    self.listen
                ),
            ));
        }
        self.autoban
            .check()
            .map_err(|e| ConfigError::invalid("autoban", e))?;
        crate::pki::parse_networks(&self.virtual_networks)
            .map_err(|e| ConfigError::invalid("virtual_networks", e))?;
        if self.network.is_some() != self.org.is_some() {
            let missing = if self.network.is_some() {
                "org"
            } else {
                "network"
            };
            return Err(ConfigError::invalid(
                missing,
                "the ledger needs both `network` (the network.json path) and `org` (e.g. Org1); \
                 give both, or neither to run without a ledger",
            ));
        }
        self.listeners
            .check()
            .map_err(|e| ConfigError::invalid("listeners", e))?;
        self.ledger_timeouts
            .check()
            .map_err(|e| ConfigError::invalid("ledger_timeouts", e))?;
        for (key, value) in [
            ("cert_validity_days", self.cert_validity_days),
            ("crl_sync_seconds", self.crl_sync_seconds),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// `LISTEN` for `SF2C_VPN_LISTEN`: the key [`Env`] takes.
fn key(var: &str) -> &str {
    var.strip_prefix(Config::ENV_PREFIX).unwrap_or(var)
}

impl Config {
    /// Defaults overlaid by `file` (if given) and then by the variables `lookup` finds, without
    /// [`Layered::check`]: for commands that read only a few keys, and for tests.
    pub fn load(
        file: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => config::read_file(path)?,
            None => Config::default(),
        };
        config.apply_env(&Env::new(Self::ENV_PREFIX, &lookup))?;
        Ok(config)
    }

    /// Every layer (defaults, `file`, the process's `SF2C_VPN_*` variables, then `flags`), checked.
    pub fn load_checked(
        file: Option<&Path>,
        flags: impl FnOnce(&mut Config),
    ) -> Result<Self, ConfigError> {
        config::load(file, config::process_env, flags)
    }

    /// [`Layered::check`], callable without importing the trait.
    pub fn check(&self) -> Result<(), ConfigError> {
        Layered::check(self)
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
                .map_err(|e| ConfigError::invalid("virtual_networks", e))?,
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
mod tests;
