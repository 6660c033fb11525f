//! The ledger side: fabric-client's `DoubleNetwork`, an in-process TEST DOUBLE of a Fabric peer's
//! Gateway service (real device-registry contract, in-memory ledger, TLS on 127.0.0.1), with the
//! Org1 admin's contract for writes and an Org1 member's contract for reads.

use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

use device_record::{DeviceRecord, DeviceRequest, NodeType};
use fabric_client::double_network::{CHAINCODE, CHANNEL, PEER_HOST};
use fabric_client::{Contract, DoubleNetwork, Gateway, LedgerSettings, SigningIdentity};

/// The double and two identities' views of the registry chaincode on it.
pub struct Ledger {
    pub net: DoubleNetwork,
    admin: Contract,
    reader: Contract,
    next_ip: AtomicU8,
}

async fn contract(net: &DoubleNetwork, identity: SigningIdentity) -> Contract {
    Gateway::connect(
        &net.addr.to_string(),
        &net.tls_root_pem,
        PEER_HOST,
        identity,
    )
    .await
    .expect("connect to the ledger double")
    .network(CHANNEL)
    .contract(CHAINCODE)
}

impl Ledger {
    /// Starts the double with its MSP folders and `network.json` under `dir`.
    pub async fn start(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("create the ledger double's directory");
        let net = DoubleNetwork::start(dir).await;
        let admin = contract(&net, net.admin()).await;
        let reader = contract(&net, net.client()).await;
        Self {
            net,
            admin,
            reader,
            next_ip: AtomicU8::new(1),
        }
    }

    /// How a service reaches the double: its `network.json`, Org1, and `identity` (`admin` or `client`).
    pub fn settings(&self, identity: &str) -> LedgerSettings {
        LedgerSettings {
            network: self.net.network_json.clone(),
            org: "Org1".into(),
            identity: identity.into(),
        }
    }

    /// Registers a device as the Org1 admin, through the contract's `RegisterDevice`, at a
    /// placeholder virtual IP (enrolment replaces it with the centre's lease); returns the block.
    pub async fn register(&self, uuid: &str, node_type: NodeType, public_key: &str) -> u64 {
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
        let request = DeviceRequest {
            uuid: uuid.into(),
            node_type,
            virtual_ip: format!("10.99.0.{n}"),
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

    /// `GetDevice` as an Org1 member: what any reader of the ledger sees.
    pub async fn device(&self, uuid: &str) -> DeviceRecord {
        let bytes = self
            .reader
            .evaluate("GetDevice", &[uuid.as_bytes()])
            .await
            .unwrap_or_else(|e| panic!("GetDevice {uuid}: {e}"));
        DeviceRecord::from_json(&bytes).expect("GetDevice answers a device record")
    }
}
