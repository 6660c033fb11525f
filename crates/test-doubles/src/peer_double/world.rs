//! The ledger side of `PeerDouble`: the in-memory world state and the answers to the chaincode's
//! GET/PUT/DEL_STATE, range, history and iterator requests, as a peer gives them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use prost::Message;
use sf2c_protos::protos::chaincode_message::Type;
use sf2c_protos::protos::{
    ChaincodeEvent, ChaincodeMessage, DelState, GetHistoryForKey, GetState, GetStateByRange,
    PutState, QueryMetadata, QueryResponse, QueryResponseMetadata, QueryResultBytes,
    QueryStateClose, QueryStateNext,
};
use sf2c_protos::queryresult::{KeyModification, Kv};
use tokio::sync::{mpsc, oneshot};
use tonic::Streaming;

#[derive(Default)]
pub(super) struct World {
    pub(super) state: BTreeMap<String, Vec<u8>>,
    /// Oldest first.
    pub(super) history: HashMap<String, Vec<KeyModification>>,
    /// Write sets of running transactions, by txid; `None` deletes.
    pub(super) writes: HashMap<String, BTreeMap<String, Option<Vec<u8>>>>,
    pub(super) iterators: HashMap<String, VecDeque<Vec<u8>>>,
    pub(super) next_iterator: u64,
    pub(super) events: Vec<ChaincodeEvent>,
    pub(super) requests: HashMap<i32, usize>,
    pub(super) held_gets: Vec<ChaincodeMessage>,
    pub(super) hold_gets_until: usize,
}

pub(super) struct Shared {
    pub(super) world: Mutex<World>,
    pub(super) waiters: Mutex<HashMap<String, oneshot::Sender<ChaincodeMessage>>>,
    pub(super) unrouted: Mutex<Vec<ChaincodeMessage>>,
    pub(super) namespace: String,
    pub(super) batch_size: usize,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) async fn read_loop(
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
