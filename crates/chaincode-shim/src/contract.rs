//! The contract a chaincode server runs: one synchronous call per transaction.

use crate::stub::Stub;

/// Fabric's peer `Response`: status 200 with a payload, or an error status with a message.
pub use sf2c_protos::protos::Response;

/// Status Fabric treats as success.
pub const OK: i32 = 200;
/// Status the shim uses for a refused transaction.
pub const ERROR: i32 = 500;

/// Business logic behind the shim. `invoke` runs on a blocking thread; the function name and
/// arguments are `stub.args()`.
pub trait Contract: Send + Sync + 'static {
    fn invoke(&self, stub: &mut Stub) -> Response;
}

/// A successful response carrying `payload`.
pub fn success(payload: Vec<u8>) -> Response {
    Response {
        status: OK,
        message: String::new(),
        payload,
    }
}

/// A refused transaction; the peer returns `message` to the client.
pub fn failure(message: impl Into<String>) -> Response {
    Response {
        status: ERROR,
        message: message.into(),
        payload: Vec::new(),
    }
}
