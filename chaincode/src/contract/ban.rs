//! BanDevice(uuid, reason) and UnbanDevice(uuid[, reason]).
//!
//! A ban is a safety action: any member's registry administrator may ban any device, and the
//! record names the banning organisation (`banned_by_msp`). Only that organisation or the
//! device's owner may unban it.
//!
//! Both are idempotent in effect but always recorded: each call bumps the version, lands in the
//! key's history and emits an event. Banning a banned device keeps the time of the first ban and
//! replaces the reason and the banning organisation with the new ones (the latest judgement is
//! what operators read, and whoever made it may lift it). Unbanning clears the ban time, reason
//! and banner; the unban reason travels in the event and in the transaction's own arguments.

use device_record::ChangeKind;

use super::args::Args;
use super::store;
use crate::access::{require_may_unban, require_owner, require_writer};
use crate::error::ContractError;
use crate::ledger::Ledger;
use crate::members::Members;

pub(crate) fn ban(
    ledger: &mut impl Ledger,
    members: &Members,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new("BanDevice", raw, 2, 2, "2 arguments (uuid, reason)")?;
    require_writer(ledger.creator(), members)?;
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
    record.banned_by_msp = Some(ledger.creator().msp_id.clone());
    record.updated_at = now;
    record.version += 1;
    store::save(ledger, members, &record, ChangeKind::Banned, Some(reason))
}

pub(crate) fn unban(
    ledger: &mut impl Ledger,
    members: &Members,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new(
        "UnbanDevice",
        raw,
        1,
        2,
        "1 or 2 arguments (uuid[, reason])",
    )?;
    require_writer(ledger.creator(), members)?;
    let uuid = args.uuid(0)?;
    let reason = store::reason(&args, 1)?;
    let mut record = store::load_existing(ledger, &uuid)?;
    if record.banned {
        require_may_unban(ledger.creator(), &record)?;
    } else {
        // Nothing to lift: still the owner's record, so only the owner may touch it.
        require_owner(ledger.creator(), &record, "unban")?;
    }
    record.banned = false;
    record.banned_timestamp = None;
    record.ban_reason = None;
    record.banned_by_msp = None;
    record.updated_at = store::now(ledger)?;
    record.version += 1;
    store::save(ledger, members, &record, ChangeKind::Unbanned, reason)
}
