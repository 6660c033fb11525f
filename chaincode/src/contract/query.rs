//! GetDevice(uuid) and DeviceExists(uuid): single-device reads, open to every member.

use super::args::Args;
use super::store;
use crate::error::ContractError;
use crate::ledger::Ledger;

pub(crate) fn get_device(ledger: &impl Ledger, raw: &[Vec<u8>]) -> Result<Vec<u8>, ContractError> {
    let args = Args::new("GetDevice", raw, 1, 1, "1 argument (uuid)")?;
    let uuid = args.uuid(0)?;
    let record = store::load_existing(ledger, &uuid)?;
    record.to_json().map_err(|e| ContractError::CorruptState {
        key: crate::keys::device(&uuid),
        reason: e.to_string(),
    })
}

pub(crate) fn device_exists(
    ledger: &impl Ledger,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new("DeviceExists", raw, 1, 1, "1 argument (uuid)")?;
    let uuid = args.uuid(0)?;
    let exists = store::load(ledger, &uuid)?.is_some();
    Ok(if exists {
        b"true".to_vec()
    } else {
        b"false".to_vec()
    })
}
