//! `fog-validator` command line: loads the configuration, starts the validator and stops it on a signal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fog_validator::{Config, FabricRegistrySource};
use service_log::LogFormat;

#[derive(Parser)]
#[command(
    version,
    about = "Fog validator of SF2C-BC: verifies signed telemetry against the device registry"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve JSON-RPC over HTTPS until SIGINT/SIGTERM.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML configuration file; flags and SF2C_VALIDATOR_* variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// HTTPS listen address, e.g. 127.0.0.1:7443.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Plain-HTTP address for /healthz and /metrics, e.g. 127.0.0.1:7444.
    #[arg(long)]
    ops_listen: Option<SocketAddr>,
    /// Validator id used in forwarded records and warnings.
    #[arg(long)]
    id: Option<String>,
    /// Cloud sink base URL, e.g. http://127.0.0.1:7400.
    #[arg(long)]
    sink_url: Option<String>,
    /// VPN Centre base URL, e.g. http://127.0.0.1:7300.
    #[arg(long)]
    vpn_url: Option<String>,
    /// Directory for the spool, sequence store and registry checkpoint.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// PEM certificate chain of the HTTPS listener.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the HTTPS listener.
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// PEM certificate of the VPN Centre's CA; gateways must present a certificate it issued.
    #[arg(long)]
    client_ca: Option<PathBuf>,
    /// The VPN Centre's CRL URL, fetched before serving and refreshed every crl_refresh_ms (500 ms by default).
    #[arg(long)]
    crl_url: Option<String>,
    /// network.json of the Fabric network holding the device registry.
    #[arg(long)]
    network: Option<PathBuf>,
    /// Organisation whose peer to read from (short name or MSP ID in network.json), e.g. Org1.
    #[arg(long)]
    org: Option<String>,
    /// Identity to read the ledger as: client (default), admin, or an MSP folder of the organisation.
    #[arg(long)]
    identity: Option<String>,
    /// Longest time the registry cache may go unconfirmed by the ledger before every submit is
    /// refused with 1009, e.g. 30s (registry.max_staleness).
    #[arg(long, value_parser = fog_validator::config::duration::parse)]
    registry_max_staleness: Option<Duration>,
    /// Longest time since the CRL was last fetched before it is stale and new gateway handshakes
    /// are refused, e.g. 10m (tls.crl_max_age).
    #[arg(long, value_parser = fog_validator::config::duration::parse)]
    crl_max_age: Option<Duration>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    service_log::init(cli.log_format);
    let Command::Serve(args) = cli.command;
    let config = configure(args)?;
    tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")?
        .block_on(serve(config))
}

fn configure(args: ServeArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.ops_listen {
        config.ops_listen = Some(v);
    }
    if let Some(v) = args.id {
        config.id = v;
    }
    if let Some(v) = args.sink_url {
        config.sink_url = v;
    }
    if let Some(v) = args.vpn_url {
        config.vpn_url = Some(v);
    }
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = args.tls_cert {
        config.tls_cert = Some(v);
    }
    if let Some(v) = args.tls_key {
        config.tls_key = Some(v);
    }
    if let Some(v) = args.client_ca {
        config.client_ca = Some(v);
    }
    if let Some(v) = args.crl_url {
        config.crl_url = Some(v);
    }
    if let Some(v) = args.network {
        config.network = Some(v);
    }
    if let Some(v) = args.org {
        config.org = Some(v);
    }
    if let Some(v) = args.identity {
        config.identity = v;
    }
    if let Some(v) = args.registry_max_staleness {
        config.registry.max_staleness = v;
    }
    if let Some(v) = args.crl_max_age {
        config.tls.crl_max_age = v;
    }
    config.validate()?;
    Ok(config)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let ledger = config.ledger_settings()?;
    let source = FabricRegistrySource::from_settings(&ledger).with_context(|| {
        format!(
            "cannot prepare the ledger connection from {} (org {}, identity {})",
            ledger.network.display(),
            ledger.org,
            ledger.identity
        )
    })?;
    tracing::info!(network = %ledger.network.display(), org = %ledger.org, identity = %ledger.identity,
        "registry read from the Fabric ledger");
    let source = Arc::new(source);
    let running = fog_validator::start(&config, source)
        .await
        .context("fog validator did not start")?;
    wait_for_signal().await?;
    tracing::info!("shutting down: draining connections, saving state");
    running.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
