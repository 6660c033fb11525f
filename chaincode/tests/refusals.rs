//! Who may write, and each kind of bad input refused with its own message and no change to the ledger.

mod common;

use common::*;
use device_record::{KeyError, RequestError};
use device_registry::ContractError;
use device_registry::access::AccessError;

#[test]
fn client_identity_may_read_but_not_write() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    let body = request(&uuid(2), "Gateway", "10.8.0.3", &p256_pem());
    let id = uuid(1);
    let writes: [(&str, Vec<&[u8]>); 7] = [
        ("RegisterDevice", vec![&body]),
        ("UpdateDevice", vec![&body]),
        ("RotateKey", vec![id.as_bytes(), b"k"]),
        ("SetVirtualIp", vec![id.as_bytes(), b"10.8.0.9"]),
        ("BanDevice", vec![id.as_bytes(), b"x"]),
        ("UnbanDevice", vec![id.as_bytes()]),
        ("DeleteDevice", vec![id.as_bytes()]),
    ];
    for (function, args) in &writes {
        let err = h.assert_refused(&client(), function, args);
        assert!(
            matches!(err, ContractError::Denied(AccessError::NotAdmin { .. })),
            "{function}: {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("Org2MSP") && text.contains("User1@org2"),
            "{text}"
        );
    }
    assert_eq!(h.get(&uuid(1))["version"], 1);
}

#[test]
fn registrar_attribute_grants_writes_and_owner_is_its_msp() {
    let mut h = Harness::new();
    let body = request(&uuid(1), "Gateway", "10.8.0.2", &p256_pem());
    h.submit(&attribute_admin(), "RegisterDevice", &[&body])
        .unwrap();
    assert_eq!(h.get(&uuid(1))["owner_msp"], "Org2MSP");

    // The attribute must say "true".
    let not_true = identity(
        "Org2MSP",
        "u@org2",
        "client",
        Some(serde_json::json!({"sf2c.registry.admin": "false"})),
    );
    let err = h.assert_refused(&not_true, "BanDevice", &[uuid(1).as_bytes(), b"x"]);
    assert!(
        matches!(err, ContractError::Denied(AccessError::NotAdmin { .. })),
        "{err:?}"
    );
}

#[test]
fn unreadable_creator_certificate_is_refused() {
    let mut h = Harness::new();
    let junk = device_registry::Creator {
        msp_id: "Org3MSP".into(),
        id_bytes: b"not a cert".to_vec(),
    };
    let body = request(&uuid(1), "Gateway", "10.8.0.2", &p256_pem());
    let err = h.assert_refused(&junk, "RegisterDevice", &[&body]);
    assert!(
        matches!(
            err,
            ContractError::Denied(AccessError::BadCertificate { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Org3MSP"), "{err}");
}

#[test]
fn malformed_uuid_is_refused() {
    let mut h = Harness::new();
    let body = request("device-one", "Gateway", "10.8.0.2", &p256_pem());
    let err = h.assert_refused(&admin(), "RegisterDevice", &[&body]);
    assert!(
        matches!(
            err,
            ContractError::InvalidRequest(RequestError::MalformedUuid { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"device-one\""), "{err}");
    let err = h.assert_refused(&client(), "GetDevice", &[b"device-one"]);
    assert!(
        matches!(
            err,
            ContractError::InvalidRequest(RequestError::MalformedUuid { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn unparsable_key_is_refused() {
    let mut h = Harness::new();
    let body = request(
        &uuid(1),
        "Gateway",
        "10.8.0.2",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    );
    let err = h.assert_refused(&admin(), "RegisterDevice", &[&body]);
    assert!(
        matches!(
            err,
            ContractError::InvalidRequest(RequestError::Key {
                source: KeyError::MalformedDer { .. },
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&uuid(1)), "{err}");
}

#[test]
fn rsa_1024_key_is_refused() {
    let mut h = Harness::new();
    let body = request(&uuid(1), "Gateway", "10.8.0.2", RSA1024_PEM);
    let err = h.assert_refused(&admin(), "RegisterDevice", &[&body]);
    assert!(
        matches!(
            err,
            ContractError::InvalidRequest(RequestError::Key {
                source: KeyError::RsaTooSmall { bits: 1024 },
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("1024 bits"), "{err}");
}

#[test]
fn keys_outside_the_shared_rule_are_refused_on_register_and_rotate() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    let two = format!("{}{}", p256_pem(), p256_pem());
    let err = h.assert_refused(&admin(), "RotateKey", &[uuid(1).as_bytes(), two.as_bytes()]);
    assert!(
        matches!(
            err,
            ContractError::InvalidKey {
                source: KeyError::MultiplePemBlocks { count: 2 },
                ..
            }
        ),
        "{err:?}"
    );
    let huge = format!("{}{}", p256_pem(), "\n".repeat(20_000));
    let body = request(&uuid(2), "Gateway", "10.8.0.3", &huge);
    let err = h.assert_refused(&admin(), "RegisterDevice", &[&body]);
    assert!(
        matches!(
            err,
            ContractError::InvalidRequest(RequestError::Key {
                source: KeyError::TooLarge { .. },
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn duplicate_uuid_is_refused() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "10.8.0.2");
    let body = request(&uuid(1).to_uppercase(), "Gateway", "10.8.0.3", &p256_pem());
    let err = h.assert_refused(&admin(), "RegisterDevice", &[&body]);
    assert!(
        matches!(&err, ContractError::AlreadyRegistered { uuid: u } if *u == uuid(1)),
        "{err:?}"
    );
    assert!(err.to_string().contains("UpdateDevice"), "{err}");
}

#[test]
fn duplicate_virtual_ip_is_refused_in_any_spelling() {
    let mut h = Harness::new();
    h.register(1, "Gateway", "fd00::2");
    let body = request(&uuid(2), "Gateway", "FD00:0:0:0:0:0:0:2", &p256_pem());
    let err = h.assert_refused(&admin(), "RegisterDevice", &[&body]);
    assert!(
        matches!(&err, ContractError::VirtualIpTaken { ip, holder } if ip == "fd00::2" && *holder == uuid(1)),
        "{err:?}"
    );
    // Moving another device onto a taken address is refused the same way.
    h.register(2, "Gateway", "fd00::3");
    let body = request(&uuid(2), "Gateway", "fd00::2", &p256_pem());
    let err = h.assert_refused(&admin(), "UpdateDevice", &[&body]);
    assert!(
        matches!(err, ContractError::VirtualIpTaken { .. }),
        "{err:?}"
    );
}

#[test]
fn bad_json_unknown_function_and_wrong_arity_have_clear_errors() {
    let mut h = Harness::new();
    let err = h.assert_refused(&admin(), "RegisterDevice", &[b"{not json"]);
    assert!(
        matches!(
            err,
            ContractError::BadRequestJson {
                function: "RegisterDevice",
                ..
            }
        ),
        "{err:?}"
    );

    let err = h.assert_refused(&admin(), "RemoveEverything", &[]);
    let text = err.to_string();
    assert!(
        text.contains("\"RemoveEverything\"")
            && text.contains("RegisterDevice")
            && text.contains("GetDeviceHistory"),
        "{text}"
    );

    let err = h.assert_refused(&admin(), "BanDevice", &[uuid(1).as_bytes()]);
    assert!(
        matches!(
            err,
            ContractError::ArgumentCount {
                function: "BanDevice",
                given: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("2 arguments"), "{err}");

    let err = h.assert_refused(&client(), "GetDevice", &[&[0xff, 0xfe]]);
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}
