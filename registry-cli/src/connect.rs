//! Turns `--network`, `--org` and `--identity` into a connected contract.

use std::path::Path;

use anyhow::{Context, Result};
use fabric_client::{Contract, Gateway, NetworkFile, SigningIdentity};

use crate::cli::Cli;

/// Loads the network file, picks the organisation's first peer and connects as the chosen identity.
pub async fn contract(cli: &Cli) -> Result<Contract> {
    let file = NetworkFile::load(&cli.network)?;
    let org = file.organization(&cli.org)?;
    let identity = match cli.identity.as_str() {
        "admin" => file.signing_identity(org, "admin", &org.admin)?,
        "client" => file.signing_identity(org, "client", &org.client)?,
        dir => SigningIdentity::load_msp_dir(&org.msp_id, Path::new(dir)).with_context(|| {
            format!("--identity {dir} is neither admin, client nor a readable MSP folder")
        })?,
    };
    // parse() guarantees at least one peer per organisation
    let peer = org
        .peers
        .first()
        .with_context(|| format!("organisation {} has no peer", org.name))?;
    let tls_root = file.tls_root_pem(peer)?;
    let gateway =
        Gateway::connect(&peer.endpoint, &tls_root, &peer.tls_host_name, identity).await?;
    Ok(gateway.network(&file.channel).contract(&file.chaincode))
}
