//! Test doubles of the Fabric-facing parts, kept out of every product crate; dev-dependency only.
//!
//! Each module stands in for one piece of Fabric behind a trait or protocol the product owns, and
//! exists only because its tests need a case a real network cannot produce on demand (a refusal
//! in microseconds, a malformed frame, a ledger that fails on cue). Everything a real network can
//! show is tested against the live network instead. One feature per module (see Cargo.toml).

#[cfg(feature = "contract-ledger")]
pub mod memory_ledger;
#[cfg(feature = "chaincode-peer")]
pub mod peer_double;
#[cfg(feature = "pki-ledger")]
pub mod pki_ledger;
#[cfg(feature = "registry-feed")]
pub mod static_registry_feed;
#[cfg(feature = "test-device")]
pub mod test_device;

#[cfg(feature = "contract-ledger")]
pub use memory_ledger::{CommittedEvent, MemoryLedger, MemoryTx};
#[cfg(feature = "chaincode-peer")]
pub use peer_double::PeerDouble;
#[cfg(feature = "pki-ledger")]
pub use pki_ledger::MemoryEnrolmentLedger;
#[cfg(feature = "registry-feed")]
pub use static_registry_feed::StaticRegistryFeed;
#[cfg(feature = "test-device")]
pub use test_device::TestDevice;
