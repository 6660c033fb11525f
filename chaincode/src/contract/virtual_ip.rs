//! SetVirtualIp(uuid, ip): moves a device to another virtual IP and changes nothing else, so enrolment cannot undo a key rotation committed meanwhile. Owner only.

use device_record::{ChangeKind, normalise_virtual_ip};

use super::args::Args;
use super::store;
use crate::access::{require_owner, require_writer};
use crate::error::ContractError;
use crate::keys;
use crate::ledger::Ledger;
use crate::members::Members;

pub(crate) fn set_virtual_ip(
    ledger: &mut impl Ledger,
    members: &Members,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new("SetVirtualIp", raw, 2, 2, "2 arguments (uuid, virtual IP)")?;
    require_writer(ledger.creator(), members)?;
    let uuid = args.uuid(0)?;
    let ip = normalise_virtual_ip(args.required_text(1, "virtual_ip")?)?;
    let mut record = store::load_existing(ledger, &uuid)?;
    require_owner(ledger.creator(), &record, "set the virtual IP of")?;
    if record.virtual_ip == ip {
        // Already there: answer the record and write nothing, so retries are harmless.
        return record.to_json().map_err(|e| ContractError::CorruptState {
            key: keys::device(&uuid),
            reason: e.to_string(),
        });
    }
    store::require_ip_free(ledger, &ip, &uuid)?;
    let old_ip = std::mem::replace(&mut record.virtual_ip, ip);
    record.updated_at = store::now(ledger)?;
    record.version += 1;
    ledger.del_state(&keys::virtual_ip(&old_ip))?;
    store::claim_ip(ledger, &record)?;
    store::save(ledger, members, &record, ChangeKind::Updated, None)
}
