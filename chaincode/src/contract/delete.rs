//! DeleteDevice(uuid): removes a device and frees its virtual IP; its history stays on the ledger. Owner only.

use device_record::{ChangeKind, EVENT_NAME, RegistryEvent};

use super::args::Args;
use super::store;
use crate::access::{require_owner, require_writer};
use crate::error::ContractError;
use crate::keys;
use crate::ledger::Ledger;
use crate::members::Members;

pub(crate) fn delete(
    ledger: &mut impl Ledger,
    members: &Members,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new("DeleteDevice", raw, 1, 1, "1 argument (uuid)")?;
    require_writer(ledger.creator(), members)?;
    let uuid = args.uuid(0)?;
    let record = store::load_existing(ledger, &uuid)?;
    require_owner(ledger.creator(), &record, "delete")?;
    let version = record.version + 1;
    let event = RegistryEvent {
        uuid: uuid.clone(),
        change: ChangeKind::Deleted,
        version,
        record: None,
        tx_id: ledger.tx_id().to_string(),
        reason: None,
    };
    let payload = store::encode_event(&event)?;
    // Deleting a key also drops its key-level policy; Fabric checks the delete against it.
    ledger.del_state(&keys::device(&uuid))?;
    ledger.del_state(&keys::virtual_ip(&record.virtual_ip))?;
    ledger.put_state(&keys::tombstone(&uuid), version.to_string().into_bytes())?;
    ledger.set_event(EVENT_NAME, payload.clone())?;
    Ok(payload)
}
