//! The ledger side: the live Fabric network (`test_support::fabric::LiveNetwork`), with Org1's admin registering devices and Org2's client reading them, as validators do.
//!
//! The ledger is shared with every other test and never reset, so each device gets a fresh
//! placeholder virtual IP (the contract keeps virtual IPs unique) until enrolment replaces it.

use std::time::Duration;

use device_record::{DeviceRecord, DeviceRequest, NodeType};
use fabric_client::{Contract, LedgerSettings};
use test_support::fabric::{LiveNetwork, unique_virtual_ip};

/// The organisation whose admin writes the registry (operators and the VPN Centre).
pub const WRITER_ORG: &str = "Org1";
/// The organisation whose member identity the validators read with.
pub const READER_ORG: &str = "Org2";

/// The live network and two identities' views of the registry chaincode on it.
pub struct Ledger {
    pub net: LiveNetwork,
    admin: Contract,
    reader: Contract,
}

impl Ledger {
    /// Connects to the network `network.json` describes; panics with instructions if none runs.
    pub async fn connect() -> Self {
        let net = LiveNetwork::get();
        let admin = net.contract(WRITER_ORG, "admin").await;
        let reader = net.contract(READER_ORG, "client").await;
        Self { net, admin, reader }
    }

    /// How the VPN Centre reaches the ledger: Org1's admin (bans, virtual IPs).
    pub fn centre_settings(&self) -> LedgerSettings {
        self.net.settings(WRITER_ORG, "admin")
    }

    /// How a validator reaches the ledger: Org2's client (reads and events only).
    pub fn validator_settings(&self) -> LedgerSettings {
        self.net.settings(READER_ORG, "client")
    }

    /// Registers a device as the Org1 admin, through the contract's `RegisterDevice`, at a fresh
    /// placeholder virtual IP (enrolment replaces it with the centre's lease); returns the block.
    pub async fn register(&self, uuid: &str, node_type: NodeType, public_key: &str) -> u64 {
        let request = DeviceRequest {
            uuid: uuid.into(),
            node_type,
            virtual_ip: unique_virtual_ip(),
            public_key: public_key.into(),
            labels: Default::default(),
        };
        let body = serde_json::to_vec(&request).expect("encode the registration");
        self.admin
            .submit("RegisterDevice", &[body])
            .await
            .unwrap_or_else(|e| panic!("RegisterDevice {uuid} as the Org1 admin: {e}"))
            .block
    }

    /// `GetDevice` as an Org2 member on Org2's peer: what the validators' organisation sees.
    pub async fn device(&self, uuid: &str) -> DeviceRecord {
        let bytes = self
            .reader
            .evaluate("GetDevice", &[uuid.as_bytes()])
            .await
            .unwrap_or_else(|e| panic!("GetDevice {uuid}: {e}"));
        DeviceRecord::from_json(&bytes).expect("GetDevice answers a device record")
    }

    /// `device` once Org2's peer shows what `check` expects: a submit returns when Org1's peer
    /// (the writer's) has committed, and the other peer commits the same block a little later.
    pub async fn device_when(
        &self,
        uuid: &str,
        check: impl Fn(&DeviceRecord) -> bool,
    ) -> DeviceRecord {
        let seen = test_support::wait::until(
            Duration::from_secs(10),
            Duration::from_millis(20),
            || async {
                let record = self.device(uuid).await;
                check(&record).then_some(record)
            },
        )
        .await;
        match seen {
            Some((record, _)) => record,
            None => panic!(
                "Org2's peer did not show the expected record of {uuid} within 10 s: {:?}",
                self.device(uuid).await
            ),
        }
    }
}
