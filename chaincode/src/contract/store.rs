//! Reading and writing device records and emitting the one event of a write.

use device_record::{ChangeKind, DeviceRecord, EVENT_NAME, RegistryEvent};

use crate::error::ContractError;
use crate::keys;
use crate::ledger::Ledger;

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

/// Writes `record` and emits its event; returns the record JSON as the response.
pub(crate) fn save(
    ledger: &mut impl Ledger,
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
    ledger.put_state(&keys::device(&record.uuid), json.clone())?;
    ledger.set_event(EVENT_NAME, payload)?;
    Ok(json)
}

pub(crate) fn encode_event(event: &RegistryEvent) -> Result<Vec<u8>, ContractError> {
    event.to_json().map_err(|e| ContractError::CorruptState {
        key: keys::device(&event.uuid),
        reason: format!("event encoding failed: {e}"),
    })
}
