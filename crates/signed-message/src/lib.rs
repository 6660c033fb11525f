//! The signed telemetry message of SF2C-BC: a JWS (RFC 7515) compact token whose claims name the device, a sequence number, a time and measurements.
//!
//! Data path: [`decode_unverified`] (size, structure, header, claims, kid) → look up the device →
//! [`Unverified::verify`] with its [`VerifyingKey`] → act on the returned [`Claims`].
//! Devices produce messages with [`SigningKey::sign`]. The format is specified in `docs/protocol.md`.

mod algorithm;
mod claims;
mod compact;
mod error;
mod header;
mod signing_key;
mod verifying_key;

pub use algorithm::{Algorithm, KeyFamily};
pub use claims::{Claims, MAX_MEASUREMENT_NAME, Measurement};
pub use compact::{MAX_MESSAGE_LEN, Unverified, decode_and_verify, decode_unverified, encode};
pub use error::{ErrorKind, MessageError, Part};
pub use header::{Header, MESSAGE_TYPE};
pub use signing_key::SigningKey;
pub use verifying_key::{RSA_BITS, VerifyingKey};
