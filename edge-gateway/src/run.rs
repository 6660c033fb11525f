//! The daemon as a service: start the gateway, run until shutdown, a ban ends it with status 3.

use runtime::{Exit, Shutdown};

use crate::config::Config;
use crate::error::GatewayError;
use crate::gateway::Gateway;

/// Exit status when a validator answered 1003 (device banned on the registry): supervisors must
/// not restart on it.
pub const EXIT_BANNED: u8 = 3;

/// Starts the gateway from `config` and runs it until `shutdown` fires or a task fails; then
/// stops it cleanly, undelivered messages staying queued. A ban becomes an [`Exit`] with
/// [`EXIT_BANNED`].
pub async fn run(config: &Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let gateway = Gateway::start(config).await?;
    if let Some(addr) = gateway.metrics_addr() {
        tracing::info!(%addr, "serving /metrics and /health");
    }
    tracing::info!(device = %config.device_uuid, validators = ?config.validators, "edge gateway running");
    match gateway.run_until(shutdown.wait_owned()).await {
        Ok(()) => {
            tracing::info!("edge gateway stopped; undelivered messages stay queued");
            Ok(())
        }
        // Already logged by the sender; the distinct status tells supervisors not to restart.
        Err(banned @ GatewayError::Banned { .. }) => Err(Exit::new(EXIT_BANNED, banned).into()),
        Err(error) => Err(error.into()),
    }
}
