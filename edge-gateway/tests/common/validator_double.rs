//! `ValidatorDouble`: an in-test HTTPS JSON-RPC server standing in for the fog validator.
//!
//! It is a test double, not the validator: it checks each message's signature with one
//! enrolment key, refuses stale timestamps when given a window (1005 with `data.stale` and its
//! clock, which may be set off), refuses replays (seq not above the last accepted), refuses with
//! the code a message asks for in its `refuse_code` measurement (or as stale when it has
//! `always_stale`), and records what it accepted.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use signed_message::{Measurement, VerifyingKey};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::TestPki;

/// One message the double accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub seq: u64,
    pub ts: u64,
    pub data: std::collections::BTreeMap<String, Measurement>,
}

#[derive(Default)]
struct State {
    window_ms: Option<u64>,
    clock_offset_ms: i64,
    answer_code: Option<i64>,
    last_seq: Option<u64>,
    accepted: Vec<Accepted>,
    refused: Vec<(u64, i64)>,
    stale: Vec<u64>,
    http_status: Option<u16>,
    requests: u64,
}

/// The running double; stops accepting connections on drop.
pub struct ValidatorDouble {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl ValidatorDouble {
    /// Starts on 127.0.0.1 (a free port), trusting only `enrolment_public_key_pem`.
    pub async fn start(pki: &TestPki, enrolment_public_key_pem: &str) -> ValidatorDouble {
        let key = Arc::new(VerifyingKey::from_public_key_pem(enrolment_public_key_pem).unwrap());
        let certs = CertificateDer::pem_slice_iter(pki.server_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let server_key = PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, server_key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://127.0.0.1:{}/rpc",
            listener.local_addr().unwrap().port()
        );
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, state, key) =
                    (acceptor.clone(), Arc::clone(&shared), Arc::clone(&key));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        handle(req, Arc::clone(&state), Arc::clone(&key))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        ValidatorDouble { url, state, task }
    }

    /// Refuses as stale (like the validator's `replay.window_ms`) any message whose timestamp is
    /// further than `window_ms` from the double's clock; None turns the check off.
    pub fn set_window(&self, window_ms: Option<u64>) {
        self.state.lock().unwrap().window_ms = window_ms;
    }

    /// Sets the double's clock this far from the real one (a validator with a wrong clock).
    pub fn set_clock_offset(&self, offset_ms: i64) {
        self.state.lock().unwrap().clock_offset_ms = offset_ms;
    }

    /// Answers every call with this JSON-RPC error code (e.g. 1009), or behave again with None.
    pub fn answer_code(&self, code: Option<i64>) {
        self.state.lock().unwrap().answer_code = code;
    }

    /// Makes every request fail with this HTTP status (e.g. 503), or behave again with None.
    pub fn answer_http_status(&self, status: Option<u16>) {
        self.state.lock().unwrap().http_status = status;
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// (seq, code) of every refusal, replays included.
    pub fn refused(&self) -> Vec<(u64, i64)> {
        self.state.lock().unwrap().refused.clone()
    }

    /// Seqs of the messages refused as stale.
    pub fn stale(&self) -> Vec<u64> {
        self.state.lock().unwrap().stale.clone()
    }

    pub fn requests(&self) -> u64 {
        self.state.lock().unwrap().requests
    }
}

impl Drop for ValidatorDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    state: Arc<Mutex<State>>,
    key: Arc<VerifyingKey>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut st = state.lock().unwrap();
    st.requests += 1;
    if let Some(code) = st.http_status {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"unavailable")));
        *resp.status_mut() = StatusCode::from_u16(code).unwrap();
        return Ok(resp);
    }
    let answer = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(calls)) => {
            Value::Array(calls.iter().map(|c| call(c, &mut st, &key)).collect())
        }
        Ok(single) => call(&single, &mut st, &key),
        Err(_) => {
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}})
        }
    };
    let mut resp = Response::new(Full::new(Bytes::from(answer.to_string())));
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Ok(resp)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn call(c: &Value, st: &mut State, key: &VerifyingKey) -> Value {
    let id = c["id"].clone();
    let error = |code: i64, message: &str| json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    if c["method"] != "telemetry.submit" {
        return error(-32601, "method not found");
    }
    let Some(compact) = c["params"]["message"].as_str() else {
        return error(-32602, "params.message missing");
    };
    if let Some(code) = st.answer_code {
        return error(code, "refused as the test set");
    }
    let claims = match signed_message::decode_and_verify(compact, key) {
        Ok(claims) => claims,
        Err(e) => return error(1004, &format!("public key verification failed: {e}")),
    };
    // The validator's order: the timestamp window before the sequence number.
    let now = (now_ms() as i64 + st.clock_offset_ms) as u64;
    let outside = st.window_ms.is_some_and(|w| claims.ts.abs_diff(now) > w);
    if outside || claims.data.contains_key("always_stale") {
        st.refused.push((claims.seq, 1005));
        st.stale.push(claims.seq);
        return json!({"jsonrpc": "2.0", "id": id, "error": {"code": 1005,
            "message": "replayed or stale message",
            "data": {"reason": "timestamp outside the window", "stale": true, "validator_time_ms": now}}});
    }
    if let Some(Measurement::Number(code)) = claims.data.get("refuse_code") {
        let code = code.as_i64().unwrap();
        st.refused.push((claims.seq, code));
        return error(code, "refused as the message asked");
    }
    if st.last_seq.is_some_and(|last| claims.seq <= last) {
        st.refused.push((claims.seq, 1005));
        return error(1005, "replay");
    }
    st.last_seq = Some(claims.seq);
    st.accepted.push(Accepted {
        seq: claims.seq,
        ts: claims.ts,
        data: claims.data,
    });
    json!({"jsonrpc": "2.0", "id": id, "result": {"accepted": true}})
}
