//! The `device-registry serve` binary driven by the peer test double over real gRPC on
//! 127.0.0.1: the whole path peer → shim → `PeerLedger` → contract, with state kept by the
//! double. Conformance with a real Fabric peer is not shown here.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chaincode_shim::Timestamp;
use chaincode_shim::peer_double::{DoubleOptions, Outcome, PeerDouble, TxSpec};
use common::{Harness, admin, client, request, uuid};
use device_registry::Creator;
use tonic::transport::Endpoint;

const PACKAGE_ID: &str = "device-registry_1.0:4f1c0ffee";

/// The server process; killed by PID when the test ends.
struct ServerProcess {
    child: Child,
    addr: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> ServerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_device-registry"))
        .args([
            "serve",
            "--address",
            "127.0.0.1:0",
            "--package-id",
            PACKAGE_ID,
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ServerProcess { child, addr }
}

async fn connect(server: &ServerProcess, options: DoubleOptions) -> PeerDouble {
    let endpoint = Endpoint::from_shared(format!("http://{}", server.addr)).unwrap();
    PeerDouble::connect(endpoint, options).await.unwrap()
}

/// Transaction fields like the harness's: increasing ids and timestamps.
fn spec(h: &mut Harness, who: &Creator) -> TxSpec {
    let ts = h.next_timestamp();
    let spec = TxSpec {
        tx_id: h.next_tx_id(),
        channel_id: "mychannel".into(),
        timestamp: Timestamp {
            seconds: ts.seconds,
            nanos: ts.nanos,
        },
        msp_id: who.msp_id.clone(),
        cert_pem: who.id_bytes.clone(),
    };
    h.next_tx += 1;
    spec
}

fn ok_json(outcome: Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Completed { response, .. } if response.status == 200 => {
            serde_json::from_slice(&response.payload).unwrap()
        }
        other => panic!("expected status 200, got {other:?}"),
    }
}

async fn register(peer: &PeerDouble, h: &mut Harness, n: u32) -> Outcome {
    let body = request(
        &uuid(n),
        "Gateway",
        &format!("10.8.0.{n}"),
        &common::p256_pem(),
    );
    let who = admin();
    peer.submit(&spec(h, &who), &[b"RegisterDevice", &body])
        .await
        .unwrap()
}

#[tokio::test]
async fn register_then_get_through_the_contract() {
    let server = start_server();
    let peer = connect(&server, DoubleOptions::default()).await;
    assert_eq!(peer.registered_name(), PACKAGE_ID);
    let mut h = Harness::new();
    let registered_at = h.next_timestamp().to_rfc3339().unwrap();
    let outcome = register(&peer, &mut h, 1).await;
    let Outcome::Completed { response, event } = &outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(response.status, 200, "{}", response.message);
    let event = event.as_ref().expect("a write sets an event");
    assert_eq!(event.event_name, device_record::EVENT_NAME);

    let who = client();
    let got = ok_json(
        peer.evaluate(&spec(&mut h, &who), &[b"GetDevice", uuid(1).as_bytes()])
            .await
            .unwrap(),
    );
    assert_eq!(got["uuid"], uuid(1));
    assert_eq!(got["virtual_ip"], "10.8.0.1");
    assert_eq!(got["banned"], false);
    // Timestamps come from the proposal header, never the server clock.
    assert_eq!(got["created_at"], registered_at, "{got}");
    assert_eq!(peer.events().len(), 1);
}

#[tokio::test]
async fn contract_refusal_returns_status_500_with_the_contract_message() {
    let server = start_server();
    let peer = connect(&server, DoubleOptions::default()).await;
    let mut h = Harness::new();
    let who = client();
    let outcome = peer
        .evaluate(&spec(&mut h, &who), &[b"GetDevice", uuid(9).as_bytes()])
        .await
        .unwrap();
    match outcome {
        Outcome::Completed { response, .. } => {
            assert_eq!(response.status, 500);
            assert_eq!(
                response.message,
                format!("device {} is not registered", uuid(9))
            );
        }
        other => panic!("{other:?}"),
    }
    // A client may not register: refused by the contract, nothing committed.
    let body = request(&uuid(2), "Gateway", "10.8.0.2", &common::p256_pem());
    let outcome = peer
        .submit(&spec(&mut h, &who), &[b"RegisterDevice", &body])
        .await
        .unwrap();
    let Outcome::Completed { response, .. } = outcome else {
        panic!("expected COMPLETED");
    };
    assert_eq!(response.status, 500);
    assert!(!response.message.is_empty());
    assert!(peer.state().is_empty());
}

#[tokio::test]
async fn list_devices_pages_with_bookmarks_and_history_is_the_audit_trail() {
    let server = start_server();
    let peer = connect(
        &server,
        DoubleOptions {
            batch_size: 2,
            ..Default::default()
        },
    )
    .await;
    let mut h = Harness::new();
    for n in 1..=5 {
        register(&peer, &mut h, n).await;
    }
    let who = client();
    let mut seen = Vec::new();
    let mut bookmark = String::new();
    let mut calls = 0;
    loop {
        let page = ok_json(
            peer.evaluate(
                &spec(&mut h, &who),
                &[b"ListDevices", b"2", bookmark.as_bytes()],
            )
            .await
            .unwrap(),
        );
        calls += 1;
        let records = page["records"].as_array().unwrap();
        assert!(records.len() <= 2);
        seen.extend(
            records
                .iter()
                .map(|r| r["uuid"].as_str().unwrap().to_string()),
        );
        bookmark = page["bookmark"].as_str().unwrap().to_string();
        if bookmark.is_empty() {
            break;
        }
    }
    assert_eq!(seen, (1..=5).map(uuid).collect::<Vec<_>>());
    assert_eq!(calls, 3);

    let adm = admin();
    let banned = peer
        .submit(
            &spec(&mut h, &adm),
            &[b"BanDevice", uuid(3).as_bytes(), b"audit"],
        )
        .await
        .unwrap();
    assert_eq!(ok_json(banned)["banned"], true);
    peer.submit(
        &spec(&mut h, &adm),
        &[b"UnbanDevice", uuid(3).as_bytes(), b"cleared"],
    )
    .await
    .unwrap();
    let history = ok_json(
        peer.evaluate(
            &spec(&mut h, &who),
            &[b"GetDeviceHistory", uuid(3).as_bytes()],
        )
        .await
        .unwrap(),
    );
    let entries = history.as_array().expect("history is a JSON array");
    assert_eq!(entries.len(), 3, "{history}");
}

#[tokio::test]
async fn concurrent_reads_on_one_stream_and_clean_exit_on_sigterm() {
    let mut server = start_server();
    let peer = connect(
        &server,
        DoubleOptions {
            hold_gets_until: 4,
            ..Default::default()
        },
    )
    .await;
    let mut h = Harness::new();
    let who = client();
    let specs: Vec<TxSpec> = (0..4).map(|_| spec(&mut h, &who)).collect();
    let u = uuid(1);
    let args: [&[u8]; 2] = [b"DeviceExists", u.as_bytes()];
    // The double answers no GET_STATE until all four wait: serial execution would stall.
    let (a, b, c, d) = tokio::join!(
        peer.evaluate(&specs[0], &args),
        peer.evaluate(&specs[1], &args),
        peer.evaluate(&specs[2], &args),
        peer.evaluate(&specs[3], &args),
    );
    for outcome in [a, b, c, d] {
        let Outcome::Completed { response, .. } = outcome.unwrap() else {
            panic!("expected COMPLETED");
        };
        assert_eq!(response.status, 200, "{}", response.message);
    }

    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(s) = server.child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        // Async sleep: the double's reader must keep running while the server closes.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exited = exited.expect("server exits within 5 s of SIGTERM");
    assert!(exited.success(), "{exited:?}");
}
