//! Live traffic of one enrolled gateway: a newly signed reading to each validator every interval,
//! over kept-open mutual-TLS connections (the gateway's own transport), counting what each
//! validator answered and noting when it first refused with 1003 (banned).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use edge_gateway::transport::ValidatorClient;
use fog_validator::code;
use serde_json::Value;
use signed_message::{Claims, SigningKey};
use tokio::task::JoinHandle;

use crate::device::Device;
use crate::gateway::{reading, url};

/// What one validator answered one gateway so far.
#[derive(Debug, Default)]
pub struct Answers {
    pub accepted: AtomicU64,
    /// JSON-RPC errors of any code.
    pub refused: AtomicU64,
    /// No JSON-RPC answer: connection closed, TLS refused, timeout.
    pub no_answer: AtomicU64,
    /// When the first 1003 (banned) answer arrived.
    pub first_banned: OnceLock<Instant>,
    /// When a message first got no answer (e.g. the certificate was revoked before any 1003).
    pub first_unanswered: OnceLock<Instant>,
}

/// One gateway's traffic to every validator; stopped on drop.
pub struct Traffic {
    /// Per validator, in the order given to [`Traffic::start`].
    pub answers: Vec<Arc<Answers>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Traffic {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Traffic {
    /// Starts sending as `device` (registered and enrolled) to each of `validators` every
    /// `every`, sequence numbers from one counter so each validator sees them rise.
    pub fn start(device: &Device, validators: &[SocketAddr], every: Duration) -> Self {
        let files = device.tls();
        let tls = edge_gateway::tls::client_config(&files.ca, Some((&files.cert, &files.key)))
            .expect("gateway TLS config from the enrolment files");
        let key = edge_gateway::keygen::load_signing_key(&device.signing_key, None)
            .expect("load the gateway's signing key");
        let uuid: uuid::Uuid = device.uuid.parse().expect("a UUID from keygen");
        let sender = Arc::new(Sender {
            uuid,
            key,
            seq: AtomicU64::new(1),
        });
        let mut answers = Vec::new();
        let mut tasks = Vec::new();
        for addr in validators {
            let client = ValidatorClient::new(&url(*addr), tls.clone()).expect("validator client");
            let mine = Arc::new(Answers::default());
            answers.push(mine.clone());
            tasks.push(tokio::spawn(sender.clone().run(client, every, mine)));
        }
        Self { answers, tasks }
    }

    /// Messages accepted by validator `i`.
    pub fn accepted(&self, i: usize) -> u64 {
        self.answers[i].accepted.load(Relaxed)
    }

    /// Messages refused (any code) or unanswered by any validator.
    pub fn failures(&self) -> u64 {
        let sum = |a: &Answers| a.refused.load(Relaxed) + a.no_answer.load(Relaxed);
        self.answers.iter().map(|a| sum(a)).sum()
    }
}

/// The gateway's signing identity and sequence counter, shared by its per-validator tasks.
struct Sender {
    uuid: uuid::Uuid,
    key: SigningKey,
    seq: AtomicU64,
}

impl Sender {
    async fn run(self: Arc<Self>, mut client: ValidatorClient, every: Duration, out: Arc<Answers>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let seq = self.seq.fetch_add(1, Relaxed);
            let mut claims = Claims::new(self.uuid, seq, edge_gateway::signer::now_ms());
            claims.data = reading(seq);
            let jws = self.key.sign(&claims).expect("sign a reading");
            let body = serde_json::to_vec(&edge_gateway::rpc::request(seq, &jws))
                .expect("encode the request");
            let answer = client.post_json(body, Duration::from_secs(2)).await;
            let answer = answer
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            match answer.as_ref().map(|a| a["error"]["code"].as_i64()) {
                None => {
                    let _ = out.first_unanswered.set(Instant::now());
                    out.no_answer.fetch_add(1, Relaxed)
                }
                Some(None) => out.accepted.fetch_add(1, Relaxed),
                Some(Some(refusal)) => {
                    if refusal == i64::from(code::BANNED) {
                        let _ = out.first_banned.set(Instant::now());
                    }
                    out.refused.fetch_add(1, Relaxed)
                }
            };
        }
    }
}
