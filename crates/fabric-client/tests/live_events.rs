//! Chaincode events from the live network, resumed from a file checkpoint without loss or repeats.

mod live;

use std::collections::{BTreeSet, HashMap};

use device_record::RegistryEvent;
use fabric_client::{
    ChaincodeEvents, Checkpoint, Contract, FileCheckpoint, StartPosition, SubmitOptions,
};
use live::*;

/// One of this test's events as a listener saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    block: u64,
    tx_id: String,
    uuid: String,
}

/// Reads events as a listener would (checkpoint saved after each one, whoever wrote it) until
/// `count` events about `ours` have arrived; other writers' events are skipped.
async fn listen(
    events: &mut ChaincodeEvents,
    checkpoint: &mut FileCheckpoint,
    ours: &BTreeSet<String>,
    count: usize,
) -> Vec<Seen> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let event = within("next event", events.next())
            .await
            .expect("stream ended")
            .unwrap();
        let change = RegistryEvent::from_json(&event.payload).unwrap();
        assert_eq!(change.tx_id, event.tx_id);
        if ours.contains(&change.uuid) {
            seen.push(Seen {
                block: event.block,
                tx_id: event.tx_id.clone(),
                uuid: change.uuid,
            });
        }
        checkpoint.save(&event).unwrap();
    }
    seen
}

/// Sends `RegisterDevice` for each UUID at once, so several may share a block; waits for all commits.
async fn register_together(admin: &Contract, uuids: &[String]) -> Vec<(String, u64)> {
    let handles: Vec<_> = uuids
        .iter()
        .map(|uuid| {
            let admin = admin.clone();
            let body = request(uuid, &unique_virtual_ip(), &p256_pem(), &[]);
            tokio::spawn(async move {
                let options = SubmitOptions::default();
                let (_, commit) = admin
                    .submit_async("RegisterDevice", &[body], &options)
                    .await
                    .unwrap();
                (commit.tx_id().to_string(), commit.block().await.unwrap())
            })
        })
        .collect();
    let mut done = Vec::new();
    for handle in handles {
        done.push(within("RegisterDevice", handle).await.unwrap());
    }
    done
}

#[tokio::test]
async fn listener_resumes_from_its_checkpoint_without_loss_or_duplicates() {
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    let chaincode = admin.chaincode().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.checkpoint");

    // A first write fixes where the listener starts (it never asks for blocks before it).
    let marker = unique_uuid();
    let (_, first) = register(&admin, &marker).await;
    let fallback = StartPosition::Block(first.block);
    let batch: Vec<String> = (0..3).map(|_| unique_uuid()).collect();
    let down: Vec<String> = (0..4).map(|_| unique_uuid()).collect();
    let last = unique_uuid();
    let ours: BTreeSet<String> = [&marker, &last]
        .into_iter()
        .chain(&batch)
        .chain(&down)
        .cloned()
        .collect();

    // Listening: the marker, then writes made while the stream is open.
    let mut checkpoint = FileCheckpoint::open(&path).unwrap();
    let start = checkpoint.start_position(fallback.clone());
    assert_eq!(start, fallback);
    let mut events = within("open", admin.network().chaincode_events(&chaincode, start))
        .await
        .unwrap();
    let batch_commits = register_together(&admin, &batch).await;
    // Stop after the marker and the first of the batch: mid-block if the batch shares a block.
    let before = listen(&mut events, &mut checkpoint, &ours, 2).await;
    drop(events);
    assert_eq!(
        (before[0].uuid.as_str(), before[0].block),
        (marker.as_str(), first.block)
    );
    assert!(batch.contains(&before[1].uuid));
    let stopped_at = checkpoint.position().unwrap();
    assert_eq!(
        FileCheckpoint::open(&path).unwrap().position(),
        Some(stopped_at)
    );
    drop(checkpoint);

    // Down: more writes, some together and some alone, plus a change to an existing device.
    let mut expected: HashMap<String, u64> = batch_commits
        .into_iter()
        .filter(|(tx, _)| *tx != before[1].tx_id)
        .collect();
    expected.extend(register_together(&admin, &down[..2]).await);
    for uuid in &down[2..] {
        let (_, result) = register(&admin, uuid).await;
        expected.insert(result.tx_id, result.block);
    }
    let ban = admin
        .submit("BanDevice", &[marker.as_str(), "while nobody listened"])
        .await
        .unwrap();
    expected.insert(ban.tx_id, ban.block);

    // Restarted from the file: everything made while down, then a fresh write, each once.
    let mut checkpoint = FileCheckpoint::open(&path).unwrap();
    let start = checkpoint.start_position(fallback);
    assert!(matches!(&start, StartPosition::AfterTx { .. }), "{start:?}");
    let mut events = within(
        "reopen",
        admin.network().chaincode_events(&chaincode, start),
    )
    .await
    .unwrap();
    let (_, fresh) = register(&admin, &last).await;
    expected.insert(fresh.tx_id.clone(), fresh.block);
    let after = listen(&mut events, &mut checkpoint, &ours, expected.len()).await;
    assert_eq!(
        after.last().map(|s| &s.tx_id),
        Some(&fresh.tx_id),
        "{after:#?}"
    );
    let delivered: HashMap<String, u64> =
        after.iter().map(|s| (s.tx_id.clone(), s.block)).collect();
    assert_eq!(delivered.len(), after.len(), "no event twice: {after:#?}");
    assert_eq!(
        delivered, expected,
        "each event once, in its commit's block"
    );
    assert!(after.windows(2).all(|w| w[0].block <= w[1].block));
    assert!(before.iter().all(|b| !delivered.contains_key(&b.tx_id)));
}

#[tokio::test]
async fn next_commit_skips_earlier_blocks_and_delivers_the_next_write() {
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    let (_, earlier) = register(&admin, &unique_uuid()).await;
    // A Fabric peer answers the stream request only with its first event, so opening it is
    // awaited in a task while the write that produces the event is made.
    let network = admin.network().clone();
    let chaincode = admin.chaincode().to_string();
    let opening = tokio::spawn(async move {
        network
            .chaincode_events(&chaincode, StartPosition::NextCommit)
            .await
    });
    // Let the request reach the peer before the write, which it must not miss.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let uuid = unique_uuid();
    let (_, fresh) = register(&admin, &uuid).await;
    let mut events = within("open", opening).await.unwrap().unwrap();
    loop {
        let event = within("event", events.next()).await.unwrap().unwrap();
        assert!(
            event.block > earlier.block,
            "an event from before the request"
        );
        if event.tx_id == fresh.tx_id {
            assert_eq!(event.block, fresh.block);
            let change = RegistryEvent::from_json(&event.payload).unwrap();
            assert_eq!(change.uuid, uuid);
            break;
        }
    }
}
