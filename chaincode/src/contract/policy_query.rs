//! GetDevicePolicy(uuid): the key-level endorsement policies committed on a device's keys, in Fabric's policy language, so anyone can check who must endorse its changes.

use device_record::contract::DevicePolicy;

use super::args::Args;
use super::store;
use crate::error::ContractError;
use crate::keys;
use crate::ledger::Ledger;
use crate::policy;

pub(crate) fn device_policy(
    ledger: &impl Ledger,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new("GetDevicePolicy", raw, 1, 1, "1 argument (uuid)")?;
    let uuid = args.uuid(0)?;
    let record = store::load_existing(ledger, &uuid)?;
    let shown = |key: String| -> Result<Option<String>, ContractError> {
        match ledger.get_validation_parameter(&key)? {
            None => Ok(None),
            Some(bytes) => {
                policy::describe(&bytes)
                    .map(Some)
                    .map_err(|e| ContractError::CorruptState {
                        key,
                        reason: e.to_string(),
                    })
            }
        }
    };
    let answer = DevicePolicy {
        device_key_policy: shown(keys::device(&uuid))?,
        virtual_ip_key_policy: shown(keys::virtual_ip(&record.virtual_ip))?,
        uuid,
        owner_msp: record.owner_msp,
        virtual_ip: record.virtual_ip,
    };
    serde_json::to_vec(&answer).map_err(|e| ContractError::CorruptState {
        key: keys::device(&answer.uuid),
        reason: format!("policy encoding failed: {e}"),
    })
}
