//! Listing with bookmarks and filters; history in commit order; one event per write.

mod common;

use std::collections::BTreeSet;

use common::*;
use device_record::ChangeKind;
use device_record::contract::{DevicePage, HistoryEntry};

fn list(h: &mut Harness, page_size: u32, bookmark: &str, filter: Option<&str>) -> DevicePage {
    let size = page_size.to_string();
    let mut args: Vec<&[u8]> = vec![size.as_bytes(), bookmark.as_bytes()];
    if let Some(f) = filter {
        args.push(f.as_bytes());
    }
    serde_json::from_slice(&h.submit(&client(), "ListDevices", &args).unwrap()).unwrap()
}

/// Follows bookmarks to the end, returning every UUID and the number of calls.
fn list_all(h: &mut Harness, page_size: u32, filter: Option<&str>) -> (Vec<String>, usize) {
    let mut uuids = Vec::new();
    let mut bookmark = String::new();
    let mut calls = 0;
    loop {
        let page = list(h, page_size, &bookmark, filter);
        calls += 1;
        assert!(page.records.len() <= page_size as usize);
        assert!(page.fetched >= page.records.len());
        uuids.extend(page.records.into_iter().map(|r| r.uuid));
        if page.bookmark.is_empty() {
            return (uuids, calls);
        }
        bookmark = page.bookmark;
    }
}

#[test]
fn list_pages_through_260_devices_with_bookmarks_and_filters() {
    let mut h = Harness::new();
    let mut expected_banned = BTreeSet::new();
    for n in 1..=260u32 {
        let node_type = if n % 4 == 0 { "Validator" } else { "Gateway" };
        h.register(n, node_type, &format!("10.9.{}.{}", n / 200, n % 200 + 1));
        if n % 7 == 0 {
            h.submit(&admin(), "BanDevice", &[uuid(n).as_bytes(), b"audit"])
                .unwrap();
            if node_type == "Gateway" {
                expected_banned.insert(uuid(n));
            }
        }
    }

    let (all, calls) = list_all(&mut h, 100, None);
    let expected: Vec<String> = (1..=260)
        .map(uuid)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(all, expected, "every device once, in key order");
    assert_eq!(calls, 3);

    let first = list(&mut h, 100, "", None);
    assert_eq!((first.records.len(), first.fetched), (100, 100));
    assert_eq!(first.bookmark, format!("device/{}", expected[100]));

    let (validators, _) = list_all(&mut h, 30, Some(r#"{"node_type":"Validator"}"#));
    assert_eq!(validators.len(), 65);
    assert!(
        validators
            .iter()
            .all(|u| u32::from_str_radix(&u[..8], 16).unwrap() % 4 == 0)
    );

    let (banned, _) = list_all(&mut h, 7, Some(r#"{"node_type":"Gateway","banned":true}"#));
    assert_eq!(banned.into_iter().collect::<BTreeSet<_>>(), expected_banned);

    // A selective filter reads a bounded number of records per call and still finishes.
    let sparse = list(&mut h, 1, "", Some(r#"{"node_type":"Administrator"}"#));
    assert!(sparse.records.is_empty());
    assert_eq!(sparse.fetched, 10);
    assert!(!sparse.bookmark.is_empty());
}

#[test]
fn list_refuses_bad_page_size_bookmark_and_filter() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    for (args, needle) in [
        (vec![&b"0"[..], b""], "page_size"),
        (vec![&b"1001"[..], b""], "page_size"),
        (vec![&b"ten"[..], b""], "\"ten\""),
        (vec![&b"10"[..], b"vip/10.8.0.2"], "bookmark"),
        (vec![&b"10"[..], b"", b"{\"owner\":\"x\"}"], "filter"),
    ] {
        let err = h.assert_refused(&client(), "ListDevices", &args);
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
}

#[test]
fn history_lists_every_change_oldest_first_including_delete() {
    let mut h = Harness::new();
    let t1 = h.next_tx_id();
    h.register(1, "Gateway", "10.8.0.2");
    let t2 = h.next_tx_id();
    let t2_time = h.next_timestamp().to_rfc3339().unwrap();
    h.submit(&admin(), "BanDevice", &[uuid(1).as_bytes(), b"replay"])
        .unwrap();
    h.register(2, "Gateway", "10.8.0.3");
    let t4 = h.next_tx_id();
    h.submit(&admin(), "UnbanDevice", &[uuid(1).as_bytes()])
        .unwrap();
    let t5 = h.next_tx_id();
    h.submit(&admin(), "DeleteDevice", &[uuid(1).as_bytes()])
        .unwrap();

    let out = h
        .submit(&client(), "GetDeviceHistory", &[uuid(1).as_bytes()])
        .unwrap();
    let history: Vec<HistoryEntry> = serde_json::from_slice(&out).unwrap();
    let ids: Vec<&str> = history.iter().map(|e| e.tx_id.as_str()).collect();
    assert_eq!(ids, [t1.as_str(), t2.as_str(), t4.as_str(), t5.as_str()]);
    let versions: Vec<Option<u64>> = history
        .iter()
        .map(|e| e.record.as_ref().map(|r| r.version))
        .collect();
    assert_eq!(versions, [Some(1), Some(2), Some(3), None]);
    assert_eq!(history[1].timestamp, t2_time);
    assert!(history[1].record.as_ref().unwrap().banned);
    assert!(history[3].is_delete);

    let err = h
        .submit(&client(), "GetDeviceHistory", &[uuid(3).as_bytes()])
        .unwrap_err();
    assert!(err.to_string().contains(&uuid(3)), "{err}");
}

#[test]
fn every_write_emits_one_event_with_the_new_version() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    h.submit(
        &admin(),
        "UpdateDevice",
        &[&request(&uuid(1), "Gateway", "10.8.0.5", &p256_pem())],
    )
    .unwrap();
    h.submit(
        &admin(),
        "RotateKey",
        &[uuid(1).as_bytes(), ed25519_pem().as_bytes()],
    )
    .unwrap();
    h.submit(&admin(), "BanDevice", &[uuid(1).as_bytes(), b"x"])
        .unwrap();
    h.submit(&admin(), "UnbanDevice", &[uuid(1).as_bytes()])
        .unwrap();
    // Reads emit nothing.
    h.get(&uuid(1));
    h.submit(&admin(), "DeleteDevice", &[uuid(1).as_bytes()])
        .unwrap();

    let committed = h.ledger.events().to_vec();
    let events = h.events();
    let summary: Vec<(ChangeKind, u64)> = events.iter().map(|e| (e.change, e.version)).collect();
    assert_eq!(
        summary,
        [
            (ChangeKind::Registered, 1),
            (ChangeKind::Updated, 2),
            (ChangeKind::KeyRotated, 3),
            (ChangeKind::Banned, 4),
            (ChangeKind::Unbanned, 5),
            (ChangeKind::Deleted, 6),
        ]
    );
    for (event, raw) in events.iter().zip(&committed) {
        assert_eq!(event.tx_id, raw.tx_id);
        assert_eq!(event.uuid, uuid(1));
        if let Some(r) = &event.record {
            assert_eq!(r.version, event.version);
        }
    }
    assert_eq!(events[1].record.as_ref().unwrap().virtual_ip, "10.8.0.5");
}
