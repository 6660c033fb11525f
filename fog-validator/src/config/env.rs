//! The environment layer of the configuration: `SF2C_VALIDATOR_*` variables over the file, as
//! `runtime::config` layers them.

use std::net::SocketAddr;
use std::time::Duration;

use runtime::config::{Env, Layered};

use super::{Config, ConfigError, duration};

impl Layered for Config {
    const ENV_PREFIX: &'static str = "SF2C_VALIDATOR_";

    /// Applies `SF2C_VALIDATOR_{ID,LISTEN,OPS_LISTEN,DATA_DIR,SINK_URL,VPN_URL,TLS_CERT,TLS_KEY}`,
    /// `SF2C_VALIDATOR_{CLIENT_AUTH,CLIENT_CA,CRL_URL,CRL_REFRESH_SECS,CRL_REFRESH_MS,CA,CLIENT_CERT,CLIENT_KEY}`,
    /// `SF2C_VALIDATOR_{NETWORK,ORG,IDENTITY}`,
    /// `SF2C_VALIDATOR_REGISTRY_{MAX_STALENESS,PROBE_INTERVAL}` and `SF2C_VALIDATOR_TLS_CRL_MAX_AGE`.
    fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        env.set("ID", &mut self.id)?;
        set_addr(env, "LISTEN", &mut self.listen)?;
        if let Some(addr) = address(env, "OPS_LISTEN")? {
            self.ops_listen = Some(addr);
        }
        env.set("DATA_DIR", &mut self.data_dir)?;
        env.set("SINK_URL", &mut self.sink_url)?;
        env.set_some("VPN_URL", &mut self.vpn_url)?;
        env.set_some("TLS_CERT", &mut self.tls_cert)?;
        env.set_some("TLS_KEY", &mut self.tls_key)?;
        if let Some(on) = env.parse_with("CLIENT_AUTH", |text| {
            text.parse::<bool>()
                .map_err(|_| "expected true or false".to_string())
        })? {
            self.client_auth = on;
        }
        env.set_some("CLIENT_CA", &mut self.client_ca)?;
        env.set_some("CRL_URL", &mut self.crl_url)?;
        env.set_some("CA", &mut self.ca)?;
        env.set_some("CLIENT_CERT", &mut self.client_cert)?;
        env.set_some("CLIENT_KEY", &mut self.client_key)?;
        env.set_some("NETWORK", &mut self.network)?;
        env.set_some("ORG", &mut self.org)?;
        env.set("IDENTITY", &mut self.identity)?;
        set_whole(
            env,
            "CRL_REFRESH_SECS",
            "seconds",
            &mut self.crl_refresh_secs,
        )?;
        set_whole(
            env,
            "CRL_REFRESH_MS",
            "milliseconds",
            &mut self.crl_refresh_ms,
        )?;
        set_period(
            env,
            "REGISTRY_MAX_STALENESS",
            &mut self.registry.max_staleness,
        )?;
        set_period(
            env,
            "REGISTRY_PROBE_INTERVAL",
            &mut self.registry.probe_interval,
        )?;
        set_period(env, "TLS_CRL_MAX_AGE", &mut self.tls.crl_max_age)
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.validate()
    }
}

/// `key`'s socket address, with a hint at the expected form when it does not parse.
fn address(env: &Env<'_>, key: &str) -> Result<Option<SocketAddr>, ConfigError> {
    env.parse_with(key, |text| {
        text.parse::<SocketAddr>()
            .map_err(|e| format!("{e}; expected IP:PORT"))
    })
}

fn set_addr(env: &Env<'_>, key: &str, field: &mut SocketAddr) -> Result<(), ConfigError> {
    if let Some(addr) = address(env, key)? {
        *field = addr;
    }
    Ok(())
}

/// A whole number of `unit`s.
fn set_whole(env: &Env<'_>, key: &str, unit: &str, field: &mut u64) -> Result<(), ConfigError> {
    if let Some(n) = env.parse_with(key, |text| {
        text.parse::<u64>()
            .map_err(|e| format!("{e}; expected whole {unit}"))
    })? {
        *field = n;
    }
    Ok(())
}

/// A duration with its unit (`30s`), as in the file.
fn set_period(env: &Env<'_>, key: &str, field: &mut Duration) -> Result<(), ConfigError> {
    if let Some(period) = env.parse_with(key, duration::parse)? {
        *field = period;
    }
    Ok(())
}
