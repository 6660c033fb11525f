//! Edge gateway of SF2C-BC: the daemon on a device board that reads sensors, signs every
//! reading with the device key, and stores and forwards the messages to fog validators.
//!
//! Data path: [`sensor`] → [`signer`] (sequence number from [`sequence`], JWS, pushed to the
//! disk queue) → [`sender`] (JSON-RPC batches over HTTPS via [`transport`], failover, backoff)
//! → acknowledged off the queue; a message refused as stale is re-signed or parked by
//! [`stale`]. [`gateway`] wires the tasks together; [`keygen`] makes the
//! device key and enrolment request; [`send_once`] is the operator's one-shot path; [`run`] is the
//! daemon as the binary starts it.

pub mod config;
pub mod error;
pub mod gateway;
pub mod keygen;
pub mod metrics;
pub mod rpc;
pub mod run;
pub mod send_once;
pub mod sender;
pub mod sensor;
pub mod sequence;
pub mod signer;
pub mod stale;
pub mod tls;
pub mod transport;

pub use config::Config;
pub use error::GatewayError;
pub use gateway::Gateway;
pub use run::run;
