//! The edge gateway's side, through its own library: its configuration file, `send_once` (sign
//! one reading and send it over a new mutual-TLS connection), and a held connection that signs
//! with the same sequence counter and keeps its TLS session open, as the running daemon does.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use edge_gateway::Config;
use edge_gateway::keygen::load_signing_key;
use edge_gateway::send_once::send_once;
use edge_gateway::sensor::Measurements;
use edge_gateway::sequence::SequenceStore;
use edge_gateway::signer::Signer;
use edge_gateway::transport::ValidatorClient;
use serde_json::Value;

use crate::device::Device;

/// What became of one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The validator accepted it (JSON-RPC result).
    Accepted { seq: u64, jws: String },
    /// The validator refused it with this JSON-RPC error code.
    Refused(i64),
    /// No JSON-RPC answer at all: the connection or the TLS handshake failed.
    NoAnswer(String),
}

/// A validator's URL as gateways are configured with it.
pub fn url(addr: SocketAddr) -> String {
    format!("https://127.0.0.1:{}/", addr.port())
}

/// The gateway configuration of `device` (enrolled), signing with `signing_key` (normally the
/// device's own, registered key), trying `validators` in order.
pub fn config(device: &Device, signing_key: &Path, validators: &[SocketAddr]) -> Config {
    let tls = device.tls();
    let list: Vec<String> = validators
        .iter()
        .map(|a| format!("{:?}", url(*a)))
        .collect();
    let text = format!(
        "device_uuid = {uuid:?}\n\
         key_path = {key:?}\n\
         validators = [{list}]\n\
         ca_path = {ca:?}\n\
         client_cert_path = {cert:?}\n\
         client_key_path = {client_key:?}\n\
         queue_path = {queue:?}\n\
         request_timeout_ms = 5000\n",
        uuid = device.uuid,
        key = signing_key.display().to_string(),
        list = list.join(", "),
        ca = tls.ca.display().to_string(),
        cert = tls.cert.display().to_string(),
        client_key = tls.key.display().to_string(),
        queue = device.dir.join("queue.sqlite3").display().to_string(),
    );
    Config::from_toml(&text, &device.dir, |_| None, &[])
        .unwrap_or_else(|e| panic!("gateway config of {}: {e}\n{text}", device.uuid))
}

/// Reading number `n` as the sensor would give it.
pub fn reading(n: u64) -> Measurements {
    let mut data = Measurements::new();
    data.insert("n".into(), n.into());
    data.insert("temperature_c".into(), (18.0 + n as f64 / 10.0).into());
    data
}

fn outcome(seq: u64, jws: String, answer: &Value) -> Outcome {
    match answer["error"]["code"].as_i64() {
        Some(code) => Outcome::Refused(code),
        None if answer.get("result").is_some() => Outcome::Accepted { seq, jws },
        None => Outcome::NoAnswer(format!("answer is neither result nor error: {answer}")),
    }
}

/// `edge-gateway send-once`: signs reading `n` and sends it over a new connection.
pub async fn send_new(config: &Config, n: u64) -> Outcome {
    let report = send_once(config, reading(n))
        .await
        .unwrap_or_else(|e| panic!("send-once for {}: {e}", config.device_uuid));
    match &report.answer {
        Some(answer) => outcome(report.seq, report.jws, answer),
        None => Outcome::NoAnswer(report.failures.join("; ")),
    }
}

/// One kept-open mutual-TLS connection from a gateway to one validator.
pub struct HeldConnection {
    client: ValidatorClient,
    signer: Signer,
    timeout: Duration,
}

impl HeldConnection {
    /// Prepares the connection to `validator` with `config`'s TLS files and signing key; it is
    /// dialled on the first [`HeldConnection::send`] and reused afterwards.
    pub fn new(config: &Config, validator: SocketAddr) -> Self {
        let tls = edge_gateway::tls::client_config(
            &config.ca_path,
            config
                .client_cert_path
                .as_deref()
                .zip(config.client_key_path.as_deref()),
        )
        .expect("gateway TLS config");
        let key = load_signing_key(&config.key_path, None).expect("load the signing key");
        let seq = SequenceStore::open(&config.queue_path, config.device_uuid)
            .expect("open the sequence store");
        Self {
            client: ValidatorClient::new(&url(validator), tls).expect("validator client"),
            signer: Signer::new(config.device_uuid, key, seq),
            timeout: config.request_timeout(),
        }
    }

    /// Signs reading `n` and sends it on this connection.
    pub async fn send(&mut self, n: u64) -> Outcome {
        let msg = self.signer.sign(reading(n)).expect("sign a reading");
        self.resend(msg.seq, &msg.jws).await
    }

    /// Sends an already signed message on this connection (a resend).
    pub async fn resend(&mut self, seq: u64, jws: &str) -> Outcome {
        let body =
            serde_json::to_vec(&edge_gateway::rpc::request(seq, jws)).expect("encode the request");
        match self.client.post_json(body, self.timeout).await {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(answer) => outcome(seq, jws.to_string(), &answer),
                Err(e) => Outcome::NoAnswer(format!("answer is not JSON: {e}")),
            },
            Err(e) => Outcome::NoAnswer(e.to_string()),
        }
    }
}
