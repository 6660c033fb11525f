//! The registry reads: get, list (paged), history, policy (evaluated, not ordered).

use anyhow::{Context, Result};
use device_record::DeviceRecord;
use device_record::contract::{DeviceFilter, DevicePage, DevicePolicy, HistoryEntry};
use fabric_client::Contract;

use crate::cli::ListArgs;
use crate::output;
use crate::write::parse_node_type;

pub async fn get(contract: &Contract, uuid: &str, json: bool) -> Result<()> {
    let bytes = contract.evaluate("GetDevice", &[uuid.as_bytes()]).await?;
    let record =
        DeviceRecord::from_json(&bytes).context("the registry returned a malformed record")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        output::print_record(&record);
    }
    Ok(())
}

pub async fn policy(contract: &Contract, uuid: &str, json: bool) -> Result<()> {
    let bytes = contract
        .evaluate("GetDevicePolicy", &[uuid.as_bytes()])
        .await?;
    let policy: DevicePolicy =
        serde_json::from_slice(&bytes).context("the registry returned a malformed policy")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&policy)?);
        return Ok(());
    }
    let shown = |p: &Option<String>| {
        p.clone()
            .unwrap_or_else(|| "(none: the chaincode's policy applies)".to_string())
    };
    println!("{:<11} {}", "uuid", policy.uuid);
    println!("{:<11} {}", "owner", policy.owner_msp);
    println!("{:<11} {}", "record key", shown(&policy.device_key_policy));
    println!(
        "{:<11} {} ({})",
        "ip key",
        shown(&policy.virtual_ip_key_policy),
        policy.virtual_ip
    );
    Ok(())
}

pub async fn list(contract: &Contract, args: &ListArgs, json: bool) -> Result<()> {
    let filter = DeviceFilter {
        node_type: args.node_type.as_deref().map(parse_node_type).transpose()?,
        banned: args.banned,
    };
    let filter_json = serde_json::to_string(&filter)?;
    let page_size = args.page_size.to_string();
    let mut bookmark = args.bookmark.clone();
    let mut records = Vec::new();
    loop {
        let bytes = contract
            .evaluate(
                "ListDevices",
                &[
                    page_size.as_bytes(),
                    bookmark.as_bytes(),
                    filter_json.as_bytes(),
                ],
            )
            .await?;
        let page: DevicePage =
            serde_json::from_slice(&bytes).context("the registry returned a malformed page")?;
        records.extend(page.records);
        bookmark = page.bookmark;
        // a filtered page may come back short with more to read; --all reads until the end
        if bookmark.is_empty() || !args.all {
            break;
        }
    }
    if json {
        let out = serde_json::json!({ "records": records, "bookmark": bookmark });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        output::print_table(&records);
        if !bookmark.is_empty() {
            println!("more: --bookmark {bookmark}");
        }
    }
    Ok(())
}

pub async fn history(contract: &Contract, uuid: &str, json: bool) -> Result<()> {
    let bytes = contract
        .evaluate("GetDeviceHistory", &[uuid.as_bytes()])
        .await?;
    let entries: Vec<HistoryEntry> =
        serde_json::from_slice(&bytes).context("the registry returned a malformed history")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    println!(
        "{:<30}  {:<8}  {:>7}  {:<6}  TX",
        "TIME", "CHANGE", "VERSION", "BANNED"
    );
    for e in &entries {
        let (change, version, banned) = match &e.record {
            Some(r) => ("write", r.version.to_string(), r.banned.to_string()),
            None => ("delete", "-".to_string(), "-".to_string()),
        };
        println!(
            "{:<30}  {change:<8}  {version:>7}  {banned:<6}  {}",
            e.timestamp, e.tx_id
        );
    }
    Ok(())
}
