//! Every contract function through our Gateway client against the live Fabric network.

mod live;

use device_record::{RegistryEvent, normalise_virtual_ip};
use fabric_client::{StartPosition, SubmitOptions};
use live::*;

#[tokio::test]
async fn submit_returns_tx_id_block_and_payload_of_the_commit() {
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    let uuid = unique_uuid();
    let (written, result) = register(&admin, &uuid).await;

    assert_eq!(written.uuid, uuid);
    assert_eq!(written.owner_msp, "Org1MSP");
    assert_eq!(written.version, 1);
    assert!(!written.banned);
    assert_eq!(result.tx_id.len(), 64, "{}", result.tx_id);
    assert!(result.tx_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(result.block > 0, "block 0 is the channel's genesis block");

    // The event stream from that block finds the transaction in exactly that block.
    let mut events = within(
        "open events",
        admin
            .network()
            .chaincode_events(admin.chaincode(), StartPosition::Block(result.block)),
    )
    .await
    .unwrap();
    let event = loop {
        let event = within("event", events.next()).await.unwrap().unwrap();
        if event.tx_id == result.tx_id {
            break event;
        }
    };
    assert_eq!(event.block, result.block);
    let change = RegistryEvent::from_json(&event.payload).unwrap();
    assert_eq!(change.record.as_ref(), Some(&written));

    // A plain member of the other organisation reads what was written.
    let reader = net.contract("Org2", "client").await;
    assert_eq!(get_version(&reader, &uuid, 1).await, written);
}

#[tokio::test]
async fn every_write_changes_the_record_and_history_lists_them_in_order() {
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    // A member on the submitting gateway's peer, which has committed each write when submit returns.
    let reader = net.contract("Org1", "client").await;
    let uuid = unique_uuid();
    assert!(!exists(&reader, &uuid).await);
    let (registered, first) = register(&admin, &uuid).await;
    assert!(exists(&reader, &uuid).await);
    let mut tx_ids = vec![first.tx_id];

    // UpdateDevice: new IP, key and labels; created_at and owner stay.
    let new_ip = unique_virtual_ip();
    let new_key = p256_pem();
    let body = request(&uuid, &new_ip, &new_key, &[("area", "north")]);
    let update = admin.submit("UpdateDevice", &[body]).await.unwrap();
    tx_ids.push(update.tx_id.clone());
    let updated = get(&reader, &uuid).await;
    assert_eq!(updated.virtual_ip, normalise_virtual_ip(&new_ip).unwrap());
    assert_eq!(updated.public_key, new_key);
    assert_eq!(
        updated.labels.get("area").map(String::as_str),
        Some("north")
    );
    assert_eq!(updated.version, 2);
    assert_eq!(updated.created_at, registered.created_at);
    assert_eq!(updated.owner_msp, "Org1MSP");
    assert!(update.block > first.block);

    // RotateKey
    let rotated_key = p256_pem();
    let rotate = admin
        .submit("RotateKey", &[uuid.as_str(), rotated_key.as_str()])
        .await
        .unwrap();
    tx_ids.push(rotate.tx_id.clone());
    let rotated = get(&reader, &uuid).await;
    assert_eq!(rotated.public_key, rotated_key);
    assert_ne!(rotated.key_fingerprint, updated.key_fingerprint);
    assert_eq!(rotated.version, 3);

    // BanDevice, then UnbanDevice
    let ban = admin
        .submit("BanDevice", &[uuid.as_str(), "stolen from the depot"])
        .await
        .unwrap();
    tx_ids.push(ban.tx_id.clone());
    let banned = get(&reader, &uuid).await;
    assert!(banned.banned);
    assert_eq!(banned.ban_reason.as_deref(), Some("stolen from the depot"));
    assert!(banned.banned_timestamp.is_some());
    assert_eq!(banned.version, 4);
    let unban = admin
        .submit("UnbanDevice", &[uuid.as_str(), "recovered"])
        .await
        .unwrap();
    tx_ids.push(unban.tx_id.clone());
    let unbanned = get(&reader, &uuid).await;
    assert!(!unbanned.banned);
    assert_eq!(unbanned.ban_reason, None);
    assert_eq!(unbanned.banned_timestamp, None);
    assert_eq!(unbanned.version, 5);

    // DeleteDevice: gone for reads, kept in history.
    let delete = admin
        .submit("DeleteDevice", &[uuid.as_str()])
        .await
        .unwrap();
    tx_ids.push(delete.tx_id.clone());
    let deleted = RegistryEvent::from_json(&delete.payload).unwrap();
    assert_eq!((deleted.uuid.as_str(), deleted.version), (uuid.as_str(), 6));
    assert!(!exists(&reader, &uuid).await);
    let err = reader
        .evaluate("GetDevice", &[uuid.as_str()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not registered"), "{err}");

    let entries = history(&reader, &uuid).await;
    let seen: Vec<&str> = entries.iter().map(|e| e.tx_id.as_str()).collect();
    assert_eq!(
        seen, tx_ids,
        "history lists each committed change once, oldest first"
    );
    let versions: Vec<Option<u64>> = entries
        .iter()
        .map(|e| e.record.as_ref().map(|r| r.version))
        .collect();
    assert_eq!(
        versions,
        [Some(1), Some(2), Some(3), Some(4), Some(5), None]
    );
    assert!(entries[5].is_delete && entries[..5].iter().all(|e| !e.is_delete));
    assert_eq!(entries[3].record.as_ref(), Some(&banned));
    let times: Vec<&str> = entries.iter().map(|e| e.timestamp.as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[tokio::test]
async fn evaluate_runs_the_function_but_writes_nothing() {
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    let uuid = unique_uuid();
    let (written, _) = register(&admin, &uuid).await;

    let simulated = admin
        .evaluate("BanDevice", &[uuid.as_str(), "only simulated"])
        .await
        .unwrap();
    let simulated = device_record::DeviceRecord::from_json(&simulated).unwrap();
    assert!(simulated.banned, "the simulation itself bans");
    let stored = get(&admin, &uuid).await;
    assert_eq!(stored, written, "nothing was committed");
    assert_eq!(history(&admin, &uuid).await.len(), 1);
}

#[tokio::test]
async fn list_pages_with_bookmarks_and_filters() {
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    let reader = net.contract("Org1", "client").await;
    let uuids = adjacent_uuids(7);
    // Registered concurrently: a handful of transactions in one or two blocks.
    let mut writes = tokio::task::JoinSet::new();
    for uuid in &uuids {
        let (admin, body) = (
            admin.clone(),
            request(uuid, &unique_virtual_ip(), &p256_pem(), &[]),
        );
        writes.spawn(
            async move { within("register", admin.submit("RegisterDevice", &[body])).await },
        );
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap().unwrap();
    }
    for uuid in [&uuids[1], &uuids[4]] {
        admin
            .submit("BanDevice", &[uuid.as_str(), "listed"])
            .await
            .unwrap();
    }

    // Pages of 3 resuming from a device key (the form of bookmark ListDevices hands out).
    let mut bookmark = format!("device/{}", uuids[0]);
    let mut pages = Vec::new();
    loop {
        let page = list(&reader, 3, &bookmark, "").await;
        assert!(page.records.len() <= 3);
        let ours: Vec<String> = page
            .records
            .iter()
            .map(|r| r.uuid.clone())
            .filter(|u| uuids.contains(u))
            .collect();
        let done = ours.len() < page.records.len() || page.bookmark.is_empty();
        pages.push(ours);
        bookmark = page.bookmark;
        if done {
            break;
        }
    }
    assert_eq!(pages.concat(), uuids, "each device once, in UUID order");
    assert_eq!(pages[0].len(), 3);
    assert_eq!(pages[1].len(), 3);
    assert_eq!(pages.len(), 3);

    // The banned filter over the same range yields exactly the two banned devices.
    let page = list(
        &reader,
        2,
        &format!("device/{}", uuids[0]),
        r#"{"banned":true}"#,
    )
    .await;
    let banned: Vec<&str> = page.records.iter().map(|r| r.uuid.as_str()).collect();
    assert_eq!(banned, [uuids[1].as_str(), uuids[4].as_str()]);
    assert!(page.records.iter().all(|r| r.banned));

    // From the start: the whole registry, page by page, holds each of ours exactly once.
    let (mut bookmark, mut count, mut last, mut calls) = (String::new(), vec![0; 7], None, 0);
    loop {
        let page = list(&reader, 50, &bookmark, "").await;
        calls += 1;
        for record in &page.records {
            assert!(last.as_ref() < Some(&record.uuid), "UUID order, no repeats");
            if let Some(i) = uuids.iter().position(|u| *u == record.uuid) {
                count[i] += 1;
            }
            last = Some(record.uuid.clone());
        }
        if page.bookmark.is_empty() {
            break;
        }
        assert_eq!(page.records.len(), 50, "only the last page is short");
        bookmark = page.bookmark;
    }
    assert_eq!(count, [1; 7], "after {calls} page(s)");
}

#[tokio::test]
async fn named_endorsing_organisations_and_org2_submits_work() {
    let net = LiveNetwork::get();
    let org2 = net.contract("Org2", "admin").await;
    let uuid = unique_uuid();
    let body = request(&uuid, &unique_virtual_ip(), &p256_pem(), &[]);
    let options = SubmitOptions {
        endorsing_organizations: vec!["Org1MSP".into(), "Org2MSP".into()],
        ..SubmitOptions::default()
    };
    let result = org2
        .submit_with("RegisterDevice", &[body], &options)
        .await
        .unwrap();
    let record = device_record::DeviceRecord::from_json(&result.payload).unwrap();
    assert_eq!(record.owner_msp, "Org2MSP");
    assert_eq!(get(&org2, &uuid).await, record);
}
