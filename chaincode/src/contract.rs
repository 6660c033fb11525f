//! Entry point of the contract: dispatches Fabric-style function names to their handlers.
//!
//! Writes: RegisterDevice, UpdateDevice, RotateKey, BanDevice, UnbanDevice, DeleteDevice.
//! Reads: GetDevice, DeviceExists, ListDevices, GetDeviceHistory.
//! A write answers with the record as written (DeleteDevice: its `Deleted` event JSON).
//! Every handler reads and validates everything first and writes last, so a refused call leaves
//! nothing in the transaction's write set.

mod args;
mod ban;
mod delete;
mod history;
mod list;
mod query;
mod register;
mod rotate;
mod store;
mod update;

use crate::error::ContractError;
use crate::ledger::Ledger;

pub use history::HistoryEntry;
pub use list::{DeviceFilter, DevicePage, MAX_PAGE_SIZE};

/// Names `invoke` understands.
pub const FUNCTIONS: &[&str] = &[
    "RegisterDevice",
    "UpdateDevice",
    "RotateKey",
    "BanDevice",
    "UnbanDevice",
    "DeleteDevice",
    "GetDevice",
    "DeviceExists",
    "ListDevices",
    "GetDeviceHistory",
];

/// Runs one contract function with its arguments, returning the response payload.
pub fn invoke(
    ledger: &mut impl Ledger,
    function: &str,
    args: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    match function {
        "RegisterDevice" => register::register(ledger, args),
        "UpdateDevice" => update::update(ledger, args),
        "RotateKey" => rotate::rotate_key(ledger, args),
        "BanDevice" => ban::ban(ledger, args),
        "UnbanDevice" => ban::unban(ledger, args),
        "DeleteDevice" => delete::delete(ledger, args),
        "GetDevice" => query::get_device(ledger, args),
        "DeviceExists" => query::device_exists(ledger, args),
        "ListDevices" => list::list_devices(ledger, args),
        "GetDeviceHistory" => history::device_history(ledger, args),
        other => Err(ContractError::UnknownFunction {
            name: other.to_string(),
        }),
    }
}
