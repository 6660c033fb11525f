//! Owner-scoped writes, attributed bans, unban rules and the key-level policy each write leaves, in-process on `MemoryLedger` with the whole state compared around every refusal.

mod common;

use common::*;
use device_record::ChangeKind;
use device_registry::ContractError;
use device_registry::access::AccessError;
use device_registry::policy::{describe, device_policy};
use serde_json::{Value, json};

const BOTH_PEERS: &str = "AND('Org1MSP.peer', 'Org2MSP.peer')";

fn assert_not_owner(err: &ContractError, uuid: &str) {
    assert!(
        matches!(err, ContractError::Denied(AccessError::NotOwner { owner_msp, caller_msp, .. })
            if owner_msp == "Org1MSP" && caller_msp == "Org2MSP"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(uuid) && text.contains("Org1MSP") && text.contains("Org2MSP"),
        "the refusal names device, owner and caller: {text}"
    );
}

#[test]
fn another_organisation_may_not_update_rotate_move_or_delete_a_device() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    let id = uuid(1);
    let body = request(&id, "Validator", "10.8.0.9", &p256_pem());
    let key = p256_pem();
    let writes: [(&str, Vec<&[u8]>); 4] = [
        ("UpdateDevice", vec![&body]),
        ("RotateKey", vec![id.as_bytes(), key.as_bytes()]),
        ("SetVirtualIp", vec![id.as_bytes(), b"10.8.0.9"]),
        ("DeleteDevice", vec![id.as_bytes()]),
    ];
    // Neither the NodeOU admin nor the attribute admin of Org2 owns Org1's device.
    for who in [org2_admin(), attribute_admin()] {
        for (function, args) in &writes {
            let err = h.assert_refused(&who, function, args);
            assert_not_owner(&err, &id);
        }
    }
    assert_eq!(h.get(&id)["version"], 1);
}

#[test]
fn any_member_may_ban_and_the_record_names_the_banner() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    h.submit(&org2_admin(), "BanDevice", &[uuid(1).as_bytes(), b"replay"])
        .unwrap();
    let rec = h.get(&uuid(1));
    assert_eq!(
        (&rec["banned"], &rec["banned_by_msp"], &rec["owner_msp"]),
        (&json!(true), &json!("Org2MSP"), &json!("Org1MSP"))
    );
    let event = h.events().last().unwrap().clone();
    assert_eq!(event.change, ChangeKind::Banned);
    assert_eq!(
        event.record.unwrap().banned_by_msp.as_deref(),
        Some("Org2MSP")
    );
}

#[test]
fn the_owner_may_lift_another_members_ban() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    h.submit(&org2_admin(), "BanDevice", &[uuid(1).as_bytes(), b"replay"])
        .unwrap();
    h.submit(&admin(), "UnbanDevice", &[uuid(1).as_bytes(), b"checked"])
        .unwrap();
    let rec = h.get(&uuid(1));
    assert_eq!(rec["banned"], false);
    assert!(rec["banned_by_msp"].is_null() && rec["ban_reason"].is_null());
}

#[test]
fn the_banning_member_may_lift_its_own_ban() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    h.submit(&org2_admin(), "BanDevice", &[uuid(1).as_bytes(), b"replay"])
        .unwrap();
    h.submit(&org2_admin(), "UnbanDevice", &[uuid(1).as_bytes()])
        .unwrap();
    assert_eq!(h.get(&uuid(1))["banned"], false);
}

#[test]
fn a_member_may_not_lift_a_ban_it_did_not_make_on_a_device_it_does_not_own() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    h.submit(&admin(), "BanDevice", &[uuid(1).as_bytes(), b"stolen"])
        .unwrap();
    let err = h.assert_refused(&org2_admin(), "UnbanDevice", &[uuid(1).as_bytes()]);
    assert!(
        matches!(&err, ContractError::Denied(AccessError::NotBanner { banned_by, caller_msp, .. })
            if banned_by == "Org1MSP" && caller_msp == "Org2MSP"),
        "{err:?}"
    );
    assert!(err.to_string().contains(&uuid(1)), "{err}");

    // A later ban by the owner takes over the ban: Org2 can no longer lift it.
    h.submit(
        &org2_admin(),
        "BanDevice",
        &[uuid(1).as_bytes(), b"also seen"],
    )
    .unwrap();
    assert_eq!(h.get(&uuid(1))["banned_by_msp"], "Org2MSP");
    h.submit(&admin(), "BanDevice", &[uuid(1).as_bytes(), b"confirmed"])
        .unwrap();
    let err = h.assert_refused(&org2_admin(), "UnbanDevice", &[uuid(1).as_bytes()]);
    assert!(
        matches!(err, ContractError::Denied(AccessError::NotBanner { .. })),
        "{err:?}"
    );
    // An unbanned device is its owner's alone to touch.
    h.submit(&admin(), "UnbanDevice", &[uuid(1).as_bytes()])
        .unwrap();
    let err = h.assert_refused(&org2_admin(), "UnbanDevice", &[uuid(1).as_bytes()]);
    assert_not_owner(&err, &uuid(1));
}

#[test]
fn a_device_from_before_this_version_gets_its_policies_on_the_next_write() {
    // A record as the previous contract version wrote it: banned without a recorded banner, and
    // no key-level policy on its keys.
    let mut old: Value = {
        let mut other = Harness::new();
        other.register(1, "Gateway", "10.8.0.2");
        other.get(&uuid(1))
    };
    old["banned"] = json!(true);
    old["ban_reason"] = json!("old ban");
    old.as_object_mut().unwrap().remove("banned_by_msp");
    let mut h = Harness::new();
    let mut tx = h.ledger.begin("legacy", h.next_timestamp(), admin());
    let device_key = format!("device/{}", uuid(1));
    device_registry::Ledger::put_state(&mut tx, &device_key, old.to_string().into_bytes()).unwrap();
    device_registry::Ledger::put_state(&mut tx, "vip/10.8.0.2", uuid(1).into_bytes()).unwrap();
    tx.commit();
    h.next_tx += 1;
    let shown: Value = serde_json::from_slice(
        &h.submit(&client(), "GetDevicePolicy", &[uuid(1).as_bytes()])
            .unwrap(),
    )
    .unwrap();
    assert!(shown["device_key_policy"].is_null() && shown["virtual_ip_key_policy"].is_null());

    let err = h.assert_refused(&org2_admin(), "UnbanDevice", &[uuid(1).as_bytes()]);
    assert!(
        err.to_string().contains("an unrecorded organisation"),
        "{err}"
    );
    h.submit(&admin(), "UnbanDevice", &[uuid(1).as_bytes()])
        .unwrap();
    assert_eq!(policy_on(&h, &device_key).as_deref(), Some(BOTH_PEERS));
    assert_eq!(policy_on(&h, "vip/10.8.0.2").as_deref(), Some(BOTH_PEERS));
}

#[test]
fn non_member_organisations_may_not_write() {
    let mut h = Harness::new();
    let outsider = identity("Org3MSP", "Admin@org3", "admin", None);
    let body = request(&uuid(1), "Gateway", "10.8.0.2", &p256_pem());
    let err = h.assert_refused(&outsider, "RegisterDevice", &[&body]);
    assert!(
        matches!(&err, ContractError::Denied(AccessError::NotMember { msp_id, .. }) if msp_id == "Org3MSP"),
        "{err:?}"
    );
    assert!(err.to_string().contains("Org1MSP,Org2MSP"), "{err}");
}

fn policy_on(h: &Harness, key: &str) -> Option<String> {
    h.ledger
        .validation_parameters()
        .get(key)
        .map(|bytes| describe(bytes).unwrap())
}

#[test]
fn every_write_leaves_the_owners_policy_on_the_device_and_its_address() {
    let mut h = Harness::new();
    let id = uuid(1);
    h.register(1, "Gateway", "10.8.0.2");
    let members = members();
    let expected = device_policy("Org1MSP", &members);
    let device_key = format!("device/{id}");
    assert_eq!(
        h.ledger.validation_parameters().get(&device_key),
        Some(&expected)
    );
    assert_eq!(policy_on(&h, "vip/10.8.0.2").as_deref(), Some(BOTH_PEERS));

    h.submit(&admin(), "SetVirtualIp", &[id.as_bytes(), b"10.8.0.3"])
        .unwrap();
    assert_eq!(
        policy_on(&h, "vip/10.8.0.2"),
        None,
        "freed with the address"
    );
    assert_eq!(policy_on(&h, "vip/10.8.0.3").as_deref(), Some(BOTH_PEERS));
    // A policy already in place is not written again (Fabric would fail a second transaction of
    // the block touching the key with ENDORSEMENT_POLICY_FAILURE instead of an MVCC conflict).
    {
        let mut tx = h.ledger.begin("probe", h.next_timestamp(), org2_admin());
        let args = [id.as_bytes().to_vec(), b"x".to_vec()];
        device_registry::invoke(&mut tx, &members, "BanDevice", &args).unwrap();
        assert_eq!(tx.pending_writes(), 1, "the record only, no metadata");
    }
    h.submit(&org2_admin(), "BanDevice", &[id.as_bytes(), b"x"])
        .unwrap();
    // A ban by another member keeps the owner's policy: it is not the banner's.
    assert_eq!(
        h.ledger.validation_parameters().get(&device_key),
        Some(&expected)
    );

    let shown: Value = serde_json::from_slice(
        &h.submit(&client(), "GetDevicePolicy", &[id.as_bytes()])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        shown,
        json!({ "uuid": id, "owner_msp": "Org1MSP", "virtual_ip": "10.8.0.3",
                "device_key_policy": BOTH_PEERS, "virtual_ip_key_policy": BOTH_PEERS })
    );

    h.submit(&admin(), "DeleteDevice", &[id.as_bytes()])
        .unwrap();
    assert!(
        h.ledger
            .validation_parameters()
            .keys()
            .all(|k| !k.contains(&id) && k != "vip/10.8.0.3"),
        "{:?}",
        h.ledger.validation_parameters()
    );
}

#[test]
fn set_virtual_ip_moves_only_the_address_and_keeps_a_rotated_key() {
    let mut h = Harness::new();
    let id = uuid(1);
    h.register(1, "Gateway", "10.8.0.2");
    h.register(2, "Gateway", "10.8.0.7");
    let rotated = ed25519_pem();
    h.submit(&admin(), "RotateKey", &[id.as_bytes(), rotated.as_bytes()])
        .unwrap();
    let before = h.get(&id);
    let out = h
        .submit(&admin(), "SetVirtualIp", &[id.as_bytes(), b"FD00::0:5"])
        .unwrap();
    let after: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(after, h.get(&id));
    assert_eq!(after["virtual_ip"], "fd00::5");
    assert_eq!(after["public_key"], rotated);
    assert_eq!(after["version"], before["version"].as_u64().unwrap() + 1);
    for field in [
        "labels",
        "node_type",
        "key_fingerprint",
        "owner_msp",
        "banned",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    let event = h.events().last().unwrap().clone();
    assert_eq!((event.change, event.version), (ChangeKind::Updated, 3));

    // The same address again writes nothing; a taken or malformed one is refused.
    let events = h.events().len();
    let same = h
        .submit(&admin(), "SetVirtualIp", &[id.as_bytes(), b"fd00::5"])
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&same).unwrap(), after);
    assert_eq!(h.events().len(), events);
    let err = h.assert_refused(&admin(), "SetVirtualIp", &[id.as_bytes(), b"10.8.0.7"]);
    assert!(
        matches!(&err, ContractError::VirtualIpTaken { holder, .. } if *holder == uuid(2)),
        "{err:?}"
    );
    let err = h.assert_refused(&admin(), "SetVirtualIp", &[id.as_bytes(), b"10.8.0.256"]);
    assert!(err.to_string().contains("10.8.0.256"), "{err}");
    // The old address is free for another device.
    h.register(3, "Gateway", "10.8.0.2");
}
