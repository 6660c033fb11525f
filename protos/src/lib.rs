//! Fabric wire types (our own .proto subset, Fabric's field numbers) as prost messages and tonic stubs.
//!
//! Modules are named after the protobuf package, so gRPC paths match a real peer
//! (`/gateway.Gateway/Endorse`, `/protos.Chaincode/Connect`). Fabric's peer
//! package is called `protos`; [`peer`] is the same module under a clearer name.

/// Package `common`: envelopes, headers, blocks, signature policies.
#[allow(clippy::all, missing_docs)]
pub mod common {
    include!(concat!(env!("OUT_DIR"), "/common.rs"));
}

/// Package `msp`: serialized identities.
#[allow(clippy::all, missing_docs)]
pub mod msp {
    include!(concat!(env!("OUT_DIR"), "/msp.rs"));
}

/// Package `protos`: proposals, transactions, chaincode shim, endorser service.
#[allow(clippy::all, missing_docs)]
pub mod protos {
    include!(concat!(env!("OUT_DIR"), "/protos.rs"));
}

/// Package `orderer`: block seek positions.
#[allow(clippy::all, missing_docs)]
pub mod orderer {
    include!(concat!(env!("OUT_DIR"), "/orderer.rs"));
}

/// Package `gateway`: the peer's Gateway service.
#[allow(clippy::all, missing_docs)]
pub mod gateway {
    include!(concat!(env!("OUT_DIR"), "/gateway.rs"));
}

/// Package `queryresult`: records returned by range and history queries.
#[allow(clippy::all, missing_docs)]
pub mod queryresult {
    include!(concat!(env!("OUT_DIR"), "/queryresult.rs"));
}

pub use prost_types::Timestamp;
pub use protos as peer;
