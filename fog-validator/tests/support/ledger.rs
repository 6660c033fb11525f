//! Devices registered on the live ledger, for the tests whose validator reads it.

use device_record::{DeviceRequest, NodeType};
use fabric_client::Contract;
use signed_message::Algorithm;
use test_doubles::TestDevice;
use test_support::fabric::unique_virtual_ip;

/// A new ES256 gateway, registered by `admin` at a unique virtual IP, committed on return.
pub async fn registered_gateway(admin: &Contract) -> TestDevice {
    let gateway = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let request = DeviceRequest {
        uuid: gateway.uuid.clone(),
        node_type: NodeType::Gateway,
        virtual_ip: unique_virtual_ip(),
        public_key: gateway.record.public_key.clone(),
        labels: Default::default(),
    };
    admin
        .submit("RegisterDevice", &[serde_json::to_vec(&request).unwrap()])
        .await
        .unwrap();
    gateway
}
