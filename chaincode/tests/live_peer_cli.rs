//! The deployed contract driven by Fabric's own `peer` CLI (child processes) on the live network.

mod peer_cli;

use device_record::{DeviceRecord, normalise_virtual_ip};
use peer_cli::{PeerCli, RegistryQueries, text};
use serde_json::{Value, json};
use test_support::fabric::{LiveNetwork, unique_uuid, unique_virtual_ip};

const NOT_ADMIN: &str = "may not change the device registry";

fn p256_pem() -> String {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .unwrap()
        .public_key_pem()
}

fn request(uuid: &str, ip: &str, key: &str, area: &str) -> String {
    json!({
        "uuid": uuid, "node_type": "Gateway", "virtual_ip": ip,
        "public_key": key, "labels": { "area": area },
    })
    .to_string()
}

#[tokio::test]
async fn an_admin_runs_every_function_through_the_peer_cli() {
    let net = LiveNetwork::get();
    let admin = PeerCli::new(&net, "Org1", "admin");
    let (uuid, ip, key) = (unique_uuid(), unique_virtual_ip(), p256_pem());
    assert_eq!(admin.query_ok(&["DeviceExists", &uuid]), "false");

    admin.invoke_ok(&["RegisterDevice", &request(&uuid, &ip, &key, "north")]);
    let registered = admin.device(&uuid);
    assert_eq!(registered.uuid, uuid);
    assert_eq!(registered.virtual_ip, normalise_virtual_ip(&ip).unwrap());
    assert_eq!(registered.public_key, key);
    assert_eq!(
        (registered.owner_msp.as_str(), registered.version),
        ("Org1MSP", 1)
    );
    assert_eq!(admin.query_ok(&["DeviceExists", &uuid]), "true");
    // Our Gateway client, as a member of the other organisation, reads the same record.
    let reader = net.contract("Org2", "client").await;
    let read = reader
        .evaluate("GetDevice", &[uuid.as_str()])
        .await
        .unwrap();
    assert_eq!(DeviceRecord::from_json(&read).unwrap(), registered);

    let new_ip = unique_virtual_ip();
    admin.invoke_ok(&["UpdateDevice", &request(&uuid, &new_ip, &key, "south")]);
    let updated = admin.device(&uuid);
    assert_eq!(updated.virtual_ip, normalise_virtual_ip(&new_ip).unwrap());
    assert_eq!(updated.labels["area"], "south");
    assert_eq!(updated.version, 2);

    let new_key = p256_pem();
    admin.invoke_ok(&["RotateKey", &uuid, &new_key]);
    let rotated = admin.device(&uuid);
    assert_eq!(
        (rotated.public_key.as_str(), rotated.version),
        (new_key.as_str(), 3)
    );

    admin.invoke_ok(&["BanDevice", &uuid, "tampered casing"]);
    let banned = admin.device(&uuid);
    assert!(banned.banned && banned.banned_timestamp.is_some());
    assert_eq!(banned.ban_reason.as_deref(), Some("tampered casing"));
    admin.invoke_ok(&["UnbanDevice", &uuid]);
    let unbanned = admin.device(&uuid);
    assert!(!unbanned.banned && unbanned.ban_reason.is_none());
    assert_eq!(unbanned.version, 5);

    // A page of one starting at the device's key holds exactly that device.
    let page: Value =
        serde_json::from_str(&admin.query_ok(&["ListDevices", "1", &format!("device/{uuid}")]))
            .unwrap();
    assert_eq!(page["records"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["records"][0], serde_json::to_value(&unbanned).unwrap());

    admin.invoke_ok(&["DeleteDevice", &uuid]);
    assert_eq!(admin.query_ok(&["DeviceExists", &uuid]), "false");
    let missing = admin.query(&["GetDevice", &uuid]);
    assert!(!missing.status.success());
    let stderr = text(&missing.stderr);
    assert!(
        stderr.contains(&format!("device {uuid} is not registered")),
        "{stderr}"
    );

    let history = admin.history(&uuid);
    let versions: Vec<Value> = history
        .iter()
        .map(|e| e["record"]["version"].clone())
        .collect();
    assert_eq!(
        versions,
        [
            json!(1),
            json!(2),
            json!(3),
            json!(4),
            json!(5),
            Value::Null
        ]
    );
    assert_eq!(history[5]["is_delete"], true);
    assert_eq!(history[3]["record"], serde_json::to_value(&banned).unwrap());
    let exists = reader
        .evaluate("DeviceExists", &[uuid.as_str()])
        .await
        .unwrap();
    assert_eq!(exists, b"false");
}

#[tokio::test]
async fn a_client_identity_is_refused_on_writes_but_may_read() {
    let net = LiveNetwork::get();
    let admin = PeerCli::new(&net, "Org1", "admin");
    let client = PeerCli::new(&net, "Org2", "client");
    let (uuid, ip) = (unique_uuid(), unique_virtual_ip());
    admin.invoke_ok(&["RegisterDevice", &request(&uuid, &ip, &p256_pem(), "east")]);
    let before = client.device(&uuid);

    let out = client.invoke(&["BanDevice", &uuid, "not mine to ban"]);
    assert!(!out.status.success(), "a client's ban must fail");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(NOT_ADMIN) && stderr.contains("Org2MSP"),
        "{stderr}"
    );
    assert_eq!(
        client.device(&uuid),
        before,
        "the refused ban changed nothing"
    );

    let newcomer = unique_uuid();
    let body = request(&newcomer, &unique_virtual_ip(), &p256_pem(), "east");
    let out = client.invoke(&["RegisterDevice", &body]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(NOT_ADMIN),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(client.query_ok(&["DeviceExists", &newcomer]), "false");
    assert_eq!(client.history(&uuid).len(), 1);
}
