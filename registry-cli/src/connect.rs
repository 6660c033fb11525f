//! Turns `--network`, `--org` and `--identity` into a connected contract.

use anyhow::Result;
use fabric_client::{Contract, LedgerSettings, connect_now};

use crate::cli::Cli;

/// Connects to the organisation's first peer as the chosen identity; fails now if it does not answer.
pub async fn contract(cli: &Cli) -> Result<Contract> {
    let connection = connect_now(&LedgerSettings {
        network: cli.network.clone(),
        org: cli.org.clone(),
        identity: cli.identity.clone(),
    })
    .await?;
    Ok(connection.network.contract(connection.chaincode))
}
