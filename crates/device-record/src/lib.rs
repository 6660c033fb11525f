//! The device record kept by the registry chaincode, and the rules every component uses to validate it.

pub mod contract;
pub mod event;
pub mod pem;
pub mod public_key;
pub mod record;
pub mod request;
pub mod timestamp;

pub use event::{ChangeKind, EVENT_NAME, RegistryEvent};
pub use public_key::{KeyAlgorithm, KeyError, PublicKeyInfo, parse_public_key_pem};
pub use record::{DeviceRecord, NodeType};
pub use request::{
    DeviceRequest, RequestError, ValidatedRequest, normalise_uuid, normalise_virtual_ip,
};
pub use timestamp::{TimestampError, TxTimestamp};
