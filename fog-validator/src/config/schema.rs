//! The configuration file's schema: every key, its meaning and its default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::duration;

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
    /// Milliseconds between CRL refreshes (default 250, at least 50): a revoked gateway is refused
    /// and its open connections closed within about this long. The centre serves the CRL from memory.
    pub crl_refresh_ms: u64,
    /// Older setting in whole seconds; when non-zero it overrides `crl_refresh_ms`.
    pub crl_refresh_secs: u64,
    /// Refuse every gateway once the CRL is stale: older than `tls.crl_max_age` or past its
    /// nextUpdate (fail closed if the centre stays unreachable).
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
    pub tls: Tls,
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
    /// No longer used: every accepted sequence number is on disk before its answer. Still
    /// accepted so existing files keep loading.
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
    /// How long the cache may go without being known current (event stream up and a ledger probe
    /// answered, or an event received) before every submit is refused with 1009.
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_staleness: Duration,
    /// Time between ledger probes while the event stream is up; also each probe's timeout.
    #[serde(deserialize_with = "duration::deserialize")]
    pub probe_interval: Duration,
}

/// `[tls]`: how long the listener trusts the CRL it holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// Longest time since the CRL in force was last confirmed by a fetch before it is stale: then
    /// `/healthz` answers `crl_stale` and, with `crl_enforce_expiry`, new handshakes are refused.
    #[serde(deserialize_with = "duration::deserialize")]
    pub crl_max_age: Duration,
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
            crl_refresh_ms: 250,
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
            tls: Tls::default(),
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
            max_staleness: Duration::from_secs(30),
            probe_interval: Duration::from_secs(5),
        }
    }
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            crl_max_age: vpn_pki::crl_refresher::DEFAULT_CRL_MAX_AGE,
        }
    }
}
