//! The `device-registry` chaincode: contract logic over a ledger trait shaped like Fabric's chaincode stub.

pub mod access;
pub mod contract;
pub mod error;
pub mod keys;
pub mod ledger;
pub mod members;
pub mod policy;

pub use contract::{FUNCTIONS, invoke};
pub use error::ContractError;
pub use ledger::{Creator, KeyModification, Ledger, LedgerError, RangePage, StateEntry};
pub use members::{MEMBERS_ENV, Members, MembersError};
