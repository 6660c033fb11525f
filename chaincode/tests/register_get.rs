//! Registering devices and reading them back; updates, key rotation and deletion.

mod common;

use common::*;
use device_record::{ChangeKind, KeyAlgorithm};

#[test]
fn register_then_get_returns_the_canonical_record() {
    let mut h = Harness::new();
    let key = rsa2048_pem();
    let upper = uuid(1).to_uppercase();
    let ts = h.next_timestamp().to_rfc3339().unwrap();
    h.submit(
        &admin(),
        "RegisterDevice",
        &[&request(&upper, "Gateway", "10.8.0.2", &key)],
    )
    .unwrap();

    let rec = h.get(&uuid(1));
    assert_eq!(rec["uuid"], uuid(1));
    assert_eq!(rec["node_type"], "Gateway");
    assert_eq!(rec["virtual_ip"], "10.8.0.2");
    assert_eq!(rec["public_key"], key);
    assert_eq!(rec["key_algorithm"], "RSA");
    assert_eq!(rec["key_fingerprint"].as_str().unwrap().len(), 64);
    assert_eq!(rec["banned"], false);
    assert_eq!(rec["owner_msp"], "Org1MSP");
    assert_eq!(rec["created_at"], ts);
    assert_eq!(rec["updated_at"], ts);
    assert_eq!(rec["version"], 1);
    assert_eq!(rec["labels"]["area"], "north");

    // Lookups by any letter case find the same device.
    let again = h.get(&upper);
    assert_eq!(again, rec);
    assert_eq!(
        h.submit(&client(), "DeviceExists", &[uuid(1).as_bytes()])
            .unwrap(),
        b"true"
    );
    assert_eq!(
        h.submit(&client(), "DeviceExists", &[uuid(2).as_bytes()])
            .unwrap(),
        b"false"
    );
}

#[test]
fn keys_are_stored_in_one_canonical_spelling() {
    let mut h = Harness::new();
    let canonical = rsa2048_pem();
    let crlf = format!("\r\n{}", canonical.replace('\n', "\r\n"));
    h.submit(
        &admin(),
        "RegisterDevice",
        &[&request(&uuid(1), "Gateway", "10.8.0.2", &crlf)],
    )
    .unwrap();
    assert_eq!(h.get(&uuid(1))["public_key"], canonical);
    // A rotation to the same key in another spelling is the same key.
    let err = h.assert_refused(
        &admin(),
        "RotateKey",
        &[uuid(1).as_bytes(), format!("  {canonical}").as_bytes()],
    );
    assert!(err.to_string().contains("already uses the key"), "{err}");
}

#[test]
fn get_of_unknown_device_names_it() {
    let mut h = Harness::new();
    let err = h
        .submit(&client(), "GetDevice", &[uuid(9).as_bytes()])
        .unwrap_err();
    assert!(err.to_string().contains(&uuid(9)), "{err}");
}

#[test]
fn update_moves_the_virtual_ip_index_and_keeps_ban_state() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    h.submit(&admin(), "BanDevice", &[uuid(1).as_bytes(), b"tamper"])
        .unwrap();
    let body = request(&uuid(1), "Validator", "10.8.0.3", &ed25519_pem());
    h.submit(&admin(), "UpdateDevice", &[&body]).unwrap();

    let rec = h.get(&uuid(1));
    assert_eq!(rec["virtual_ip"], "10.8.0.3");
    assert_eq!(rec["node_type"], "Validator");
    assert_eq!(rec["key_algorithm"], "Ed25519");
    assert_eq!(rec["banned"], true);
    assert_eq!(rec["version"], 3);
    assert_ne!(rec["created_at"], rec["updated_at"]);

    // The old address is free again, the new one is taken.
    h.register(2, "Gateway", "10.8.0.2");
    let body = request(&uuid(3), "Gateway", "10.8.0.3", &p256_pem());
    let err = h.assert_refused(&admin(), "RegisterDevice", &[&body]);
    assert!(err.to_string().contains(&uuid(1)), "{err}");
}

#[test]
fn update_of_unknown_device_is_refused() {
    let mut h = Harness::new();
    let body = request(&uuid(4), "Gateway", "10.8.0.4", &p256_pem());
    let err = h.assert_refused(&admin(), "UpdateDevice", &[&body]);
    assert!(err.to_string().contains("not registered"), "{err}");
}

#[test]
fn rotate_key_replaces_key_and_refuses_the_same_key() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    let old = h.get(&uuid(1));
    let new_key = ed25519_pem();
    h.submit(
        &admin(),
        "RotateKey",
        &[uuid(1).as_bytes(), new_key.as_bytes()],
    )
    .unwrap();
    let rec = h.get(&uuid(1));
    assert_eq!(rec["public_key"], new_key);
    assert_eq!(
        rec["key_algorithm"],
        serde_json::to_value(KeyAlgorithm::Ed25519).unwrap()
    );
    assert_ne!(rec["key_fingerprint"], old["key_fingerprint"]);
    assert_eq!(rec["version"], 2);
    assert_eq!(h.events().last().unwrap().change, ChangeKind::KeyRotated);

    let err = h.assert_refused(
        &admin(),
        "RotateKey",
        &[uuid(1).as_bytes(), new_key.as_bytes()],
    );
    assert!(err.to_string().contains("already uses the key"), "{err}");
    let err = h.assert_refused(
        &admin(),
        "RotateKey",
        &[uuid(1).as_bytes(), RSA1024_PEM.as_bytes()],
    );
    assert!(err.to_string().contains("1024 bits"), "{err}");
}

#[test]
fn delete_frees_the_ip_and_reregistration_continues_the_version() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    h.submit(&admin(), "BanDevice", &[uuid(1).as_bytes(), b"lost"])
        .unwrap();
    h.submit(&admin(), "DeleteDevice", &[uuid(1).as_bytes()])
        .unwrap();
    assert_eq!(
        h.submit(&client(), "DeviceExists", &[uuid(1).as_bytes()])
            .unwrap(),
        b"false"
    );
    let deleted = h.events().last().unwrap().clone();
    assert_eq!(
        (deleted.change, deleted.version, deleted.record.is_none()),
        (ChangeKind::Deleted, 3, true)
    );

    h.register(2, "Gateway", "10.8.0.2");
    h.register(1, "Gateway", "10.8.0.9");
    let rec = h.get(&uuid(1));
    assert_eq!(rec["version"], 4);
    assert_eq!(rec["banned"], false);

    let err = h.assert_refused(&admin(), "DeleteDevice", &[uuid(5).as_bytes()]);
    assert!(err.to_string().contains(&uuid(5)), "{err}");
}
