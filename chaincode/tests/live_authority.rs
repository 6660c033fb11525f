//! Registry authority on the live network: another organisation's admin, using Fabric's `peer` CLI or our Gateway client, cannot change a device it does not own, and endorsements from its own peer alone fail validation.

mod peer_cli;

use device_record::DeviceRecord;
use device_record::contract::DevicePolicy;
use device_registry::Creator;
use device_registry::access::require_admin;
use fabric_client::{Contract, GatewayError, SubmitOptions, TxValidationCode};
use peer_cli::{PeerCli, RegistryQueries, text};
use serde_json::json;
use test_support::fabric::{LiveNetwork, unique_uuid, unique_virtual_ip};

const BOTH_PEERS: &str = "AND('Org1MSP.peer', 'Org2MSP.peer')";

fn p256_pem() -> String {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .unwrap()
        .public_key_pem()
}

fn request(uuid: &str, ip: &str, key: &str) -> String {
    json!({ "uuid": uuid, "node_type": "Gateway", "virtual_ip": ip, "public_key": key }).to_string()
}

/// Registers a fresh device as Org1's admin through the Gateway; returns its UUID.
async fn org1_device(org1: &Contract) -> String {
    let uuid = unique_uuid();
    let body = request(&uuid, &unique_virtual_ip(), &p256_pem());
    org1.submit("RegisterDevice", &[body]).await.unwrap();
    uuid
}

async fn get(contract: &Contract, uuid: &str) -> DeviceRecord {
    DeviceRecord::from_json(&contract.evaluate("GetDevice", &[uuid]).await.unwrap()).unwrap()
}

async fn history_len(contract: &Contract, uuid: &str) -> usize {
    let bytes = contract
        .evaluate("GetDeviceHistory", &[uuid])
        .await
        .unwrap();
    serde_json::from_slice::<Vec<serde_json::Value>>(&bytes)
        .unwrap()
        .len()
}

/// The refusal names the device, its owner and the caller's organisation.
fn assert_names_all(text: &str, uuid: &str) {
    assert!(
        text.contains(uuid)
            && text.contains("owned by Org1MSP")
            && text.contains("administrator of Org2MSP"),
        "{text}"
    );
}

#[tokio::test]
async fn org2s_admin_cannot_change_org1s_device_with_the_peer_cli() {
    let net = LiveNetwork::get();
    let org1 = net.contract("Org1", "admin").await;
    let attacker = PeerCli::new(&net, "Org2", "admin");
    let uuid = org1_device(&org1).await;
    let before = get(&org1, &uuid).await;
    let (key, ip) = (p256_pem(), unique_virtual_ip());
    let update = request(&uuid, &ip, &key);
    for args in [
        vec!["RotateKey", &uuid, &key],
        vec!["UpdateDevice", &update],
        vec!["SetVirtualIp", &uuid, &ip],
        vec!["DeleteDevice", &uuid],
    ] {
        let out = attacker.invoke(&args);
        assert!(!out.status.success(), "{} must be refused", args[0]);
        assert_names_all(&text(&out.stderr), &uuid);
    }
    assert_eq!(attacker.device(&uuid), before, "record unchanged");
    assert_eq!(history_len(&org1, &uuid).await, 1);
}

#[tokio::test]
async fn org2s_admin_cannot_change_org1s_device_with_the_gateway_client() {
    let net = LiveNetwork::get();
    let org1 = net.contract("Org1", "admin").await;
    let org2 = net.contract("Org2", "admin").await;
    let uuid = org1_device(&org1).await;
    let before = get(&org1, &uuid).await;
    let (key, ip) = (p256_pem(), unique_virtual_ip());
    let update = request(&uuid, &ip, &key);
    for args in [
        vec!["RotateKey", uuid.as_str(), key.as_str()],
        vec!["UpdateDevice", update.as_str()],
        vec!["SetVirtualIp", uuid.as_str(), ip.as_str()],
        vec!["DeleteDevice", uuid.as_str()],
    ] {
        let err = org2.submit(args[0], &args[1..]).await.unwrap_err();
        assert!(matches!(err, GatewayError::Endorse { .. }), "{err:?}");
        assert_names_all(&err.to_string(), &uuid);
    }
    assert_eq!(get(&org2, &uuid).await, before);
}

#[tokio::test]
async fn any_member_bans_and_the_owner_or_the_banner_unbans() {
    let net = LiveNetwork::get();
    let org1 = net.contract("Org1", "admin").await;
    let org2_cli = PeerCli::new(&net, "Org2", "admin");

    // Org2 bans Org1's device with the peer CLI; the record names Org2; Org1, the owner, lifts it.
    let a = org1_device(&org1).await;
    org2_cli.invoke_ok(&["BanDevice", &a, "seen replaying"]);
    let banned = get(&org1, &a).await;
    assert!(banned.banned);
    assert_eq!(
        (banned.banned_by_msp.as_deref(), banned.owner_msp.as_str()),
        (Some("Org2MSP"), "Org1MSP")
    );
    let lifted = org1.submit("UnbanDevice", &[a.as_str()]).await.unwrap();
    let lifted = DeviceRecord::from_json(&lifted.payload).unwrap();
    assert!(!lifted.banned && lifted.banned_by_msp.is_none());

    // Org1 bans its own device; Org2 neither banned it nor owns it, so cannot lift the ban.
    let b = org1_device(&org1).await;
    org1.submit("BanDevice", &[b.as_str(), "stolen"])
        .await
        .unwrap();
    let before = get(&org1, &b).await;
    let out = org2_cli.invoke(&["UnbanDevice", &b]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&b)
            && stderr.contains("banned by Org1MSP")
            && stderr.contains("administrator of Org2MSP"),
        "{stderr}"
    );
    assert_eq!(org2_cli.device(&b), before, "still banned, unchanged");
}

#[tokio::test]
async fn endorsements_from_org2s_peer_alone_fail_validation_and_change_nothing() {
    let net = LiveNetwork::get();
    let org1 = net.contract("Org1", "admin").await;
    let uuid = org1_device(&org1).await;
    let before = get(&org1, &uuid).await;

    // Org2's peer endorses a ban (any member may ban), but the device's key-level policy also
    // needs Org1's peer: the orderer accepts the transaction, validation rejects it.
    let attacker = PeerCli::new(&net, "Org2", "admin");
    let out = attacker.invoke_endorsed_by(&["Org2"], &["BanDevice", &uuid, "alone"]);
    assert!(
        !out.status.success(),
        "a one-peer transaction must not commit"
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("ENDORSEMENT_POLICY_FAILURE"), "{stderr}");
    assert_eq!(get(&org1, &uuid).await, before);
    assert_eq!(history_len(&org1, &uuid).await, 1);

    // The policy is on the device's keys, read back from the peer's state metadata.
    let shown = attacker.query_ok(&["GetDevicePolicy", &uuid]);
    let policy: DevicePolicy = serde_json::from_str(&shown).unwrap();
    assert_eq!(policy.owner_msp, "Org1MSP");
    assert_eq!(policy.device_key_policy.as_deref(), Some(BOTH_PEERS));
    assert_eq!(policy.virtual_ip_key_policy.as_deref(), Some(BOTH_PEERS));
}

#[tokio::test]
async fn the_owner_alone_cannot_commit_either() {
    let net = LiveNetwork::get();
    let org1 = net.contract("Org1", "admin").await;
    let uuid = org1_device(&org1).await;
    let before = get(&org1, &uuid).await;
    let only_org1 = SubmitOptions {
        endorsing_organizations: vec!["Org1MSP".into()],
        ..SubmitOptions::default()
    };
    let ip = unique_virtual_ip();
    let err = org1
        .submit_with("SetVirtualIp", &[uuid.as_str(), ip.as_str()], &only_org1)
        .await
        .unwrap_err();
    match err {
        GatewayError::Commit(c) => assert_eq!(c.code, TxValidationCode::EndorsementPolicyFailure),
        other => panic!("expected an invalid commit, got {other:?}"),
    }
    assert_eq!(get(&org1, &uuid).await, before);
}

#[tokio::test]
async fn set_virtual_ip_keeps_a_key_rotated_after_the_device_was_read() {
    let net = LiveNetwork::get();
    let org1 = net.contract("Org1", "admin").await;
    let uuid = org1_device(&org1).await;
    // Enrolment reads the record, then a rotation commits, then enrolment sets the address.
    let read = get(&org1, &uuid).await;
    let rotated = p256_pem();
    org1.submit("RotateKey", &[uuid.as_str(), rotated.as_str()])
        .await
        .unwrap();
    let ip = unique_virtual_ip();
    let done = org1
        .submit("SetVirtualIp", &[uuid.as_str(), ip.as_str()])
        .await
        .unwrap();
    let after = DeviceRecord::from_json(&done.payload).unwrap();
    assert_eq!(after, get(&org1, &uuid).await);
    assert_eq!(after.public_key, rotated, "the rotation stands");
    assert_ne!(after.key_fingerprint, read.key_fingerprint);
    assert_eq!(
        after.virtual_ip,
        device_record::normalise_virtual_ip(&ip).unwrap()
    );
    assert_eq!(after.version, 3);
}

/// The network's own certificates (cryptogen), judged by the contract's admin rule.
#[test]
fn the_networks_admin_certificates_are_admins_and_others_are_not() {
    let net = LiveNetwork::get();
    let creator = |org: &str, who: &str| {
        let id = net.identity(org, who);
        Creator {
            msp_id: id.identity().msp_id().to_string(),
            id_bytes: id.identity().cert_pem().to_vec(),
        }
    };
    for org in ["Org1", "Org2"] {
        assert_eq!(require_admin(&creator(org, "admin")), Ok(()), "{org} admin");
        let err = require_admin(&creator(org, "client")).unwrap_err();
        assert!(
            err.to_string()
                .contains("may not change the device registry"),
            "{err}"
        );
    }
}
