//! The `vpn-centre` command line: `serve` and its flags over the config file and environment, and
//! the one-shot commands (operators, warnings, tokens, enrolment, certificates, revocation,
//! WireGuard) that [`run`] carries out.

pub mod operator;
pub mod pki;
pub mod token_input;
pub mod warnings;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use runtime::LogArgs;
use runtime::config::{flag, flag_some};

use crate::config::{Config, ConfigError};

#[derive(Parser)]
#[command(
    name = "vpn-centre",
    version,
    about = "SF2C-BC VPN Centre: PKI and enrolment, warnings from fog validators, auto-ban and the operators' dashboard"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the operators' listener (dashboard, enrolment, PKI) and the validators' mTLS listener.
    Serve(ServeArgs),
    /// Manage the operators who may log in to the dashboard.
    Operator {
        #[command(subcommand)]
        action: operator::OperatorAction,
    },
    /// Inspect or prune the warnings of a running centre, on its mutual-TLS listener.
    Warnings(warnings::WarningsArgs),
    /// One-time enrolment tokens.
    Token {
        #[command(subcommand)]
        action: pki::TokenAction,
    },
    /// Device side: send a token and key to `/v1/enrol`, write the certificate and CA.
    Enrol(pki::EnrolArgs),
    /// Certificates for services that are not registered devices (cloud sink, operator tools).
    Cert {
        #[command(subcommand)]
        action: pki::CertAction,
    },
    /// Revoke every certificate of a device or service now.
    Revoke(pki::RevokeArgs),
    /// Print the WireGuard configuration of an enrolled device.
    Wireguard(pki::WireguardArgs),
}

/// The flags of `vpn-centre serve`; each wins over the config file and its `SF2C_VPN_*` variable.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Operators' address (overrides config file and SF2C_VPN_LISTEN).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Validators' mutual-TLS address (overrides config file and SF2C_VPN_MTLS_LISTEN).
    #[arg(long)]
    pub mtls_listen: Option<SocketAddr>,
    /// Directory holding the warnings database (overrides config file and SF2C_VPN_DATA_DIR).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// TOML config file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Cloud sink whose accepted requests the dashboard shows, e.g. http://127.0.0.1:7400; an
    /// https:// sink must hold a certificate from this centre's CA (mutual TLS).
    #[arg(long)]
    pub sink_url: Option<String>,
    /// Development only: session cookie without `Secure`, for plain HTTP on loopback.
    #[arg(long)]
    pub insecure_dev_cookies: bool,
    /// network.json of the Fabric network holding the device registry (with --org).
    #[arg(long)]
    pub network: Option<PathBuf>,
    /// Organisation whose peer to use (short name or MSP ID in network.json), e.g. Org1.
    #[arg(long)]
    pub org: Option<String>,
    /// Identity to sign with: admin (default), client, or an MSP folder of the organisation.
    #[arg(long)]
    pub identity: Option<String>,
    /// Most connections open at once on each listener (overrides config file and
    /// SF2C_VPN_MAX_CONNECTIONS).
    #[arg(long)]
    pub max_connections: Option<usize>,
}

impl ServeArgs {
    /// Defaults, the config file, `SF2C_VPN_*` variables, then these flags; checked.
    pub fn settings(self) -> Result<Config, ConfigError> {
        let file = self.config.clone();
        Config::load_checked(file.as_deref(), |settings| self.apply(settings))
    }

    fn apply(self, settings: &mut Config) {
        flag(&mut settings.listen, self.listen);
        flag(&mut settings.mtls_listen, self.mtls_listen);
        flag(&mut settings.data_dir, self.data_dir);
        flag_some(&mut settings.sink_url, self.sink_url);
        settings.insecure_dev_cookies |= self.insecure_dev_cookies;
        flag_some(&mut settings.network, self.network);
        flag_some(&mut settings.org, self.org);
        flag(&mut settings.identity, self.identity);
        flag(
            &mut settings.listeners.max_connections,
            self.max_connections,
        );
    }
}

/// Runs a one-shot command (every command but `serve`, which [`crate::start::run`] serves).
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => anyhow::bail!("`serve` runs through `vpn_centre::start::run`"),
        Command::Operator { action } => operator::run(action),
        Command::Warnings(args) => warnings::run(args).await,
        Command::Token { action } => pki::token(action).await,
        Command::Enrol(args) => pki::enrol(args).await,
        Command::Cert { action } => pki::cert(action).await,
        Command::Revoke(args) => pki::revoke(args).await,
        Command::Wireguard(args) => pki::wireguard(args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(args: &[&str]) -> ServeArgs {
        let argv = ["vpn-centre", "serve"].iter().chain(args).copied();
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => args,
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn serve_flags_win_over_the_file_and_the_result_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centre.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nidentity = \"client\"\n[listeners]\nmax_connections = 5\n",
        )
        .unwrap();
        let config = file.to_str().unwrap();
        let settings = serve_args(&["--config", config, "--listen", "127.0.0.1:9100"])
            .settings()
            .unwrap();
        assert_eq!(settings.listen.port(), 9100);
        assert_eq!(settings.identity, "client", "no --identity: the file's");
        assert_eq!(settings.listeners.max_connections, 5);

        let mut settings = Config::default();
        serve_args(&["--max-connections", "9", "--insecure-dev-cookies"]).apply(&mut settings);
        assert_eq!(settings.listeners.max_connections, 9);
        assert!(settings.insecure_dev_cookies);

        let err = serve_args(&["--config", config, "--org", "Org1"])
            .settings()
            .unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { key, .. } if key == "network"),
            "{err:?}"
        );
    }
}
