//! The registry writes: register, update, rotate-key, set-ip, ban, unban, delete (each a submitted transaction).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use device_record::{DeviceRecord, DeviceRequest, NodeType};
use fabric_client::{Contract, SubmitResult};
use serde::Deserialize;

use crate::cli::{Command, RegisterArgs, UpdateArgs};
use crate::output;

/// The enrolment file `edge-gateway keygen` writes.
#[derive(Debug, Deserialize)]
struct Enrolment {
    uuid: String,
    node_type: String,
    public_key: String,
}

pub fn parse_node_type(text: &str) -> Result<NodeType> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .with_context(|| format!("role {text:?} is not one of Gateway, Validator, Administrator"))
}

fn read_key(path: &Path) -> Result<String> {
    fs::read_to_string(path)
        .with_context(|| format!("cannot read public key file {}", path.display()))
}

fn parse_labels(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("label {pair:?} is not key=value"),
        })
        .collect()
}

fn register_request(args: &RegisterArgs) -> Result<DeviceRequest> {
    let enrolment = match &args.enrolment {
        Some(path) => {
            let bytes = fs::read(path)
                .with_context(|| format!("cannot read enrolment file {}", path.display()))?;
            Some(
                serde_json::from_slice::<Enrolment>(&bytes).with_context(|| {
                    format!(
                        "{} is not an enrolment file written by edge-gateway keygen",
                        path.display()
                    )
                })?,
            )
        }
        None => None,
    };
    let uuid = match (&args.uuid, &enrolment) {
        (Some(u), _) => u.clone(),
        (None, Some(e)) => e.uuid.clone(),
        (None, None) => bail!("--uuid is required (or give --enrolment FILE)"),
    };
    let node_type = match (&args.node_type, &enrolment) {
        (Some(t), _) => parse_node_type(t)?,
        (None, Some(e)) => parse_node_type(&e.node_type)?,
        (None, None) => bail!("--type is required (or give --enrolment FILE)"),
    };
    let public_key = match (&args.public_key, &enrolment) {
        (Some(path), _) => read_key(path)?,
        (None, Some(e)) => e.public_key.clone(),
        (None, None) => bail!("--public-key is required (or give --enrolment FILE)"),
    };
    let virtual_ip = args
        .virtual_ip
        .clone()
        .context("--virtual-ip is required: the enrolment file does not assign an address")?;
    Ok(DeviceRequest {
        uuid,
        node_type,
        virtual_ip,
        public_key,
        labels: parse_labels(&args.labels)?,
    })
}

async fn update_request(contract: &Contract, args: &UpdateArgs) -> Result<DeviceRequest> {
    let current = contract
        .evaluate("GetDevice", &[args.uuid.as_bytes()])
        .await?;
    let record =
        DeviceRecord::from_json(&current).context("the registry returned a malformed record")?;
    Ok(DeviceRequest {
        uuid: record.uuid,
        node_type: match &args.node_type {
            Some(t) => parse_node_type(t)?,
            None => record.node_type,
        },
        virtual_ip: args.virtual_ip.clone().unwrap_or(record.virtual_ip),
        public_key: match &args.public_key {
            Some(path) => read_key(path)?,
            None => record.public_key,
        },
        labels: if args.labels.is_empty() {
            record.labels
        } else {
            parse_labels(&args.labels)?
        },
    })
}

/// Submits the write `command` names and prints what was committed.
pub async fn run(contract: &Contract, command: &Command, json: bool) -> Result<()> {
    let (function, args): (&str, Vec<Vec<u8>>) = match command {
        Command::Register(a) => (
            "RegisterDevice",
            vec![serde_json::to_vec(&register_request(a)?)?],
        ),
        Command::Update(a) => (
            "UpdateDevice",
            vec![serde_json::to_vec(&update_request(contract, a).await?)?],
        ),
        Command::RotateKey { uuid, public_key } => (
            "RotateKey",
            vec![
                uuid.clone().into_bytes(),
                read_key(public_key)?.into_bytes(),
            ],
        ),
        Command::SetIp { uuid, virtual_ip } => (
            "SetVirtualIp",
            vec![uuid.clone().into_bytes(), virtual_ip.clone().into_bytes()],
        ),
        Command::Ban { uuid, reason } => (
            "BanDevice",
            vec![uuid.clone().into_bytes(), reason.clone().into_bytes()],
        ),
        Command::Unban { uuid, reason } => {
            let mut args = vec![uuid.clone().into_bytes()];
            args.extend(reason.iter().map(|r| r.clone().into_bytes()));
            ("UnbanDevice", args)
        }
        Command::Delete { uuid } => ("DeleteDevice", vec![uuid.clone().into_bytes()]),
        _ => bail!("not a registry write"),
    };
    let result = contract.submit(function, &args).await?;
    print_result(function, &result, json)
}

fn print_result(function: &str, result: &SubmitResult, json: bool) -> Result<()> {
    let answer: serde_json::Value = serde_json::from_slice(&result.payload)
        .context("the chaincode answered with something that is not JSON")?;
    if json {
        let out = serde_json::json!({
            "function": function,
            "tx_id": result.tx_id,
            "block": result.block,
            "result": answer,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{function} committed in block {} (tx {})",
        result.block, result.tx_id
    );
    match DeviceRecord::from_json(&result.payload) {
        Ok(record) => output::print_record(&record),
        Err(_) => println!("{}", serde_json::to_string_pretty(&answer)?),
    }
    Ok(())
}
