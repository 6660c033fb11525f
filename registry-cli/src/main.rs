//! `sf2c-registry`: the operator's command line for the device registry chaincode.

mod cli;
mod connect;
mod output;
mod ping;
mod read;
mod watch;
mod write;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Command};

async fn run(cli: Cli) -> Result<()> {
    if let Command::Ping { wait } = cli.command {
        return ping::run(&cli, wait).await;
    }
    let contract = connect::contract(&cli).await?;
    match &cli.command {
        Command::Get { uuid } => read::get(&contract, uuid, cli.json).await,
        Command::List(args) => read::list(&contract, args, cli.json).await,
        Command::History { uuid } => read::history(&contract, uuid, cli.json).await,
        Command::Policy { uuid } => read::policy(&contract, uuid, cli.json).await,
        Command::Watch(args) => watch::run(&contract, args, cli.json).await,
        Command::Ping { .. } => unreachable!("ping connects on its own"),
        write => write::run(&contract, write, cli.json).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
