//! GetDeviceHistory(uuid): every committed change of a device, oldest first: the audit trail.

use device_record::contract::HistoryEntry;

use super::args::Args;
use super::store;
use crate::error::ContractError;
use crate::keys;
use crate::ledger::Ledger;

pub(crate) fn device_history(
    ledger: &impl Ledger,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new("GetDeviceHistory", raw, 1, 1, "1 argument (uuid)")?;
    let uuid = args.uuid(0)?;
    let key = keys::device(&uuid);
    let mut modifications = ledger.get_history_for_key(&key)?;
    if modifications.is_empty() {
        return Err(ContractError::NotFound { uuid });
    }
    // The ledger reports newest first; an audit trail reads oldest first.
    modifications.reverse();
    let entries = modifications
        .into_iter()
        .map(|m| {
            let record = if m.is_delete {
                None
            } else {
                Some(store::parse_record(&key, &m.value)?)
            };
            Ok(HistoryEntry {
                tx_id: m.tx_id,
                timestamp: m.timestamp.to_rfc3339()?,
                is_delete: m.is_delete,
                record,
            })
        })
        .collect::<Result<Vec<_>, ContractError>>()?;
    serde_json::to_vec(&entries).map_err(|e| ContractError::CorruptState {
        key,
        reason: format!("history encoding failed: {e}"),
    })
}
