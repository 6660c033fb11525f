//! `set-ip`, `policy` and the owner/banner rules as an operator meets them through `sf2c-registry`.

use test_support::fabric::unique_uuid;

use crate::support::{Cli, fresh_ip};

/// Org2's registry admin, acting on the same ledger.
const ORG2_ADMIN: [&str; 4] = ["--org", "Org2", "--identity", "admin"];

fn as_org2<'a>(args: &[&'a str]) -> Vec<&'a str> {
    ORG2_ADMIN
        .iter()
        .copied()
        .chain(args.iter().copied())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sets_the_ip_and_the_key_policy_names_both_peers() {
    let cli = Cli::live();
    let uuid = unique_uuid();
    let registered = cli.register(&uuid, "Gateway").await;
    assert_eq!(registered["result"]["owner_msp"], "Org1MSP");

    let ip = fresh_ip();
    let set = cli.json(&["set-ip", &uuid, "--virtual-ip", &ip]).await;
    assert_eq!(set["result"]["virtual_ip"], ip.as_str(), "{set}");
    let device = cli.device(&uuid).await.expect("still registered");
    assert_eq!(device["virtual_ip"], ip.as_str());
    assert_eq!(
        device["public_key"], registered["result"]["public_key"],
        "set-ip keeps the key"
    );

    let policy = cli.json(&["policy", &uuid]).await;
    assert_eq!(policy["owner_msp"], "Org1MSP");
    assert_eq!(policy["virtual_ip"], ip.as_str());
    for key in ["device_key_policy", "virtual_ip_key_policy"] {
        assert_eq!(
            policy[key], "AND('Org1MSP.peer', 'Org2MSP.peer')",
            "{key}: {policy}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organisation_may_ban_but_not_change_the_device() {
    let cli = Cli::live();
    let uuid = unique_uuid();
    cli.register(&uuid, "Gateway").await;
    let before = cli.device(&uuid).await.expect("registered");

    let ip = fresh_ip();
    let refused = cli
        .refused(&as_org2(&["set-ip", &uuid, "--virtual-ip", &ip]))
        .await;
    for part in [uuid.as_str(), "Org1MSP", "Org2MSP"] {
        assert!(
            refused.contains(part),
            "refusal should name {part}: {refused}"
        );
    }
    let refused = cli.refused(&as_org2(&["delete", &uuid])).await;
    assert!(refused.contains("Org1MSP"), "{refused}");
    assert_eq!(cli.device(&uuid).await.as_ref(), Some(&before), "unchanged");

    let banned = cli
        .json(&as_org2(&["ban", &uuid, "--reason", "seen tampered"]))
        .await;
    assert_eq!(banned["result"]["banned"], true, "{banned}");
    assert_eq!(banned["result"]["banned_by_msp"], "Org2MSP", "{banned}");
    // The owner may lift a ban another member placed.
    let lifted = cli.json(&["unban", &uuid]).await;
    assert_eq!(lifted["result"]["banned"], false, "{lifted}");
}
