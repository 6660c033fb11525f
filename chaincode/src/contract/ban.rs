//! BanDevice(uuid, reason) and UnbanDevice(uuid[, reason]).
//!
//! Both are idempotent in effect but always recorded: each call bumps the version, lands in the
//! key's history and emits an event. Banning a banned device keeps the time of the first ban and
//! replaces the reason with the new one (the latest judgement is what operators need to read).
//! Unbanning clears the ban time and reason; the unban reason travels in the event and in the
//! transaction's own arguments on the ledger.

use device_record::ChangeKind;

use super::args::Args;
use super::store;
use crate::access::require_admin;
use crate::error::ContractError;
use crate::ledger::Ledger;

pub(crate) fn ban(ledger: &mut impl Ledger, raw: &[Vec<u8>]) -> Result<Vec<u8>, ContractError> {
    let args = Args::new("BanDevice", raw, 2, 2, "2 arguments (uuid, reason)")?;
    require_admin(ledger.creator())?;
    let uuid = args.uuid(0)?;
    let reason = store::reason(&args, 1)?
        .ok_or_else(|| args.bad(1, "reason", "a ban needs a non-empty reason".to_string()))?;
    let mut record = store::load_existing(ledger, &uuid)?;
    let now = store::now(ledger)?;
    if !record.banned {
        record.banned = true;
        record.banned_timestamp = Some(now.clone());
    }
    record.ban_reason = Some(reason.clone());
    record.updated_at = now;
    record.version += 1;
    store::save(ledger, &record, ChangeKind::Banned, Some(reason))
}

pub(crate) fn unban(ledger: &mut impl Ledger, raw: &[Vec<u8>]) -> Result<Vec<u8>, ContractError> {
    let args = Args::new(
        "UnbanDevice",
        raw,
        1,
        2,
        "1 or 2 arguments (uuid[, reason])",
    )?;
    require_admin(ledger.creator())?;
    let uuid = args.uuid(0)?;
    let reason = store::reason(&args, 1)?;
    let mut record = store::load_existing(ledger, &uuid)?;
    record.banned = false;
    record.banned_timestamp = None;
    record.ban_reason = None;
    record.updated_at = store::now(ledger)?;
    record.version += 1;
    store::save(ledger, &record, ChangeKind::Unbanned, reason)
}
