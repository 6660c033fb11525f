//! UpdateDevice(request_json): replaces a device's role, virtual IP, key and labels. Owner only.

use device_record::ChangeKind;

use super::args::Args;
use super::register::parse_request;
use super::store;
use crate::access::{require_owner, require_writer};
use crate::error::ContractError;
use crate::keys;
use crate::ledger::Ledger;
use crate::members::Members;

pub(crate) fn update(
    ledger: &mut impl Ledger,
    members: &Members,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new(
        "UpdateDevice",
        raw,
        1,
        1,
        "1 argument (device request JSON)",
    )?;
    require_writer(ledger.creator(), members)?;
    let request = parse_request(&args)?;
    let mut record = store::load_existing(ledger, &request.uuid)?;
    require_owner(ledger.creator(), &record, "update")?;
    let old_ip = record.virtual_ip.clone();
    let ip_moves = old_ip != request.virtual_ip;
    if ip_moves {
        store::require_ip_free(ledger, &request.virtual_ip, &request.uuid)?;
    }
    // Ban state, owner and creation time are not changed by an update.
    record.node_type = request.node_type;
    record.virtual_ip = request.virtual_ip;
    record.public_key = request.public_key;
    record.key_algorithm = request.key.algorithm;
    record.key_fingerprint = request.key.fingerprint;
    record.labels = request.labels;
    record.updated_at = store::now(ledger)?;
    record.version += 1;
    if ip_moves {
        ledger.del_state(&keys::virtual_ip(&old_ip))?;
        store::claim_ip(ledger, &record)?;
    }
    store::save(ledger, members, &record, ChangeKind::Updated, None)
}
