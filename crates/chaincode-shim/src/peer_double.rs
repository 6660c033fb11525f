//! `PeerDouble`: an in-process TEST DOUBLE of a Fabric peer's side of the chaincode stream.
//!
//! It dials a chaincode server over real gRPC (`protos.Chaincode/Connect`), does the handshake
//! the peer does (expects REGISTER, sends REGISTERED then READY), sends TRANSACTION messages
//! with signed-proposal-shaped headers, and answers the chaincode's ledger requests from an
//! in-memory world state with per-transaction write sets, history and query iterators.
//! It is written from our reading of the protocol, not from a peer: conformance of the shim
//! with a real Fabric peer is NOT shown by tests that use it. Signatures are not made or checked,
//! endorsement and MVCC validation are not modelled.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use prost::Message;
use sf2c_protos::Timestamp;
use sf2c_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use sf2c_protos::msp::SerializedIdentity;
use sf2c_protos::protos::chaincode_client::ChaincodeClient;
use sf2c_protos::protos::chaincode_message::Type;
use sf2c_protos::protos::{
    ChaincodeAdditionalParams, ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeMessage,
    DelState, GetHistoryForKey, GetState, GetStateByRange, Proposal, PutState, QueryMetadata,
    QueryResponse, QueryResponseMetadata, QueryResultBytes, QueryStateClose, QueryStateNext,
    Response, SignedProposal,
};
use sf2c_protos::queryresult::{KeyModification, Kv};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::Endpoint;

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

#[derive(Default)]
struct World {
    state: BTreeMap<String, Vec<u8>>,
    /// Oldest first.
    history: HashMap<String, Vec<KeyModification>>,
    /// Write sets of running transactions, by txid; `None` deletes.
    writes: HashMap<String, BTreeMap<String, Option<Vec<u8>>>>,
    iterators: HashMap<String, VecDeque<Vec<u8>>>,
    next_iterator: u64,
    events: Vec<ChaincodeEvent>,
    requests: HashMap<i32, usize>,
    held_gets: Vec<ChaincodeMessage>,
    hold_gets_until: usize,
}

struct Shared {
    world: Mutex<World>,
    waiters: Mutex<HashMap<String, oneshot::Sender<ChaincodeMessage>>>,
    unrouted: Mutex<Vec<ChaincodeMessage>>,
    namespace: String,
    batch_size: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
        .max_decoding_message_size(crate::config::DEFAULT_MAX_MESSAGE_BYTES)
        .max_encoding_message_size(crate::config::DEFAULT_MAX_MESSAGE_BYTES);
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

async fn read_loop(
    mut inbound: Streaming<ChaincodeMessage>,
    outbound: mpsc::Sender<ChaincodeMessage>,
    shared: Arc<Shared>,
    keepalives: mpsc::Sender<ChaincodeMessage>,
) {
    while let Ok(Some(msg)) = inbound.message().await {
        match msg.r#type() {
            Type::Completed | Type::Error => {
                let waiter = lock(&shared.waiters).remove(&msg.txid);
                match waiter {
                    Some(w) => {
                        let _ = w.send(msg);
                    }
                    None => lock(&shared.unrouted).push(msg),
                }
            }
            Type::Keepalive => {
                let _ = keepalives.send(msg).await;
            }
            _ => {
                for reply in answer(&shared, msg) {
                    if outbound.send(reply).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

fn reply(to: &ChaincodeMessage, kind: Type, payload: Vec<u8>) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: kind as i32,
        payload,
        txid: to.txid.clone(),
        channel_id: to.channel_id.clone(),
        ..Default::default()
    }
}

/// Answers one ledger request; held GET_STATEs may be released together.
fn answer(shared: &Shared, msg: ChaincodeMessage) -> Vec<ChaincodeMessage> {
    let mut world = lock(&shared.world);
    *world.requests.entry(msg.r#type).or_default() += 1;
    if msg.r#type() == Type::GetState && world.hold_gets_until > 0 {
        world.held_gets.push(msg);
        if world.held_gets.len() < world.hold_gets_until {
            return Vec::new();
        }
        world.hold_gets_until = 0;
        let held = std::mem::take(&mut world.held_gets);
        return held
            .into_iter()
            .map(|m| answer_one(shared, &mut world, &m))
            .collect();
    }
    vec![answer_one(shared, &mut world, &msg)]
}

fn answer_one(shared: &Shared, world: &mut World, msg: &ChaincodeMessage) -> ChaincodeMessage {
    match serve_request(shared, world, msg) {
        Ok(payload) => reply(msg, Type::Response, payload),
        Err(text) => reply(msg, Type::Error, text.into_bytes()),
    }
}

fn decode<M: Message + Default>(msg: &ChaincodeMessage) -> Result<M, String> {
    M::decode(msg.payload.as_slice()).map_err(|e| format!("bad request payload: {e}"))
}

fn serve_request(
    shared: &Shared,
    world: &mut World,
    msg: &ChaincodeMessage,
) -> Result<Vec<u8>, String> {
    let kind = msg.r#type();
    if !world.writes.contains_key(&msg.txid) {
        return Err(format!("unknown transaction {}", msg.txid));
    }
    match kind {
        Type::GetState => {
            let req: GetState = decode(msg)?;
            Ok(world.state.get(&req.key).cloned().unwrap_or_default())
        }
        Type::PutState => {
            let req: PutState = decode(msg)?;
            if req.key.is_empty() {
                return Err("key must not be empty".into());
            }
            if let Some(w) = world.writes.get_mut(&msg.txid) {
                w.insert(req.key, Some(req.value));
            }
            Ok(Vec::new())
        }
        Type::DelState => {
            let req: DelState = decode(msg)?;
            if let Some(w) = world.writes.get_mut(&msg.txid) {
                w.insert(req.key, None);
            }
            Ok(Vec::new())
        }
        Type::GetStateByRange => {
            let req: GetStateByRange = decode(msg)?;
            let in_end = |k: &str| req.end_key.is_empty() || k < req.end_key.as_str();
            let id = new_iterator_id(world);
            if req.metadata.is_empty() {
                let records: Vec<Vec<u8>> = world
                    .state
                    .range(req.start_key.clone()..)
                    .take_while(|(k, _)| in_end(k))
                    .map(|(k, v)| kv(shared, k, v))
                    .collect();
                return Ok(first_batch(shared, world, id, records));
            }
            let meta = QueryMetadata::decode(req.metadata.as_slice())
                .map_err(|e| format!("bad query metadata: {e}"))?;
            let from = if meta.bookmark.is_empty() {
                req.start_key.clone()
            } else {
                meta.bookmark
            };
            let mut iter = world.state.range(from..).take_while(|(k, _)| in_end(k));
            let page: Vec<Vec<u8>> = iter
                .by_ref()
                .take(meta.page_size.max(0) as usize)
                .map(|(k, v)| kv(shared, k, v))
                .collect();
            let bookmark = iter.next().map(|(k, _)| k.clone()).unwrap_or_default();
            // A paginated query comes back whole, with its bookmark, and is then closed.
            Ok(QueryResponse {
                metadata: QueryResponseMetadata {
                    fetched_records_count: page.len() as i32,
                    bookmark,
                }
                .encode_to_vec(),
                results: page
                    .into_iter()
                    .map(|result_bytes| QueryResultBytes { result_bytes })
                    .collect(),
                has_more: false,
                id,
            }
            .encode_to_vec())
        }
        Type::GetHistoryForKey => {
            let req: GetHistoryForKey = decode(msg)?;
            let records: Vec<Vec<u8>> = world
                .history
                .get(&req.key)
                .map(|h| h.iter().rev().map(|m| m.encode_to_vec()).collect())
                .unwrap_or_default();
            let id = new_iterator_id(world);
            Ok(first_batch(shared, world, id, records))
        }
        Type::QueryStateNext => {
            let req: QueryStateNext = decode(msg)?;
            let Some(rest) = world.iterators.remove(&req.id) else {
                return Err(format!("query iterator {} not found", req.id));
            };
            Ok(first_batch(shared, world, req.id, rest.into()))
        }
        Type::QueryStateClose => {
            let req: QueryStateClose = decode(msg)?;
            world.iterators.remove(&req.id);
            Ok(QueryResponse {
                has_more: false,
                id: req.id,
                ..Default::default()
            }
            .encode_to_vec())
        }
        other => Err(format!(
            "the peer double does not serve {}",
            other.as_str_name()
        )),
    }
}

fn new_iterator_id(world: &mut World) -> String {
    world.next_iterator += 1;
    format!("iter-{}", world.next_iterator)
}

fn kv(shared: &Shared, key: &str, value: &[u8]) -> Vec<u8> {
    Kv {
        namespace: shared.namespace.clone(),
        key: key.to_string(),
        value: value.to_vec(),
    }
    .encode_to_vec()
}

/// One batch of an unpaginated query; the rest waits under `id` for QUERY_STATE_NEXT.
fn first_batch(
    shared: &Shared,
    world: &mut World,
    id: String,
    mut records: Vec<Vec<u8>>,
) -> Vec<u8> {
    let rest = if records.len() > shared.batch_size {
        records.split_off(shared.batch_size)
    } else {
        Vec::new()
    };
    let has_more = !rest.is_empty();
    if has_more {
        world.iterators.insert(id.clone(), rest.into());
    }
    QueryResponse {
        results: records
            .into_iter()
            .map(|result_bytes| QueryResultBytes { result_bytes })
            .collect(),
        has_more,
        id,
        metadata: Vec::new(),
    }
    .encode_to_vec()
}
