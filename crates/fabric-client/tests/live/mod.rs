//! Helpers for the tests against the live Fabric network: device requests, reads and waits.
//!
//! The ledger is shared and never reset, so every device here has a fresh random UUID and IP.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use device_record::DeviceRecord;
use device_record::contract::{DevicePage, HistoryEntry};
use fabric_client::{Contract, SubmitResult};
use serde_json::json;

pub use test_support::fabric::{LiveNetwork, unique_uuid, unique_virtual_ip};

/// Longest a single ledger round trip may take before the test gives up.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Awaits `future`, failing the test if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {PATIENCE:?}"))
}

/// A fresh P-256 public key as PEM.
pub fn p256_pem() -> String {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .unwrap()
        .public_key_pem()
}

/// RegisterDevice / UpdateDevice request JSON.
pub fn request(uuid: &str, ip: &str, key_pem: &str, labels: &[(&str, &str)]) -> Vec<u8> {
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    serde_json::to_vec(&json!({
        "uuid": uuid,
        "node_type": "Gateway",
        "virtual_ip": ip,
        "public_key": key_pem,
        "labels": labels,
    }))
    .unwrap()
}

/// Registers `uuid` with a fresh IP and key; returns the written record and the submit result.
pub async fn register(admin: &Contract, uuid: &str) -> (DeviceRecord, SubmitResult) {
    let body = request(
        uuid,
        &unique_virtual_ip(),
        &p256_pem(),
        &[("suite", "fabric-client")],
    );
    let result = within("RegisterDevice", admin.submit("RegisterDevice", &[body]))
        .await
        .unwrap_or_else(|e| panic!("registering {uuid}: {e}"));
    (DeviceRecord::from_json(&result.payload).unwrap(), result)
}

pub async fn get(contract: &Contract, uuid: &str) -> DeviceRecord {
    let bytes = within("GetDevice", contract.evaluate("GetDevice", &[uuid]))
        .await
        .unwrap_or_else(|e| panic!("GetDevice {uuid}: {e}"));
    DeviceRecord::from_json(&bytes).unwrap()
}

/// The record once `contract`'s peer has committed at least `version`: a submit returns when
/// the gateway's own peer has committed, and another organisation's peer may be a block behind.
pub async fn get_version(contract: &Contract, uuid: &str, version: u64) -> DeviceRecord {
    within("the peer catching up", async {
        loop {
            match contract.evaluate("GetDevice", &[uuid]).await {
                Ok(bytes) => {
                    let record = DeviceRecord::from_json(&bytes).unwrap();
                    if record.version >= version {
                        return record;
                    }
                }
                Err(e) if e.to_string().contains("is not registered") => {}
                Err(e) => panic!("GetDevice {uuid}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

pub async fn exists(contract: &Contract, uuid: &str) -> bool {
    let bytes = within("DeviceExists", contract.evaluate("DeviceExists", &[uuid]))
        .await
        .unwrap_or_else(|e| panic!("DeviceExists {uuid}: {e}"));
    match bytes.as_slice() {
        b"true" => true,
        b"false" => false,
        other => panic!("DeviceExists answered {:?}", String::from_utf8_lossy(other)),
    }
}

pub async fn history(contract: &Contract, uuid: &str) -> Vec<HistoryEntry> {
    let bytes = within(
        "GetDeviceHistory",
        contract.evaluate("GetDeviceHistory", &[uuid]),
    )
    .await
    .unwrap_or_else(|e| panic!("GetDeviceHistory {uuid}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

pub async fn list(contract: &Contract, page_size: u32, bookmark: &str, filter: &str) -> DevicePage {
    let size = page_size.to_string();
    let bytes = within(
        "ListDevices",
        contract.evaluate("ListDevices", &[size.as_str(), bookmark, filter]),
    )
    .await
    .unwrap_or_else(|e| panic!("ListDevices {page_size} {bookmark:?} {filter:?}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

/// `count` UUIDs sharing a random 34-digit prefix, in ascending order: no other device on the
/// shared ledger sorts between them.
pub fn adjacent_uuids(count: u8) -> Vec<String> {
    let base = unique_uuid();
    (0..count)
        .map(|i| format!("{}{i:02x}", &base[..34]))
        .collect()
}
