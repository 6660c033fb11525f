//! `vpn-centre` binary: parses the command line and hands `serve` to [`vpn_centre::start::run`]
//! and every other command to [`vpn_centre::cli::run`], under the shared runtime.

use std::process::ExitCode;

use clap::Parser;
use runtime::Logging;
use vpn_centre::cli::{Cli, Command};

fn main() -> ExitCode {
    let Cli { log, command } = Cli::parse();
    match command {
        Command::Serve(args) => match args.settings() {
            Ok(settings) => {
                let logging = Logging::from(log.format_or(settings.log_format));
                runtime::serve(Some(logging), |shutdown| {
                    vpn_centre::start::run(settings, shutdown)
                })
            }
            // Reported as every other failure is: one line, status 1.
            Err(e) => runtime::main(None, || async move { Err(e.into()) }),
        },
        // Talks to a running centre: its client logs what goes wrong.
        Command::Warnings(_) => {
            let logging = Logging::from(log.format_or(Default::default()));
            runtime::main(Some(logging), || vpn_centre::cli::run(command))
        }
        _ => runtime::main(None, || vpn_centre::cli::run(command)),
    }
}
