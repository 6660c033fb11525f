//! DeleteDevice(uuid): removes a device and frees its virtual IP; its history stays on the ledger.

use device_record::{ChangeKind, EVENT_NAME, RegistryEvent};

use super::args::Args;
use super::store;
use crate::access::require_admin;
use crate::error::ContractError;
use crate::keys;
use crate::ledger::Ledger;

pub(crate) fn delete(ledger: &mut impl Ledger, raw: &[Vec<u8>]) -> Result<Vec<u8>, ContractError> {
    let args = Args::new("DeleteDevice", raw, 1, 1, "1 argument (uuid)")?;
    require_admin(ledger.creator())?;
    let uuid = args.uuid(0)?;
    let record = store::load_existing(ledger, &uuid)?;
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
    ledger.del_state(&keys::device(&uuid))?;
    ledger.del_state(&keys::virtual_ip(&record.virtual_ip))?;
    ledger.put_state(&keys::tombstone(&uuid), version.to_string().into_bytes())?;
    ledger.set_event(EVENT_NAME, payload.clone())?;
    Ok(payload)
}
