//! RotateKey(uuid, public_key_pem): replaces a device's signing key. Owner only; the key is stored in canonical PEM.

use device_record::{ChangeKind, parse_public_key_pem};

use super::args::Args;
use super::store;
use crate::access::{require_owner, require_writer};
use crate::error::ContractError;
use crate::ledger::Ledger;
use crate::members::Members;

pub(crate) fn rotate_key(
    ledger: &mut impl Ledger,
    members: &Members,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new("RotateKey", raw, 2, 2, "2 arguments (uuid, public key PEM)")?;
    require_writer(ledger.creator(), members)?;
    let uuid = args.uuid(0)?;
    let pem = args.required_text(1, "public_key")?;
    let key = parse_public_key_pem(pem).map_err(|source| ContractError::InvalidKey {
        uuid: uuid.clone(),
        source,
    })?;
    let mut record = store::load_existing(ledger, &uuid)?;
    require_owner(ledger.creator(), &record, "rotate the key of")?;
    if record.key_fingerprint == key.fingerprint {
        return Err(ContractError::KeyUnchanged {
            uuid,
            fingerprint: key.fingerprint,
        });
    }
    record.public_key = key.pem();
    record.key_algorithm = key.algorithm;
    record.key_fingerprint = key.fingerprint;
    record.updated_at = store::now(ledger)?;
    record.version += 1;
    store::save(ledger, members, &record, ChangeKind::KeyRotated, None)
}
