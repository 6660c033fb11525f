//! `device-registry serve`: runs the device registry contract as a chaincode server that Fabric
//! peers dial (chaincode-as-a-service).

mod peer_ledger;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chaincode_shim::{Contract, Response, ShimConfig, Stub, TlsFiles, failure, success};
use clap::{Parser, Subcommand};
use device_registry::Members;
use runtime::{LogArgs, LogFormat, Logging, Shutdown};
use tokio::net::TcpListener;

use peer_ledger::PeerLedger;

#[derive(Parser)]
#[command(
    name = "device-registry",
    version,
    about = "The SF2C-BC device registry chaincode"
)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the contract to peers (the peer connects using its connection.json).
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "CHAINCODE_SERVER_ADDRESS",
        default_value = "127.0.0.1:9999"
    )]
    address: String,
    /// Package ID reported by `peer lifecycle chaincode install` (label:hash).
    #[arg(long, env = "CHAINCODE_ID")]
    package_id: String,
    /// PEM certificate of this server; enables TLS.
    #[arg(long, env = "CHAINCODE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of this server.
    #[arg(long, env = "CHAINCODE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// PEM CA that peers' client certificates must chain to; makes client certificates required.
    #[arg(long, env = "CHAINCODE_CLIENT_CA", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Member organisations' MSP IDs, comma-separated (e.g. Org1MSP,Org2MSP). Every endorsing
    /// peer's server must get the same list: it shapes the key-level endorsement policy.
    #[arg(long, env = device_registry::MEMBERS_ENV, value_parser = parse_members)]
    member_msps: Option<Members>,
    /// Seconds a transaction waits for the peer to answer one ledger request.
    #[arg(long, default_value_t = 30)]
    response_timeout_secs: u64,
}

fn parse_members(text: &str) -> Result<Members, String> {
    Members::parse(text).map_err(|e| e.to_string())
}

/// The registry contract behind the shim.
struct RegistryContract {
    members: Members,
}

impl Contract for RegistryContract {
    fn invoke(&self, stub: &mut Stub) -> Response {
        let Some((function, args)) = stub.args().split_first() else {
            return failure("no function name given; pass the function as the first argument");
        };
        let Ok(function) = String::from_utf8(function.clone()) else {
            return failure("function name is not UTF-8 text");
        };
        let args = args.to_vec();
        let tx_id = stub.tx_id().to_string();
        let mut ledger = PeerLedger::new(stub);
        match device_registry::invoke(&mut ledger, &self.members, &function, &args) {
            Ok(payload) => {
                tracing::info!(%tx_id, %function, "transaction succeeded");
                success(payload)
            }
            Err(e) => {
                tracing::info!(%tx_id, %function, error = %e, "transaction refused");
                failure(e.to_string())
            }
        }
    }
}

async fn serve(args: ServeArgs, shutdown: Shutdown) -> anyhow::Result<()> {
    if args.package_id.trim().is_empty() {
        anyhow::bail!(
            "--package-id (CHAINCODE_ID) is empty; give the ID `peer lifecycle chaincode install` printed"
        );
    }
    let Some(members) = args.member_msps else {
        anyhow::bail!(
            "--member-msps ({}) is not set; give the channel's member MSP IDs, e.g. Org1MSP,Org2MSP",
            device_registry::MEMBERS_ENV
        );
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert,
            key,
            client_ca: args.client_ca,
        }),
        _ => None,
    };
    let listener = TcpListener::bind(&args.address).await.with_context(|| {
        format!(
            "cannot listen on {}; is the address free and local?",
            args.address
        )
    })?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let mut config = ShimConfig::new(args.package_id.clone());
    config.response_timeout = Duration::from_secs(args.response_timeout_secs.max(1));
    tracing::info!(
        address = %local,
        package_id = %args.package_id,
        members = %members,
        tls = tls.is_some(),
        client_auth = tls.as_ref().is_some_and(|t| t.client_ca.is_some()),
        "chaincode server listening"
    );
    chaincode_shim::serve(
        config,
        Arc::new(RegistryContract { members }),
        listener,
        tls.as_ref(),
        shutdown.wait_owned(),
    )
    .await
    .context("chaincode server failed")?;
    tracing::info!("chaincode server stopped");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The peer's tooling collects stderr into files: colour codes only on a terminal.
    let logging = Logging::plain_unless_terminal(cli.log.format_or(LogFormat::Human));
    match cli.command {
        Command::Serve(args) => runtime::serve(Some(logging), |shutdown| serve(args, shutdown)),
    }
}
