//! Entry point of the contract: dispatches Fabric-style function names to their handlers.
//!
//! Writes: RegisterDevice, UpdateDevice, RotateKey, SetVirtualIp, BanDevice, UnbanDevice,
//! DeleteDevice (who may call which: `access.rs`). Each write of a device's keys also sets their
//! key-level endorsement policy (`policy.rs`).
//! Reads: GetDevice, DeviceExists, ListDevices, GetDeviceHistory, GetDevicePolicy.
//! A write answers with the record as written (DeleteDevice: its `Deleted` event JSON).
//! Every handler reads and validates everything first and writes last, so a refused call leaves
//! nothing in the transaction's write set.

mod args;
mod ban;
mod delete;
mod history;
mod list;
mod policy_query;
mod query;
mod register;
mod rotate;
mod store;
mod update;
mod virtual_ip;

use crate::error::ContractError;
use crate::ledger::Ledger;
use crate::members::Members;

/// Names `invoke` understands.
pub const FUNCTIONS: &[&str] = &[
    "RegisterDevice",
    "UpdateDevice",
    "RotateKey",
    "SetVirtualIp",
    "BanDevice",
    "UnbanDevice",
    "DeleteDevice",
    "GetDevice",
    "DeviceExists",
    "ListDevices",
    "GetDeviceHistory",
    "GetDevicePolicy",
];

/// Runs one contract function with its arguments, returning the response payload. `members` are
/// the registry's member organisations, the same on every endorser.
pub fn invoke(
    ledger: &mut impl Ledger,
    members: &Members,
    function: &str,
    args: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    match function {
        "RegisterDevice" => register::register(ledger, members, args),
        "UpdateDevice" => update::update(ledger, members, args),
        "RotateKey" => rotate::rotate_key(ledger, members, args),
        "SetVirtualIp" => virtual_ip::set_virtual_ip(ledger, members, args),
        "BanDevice" => ban::ban(ledger, members, args),
        "UnbanDevice" => ban::unban(ledger, members, args),
        "DeleteDevice" => delete::delete(ledger, members, args),
        "GetDevice" => query::get_device(ledger, args),
        "DeviceExists" => query::device_exists(ledger, args),
        "ListDevices" => list::list_devices(ledger, args),
        "GetDeviceHistory" => history::device_history(ledger, args),
        "GetDevicePolicy" => policy_query::device_policy(ledger, args),
        other => Err(ContractError::UnknownFunction {
            name: other.to_string(),
        }),
    }
}
