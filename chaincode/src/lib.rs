//! The `device-registry` chaincode: contract logic over a ledger trait shaped like Fabric's chaincode stub.

pub mod access;
pub mod contract;
pub mod error;
pub mod keys;
pub mod ledger;
#[cfg(any(test, feature = "test-double"))]
pub mod memory_ledger;

pub use contract::{FUNCTIONS, invoke};
pub use error::ContractError;
pub use ledger::{Creator, KeyModification, Ledger, LedgerError, RangePage, StateEntry};
#[cfg(any(test, feature = "test-double"))]
pub use memory_ledger::{CommittedEvent, MemoryLedger, MemoryTx};
