//! Validator configuration: defaults, a TOML file ([`schema`]), then `SF2C_VALIDATOR_*` environment
//! variables ([`env`]), then command-line flags (`main.rs`), layered by `runtime::config`; checked
//! once by [`Config::validate`].

pub mod duration;
mod env;
mod schema;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use runtime::ConfigError;
pub use schema::{Config, Forward, Limits, Recent, RegistryConfig, Replay, Tls, Warnings};

use crate::client_auth::{ClientAuthError, ClientAuthSettings};
use crate::outbound::ClientTls;
use crate::server::ServerLimits;
use crate::validator::MessageLimits;
use fabric_client::LedgerSettings;

impl Config {
    /// Checks the bounds that only make sense together: a staleness bound longer than the probe
    /// interval (else a healthy validator would turn stale between two probes), and a CRL age bound
    /// longer than the CRL refresh interval.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, value: Duration, reason: String| {
            ConfigError::invalid(key, format!("{} {reason}", duration::show(value)))
        };
        let r = &self.registry;
        if r.probe_interval < Duration::from_millis(100) {
            return Err(invalid(
                "registry.probe_interval",
                r.probe_interval,
                "must be at least 100ms".into(),
            ));
        }
        if r.max_staleness <= r.probe_interval {
            return Err(invalid(
                "registry.max_staleness",
                r.max_staleness,
                format!(
                    "must be longer than registry.probe_interval ({}), or a healthy validator \
                     turns stale between two probes; the default is 30s",
                    duration::show(r.probe_interval)
                ),
            ));
        }
        let refresh = self.crl_refresh();
        if self.client_auth && self.tls.crl_max_age <= refresh {
            return Err(invalid(
                "tls.crl_max_age",
                self.tls.crl_max_age,
                format!(
                    "must be longer than the CRL refresh interval ({}), or the CRL turns stale \
                     between two fetches; the default is 10m",
                    duration::show(refresh)
                ),
            ));
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
            crl_max_age: self.tls.crl_max_age,
        }))
    }

    /// Where the registry is read from; both `network` and `org` are required.
    pub fn ledger_settings(&self) -> Result<LedgerSettings, ConfigError> {
        let no_ledger = |missing: &str| {
            ConfigError::invalid(
                missing,
                format!(
                    "no ledger configured: set `network` (the network.json path) and `org` (e.g. \
                     Org1), by flag, config file or SF2C_VALIDATOR_NETWORK / SF2C_VALIDATOR_ORG; \
                     missing: {missing}"
                ),
            )
        };
        Ok(LedgerSettings {
            network: self.network.clone().ok_or_else(|| no_ledger("network"))?,
            org: self.org.clone().ok_or_else(|| no_ledger("org"))?,
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
