//! The `device-registry` chaincode: contract logic over a ledger trait shaped like Fabric's chaincode stub.

pub mod access;
pub mod contract;
pub mod error;
pub mod keys;
pub mod ledger;

pub use contract::{FUNCTIONS, invoke};
pub use error::ContractError;
pub use ledger::{Creator, KeyModification, Ledger, LedgerError, RangePage, StateEntry};
