//! Limits and identity of a chaincode server, with Fabric-compatible defaults.

use std::time::Duration;

/// Largest gRPC message accepted or sent; Fabric's peer and Go shim use 100 MB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 100 * 1024 * 1024;

/// Settings of one chaincode server.
#[derive(Clone, Debug)]
pub struct ShimConfig {
    /// The package ID the peer installed (`label:sha256`); sent in REGISTER.
    pub package_id: String,
    /// Largest protobuf message decoded from or encoded to the peer.
    pub max_message_bytes: usize,
    /// How long a transaction waits for the peer to answer one ledger request.
    pub response_timeout: Duration,
    /// Transactions one stream may run at once; more are refused with ERROR.
    pub max_concurrent_transactions: usize,
    /// Most records one range or history query may return to the contract.
    pub max_query_results: usize,
    /// On shutdown, how long running transactions may take to finish.
    pub shutdown_grace: Duration,
}

impl ShimConfig {
    pub fn new(package_id: impl Into<String>) -> Self {
        ShimConfig {
            package_id: package_id.into(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            // The peer's own default execute timeout is 30 s; wait no longer than that.
            response_timeout: Duration::from_secs(30),
            max_concurrent_transactions: 256,
            max_query_results: 100_000,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}
