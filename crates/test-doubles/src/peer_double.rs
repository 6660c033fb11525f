//! `PeerDouble`: a Fabric peer's side of the chaincode stream, in process, for the shim's protocol tests: a real peer never sends the malformed frames, out-of-order handshakes and held replies those tests need, and cannot count the shim's requests.
//!
//! It dials a chaincode server over real gRPC (`protos.Chaincode/Connect`), does the handshake
//! the peer does (expects REGISTER, sends REGISTERED then READY), sends TRANSACTION messages
//! with signed-proposal-shaped headers, and answers the chaincode's ledger requests from an
//! in-memory world state (see `world`) with per-transaction write sets, history and query
//! iterators. Tests can also send any raw message, shrink the query batch size, hold GET_STATE
//! answers to prove concurrency, and read how many requests of each kind arrived.
//! It is written from our reading of the protocol, not from a peer: conformance of the shim
//! with a real Fabric peer is NOT shown by tests that use it (that is the live network's job).
//! Signatures are not made or checked, endorsement and MVCC validation are not modelled.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaincode_shim::config::DEFAULT_MAX_MESSAGE_BYTES;
use prost::Message;
use sf2c_protos::Timestamp;
use sf2c_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use sf2c_protos::msp::SerializedIdentity;
use sf2c_protos::protos::chaincode_client::ChaincodeClient;
use sf2c_protos::protos::chaincode_message::Type;
use sf2c_protos::protos::{
    ChaincodeAdditionalParams, ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeMessage,
    Proposal, Response, SignedProposal,
};
use sf2c_protos::queryresult::KeyModification;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::Endpoint;

mod world;

use world::{Shared, World, lock, read_loop};

/// How long the double waits for the chaincode before failing a test step.
const WAIT: Duration = Duration::from_secs(20);

/// Failures of the test double itself.
#[derive(Debug, thiserror::Error)]
pub enum DoubleError {
    #[error("cannot reach the chaincode server: {0}")]
    Connect(#[from] tonic::transport::Error),
    #[error("chaincode server refused the stream: {0}")]
    Rpc(#[from] tonic::Status),
    #[error("handshake failed: {0}")]
    Handshake(String),
    #[error("chaincode did not answer {0} within {WAIT:?}")]
    Timeout(String),
    #[error("chaincode stream closed")]
    Closed,
}

/// Behaviour switches of the double.
#[derive(Clone, Debug)]
pub struct DoubleOptions {
    /// Records per response for unpaginated queries (history); the peer's default is 100.
    pub batch_size: usize,
    /// Sent as READY's payload, as a v3 peer does.
    pub additional_params: ChaincodeAdditionalParams,
    /// Hold GET_STATE answers until this many are waiting (0: answer at once); proves that
    /// transactions on one stream run concurrently.
    pub hold_gets_until: usize,
}

impl Default for DoubleOptions {
    fn default() -> Self {
        DoubleOptions {
            batch_size: 100,
            additional_params: ChaincodeAdditionalParams::default(),
            hold_gets_until: 0,
        }
    }
}

/// The proposal fields of one transaction.
#[derive(Clone, Debug)]
pub struct TxSpec {
    pub tx_id: String,
    pub channel_id: String,
    pub timestamp: Timestamp,
    pub msp_id: String,
    pub cert_pem: Vec<u8>,
}

/// How the chaincode answered a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Completed {
        response: Response,
        event: Option<ChaincodeEvent>,
    },
    /// An ERROR message and its text.
    Error(String),
}

/// Test double of a peer connected to one chaincode server.
pub struct PeerDouble {
    outbound: mpsc::Sender<ChaincodeMessage>,
    shared: Arc<Shared>,
    keepalives: tokio::sync::Mutex<mpsc::Receiver<ChaincodeMessage>>,
    registered_name: String,
    reader: JoinHandle<()>,
}

impl Drop for PeerDouble {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Opens a bare Connect stream, for tests that drive the handshake themselves.
pub async fn raw_stream(
    endpoint: Endpoint,
) -> Result<(mpsc::Sender<ChaincodeMessage>, Streaming<ChaincodeMessage>), DoubleError> {
    let channel = endpoint.connect().await?;
    let mut client = ChaincodeClient::new(channel)
        .max_decoding_message_size(DEFAULT_MAX_MESSAGE_BYTES)
        .max_encoding_message_size(DEFAULT_MAX_MESSAGE_BYTES);
    let (tx, rx) = mpsc::channel(256);
    let inbound = client.connect(ReceiverStream::new(rx)).await?.into_inner();
    Ok((tx, inbound))
}

/// Waits for the next message on a raw stream.
pub async fn next_message(
    inbound: &mut Streaming<ChaincodeMessage>,
    what: &str,
) -> Result<ChaincodeMessage, DoubleError> {
    match tokio::time::timeout(WAIT, inbound.message()).await {
        Err(_) => Err(DoubleError::Timeout(what.to_string())),
        Ok(Err(status)) => Err(DoubleError::Rpc(status)),
        Ok(Ok(None)) => Err(DoubleError::Closed),
        Ok(Ok(Some(msg))) => Ok(msg),
    }
}

impl PeerDouble {
    /// Dials the chaincode server at `endpoint` and completes the handshake.
    pub async fn connect(endpoint: Endpoint, options: DoubleOptions) -> Result<Self, DoubleError> {
        let (outbound, mut inbound) = raw_stream(endpoint).await?;
        let register = next_message(&mut inbound, "REGISTER").await?;
        if register.r#type() != Type::Register {
            return Err(DoubleError::Handshake(format!(
                "first message was {}, expected REGISTER",
                register.r#type().as_str_name()
            )));
        }
        let id = ChaincodeId::decode(register.payload.as_slice())
            .map_err(|e| DoubleError::Handshake(format!("REGISTER payload: {e}")))?;
        for (kind, payload) in [
            (Type::Registered, Vec::new()),
            (Type::Ready, options.additional_params.encode_to_vec()),
        ] {
            let msg = ChaincodeMessage {
                r#type: kind as i32,
                payload,
                ..Default::default()
            };
            outbound.send(msg).await.map_err(|_| DoubleError::Closed)?;
        }
        let shared = Arc::new(Shared {
            world: Mutex::new(World {
                hold_gets_until: options.hold_gets_until,
                ..Default::default()
            }),
            waiters: Mutex::new(HashMap::new()),
            unrouted: Mutex::new(Vec::new()),
            namespace: id.name.clone(),
            batch_size: options.batch_size.max(1),
        });
        let (keep_tx, keep_rx) = mpsc::channel(16);
        let reader = tokio::spawn(read_loop(
            inbound,
            outbound.clone(),
            shared.clone(),
            keep_tx,
        ));
        Ok(PeerDouble {
            outbound,
            shared,
            keepalives: tokio::sync::Mutex::new(keep_rx),
            registered_name: id.name,
            reader,
        })
    }

    /// The chaincode ID the server sent in REGISTER.
    pub fn registered_name(&self) -> &str {
        &self.registered_name
    }

    /// A TRANSACTION message for `tx` calling `args` (function first).
    pub fn transaction(tx: &TxSpec, args: &[&[u8]]) -> ChaincodeMessage {
        ChaincodeMessage {
            r#type: Type::Transaction as i32,
            payload: ChaincodeInput {
                args: args.iter().map(|a| a.to_vec()).collect(),
                ..Default::default()
            }
            .encode_to_vec(),
            txid: tx.tx_id.clone(),
            channel_id: tx.channel_id.clone(),
            proposal: Some(signed_proposal(tx)),
            ..Default::default()
        }
    }

    /// Sends `msg` (a TRANSACTION/INIT) and waits for the chaincode's COMPLETED or ERROR.
    pub async fn send_and_wait(
        &self,
        msg: ChaincodeMessage,
    ) -> Result<ChaincodeMessage, DoubleError> {
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.waiters).insert(msg.txid.clone(), tx);
        lock(&self.shared.world)
            .writes
            .insert(msg.txid.clone(), BTreeMap::new());
        let txid = msg.txid.clone();
        self.outbound
            .send(msg)
            .await
            .map_err(|_| DoubleError::Closed)?;
        match tokio::time::timeout(WAIT, rx).await {
            Err(_) => Err(DoubleError::Timeout(format!("transaction {txid}"))),
            Ok(Err(_)) => Err(DoubleError::Closed),
            Ok(Ok(reply)) => Ok(reply),
        }
    }

    /// Sends a message that expects no answer (e.g. a stray RESPONSE).
    pub async fn send(&self, msg: ChaincodeMessage) -> Result<(), DoubleError> {
        self.outbound
            .send(msg)
            .await
            .map_err(|_| DoubleError::Closed)
    }

    /// Runs a transaction as an endorsement: its writes are discarded afterwards.
    pub async fn evaluate(&self, tx: &TxSpec, args: &[&[u8]]) -> Result<Outcome, DoubleError> {
        let reply = self.send_and_wait(Self::transaction(tx, args)).await?;
        lock(&self.shared.world).writes.remove(&tx.tx_id);
        Ok(outcome(reply))
    }

    /// Runs a transaction and, if it answered status 200, commits its writes and event.
    pub async fn submit(&self, tx: &TxSpec, args: &[&[u8]]) -> Result<Outcome, DoubleError> {
        let reply = self.send_and_wait(Self::transaction(tx, args)).await?;
        let outcome = outcome(reply);
        let mut world = lock(&self.shared.world);
        let writes = world.writes.remove(&tx.tx_id).unwrap_or_default();
        if let Outcome::Completed { response, event } = &outcome
            && response.status == 200
        {
            for (key, value) in writes {
                let is_delete = value.is_none();
                match &value {
                    Some(v) => world.state.insert(key.clone(), v.clone()),
                    None => world.state.remove(&key),
                };
                world.history.entry(key).or_default().push(KeyModification {
                    tx_id: tx.tx_id.clone(),
                    value: value.unwrap_or_default(),
                    timestamp: Some(tx.timestamp),
                    is_delete,
                });
            }
            if let Some(event) = event {
                let mut event = event.clone();
                event.tx_id = tx.tx_id.clone();
                event.chaincode_id = self.shared.namespace.clone();
                world.events.push(event);
            }
        }
        Ok(outcome)
    }

    /// Sends KEEPALIVE and waits for the chaincode to echo it.
    pub async fn keepalive(&self) -> Result<ChaincodeMessage, DoubleError> {
        let msg = ChaincodeMessage {
            r#type: Type::Keepalive as i32,
            ..Default::default()
        };
        self.send(msg).await?;
        let mut rx = self.keepalives.lock().await;
        match tokio::time::timeout(WAIT, rx.recv()).await {
            Err(_) => Err(DoubleError::Timeout("KEEPALIVE".into())),
            Ok(None) => Err(DoubleError::Closed),
            Ok(Some(msg)) => Ok(msg),
        }
    }

    /// Committed world state.
    pub fn state(&self) -> BTreeMap<String, Vec<u8>> {
        lock(&self.shared.world).state.clone()
    }

    /// Events of committed transactions, oldest first.
    pub fn events(&self) -> Vec<ChaincodeEvent> {
        lock(&self.shared.world).events.clone()
    }

    /// How many requests of `kind` the chaincode has sent.
    pub fn requests(&self, kind: Type) -> usize {
        let world = lock(&self.shared.world);
        world.requests.get(&(kind as i32)).copied().unwrap_or(0)
    }

    /// Query iterators the chaincode has left open.
    pub fn open_iterators(&self) -> usize {
        lock(&self.shared.world).iterators.len()
    }

    /// COMPLETED/ERROR messages that matched no waiting transaction.
    pub fn unrouted(&self) -> Vec<ChaincodeMessage> {
        lock(&self.shared.unrouted).clone()
    }
}

fn outcome(reply: ChaincodeMessage) -> Outcome {
    match reply.r#type() {
        Type::Completed => match Response::decode(reply.payload.as_slice()) {
            Ok(response) => Outcome::Completed {
                response,
                event: reply.chaincode_event,
            },
            Err(e) => Outcome::Error(format!("COMPLETED payload is not a Response: {e}")),
        },
        Type::Error => Outcome::Error(String::from_utf8_lossy(&reply.payload).into_owned()),
        other => Outcome::Error(format!("unexpected {} answer", other.as_str_name())),
    }
}

fn signed_proposal(tx: &TxSpec) -> SignedProposal {
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        timestamp: Some(tx.timestamp),
        channel_id: tx.channel_id.clone(),
        tx_id: tx.tx_id.clone(),
        ..Default::default()
    };
    let creator = SerializedIdentity {
        mspid: tx.msp_id.clone(),
        id_bytes: tx.cert_pem.clone(),
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: SignatureHeader {
            creator: creator.encode_to_vec(),
            nonce: tx.tx_id.as_bytes().to_vec(),
        }
        .encode_to_vec(),
    };
    let proposal = Proposal {
        header: header.encode_to_vec(),
        ..Default::default()
    };
    SignedProposal {
        proposal_bytes: proposal.encode_to_vec(),
        signature: Vec::new(),
    }
}
