//! `gateway-double`: serves `DoubleNetwork`, an in-process TEST DOUBLE of a Fabric peer's Gateway (not Fabric), until SIGTERM.
//!
//! It runs the real device-registry contract on an in-memory ledger, writes its credentials and
//! `network.json` under `--dir`, and answers on 127.0.0.1 so the demo's rehearsal mode can exercise
//! every binary without a Fabric network. Nothing it stores survives the process.

use std::path::PathBuf;

use anyhow::{Context, bail};
use fabric_client::DoubleNetwork;
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: gateway-double --dir DIR

Serves an in-process TEST DOUBLE of a Fabric peer's Gateway service (the real device-registry
contract on an in-memory ledger) on 127.0.0.1, writes DIR/network.json (organisation Org1 with
identities `admin` and `client`) and runs until SIGTERM or Ctrl-C. This is not Fabric: the
ledger is lost when the process ends.";

fn parse_dir() -> anyhow::Result<PathBuf> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => {
                dir = Some(PathBuf::from(
                    args.next().context("--dir needs a directory: --dir DIR")?,
                ));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    dir.with_context(|| format!("missing --dir\n\n{USAGE}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = parse_dir()?;
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the double's directory {}", dir.display()))?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let net = DoubleNetwork::start(&dir).await;
    println!(
        "gateway-double: TEST DOUBLE of a Fabric Gateway (not Fabric) on {}, network.json at {}",
        net.addr,
        net.network_json.display()
    );
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    println!("gateway-double: stopping; the in-memory ledger is discarded");
    Ok(())
}
