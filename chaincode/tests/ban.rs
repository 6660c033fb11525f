//! Banning and unbanning: recorded with the transaction time, idempotent in effect.

mod common;

use common::*;
use device_record::ChangeKind;

#[test]
fn ban_records_tx_timestamp_and_reason() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    let ban_time = h.next_timestamp().to_rfc3339().unwrap();
    h.submit(
        &admin(),
        "BanDevice",
        &[uuid(1).as_bytes(), b"  signature forgery  "],
    )
    .unwrap();
    let rec = h.get(&uuid(1));
    assert_eq!(rec["banned"], true);
    assert_eq!(rec["banned_timestamp"], ban_time);
    assert_eq!(rec["updated_at"], ban_time);
    assert_eq!(rec["ban_reason"], "signature forgery");
    assert_eq!(rec["version"], 2);
}

#[test]
fn banning_twice_keeps_first_ban_time_and_takes_the_new_reason() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    let first = h.next_timestamp().to_rfc3339().unwrap();
    h.submit(&admin(), "BanDevice", &[uuid(1).as_bytes(), b"replay"])
        .unwrap();
    h.submit(
        &admin(),
        "BanDevice",
        &[uuid(1).as_bytes(), b"replay, confirmed"],
    )
    .unwrap();
    let rec = h.get(&uuid(1));
    assert_eq!(rec["banned"], true);
    assert_eq!(rec["banned_timestamp"], first);
    assert_ne!(rec["updated_at"], first);
    assert_eq!(rec["ban_reason"], "replay, confirmed");
    assert_eq!(rec["version"], 3);
    let kinds: Vec<_> = h
        .events()
        .iter()
        .map(|e| (e.change, e.version, e.reason.clone()))
        .collect();
    assert_eq!(
        kinds[1..],
        [
            (ChangeKind::Banned, 2, Some("replay".to_string())),
            (ChangeKind::Banned, 3, Some("replay, confirmed".to_string()))
        ]
    );
}

#[test]
fn unban_clears_ban_fields_and_is_recorded_even_when_not_banned() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    h.submit(&admin(), "BanDevice", &[uuid(1).as_bytes(), b"replay"])
        .unwrap();
    h.submit(
        &admin(),
        "UnbanDevice",
        &[uuid(1).as_bytes(), b"key rotated"],
    )
    .unwrap();
    let rec = h.get(&uuid(1));
    assert_eq!(rec["banned"], false);
    assert!(rec["banned_timestamp"].is_null());
    assert!(rec["ban_reason"].is_null());
    assert_eq!(rec["version"], 3);
    assert_eq!(
        h.events().last().unwrap().reason.as_deref(),
        Some("key rotated")
    );

    h.submit(&admin(), "UnbanDevice", &[uuid(1).as_bytes()])
        .unwrap();
    let rec = h.get(&uuid(1));
    assert_eq!(
        (rec["banned"].as_bool(), rec["version"].as_u64()),
        (Some(false), Some(4))
    );
    let last = h.events().last().unwrap().clone();
    assert_eq!((last.change, last.reason), (ChangeKind::Unbanned, None));
}

#[test]
fn ban_needs_a_reason_and_an_existing_device() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    let err = h.assert_refused(&admin(), "BanDevice", &[uuid(1).as_bytes(), b"   "]);
    assert!(err.to_string().contains("non-empty reason"), "{err}");
    let long = vec![b'x'; 2000];
    let err = h.assert_refused(&admin(), "BanDevice", &[uuid(1).as_bytes(), &long]);
    assert!(err.to_string().contains("2000 bytes"), "{err}");
    let err = h.assert_refused(&admin(), "BanDevice", &[uuid(2).as_bytes(), b"x"]);
    assert!(err.to_string().contains("not registered"), "{err}");
}
