//! Reading and writing device records and emitting the one event of a write; every key a device holds gets its owner's endorsement policy.

use device_record::{ChangeKind, DeviceRecord, EVENT_NAME, RegistryEvent};

use crate::error::ContractError;
use crate::keys;
use crate::ledger::Ledger;
use crate::members::Members;
use crate::policy;

/// Most bytes a ban or unban reason may hold.
pub(crate) const MAX_REASON_LEN: usize = 1024;

/// The committed record of `uuid`, if any.
pub(crate) fn load(
    ledger: &impl Ledger,
    uuid: &str,
) -> Result<Option<DeviceRecord>, ContractError> {
    let key = keys::device(uuid);
    match ledger.get_state(&key)? {
        None => Ok(None),
        Some(bytes) => parse_record(&key, &bytes).map(Some),
    }
}

/// The committed record of `uuid`, or `NotFound`.
pub(crate) fn load_existing(
    ledger: &impl Ledger,
    uuid: &str,
) -> Result<DeviceRecord, ContractError> {
    load(ledger, uuid)?.ok_or_else(|| ContractError::NotFound {
        uuid: uuid.to_string(),
    })
}

pub(crate) fn parse_record(key: &str, bytes: &[u8]) -> Result<DeviceRecord, ContractError> {
    DeviceRecord::from_json(bytes).map_err(|e| ContractError::CorruptState {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// The UUID holding virtual IP `ip`, if any.
pub(crate) fn ip_holder(ledger: &impl Ledger, ip: &str) -> Result<Option<String>, ContractError> {
    let key = keys::virtual_ip(ip);
    match ledger.get_state(&key)? {
        None => Ok(None),
        Some(bytes) => {
            String::from_utf8(bytes)
                .map(Some)
                .map_err(|e| ContractError::CorruptState {
                    key,
                    reason: e.to_string(),
                })
        }
    }
}

/// Refuses `ip` if a device other than `uuid` holds it.
pub(crate) fn require_ip_free(
    ledger: &impl Ledger,
    ip: &str,
    uuid: &str,
) -> Result<(), ContractError> {
    match ip_holder(ledger, ip)? {
        Some(holder) if holder != uuid => Err(ContractError::VirtualIpTaken {
            ip: ip.to_string(),
            holder,
        }),
        _ => Ok(()),
    }
}

/// The transaction time as RFC 3339 UTC: the only clock the contract uses.
pub(crate) fn now(ledger: &impl Ledger) -> Result<String, ContractError> {
    Ok(ledger.tx_timestamp().to_rfc3339()?)
}

/// A trimmed, bounded reason text.
pub(crate) fn reason(
    args: &super::args::Args<'_>,
    position: usize,
) -> Result<Option<String>, ContractError> {
    let Some(text) = args.text(position, "reason")? else {
        return Ok(None);
    };
    let text = text.trim();
    if text.len() > MAX_REASON_LEN {
        return Err(args.bad(
            position,
            "reason",
            format!("{} bytes; at most {MAX_REASON_LEN} allowed", text.len()),
        ));
    }
    Ok((!text.is_empty()).then(|| text.to_string()))
}

/// Points `record`'s virtual IP at it; [`save`] then gives the address key the record's policy.
pub(crate) fn claim_ip(
    ledger: &mut impl Ledger,
    record: &DeviceRecord,
) -> Result<(), ContractError> {
    let key = keys::virtual_ip(&record.virtual_ip);
    ledger.put_state(&key, record.uuid.clone().into_bytes())?;
    Ok(())
}

/// Puts the owner's key-level policy on `key` unless the committed one is already exactly that.
///
/// Rewriting an identical policy is not harmless: Fabric invalidates, with
/// ENDORSEMENT_POLICY_FAILURE, any later transaction in the same block that touches a key whose
/// validation parameter an earlier one set, so two writes of one device in a block would fail
/// that way instead of with the MVCC conflict clients expect.
fn keep_policy(
    ledger: &mut impl Ledger,
    key: &str,
    members: &Members,
    owner_msp: &str,
) -> Result<(), ContractError> {
    let wanted = policy::device_policy(owner_msp, members);
    if ledger.get_validation_parameter(key)?.as_deref() != Some(wanted.as_slice()) {
        ledger.set_validation_parameter(key, wanted)?;
    }
    Ok(())
}

/// Writes `record`, makes sure its record and address keys carry its owner's key-level policy,
/// and emits its event; returns the record JSON. Call after [`claim_ip`] when the address moves.
pub(crate) fn save(
    ledger: &mut impl Ledger,
    members: &Members,
    record: &DeviceRecord,
    change: ChangeKind,
    reason: Option<String>,
) -> Result<Vec<u8>, ContractError> {
    let json = record.to_json().map_err(|e| ContractError::CorruptState {
        key: keys::device(&record.uuid),
        reason: e.to_string(),
    })?;
    let event = RegistryEvent {
        uuid: record.uuid.clone(),
        change,
        version: record.version,
        record: Some(record.clone()),
        tx_id: ledger.tx_id().to_string(),
        reason,
    };
    let payload = encode_event(&event)?;
    let key = keys::device(&record.uuid);
    ledger.put_state(&key, json.clone())?;
    keep_policy(ledger, &key, members, &record.owner_msp)?;
    // The address key too, also for devices registered before key-level policies existed.
    let ip_key = keys::virtual_ip(&record.virtual_ip);
    keep_policy(ledger, &ip_key, members, &record.owner_msp)?;
    ledger.set_event(EVENT_NAME, payload)?;
    Ok(json)
}

pub(crate) fn encode_event(event: &RegistryEvent) -> Result<Vec<u8>, ContractError> {
    event.to_json().map_err(|e| ContractError::CorruptState {
        key: keys::device(&event.uuid),
        reason: format!("event encoding failed: {e}"),
    })
}
