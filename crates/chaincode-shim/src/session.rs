//! One peer stream: handshake (REGISTER → REGISTERED → READY), then dispatch until it ends.
//!
//! Order of a stream, as Fabric's chaincode side runs it: the chaincode sends REGISTER naming
//! its package ID; the peer answers REGISTERED, then READY (a v3 peer puts its optional
//! features, `ChaincodeAdditionalParams`, in READY's payload). After that the peer sends
//! TRANSACTION/INIT messages, and RESPONSE/ERROR answers to the ledger requests transactions
//! make. KEEPALIVE is echoed in any state. A handshake out of order ends the stream (the peer
//! reconnects); anything unexpected later gets an ERROR and the stream keeps serving.

use std::sync::Arc;

use prost::Message;
use sf2c_protos::protos::chaincode_message::Type;
use sf2c_protos::protos::{ChaincodeAdditionalParams, ChaincodeId, ChaincodeMessage};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tonic::{Status, Streaming};

use crate::config::ShimConfig;
use crate::contract::Contract;
use crate::router::{Routed, Router};
use crate::transaction::{self, Job, error_reply};

/// The queue of messages to the peer; the server turns it into the response stream.
pub(crate) type Outbound = mpsc::Sender<Result<ChaincodeMessage, Status>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitRegistered,
    AwaitReady,
    Ready,
}

pub(crate) struct Session {
    config: Arc<ShimConfig>,
    contract: Arc<dyn Contract>,
    outbound: Outbound,
    router: Arc<Router>,
    slots: Arc<Semaphore>,
    finished: Arc<Notify>,
    phase: Phase,
    draining: bool,
}

impl Session {
    pub(crate) fn new(
        config: Arc<ShimConfig>,
        contract: Arc<dyn Contract>,
        outbound: Outbound,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(config.max_concurrent_transactions));
        Session {
            config,
            contract,
            outbound,
            router: Arc::new(Router::new()),
            slots,
            finished: Arc::new(Notify::new()),
            phase: Phase::AwaitRegistered,
            draining: false,
        }
    }

    fn running(&self) -> usize {
        self.config.max_concurrent_transactions - self.slots.available_permits()
    }

    async fn send(&self, msg: ChaincodeMessage) -> bool {
        self.outbound.send(Ok(msg)).await.is_ok()
    }

    /// Serves the stream until the peer leaves or shutdown has drained running transactions.
    pub(crate) async fn run(
        mut self,
        mut inbound: Streaming<ChaincodeMessage>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let register = ChaincodeMessage {
            r#type: Type::Register as i32,
            payload: ChaincodeId {
                name: self.config.package_id.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            ..Default::default()
        };
        if !self.send(register).await {
            return;
        }
        let mut deadline = Instant::now();
        loop {
            if !self.draining && *shutdown.borrow() {
                self.draining = true;
                deadline = Instant::now() + self.config.shutdown_grace;
            }
            if self.draining && self.running() == 0 {
                break;
            }
            tokio::select! {
                next = inbound.message() => match next {
                    Ok(Some(msg)) => {
                        if !self.handle(msg).await {
                            break;
                        }
                    }
                    Ok(None) => {
                        tracing::info!("peer closed the chaincode stream");
                        break;
                    }
                    Err(status) => {
                        tracing::warn!(%status, "chaincode stream failed");
                        break;
                    }
                },
                changed = shutdown.changed(), if !self.draining => {
                    if changed.is_err() {
                        // The server is gone; treat it as shutdown.
                        self.draining = true;
                        deadline = Instant::now() + self.config.shutdown_grace;
                    }
                }
                _ = self.finished.notified(), if self.draining => {}
                _ = sleep_until(deadline), if self.draining => {
                    tracing::warn!(running = self.running(), "shutdown grace over; abandoning running transactions");
                    break;
                }
            }
        }
        self.router.shut();
    }

    /// Handles one message; `false` ends the stream.
    async fn handle(&mut self, msg: ChaincodeMessage) -> bool {
        let kind = msg.r#type();
        if kind == Type::Keepalive {
            return self.send(msg).await;
        }
        match (self.phase, kind) {
            (Phase::AwaitRegistered, Type::Registered) => {
                self.phase = Phase::AwaitReady;
                true
            }
            (Phase::AwaitReady, Type::Ready) => {
                self.phase = Phase::Ready;
                let params =
                    ChaincodeAdditionalParams::decode(msg.payload.as_slice()).unwrap_or_default();
                // Writes go one PUT_STATE at a time; write batches are an optional peer feature.
                tracing::info!(
                    package_id = %self.config.package_id,
                    peer_offers_write_batch = params.use_write_batch,
                    "registered with the peer; ready for transactions"
                );
                true
            }
            (Phase::AwaitRegistered | Phase::AwaitReady, other) => {
                let text = format!(
                    "chaincode expected {} but received {}; ending the stream",
                    if self.phase == Phase::AwaitRegistered {
                        "REGISTERED"
                    } else {
                        "READY"
                    },
                    other.as_str_name()
                );
                tracing::warn!("{text}");
                self.send(error_reply(&msg, &text)).await;
                false
            }
            (Phase::Ready, Type::Transaction | Type::Init) => self.start(msg).await,
            (Phase::Ready, Type::Response | Type::Error) => {
                let (txid, channel) = (msg.txid.clone(), msg.channel_id.clone());
                let outcome = self.router.route(msg);
                if outcome != Routed::Delivered {
                    tracing::warn!(%txid, %channel, ?outcome, "peer answer matches no waiting transaction; dropped");
                }
                true
            }
            (Phase::Ready, other) => {
                let text = format!("chaincode cannot handle a {} message", other.as_str_name());
                tracing::warn!(txid = %msg.txid, "{text}");
                self.send(error_reply(&msg, &text)).await
            }
        }
    }

    /// Starts a transaction on a blocking thread; refusals are answered with ERROR at once.
    async fn start(&mut self, msg: ChaincodeMessage) -> bool {
        let refusal = if self.draining {
            Some("chaincode server is shutting down; retry on another endorser".to_string())
        } else if msg.txid.is_empty() {
            Some("transaction has no txid".to_string())
        } else {
            None
        };
        if let Some(text) = refusal {
            return self.send(error_reply(&msg, &text)).await;
        }
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            let text = format!(
                "chaincode is already running {} transactions on this stream; retry later",
                self.config.max_concurrent_transactions
            );
            return self.send(error_reply(&msg, &text)).await;
        };
        let Some(replies) = self.router.open(&msg.channel_id, &msg.txid) else {
            let text = format!(
                "transaction {} on channel {:?} is already running",
                msg.txid, msg.channel_id
            );
            return self.send(error_reply(&msg, &text)).await;
        };
        let header = ChaincodeMessage {
            txid: msg.txid.clone(),
            channel_id: msg.channel_id.clone(),
            ..Default::default()
        };
        let job = Job {
            msg,
            replies,
            outbound: self.outbound.clone(),
            config: self.config.clone(),
            contract: self.contract.clone(),
        };
        let (router, outbound, finished) = (
            self.router.clone(),
            self.outbound.clone(),
            self.finished.clone(),
        );
        tokio::spawn(async move {
            let reply = match tokio::task::spawn_blocking(move || transaction::run(job)).await {
                Ok(reply) => reply,
                Err(e) => {
                    tracing::error!(txid = %header.txid, error = %e, "transaction thread failed");
                    error_reply(
                        &header,
                        "chaincode failed internally while running the transaction",
                    )
                }
            };
            router.close(&header.channel_id, &header.txid);
            if outbound.send(Ok(reply)).await.is_err() {
                tracing::warn!(txid = %header.txid, "stream closed before the transaction's answer could be sent");
            }
            drop(permit);
            finished.notify_one();
        });
        true
    }
}
