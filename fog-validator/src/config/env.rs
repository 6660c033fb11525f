//! The second layer of the configuration: `SF2C_VALIDATOR_*` environment variables over the file.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Config, ConfigError, duration};

impl Config {
    /// Applies `SF2C_VALIDATOR_{ID,LISTEN,OPS_LISTEN,DATA_DIR,SINK_URL,VPN_URL,TLS_CERT,TLS_KEY}`,
    /// `SF2C_VALIDATOR_{CLIENT_AUTH,CLIENT_CA,CRL_URL,CRL_REFRESH_SECS,CRL_REFRESH_MS,CA,CLIENT_CERT,CLIENT_KEY}`,
    /// `SF2C_VALIDATOR_{NETWORK,ORG,IDENTITY}`,
    /// `SF2C_VALIDATOR_REGISTRY_{MAX_STALENESS,PROBE_INTERVAL}` and `SF2C_VALIDATOR_TLS_CRL_MAX_AGE`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let addr = |name: &'static str, value: String| {
            value.parse::<SocketAddr>().map_err(|e| ConfigError::Env {
                name,
                value,
                reason: format!("{e}; expected IP:PORT"),
            })
        };
        let period = |name: &'static str, value: String| -> Result<Duration, ConfigError> {
            duration::parse(&value).map_err(|reason| ConfigError::Env {
                name,
                value,
                reason,
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
        if let Some(v) = var("SF2C_VALIDATOR_REGISTRY_MAX_STALENESS") {
            self.registry.max_staleness = period("SF2C_VALIDATOR_REGISTRY_MAX_STALENESS", v)?;
        }
        if let Some(v) = var("SF2C_VALIDATOR_REGISTRY_PROBE_INTERVAL") {
            self.registry.probe_interval = period("SF2C_VALIDATOR_REGISTRY_PROBE_INTERVAL", v)?;
        }
        if let Some(v) = var("SF2C_VALIDATOR_TLS_CRL_MAX_AGE") {
            self.tls.crl_max_age = period("SF2C_VALIDATOR_TLS_CRL_MAX_AGE", v)?;
        }
        Ok(())
    }
}
