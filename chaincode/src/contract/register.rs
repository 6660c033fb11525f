//! RegisterDevice(request_json): adds a new device, owned by the submitter's organisation, and claims its virtual IP.

use device_record::{ChangeKind, DeviceRecord, DeviceRequest, ValidatedRequest};

use super::args::Args;
use super::store;
use crate::access::require_writer;
use crate::error::ContractError;
use crate::keys;
use crate::ledger::Ledger;
use crate::members::Members;

pub(crate) fn register(
    ledger: &mut impl Ledger,
    members: &Members,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new(
        "RegisterDevice",
        raw,
        1,
        1,
        "1 argument (device request JSON)",
    )?;
    require_writer(ledger.creator(), members)?;
    let request = parse_request(&args)?;
    if store::load(ledger, &request.uuid)?.is_some() {
        return Err(ContractError::AlreadyRegistered { uuid: request.uuid });
    }
    store::require_ip_free(ledger, &request.virtual_ip, &request.uuid)?;
    // A re-registered UUID continues after the version its deletion reached.
    let version = match ledger.get_state(&keys::tombstone(&request.uuid))? {
        None => 1,
        Some(bytes) => parse_version(&keys::tombstone(&request.uuid), &bytes)? + 1,
    };
    let now = store::now(ledger)?;
    let record = DeviceRecord {
        uuid: request.uuid.clone(),
        node_type: request.node_type,
        virtual_ip: request.virtual_ip.clone(),
        public_key: request.public_key,
        key_algorithm: request.key.algorithm,
        key_fingerprint: request.key.fingerprint,
        banned: false,
        banned_timestamp: None,
        ban_reason: None,
        banned_by_msp: None,
        owner_msp: ledger.creator().msp_id.clone(),
        created_at: now.clone(),
        updated_at: now,
        version,
        labels: request.labels,
    };
    store::claim_ip(ledger, &record)?;
    store::save(ledger, members, &record, ChangeKind::Registered, None)
}

/// Decodes and validates the device request JSON in argument 1.
pub(crate) fn parse_request(args: &Args<'_>) -> Result<ValidatedRequest, ContractError> {
    let body = args.bytes(0).unwrap_or_default();
    let request: DeviceRequest =
        serde_json::from_slice(body).map_err(|e| ContractError::BadRequestJson {
            function: args.function(),
            reason: e.to_string(),
        })?;
    Ok(request.validate()?)
}

pub(crate) fn parse_version(key: &str, bytes: &[u8]) -> Result<u64, ContractError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| ContractError::CorruptState {
            key: key.to_string(),
            reason: "not a decimal version number".to_string(),
        })
}
