//! Every stub call through a real gRPC stream to the peer test double: state, range pages with
//! bookmarks, history over several batches, events, proposal facts, and refusals.

mod common;

use common::*;
use sf2c_protos::protos::chaincode_message::Type;
use test_doubles::peer_double::{DoubleOptions, Outcome};

#[tokio::test]
async fn writes_commit_only_through_submit_and_reads_see_committed_state() {
    let server = start().await;
    let peer = double(&server, DoubleOptions::default()).await;
    assert_eq!(
        ok_text(peer.submit(&tx(1), &[b"put", b"a", b"one"]).await.unwrap()),
        ""
    );
    // `put` answers the previous committed value.
    assert_eq!(
        ok_text(peer.submit(&tx(2), &[b"put", b"a", b"two"]).await.unwrap()),
        "one"
    );
    assert_eq!(peer.state().get("a").map(Vec::as_slice), Some(&b"two"[..]));
    // An evaluation's writes are discarded.
    peer.evaluate(&tx(3), &[b"put", b"b", b"x"]).await.unwrap();
    assert!(!peer.state().contains_key("b"));
    assert_eq!(
        ok_text(peer.evaluate(&tx(4), &[b"get", b"a"]).await.unwrap()),
        "two"
    );
    peer.submit(&tx(5), &[b"del", b"a"]).await.unwrap();
    assert!(peer.state().is_empty());
    assert_eq!(peer.requests(Type::PutState), 3);
    assert_eq!(peer.requests(Type::DelState), 1);
}

#[tokio::test]
async fn proposal_gives_creator_timestamp_and_txid() {
    let server = start().await;
    let peer = double(&server, DoubleOptions::default()).await;
    let spec = tx(7);
    let got = ok_text(peer.evaluate(&spec, &[b"whoami"]).await.unwrap());
    let expected = format!(
        "Org1MSP|tx0007|{}.{}|{}",
        spec.timestamp.seconds,
        spec.timestamp.nanos,
        String::from_utf8_lossy(&spec.cert_pem)
    );
    assert_eq!(got, expected);
}

#[tokio::test]
async fn range_pages_follow_bookmarks_to_the_end() {
    let server = start().await;
    let peer = double(&server, DoubleOptions::default()).await;
    let keys = ["a", "d/1", "d/2", "d/3", "d/4", "d/5", "d/6", "d/7", "e"];
    for (n, k) in keys.iter().enumerate() {
        peer.submit(
            &tx(n as u32 + 1),
            &[b"put", k.as_bytes(), format!("v{n}").as_bytes()],
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut bookmark = String::new();
    let mut pages = 0;
    loop {
        let out = ok_text(
            peer.evaluate(
                &tx(100 + pages),
                &[b"page", b"d/", b"d0", b"3", bookmark.as_bytes()],
            )
            .await
            .unwrap(),
        );
        pages += 1;
        let (entries, next) = out.split_once('|').unwrap();
        let page: Vec<&str> = entries.split(',').filter(|e| !e.is_empty()).collect();
        assert!(page.len() <= 3, "page larger than asked: {page:?}");
        seen.extend(
            page.iter()
                .map(|e| e.split('=').next().unwrap().to_string()),
        );
        if next.is_empty() {
            break;
        }
        assert!(
            next.starts_with("d/"),
            "bookmark {next:?} outside the range"
        );
        bookmark = next.to_string();
    }
    assert_eq!(seen, vec!["d/1", "d/2", "d/3", "d/4", "d/5", "d/6", "d/7"]);
    assert_eq!(pages, 3);
    assert_eq!(peer.requests(Type::GetStateByRange), 3);
    assert_eq!(peer.open_iterators(), 0);
}

#[tokio::test]
async fn history_spanning_several_batches_is_newest_first() {
    let server = start().await;
    let options = DoubleOptions {
        batch_size: 2,
        ..Default::default()
    };
    let peer = double(&server, options).await;
    for n in 1..=4u32 {
        peer.submit(&tx(n), &[b"put", b"k", format!("v{n}").as_bytes()])
            .await
            .unwrap();
    }
    peer.submit(&tx(5), &[b"del", b"k"]).await.unwrap();
    let out = ok_text(peer.evaluate(&tx(6), &[b"history", b"k"]).await.unwrap());
    let base = 1_700_000_000;
    let expected = [
        format!("tx0005::true:{}", base + 5),
        format!("tx0004:v4:false:{}", base + 4),
        format!("tx0003:v3:false:{}", base + 3),
        format!("tx0002:v2:false:{}", base + 2),
        format!("tx0001:v1:false:{}", base + 1),
    ]
    .join(";");
    assert_eq!(out, expected);
    // Five records in batches of two: the first answer plus two QUERY_STATE_NEXT.
    assert_eq!(peer.requests(Type::QueryStateNext), 2);
    assert_eq!(peer.open_iterators(), 0);
}

#[tokio::test]
async fn contract_refusal_is_status_500_with_its_message_and_commits_nothing() {
    let server = start().await;
    let peer = double(&server, DoubleOptions::default()).await;
    let outcome = peer
        .submit(&tx(1), &[b"fail", b"device 42 is not registered"])
        .await
        .unwrap();
    match outcome {
        Outcome::Completed { response, event } => {
            assert_eq!(response.status, 500);
            assert_eq!(response.message, "device 42 is not registered");
            assert!(response.payload.is_empty());
            assert!(event.is_none());
        }
        other => panic!("expected COMPLETED with status 500, got {other:?}"),
    }
    assert!(
        peer.state().is_empty(),
        "a refused transaction's write was committed"
    );
}

#[tokio::test]
async fn event_travels_in_completed_and_is_committed_with_the_transaction() {
    let server = start().await;
    let peer = double(&server, DoubleOptions::default()).await;
    let outcome = peer
        .submit(&tx(1), &[b"event", b"DeviceChanged", b"{\"uuid\":1}"])
        .await
        .unwrap();
    let Outcome::Completed { response, event } = outcome else {
        panic!("expected COMPLETED");
    };
    assert_eq!(response.status, 200);
    let event = event.expect("COMPLETED carries the event");
    assert_eq!(event.event_name, "DeviceChanged");
    assert_eq!(event.payload, b"{\"uuid\":1}");
    let committed = peer.events();
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].tx_id, "tx0001");
    assert_eq!(committed[0].chaincode_id, PACKAGE_ID);
}
