//! Bad input from the "peer" and concurrency: malformed messages get ERROR and the stream keeps
//! serving; transactions on one stream run at the same time.

mod common;

use chaincode_shim::ShimConfig;
use common::*;
use sf2c_protos::protos::ChaincodeMessage;
use sf2c_protos::protos::chaincode_message::Type;
use test_doubles::peer_double::{DoubleOptions, Outcome, PeerDouble};

fn error_text(reply: &ChaincodeMessage) -> String {
    assert_eq!(reply.r#type(), Type::Error, "expected ERROR, got {reply:?}");
    String::from_utf8_lossy(&reply.payload).into_owned()
}

#[tokio::test]
async fn malformed_messages_get_error_and_the_stream_keeps_serving() {
    let server = start().await;
    let peer = double(&server, DoubleOptions::default()).await;

    // Payload that is not a ChaincodeInput.
    let mut garbled = PeerDouble::transaction(&tx(1), &[b"get", b"k"]);
    garbled.payload = vec![0xff, 0xff, 0xff, 0xff];
    let reply = peer.send_and_wait(garbled).await.unwrap();
    assert_eq!(reply.txid, "tx0001");
    assert!(error_text(&reply).contains("ChaincodeInput"), "{reply:?}");

    // No proposal: submitter and timestamp unknown.
    let mut bare = PeerDouble::transaction(&tx(2), &[b"get", b"k"]);
    bare.proposal = None;
    let reply = peer.send_and_wait(bare).await.unwrap();
    assert!(error_text(&reply).contains("proposal"), "{reply:?}");

    // Proposal bytes that do not decode.
    let mut bad_proposal = PeerDouble::transaction(&tx(3), &[b"get", b"k"]);
    if let Some(p) = bad_proposal.proposal.as_mut() {
        p.proposal_bytes = vec![0x0a, 0xff];
    }
    let reply = peer.send_and_wait(bad_proposal).await.unwrap();
    assert!(error_text(&reply).contains("proposal"), "{reply:?}");

    // A message type the chaincode never receives, and an answer nobody asked for.
    let odd = ChaincodeMessage {
        r#type: Type::PutState as i32,
        txid: "tx0004".into(),
        ..Default::default()
    };
    let reply = peer.send_and_wait(odd).await.unwrap();
    assert!(error_text(&reply).contains("PUT_STATE"), "{reply:?}");
    peer.send(ChaincodeMessage {
        r#type: Type::Response as i32,
        txid: "nobody".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    // A contract panic is contained.
    let reply = peer
        .send_and_wait(PeerDouble::transaction(&tx(5), &[b"panic"]))
        .await
        .unwrap();
    assert!(error_text(&reply).contains("internally"), "{reply:?}");

    // A transaction without a txid.
    let mut anonymous = PeerDouble::transaction(&tx(6), &[b"get", b"k"]);
    anonymous.txid = String::new();
    let reply = peer.send_and_wait(anonymous).await.unwrap();
    assert!(error_text(&reply).contains("txid"), "{reply:?}");

    // Same stream, still serving.
    peer.keepalive().await.unwrap();
    assert_eq!(
        ok_text(peer.submit(&tx(7), &[b"put", b"k", b"v"]).await.unwrap()),
        ""
    );
    assert_eq!(
        ok_text(peer.evaluate(&tx(8), &[b"get", b"k"]).await.unwrap()),
        "v"
    );
    assert!(peer.unrouted().is_empty(), "{:?}", peer.unrouted());
}

#[tokio::test]
async fn transactions_on_one_stream_run_concurrently() {
    const N: u32 = 8;
    let server = start().await;
    // The double answers no GET_STATE until all N are waiting: serial execution would stall.
    let options = DoubleOptions {
        hold_gets_until: N as usize,
        ..Default::default()
    };
    let peer = double(&server, options).await;
    let calls = (1..=N).map(|n| {
        let spec = tx(n);
        let peer = &peer;
        async move { peer.evaluate(&spec, &[b"get", b"missing"]).await }
    });
    let outcomes = futures_join_all(calls).await;
    assert_eq!(outcomes.len(), N as usize);
    for outcome in outcomes {
        match outcome.unwrap() {
            Outcome::Completed { response, .. } => {
                assert_eq!(response.status, 500);
                assert!(response.message.contains("not found"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(peer.requests(Type::GetState), N as usize);
}

#[tokio::test]
async fn a_second_transaction_with_a_running_txid_is_refused() {
    let server = start().await;
    let options = DoubleOptions {
        hold_gets_until: 2,
        ..Default::default()
    };
    let peer = double(&server, options).await;
    let (t1, t2) = (tx(1), tx(2));
    let first = peer.evaluate(&t1, &[b"get", b"k"]);
    let later = async {
        // tx1 is now waiting on its held GET_STATE; a second tx1 must be refused at once. The
        // refusal carries txid tx0001, so the double hands it to tx1's waiter.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        peer.send(PeerDouble::transaction(&t1, &[b"get", b"k"]))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        peer.evaluate(&t2, &[b"get", b"k"]).await
    };
    let (first, other) = tokio::join!(first, later);
    match first.unwrap() {
        Outcome::Error(text) => assert!(text.contains("already running"), "{text}"),
        other => panic!("expected the duplicate's refusal, got {other:?}"),
    }
    assert!(matches!(other.unwrap(), Outcome::Completed { .. }));
    // The original tx1 still ran to the end and answered COMPLETED.
    let mut stray = Vec::new();
    for _ in 0..100 {
        stray = peer.unrouted();
        if !stray.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(stray.len(), 1, "{stray:?}");
    assert_eq!(stray[0].txid, "tx0001");
    assert_eq!(stray[0].r#type(), Type::Completed);
}

#[tokio::test]
async fn transactions_beyond_the_stream_limit_are_refused_not_queued() {
    let mut config = ShimConfig::new(PACKAGE_ID);
    config.max_concurrent_transactions = 1;
    let server = start_with(config, None).await;
    let options = DoubleOptions {
        hold_gets_until: 2,
        ..Default::default()
    };
    let peer = double(&server, options).await;
    // tx1 holds the only slot (its GET_STATE is held); tx2 must be refused at once.
    let (t1, t2) = (tx(1), tx(2));
    let first = peer.evaluate(&t1, &[b"get", b"k"]);
    let second = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        peer.evaluate(&t2, &[b"get", b"k"]).await
    };
    let (first, second) = tokio::join!(
        tokio::time::timeout(std::time::Duration::from_secs(2), first),
        second
    );
    match second.unwrap() {
        Outcome::Error(text) => assert!(text.contains("already running 1"), "{text}"),
        other => panic!("expected refusal, got {other:?}"),
    }
    // tx1 never gets its GET_STATE answer (the double waits for two); it times out here.
    assert!(first.is_err());
}

/// Runs futures concurrently on the current task.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out = Vec::new();
    let mut pending: Vec<_> = set.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().flatten());
    out
}
