//! Layout of the contract's ledger keys: one record per device, plus a virtual-IP index.

/// Prefix of device records: `device/<uuid>`.
pub const DEVICE_PREFIX: &str = "device/";
/// Exclusive end of the device range (`'/' + 1 == '0'`).
pub const DEVICE_RANGE_END: &str = "device0";
/// Prefix of the virtual-IP index: `vip/<canonical ip>` holds the owning UUID.
pub const VIP_PREFIX: &str = "vip/";
/// Prefix of deletion markers: `deleted/<uuid>` holds the last version of a deleted device, so a
/// re-registered UUID continues its version sequence and caches never see a version go backwards.
pub const TOMBSTONE_PREFIX: &str = "deleted/";

pub fn device(uuid: &str) -> String {
    format!("{DEVICE_PREFIX}{uuid}")
}

pub fn virtual_ip(ip: &str) -> String {
    format!("{VIP_PREFIX}{ip}")
}

pub fn tombstone(uuid: &str) -> String {
    format!("{TOMBSTONE_PREFIX}{uuid}")
}
