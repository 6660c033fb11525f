//! Every registry command of `sf2c-registry` on the live network, with the JSON each prints.

use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::fabric::unique_uuid;

use crate::support::{Cli, fresh_ip};

fn tx(v: &Value) -> String {
    let tx = v["tx_id"].as_str().unwrap().to_string();
    assert_eq!(
        tx.len(),
        64,
        "a Fabric transaction ID is 64 hex digits: {tx}"
    );
    tx
}

fn uuids(page: &Value) -> Vec<String> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uuid"].as_str().unwrap().to_string())
        .collect()
}

/// Whether a one-record page filtered by `banned`, read from `uuid`'s own key on, shows `uuid`.
async fn first_of_page_from(cli: &Cli, uuid: &str, banned: &str) -> bool {
    let from = format!("device/{uuid}");
    let page = cli
        .json(&[
            "list",
            "--page-size",
            "1",
            "--bookmark",
            &from,
            "--banned",
            banned,
        ])
        .await;
    uuids(&page).iter().any(|u| u == uuid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_goes_through_every_write_and_its_history_records_each() {
    let cli = Cli::live();
    let uuid = unique_uuid();
    let (ip, tag) = (fresh_ip(), unique_uuid());
    let (enrolment, first_key) = cli.enrolment(&uuid, "Gateway");
    let label = format!("run={tag}");
    let reg = cli
        .json(&[
            "register",
            "--enrolment",
            &enrolment,
            "--virtual-ip",
            &ip,
            "--label",
            &label,
        ])
        .await;
    assert_eq!(reg["function"], "RegisterDevice");
    assert!(reg["block"].as_u64().unwrap() > 0);
    let r = &reg["result"];
    assert_eq!(
        (&r["uuid"], &r["node_type"], &r["virtual_ip"]),
        (
            &Value::from(uuid.as_str()),
            &Value::from("Gateway"),
            &Value::from(ip.as_str())
        )
    );
    assert_eq!(r["public_key"], first_key.as_str());
    assert_eq!(r["key_algorithm"], "ECDSA-P256");
    assert_eq!(
        (&r["owner_msp"], &r["version"]),
        (&"Org1MSP".into(), &1.into())
    );
    assert_eq!(
        (&r["banned"], &r["labels"]["run"]),
        (&false.into(), &tag.as_str().into())
    );
    let mut txs = vec![tx(&reg)];

    // The table as a read-only client sees it, and the other organisation's peer has it too.
    let shown = cli.ok(&["--identity", "client", "get", &uuid]).await;
    for row in [
        format!("virtual ip  {ip}"),
        "owner       Org1MSP".into(),
        format!("labels      {label}"),
    ] {
        assert!(shown.contains(&row), "{row:?} not in\n{shown}");
    }
    let start = Instant::now();
    loop {
        let out = cli
            .run(&[
                "--org",
                "Org2",
                "--identity",
                "client",
                "--json",
                "get",
                &uuid,
            ])
            .await;
        if out.status.success() {
            let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(seen, *r, "Org2's peer holds the same record");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "Org2 never saw {uuid}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let ip2 = fresh_ip();
    let upd = cli
        .json(&[
            "update",
            &uuid,
            "--type",
            "Validator",
            "--virtual-ip",
            &ip2,
            "--label",
            &label,
            "--label",
            "area=north",
        ])
        .await;
    let r = &upd["result"];
    assert_eq!(
        (&upd["function"], &r["version"]),
        (&"UpdateDevice".into(), &2.into())
    );
    assert_eq!(
        (&r["node_type"], &r["virtual_ip"]),
        (&"Validator".into(), &ip2.as_str().into())
    );
    assert_eq!(
        r["labels"],
        serde_json::json!({"area": "north", "run": tag})
    );
    assert_eq!(r["public_key"], first_key.as_str(), "update keeps the key");
    txs.push(tx(&upd));
    let fingerprint = r["key_fingerprint"].clone();

    let (key2, key2_pem) = cli.key_file(true);
    let rot = cli
        .json(&["rotate-key", &uuid, "--public-key", &key2])
        .await;
    let r = &rot["result"];
    assert_eq!(
        (&rot["function"], &r["version"]),
        (&"RotateKey".into(), &3.into())
    );
    assert_eq!(
        (&r["key_algorithm"], &r["public_key"]),
        (&"Ed25519".into(), &key2_pem.as_str().into())
    );
    assert_ne!(r["key_fingerprint"], fingerprint);
    txs.push(tx(&rot));

    let ban = cli
        .json(&["ban", &uuid, "--reason", "tampered casing"])
        .await;
    let r = &ban["result"];
    assert_eq!(
        (&ban["function"], &r["version"], &r["banned"]),
        (&"BanDevice".into(), &4.into(), &true.into())
    );
    assert_eq!(r["ban_reason"], "tampered casing");
    assert!(r["banned_timestamp"].is_string());
    txs.push(tx(&ban));
    // A filtered page shows the device only under the matching filter.
    assert!(first_of_page_from(&cli, &uuid, "true").await);
    assert!(!first_of_page_from(&cli, &uuid, "false").await);

    let unban = cli.json(&["unban", &uuid, "--reason", "cleared"]).await;
    let r = &unban["result"];
    assert_eq!(
        (&unban["function"], &r["version"], &r["banned"]),
        (&"UnbanDevice".into(), &5.into(), &false.into())
    );
    assert_eq!(
        (&r["ban_reason"], &r["banned_timestamp"]),
        (&Value::Null, &Value::Null)
    );
    txs.push(tx(&unban));
    assert!(first_of_page_from(&cli, &uuid, "false").await);
    assert_eq!(
        cli.device(&uuid).await.as_ref(),
        Some(r),
        "get shows the last write"
    );

    let history: Vec<Value> = serde_json::from_value(cli.json(&["history", &uuid]).await).unwrap();
    let versions: Vec<Option<u64>> = history
        .iter()
        .map(|e| e["record"]["version"].as_u64())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5].map(Some));
    let history_txs: Vec<String> = history.iter().map(tx).collect();
    assert_eq!(
        history_txs, txs,
        "history lists each write's transaction, oldest first"
    );
    let table = cli.ok(&["history", &uuid]).await;
    assert_eq!(
        table.lines().filter(|l| l.contains(" write ")).count(),
        5,
        "{table}"
    );

    let del = cli.json(&["delete", &uuid]).await;
    assert_eq!(del["function"], "DeleteDevice");
    let event = &del["result"];
    assert_eq!(
        (&event["uuid"], &event["change"], &event["version"]),
        (&uuid.as_str().into(), &"Deleted".into(), &6.into())
    );
    txs.push(tx(&del));
    let history: Vec<Value> = serde_json::from_value(cli.json(&["history", &uuid]).await).unwrap();
    let last = history.last().unwrap();
    assert_eq!(history.len(), 6);
    assert_eq!(
        (&last["is_delete"], &last["record"]),
        (&true.into(), &Value::Null)
    );
    assert_eq!(tx(last), txs[5]);

    let gone = cli.refused(&["get", &uuid]).await;
    assert!(
        gone.contains(&format!("device {uuid} is not registered")),
        "{gone}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_follow_the_bookmark_in_uuid_order() {
    let cli = Cli::live();
    // Three UUIDs adjacent in key order: no other device falls between them.
    let base = &unique_uuid()[..35];
    let ids: Vec<String> = ["1", "2", "3"]
        .iter()
        .map(|d| format!("{base}{d}"))
        .collect();
    tokio::join!(
        cli.register(&ids[0], "Gateway"),
        cli.register(&ids[1], "Validator"),
        cli.register(&ids[2], "Gateway"),
    );

    let from = format!("device/{}", ids[0]);
    let first = cli
        .json(&["list", "--page-size", "2", "--bookmark", &from])
        .await;
    assert_eq!(uuids(&first), ids[..2]);
    let bookmark = first["bookmark"].as_str().unwrap();
    assert!(!bookmark.is_empty(), "more devices follow");
    let second = cli
        .json(&["list", "--page-size", "2", "--bookmark", bookmark])
        .await;
    assert_eq!(
        uuids(&second)[0],
        ids[2],
        "the next page starts where the first stopped"
    );

    let table = cli
        .ok(&["list", "--page-size", "2", "--bookmark", &from])
        .await;
    let rows: Vec<&str> = table
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|first| first.starts_with(base))
        .collect();
    assert_eq!(rows, ids[..2], "{table}");
    assert!(
        table.contains("2 device(s)") && table.contains(&format!("more: --bookmark {bookmark}")),
        "{table}"
    );

    // A filtered page skips the other roles; --all reads every page to the end.
    let validators = cli
        .json(&[
            "list",
            "--page-size",
            "3",
            "--bookmark",
            &from,
            "--type",
            "Validator",
        ])
        .await;
    let found = uuids(&validators);
    assert!(
        found.contains(&ids[1]) && !found.contains(&ids[0]) && !found.contains(&ids[2]),
        "{found:?}"
    );
    let all = cli.json(&["list", "--all", "--type", "Validator"]).await;
    assert_eq!(all["bookmark"], "");
    let found = uuids(&all);
    assert!(
        found.contains(&ids[1]) && !found.contains(&ids[0]),
        "--all misses {}",
        ids[1]
    );
    assert!(found.windows(2).all(|w| w[0] < w[1]), "UUID order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_commits_a_read_only_transaction_for_either_organisation() {
    let cli = Cli::live();
    for who in [
        ["--org", "Org1", "--identity", "admin"],
        ["--org", "Org2", "--identity", "client"],
    ] {
        let mut args = who.to_vec();
        args.extend(["ping", "--wait", "30"]);
        let out = cli.ok(&args).await;
        assert!(
            out.starts_with("ok: a transaction committed in block "),
            "{who:?}: {out}"
        );
    }
    // The probe writes nothing: its UUID stays unregistered.
    assert_eq!(
        cli.device("00000000-0000-4000-8000-000000000000").await,
        None
    );
}
