//! Reads of the deployed contract through Fabric's `peer` CLI ([`PeerCli`] from test-support),
//! decoded into the contract's own types, for the tests that drive it with the CLI.
#![allow(dead_code)]

use device_record::DeviceRecord;
use serde_json::Value;
pub use test_support::fabric::peer_cli::{PeerCli, text};

/// The contract's queries, decoded, as one identity's `peer chaincode query`.
pub trait RegistryQueries {
    /// `GetDevice`, which must succeed.
    fn device(&self, uuid: &str) -> DeviceRecord;
    /// `GetDeviceHistory`, which must succeed: one JSON value per entry, oldest first.
    fn history(&self, uuid: &str) -> Vec<Value>;
}

impl RegistryQueries for PeerCli {
    fn device(&self, uuid: &str) -> DeviceRecord {
        DeviceRecord::from_json(self.query_ok(&["GetDevice", uuid]).as_bytes()).unwrap()
    }

    fn history(&self, uuid: &str) -> Vec<Value> {
        serde_json::from_str(&self.query_ok(&["GetDeviceHistory", uuid])).unwrap()
    }
}
