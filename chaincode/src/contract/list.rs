//! ListDevices(page_size, bookmark[, filter_json]): pages through the registry in UUID order.
//!
//! With a filter, one call reads at most `SCAN_FACTOR * page_size` records, so a page may hold
//! fewer than `page_size` matches while `bookmark` is non-empty: keep calling until it is empty.

use device_record::contract::{DeviceFilter, DevicePage, MAX_PAGE_SIZE};

use super::args::Args;
use super::store;
use crate::error::ContractError;
use crate::keys;
use crate::ledger::Ledger;

/// How many records one filtered call may read per requested record.
const SCAN_FACTOR: usize = 10;

pub(crate) fn list_devices(
    ledger: &impl Ledger,
    raw: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let args = Args::new(
        "ListDevices",
        raw,
        2,
        3,
        "2 or 3 arguments (page_size, bookmark[, filter JSON])",
    )?;
    let page_size_text = args.required_text(0, "page_size")?;
    let page_size: u32 = page_size_text
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
        .ok_or_else(|| {
            args.bad(
                0,
                "page_size",
                format!("{page_size_text:?} is not a whole number from 1 to {MAX_PAGE_SIZE}"),
            )
        })?;
    let bookmark = args.required_text(1, "bookmark")?;
    if !bookmark.is_empty() && !bookmark.starts_with(keys::DEVICE_PREFIX) {
        return Err(args.bad(
            1,
            "bookmark",
            format!("{bookmark:?} was not returned by ListDevices; pass \"\" to start"),
        ));
    }
    let filter = match args.text(2, "filter")? {
        None => DeviceFilter::default(),
        Some(t) if t.trim().is_empty() => DeviceFilter::default(),
        Some(t) => serde_json::from_str(t).map_err(|e| {
            args.bad(2, "filter", format!("{e}; expected {{\"node_type\":\"Gateway\",\"banned\":false}} with either field optional"))
        })?,
    };
    let page = collect_page(ledger, page_size, bookmark, &filter)?;
    serde_json::to_vec(&page).map_err(|e| ContractError::CorruptState {
        key: keys::DEVICE_PREFIX.to_string(),
        reason: format!("page encoding failed: {e}"),
    })
}

fn collect_page(
    ledger: &impl Ledger,
    page_size: u32,
    bookmark: &str,
    filter: &DeviceFilter,
) -> Result<DevicePage, ContractError> {
    let wanted = page_size as usize;
    let scan_limit = wanted * SCAN_FACTOR;
    let mut records = Vec::new();
    let mut fetched = 0;
    let mut cursor = bookmark.to_string();
    loop {
        let (entries, next) = ledger.get_state_by_range_with_pagination(
            keys::DEVICE_PREFIX,
            keys::DEVICE_RANGE_END,
            page_size,
            &cursor,
        )?;
        for (i, (key, value)) in entries.iter().enumerate() {
            fetched += 1;
            let record = store::parse_record(key, value)?;
            if filter.matches(&record) {
                records.push(record);
            }
            if records.len() == wanted || fetched == scan_limit {
                // Resume right after the last record read.
                let resume = entries.get(i + 1).map(|(k, _)| k.clone()).unwrap_or(next);
                return Ok(DevicePage {
                    records,
                    bookmark: resume,
                    fetched,
                });
            }
        }
        if next.is_empty() {
            return Ok(DevicePage {
                records,
                bookmark: String::new(),
                fetched,
            });
        }
        cursor = next;
    }
}
