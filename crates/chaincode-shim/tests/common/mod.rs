//! Shared setup: `KeyValueContract` (a test contract exercising every stub call) and a chaincode
//! server on 127.0.0.1 that the peer test double dials.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use chaincode_shim::{Contract, Response, ShimConfig, Stub, Timestamp, TlsFiles, failure, success};
use test_doubles::peer_double::{DoubleOptions, Outcome, PeerDouble, TxSpec};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Endpoint;

pub const PACKAGE_ID: &str = "kv_1.0:0123456789abcdef";

/// Test contract: a key-value store whose functions map one-to-one onto stub calls.
pub struct KeyValueContract;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Contract for KeyValueContract {
    fn invoke(&self, stub: &mut Stub) -> Response {
        let args: Vec<String> = stub.args().iter().map(|a| text(a)).collect();
        let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
        let result = match arg(0).as_str() {
            "put" => stub.get_state(&arg(1)).and_then(|previous| {
                stub.put_state(&arg(1), arg(2).into_bytes())?;
                Ok(previous.unwrap_or_default())
            }),
            "get" => match stub.get_state(&arg(1)) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => return failure(format!("key {:?} not found", arg(1))),
                Err(e) => Err(e),
            },
            "del" => stub.del_state(&arg(1)).map(|()| Vec::new()),
            "page" => {
                let size: u32 = arg(3).parse().unwrap_or(0);
                stub.get_state_by_range_with_pagination(&arg(1), &arg(2), size, &arg(4))
                    .map(|(entries, bookmark)| {
                        let keys: Vec<String> = entries
                            .iter()
                            .map(|(k, v)| format!("{k}={}", text(v)))
                            .collect();
                        format!("{}|{bookmark}", keys.join(",")).into_bytes()
                    })
            }
            "history" => stub.get_history_for_key(&arg(1)).map(|mods| {
                let items: Vec<String> = mods
                    .iter()
                    .map(|m| {
                        format!(
                            "{}:{}:{}:{}",
                            m.tx_id,
                            text(&m.value),
                            m.is_delete,
                            m.timestamp.seconds
                        )
                    })
                    .collect();
                items.join(";").into_bytes()
            }),
            "whoami" => Ok(format!(
                "{}|{}|{}.{}|{}",
                stub.creator().msp_id,
                stub.tx_id(),
                stub.tx_timestamp().seconds,
                stub.tx_timestamp().nanos,
                text(&stub.creator().id_bytes)
            )
            .into_bytes()),
            "event" => stub
                .put_state(&arg(1), b"evented".to_vec())
                .and_then(|()| stub.set_event(&arg(1), arg(2).into_bytes()))
                .map(|()| Vec::new()),
            "fail" => {
                // Writes before a refusal must not reach the ledger.
                if let Err(e) = stub.put_state("should-not-commit", b"x".to_vec()) {
                    return failure(e.to_string());
                }
                return failure(arg(1));
            }
            "panic" => panic!("test contract asked to panic"),
            other => return failure(format!("unknown function {other:?}")),
        };
        match result {
            Ok(payload) => success(payload),
            Err(e) => failure(e.to_string()),
        }
    }
}

/// A running chaincode server; dropping the handle's shutdown sender stops it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), chaincode_shim::ServeError>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start_with(config: ShimConfig, tls: Option<TlsFiles>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        chaincode_shim::serve(
            config,
            Arc::new(KeyValueContract),
            listener,
            tls.as_ref(),
            async {
                let _ = stopped.await;
            },
        )
        .await
    });
    TestServer {
        addr,
        stop: Some(stop),
        task,
    }
}

pub async fn start() -> TestServer {
    start_with(ShimConfig::new(PACKAGE_ID), None).await
}

pub fn endpoint(addr: SocketAddr) -> Endpoint {
    Endpoint::from_shared(format!("http://{addr}")).unwrap()
}

pub async fn double(server: &TestServer, options: DoubleOptions) -> PeerDouble {
    PeerDouble::connect(endpoint(server.addr), options)
        .await
        .unwrap()
}

pub fn tx(n: u32) -> TxSpec {
    TxSpec {
        tx_id: format!("tx{n:04}"),
        channel_id: "mychannel".into(),
        timestamp: Timestamp {
            seconds: 1_700_000_000 + i64::from(n),
            nanos: 5,
        },
        msp_id: "Org1MSP".into(),
        cert_pem: b"-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n".to_vec(),
    }
}

/// The payload of a status-200 outcome, as text; panics with the outcome otherwise.
pub fn ok_text(outcome: Outcome) -> String {
    match outcome {
        Outcome::Completed { response, .. } if response.status == 200 => text(&response.payload),
        other => panic!("expected status 200, got {other:?}"),
    }
}
