//! `vpn-centre warnings`: lists, counts or deletes the warnings of a running centre over its
//! mutual-TLS listener.

use clap::Subcommand;
use warnings_api::{WarningClient, WarningFilter};

use super::pki::IdentityArgs;

#[derive(clap::Args)]
pub struct WarningsArgs {
    /// Base URL of the centre's validators' listener.
    #[arg(long, default_value = "https://127.0.0.1:7301")]
    pub url: String,
    /// Client certificate and key, e.g. from `vpn-centre cert issue-service operator-cli`.
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(subcommand)]
    pub action: WarningsAction,
}

#[derive(Subcommand)]
pub enum WarningsAction {
    /// Print warnings newest first, one JSON object per line.
    List {
        #[arg(long)]
        device: Option<String>,
        #[arg(long)]
        code: Option<i32>,
        #[arg(long)]
        submitter: Option<String>,
        /// Only warnings refused at or after this time (ms since the Unix epoch).
        #[arg(long)]
        since: Option<u64>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Only warnings with an id below this one (paging cursor).
        #[arg(long)]
        before: Option<u64>,
    },
    /// Print how many warnings are stored.
    Count,
    /// Delete one warning by id.
    Delete { id: u64 },
}

pub async fn run(args: WarningsArgs) -> anyhow::Result<()> {
    let client = args.identity.client(&args.url)?;
    act(client, args.action).await
}

async fn act(client: WarningClient, action: WarningsAction) -> anyhow::Result<()> {
    match action {
        WarningsAction::List {
            device,
            code,
            submitter,
            since,
            limit,
            before,
        } => {
            let filter = WarningFilter {
                device,
                code,
                submitter,
                since_ms: since,
            };
            let page = client.list(&filter, Some(limit), before).await?;
            for w in &page.warnings {
                println!("{}", serde_json::to_string(w)?);
            }
            if let Some(next) = page.next_before {
                eprintln!("more warnings: pass --before {next}");
            }
        }
        WarningsAction::Count => {
            println!("{}", client.count(&WarningFilter::default()).await?);
        }
        WarningsAction::Delete { id } => {
            client.delete(id).await?;
            eprintln!("deleted warning {id}");
        }
    }
    Ok(())
}
