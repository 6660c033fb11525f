//! `watch`: prints registry changes as chaincode events arrive, optionally resuming from a checkpoint.

use anyhow::{Context, Result};
use device_record::RegistryEvent;
use fabric_client::{Checkpoint, Contract, FileCheckpoint, StartPosition};

use crate::cli::WatchArgs;

pub async fn run(contract: &Contract, args: &WatchArgs, json: bool) -> Result<()> {
    let fallback = match args.from_block {
        Some(n) => StartPosition::Block(n),
        None => StartPosition::NextCommit,
    };
    let mut checkpoint = args
        .checkpoint
        .as_ref()
        .map(FileCheckpoint::open)
        .transpose()?;
    let start = match &checkpoint {
        Some(cp) => cp.start_position(fallback),
        None => fallback,
    };
    let mut events = contract
        .network()
        .chaincode_events(contract.chaincode(), start)
        .await?;
    let mut seen = 0u64;
    while args.count.is_none_or(|n| seen < n) {
        let Some(event) = events.next().await else {
            anyhow::bail!(
                "the peer closed the event stream; run watch again (use --checkpoint to resume)"
            );
        };
        let event = event?;
        let change = RegistryEvent::from_json(&event.payload)
            .with_context(|| format!("event of tx {} is not a registry event", event.tx_id))?;
        if json {
            let out = serde_json::json!({
                "block": event.block,
                "tx_id": event.tx_id,
                "event": change,
            });
            println!("{}", serde_json::to_string(&out)?);
        } else {
            println!(
                "block {:>6}  {:<10}  {}  v{}  tx {}{}",
                event.block,
                format!("{:?}", change.change),
                change.uuid,
                change.version,
                event.tx_id,
                change
                    .reason
                    .map(|r| format!("  reason: {r}"))
                    .unwrap_or_default()
            );
        }
        if let Some(cp) = checkpoint.as_mut() {
            cp.save(&event)?;
        }
        seen += 1;
    }
    Ok(())
}
