//! The `device-registry serve` binary under `PeerDouble` (test-doubles) over real gRPC on
//! 127.0.0.1, for what the shared real network cannot show: transactions on one stream running at
//! once (the double holds every GET_STATE answer until all four wait) and a clean exit on SIGTERM
//! with a peer stream open. The contract through this binary on real peers is tested in
//! crates/fabric-client/tests/live_*.rs and chaincode/tests/live_peer_cli.rs.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chaincode_shim::Timestamp;
use common::{Harness, client, uuid};
use device_registry::Creator;
use test_doubles::peer_double::{DoubleOptions, Outcome, PeerDouble, TxSpec};
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
            "--member-msps",
            "Org1MSP,Org2MSP",
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
    // `--package-id` is what the binary registers under; a peer routes by it.
    assert_eq!(peer.registered_name(), PACKAGE_ID);
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

#[test]
fn the_server_will_not_start_without_the_member_list() {
    let out = Command::new(env!("CARGO_BIN_EXE_device-registry"))
        .args([
            "serve",
            "--address",
            "127.0.0.1:0",
            "--package-id",
            PACKAGE_ID,
        ])
        .env_remove(device_registry::MEMBERS_ENV)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SF2C_MEMBER_MSPS") && stderr.contains("Org1MSP,Org2MSP"),
        "{stderr}"
    );
}
