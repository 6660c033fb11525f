//! `fog-validator` command line: parses the flags, layers them over the file and the environment,
//! and runs the validator (`fog_validator::run`) until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fog_validator::Config;
use runtime::config::{self, flag, flag_some};
use runtime::{LogArgs, LogFormat, Logging};

#[derive(Parser)]
#[command(
    version,
    about = "Fog validator of SF2C-BC: verifies signed telemetry against the device registry"
)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
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
    /// The VPN Centre's CRL URL, fetched before serving and refreshed every crl_refresh_ms (250 ms by default).
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

impl ServeArgs {
    /// The flags' layer: each flag given replaces what the file and the environment set.
    fn apply(self, config: &mut Config) {
        flag(&mut config.listen, self.listen);
        flag_some(&mut config.ops_listen, self.ops_listen);
        flag(&mut config.id, self.id);
        flag(&mut config.sink_url, self.sink_url);
        flag_some(&mut config.vpn_url, self.vpn_url);
        flag(&mut config.data_dir, self.data_dir);
        flag_some(&mut config.tls_cert, self.tls_cert);
        flag_some(&mut config.tls_key, self.tls_key);
        flag_some(&mut config.client_ca, self.client_ca);
        flag_some(&mut config.crl_url, self.crl_url);
        flag_some(&mut config.network, self.network);
        flag_some(&mut config.org, self.org);
        flag(&mut config.identity, self.identity);
        flag(
            &mut config.registry.max_staleness,
            self.registry_max_staleness,
        );
        flag(&mut config.tls.crl_max_age, self.crl_max_age);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logging = Logging::from(cli.log.format_or(LogFormat::Human));
    let Command::Serve(mut args) = cli.command;
    runtime::serve(Some(logging), |shutdown| async move {
        let file = args.config.take();
        let config = config::load(file.as_deref(), config::process_env, |c| args.apply(c))?;
        fog_validator::run(config, shutdown)
            .await
            .context("fog validator did not start")
    })
}
