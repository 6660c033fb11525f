//! `GatewayDouble`: an in-process TEST DOUBLE of a peer's Gateway service, for tests only.
//!
//! It checks every request's signature against the certificate inside it, runs the
//! `device-registry` contract on `MemoryLedger` (itself a test double of the ledger) and answers
//! in the Gateway's message shapes. It does not model endorsement policies, peer signatures on
//! endorsements, MSP certificate chains or ordering: conformance with a real peer is NOT shown
//! by tests that use it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_lc_rs::digest::{SHA256, digest};
use device_record::TxTimestamp;
use device_registry::{Creator, MemoryLedger};
use prost::Message;
use sf2c_protos::gateway::gateway_server::Gateway;
use sf2c_protos::gateway::{
    ChaincodeEventsRequest, ChaincodeEventsResponse, CommitStatusRequest, CommitStatusResponse,
    EndorseRequest, EndorseResponse, ErrorDetail, EvaluateRequest, EvaluateResponse,
    SignedChaincodeEventsRequest, SignedCommitStatusRequest, SubmitRequest, SubmitResponse,
};
use sf2c_protos::orderer::seek_position;
use sf2c_protos::peer::TxValidationCode;
use sf2c_protos::{common, msp, peer};
use tokio::sync::{mpsc, watch};
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};

use crate::low_s::is_low_s_der;
use crate::proposal::transaction_id;
use crate::signer::verify;
use crate::status::PeerStatus;

/// A transaction endorsed but not yet ordered.
#[derive(Debug, Clone)]
struct Endorsed {
    function: String,
    args: Vec<Vec<u8>>,
    creator: Creator,
    timestamp: TxTimestamp,
    chaincode: String,
}

#[derive(Debug, Default)]
struct State {
    ledger: MemoryLedger,
    /// Number of the next block; block 0 stands for the genesis block.
    height: u64,
    endorsed: HashMap<String, Endorsed>,
    queued: Vec<String>,
    committed: HashMap<String, (TxValidationCode, u64)>,
    /// Chaincode events per block, in block order.
    blocks: Vec<(u64, Vec<peer::ChaincodeEvent>)>,
    manual_blocks: bool,
    forced_code: Option<TxValidationCode>,
}

/// Test double of a peer's Gateway service (see the module documentation for what it skips).
#[derive(Clone, Debug)]
pub struct GatewayDouble {
    channel: String,
    msp_id: String,
    address: String,
    state: Arc<Mutex<State>>,
    height_tx: Arc<watch::Sender<u64>>,
}

impl GatewayDouble {
    /// A double serving `channel` for members of `msp_id`; `address` appears in error details.
    pub fn new(channel: &str, msp_id: &str, address: &str) -> Self {
        let state = State {
            height: 1,
            ..State::default()
        };
        let (height_tx, _) = watch::channel(1);
        Self {
            channel: channel.to_string(),
            msp_id: msp_id.to_string(),
            address: address.to_string(),
            state: Arc::new(Mutex::new(state)),
            height_tx: Arc::new(height_tx),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // a test that panicked while holding the lock has failed already
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds submitted transactions until [`GatewayDouble::cut_block`], so one block can hold several.
    pub fn hold_blocks(&self) {
        self.state().manual_blocks = true;
    }

    /// Marks the next ordered transaction invalid with `code` (its writes are not applied).
    pub fn fail_next_commit(&self, code: TxValidationCode) {
        self.state().forced_code = Some(code);
    }

    /// Number of the next block.
    pub fn height(&self) -> u64 {
        self.state().height
    }

    /// Orders every queued transaction into one new block and commits it.
    pub fn cut_block(&self) {
        let mut state = self.state();
        let block = state.height;
        let queued = std::mem::take(&mut state.queued);
        let mut events = Vec::new();
        for tx_id in queued {
            let Some(tx) = state.endorsed.remove(&tx_id) else {
                continue;
            };
            let code = match state.forced_code.take() {
                Some(code) => code,
                None => {
                    let before = state.ledger.events().len();
                    let mut ledger_tx = state.ledger.begin(&tx_id, tx.timestamp, tx.creator);
                    match device_registry::invoke(&mut ledger_tx, &tx.function, &tx.args) {
                        Ok(_) => {
                            ledger_tx.commit();
                            if let Some(e) = state.ledger.events().get(before) {
                                events.push(peer::ChaincodeEvent {
                                    chaincode_id: tx.chaincode.clone(),
                                    tx_id: e.tx_id.clone(),
                                    event_name: e.name.clone(),
                                    payload: e.payload.clone(),
                                });
                            }
                            TxValidationCode::Valid
                        }
                        // state moved since endorsement: what Fabric's MVCC check would catch
                        Err(_) => TxValidationCode::MvccReadConflict,
                    }
                }
            };
            state.committed.insert(tx_id, (code, block));
        }
        state.blocks.push((block, events));
        state.height = block + 1;
        self.height_tx.send_replace(block + 1);
    }

    fn refuse(&self, code: Code, message: String) -> Status {
        PeerStatus {
            code,
            message: message.clone(),
            details: vec![ErrorDetail {
                address: self.address.clone(),
                msp_id: self.msp_id.clone(),
                message,
            }],
        }
        .to_status()
    }

    /// Checks a signature over `message` by the identity in `serialized`; returns the creator.
    fn check_signed(
        &self,
        serialized: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<Creator, Status> {
        let identity = msp::SerializedIdentity::decode(serialized)
            .map_err(|e| Status::invalid_argument(format!("creator is not an identity: {e}")))?;
        if identity.mspid != self.msp_id {
            return Err(Status::permission_denied(format!(
                "MSP {} is not a member of channel {}",
                identity.mspid, self.channel
            )));
        }
        let (_, pem) = x509_parser::pem::parse_x509_pem(&identity.id_bytes)
            .map_err(|e| Status::invalid_argument(format!("creator certificate: {e}")))?;
        let cert = pem
            .parse_x509()
            .map_err(|e| Status::invalid_argument(format!("creator certificate: {e}")))?;
        let key = cert.public_key().subject_public_key.data.to_vec();
        if !is_low_s_der(signature) || !verify(&key, message, signature) {
            return Err(Status::permission_denied(
                "signature does not verify with the creator's certificate",
            ));
        }
        Ok(Creator {
            msp_id: identity.mspid,
            id_bytes: identity.id_bytes,
        })
    }

    /// Verifies a signed proposal and decodes the call it carries.
    fn open_proposal(
        &self,
        signed: Option<peer::SignedProposal>,
        tx_id: &str,
    ) -> Result<(Endorsed, peer::Proposal, String), Status> {
        let signed = signed.ok_or_else(|| Status::invalid_argument("no proposal"))?;
        let bad = |what: &str, e: prost::DecodeError| {
            Status::invalid_argument(format!("malformed {what}: {e}"))
        };
        let proposal = peer::Proposal::decode(signed.proposal_bytes.as_slice())
            .map_err(|e| bad("proposal", e))?;
        let header =
            common::Header::decode(proposal.header.as_slice()).map_err(|e| bad("header", e))?;
        let channel_header = common::ChannelHeader::decode(header.channel_header.as_slice())
            .map_err(|e| bad("channel header", e))?;
        let signature_header = common::SignatureHeader::decode(header.signature_header.as_slice())
            .map_err(|e| bad("signature header", e))?;
        let creator = self.check_signed(
            &signature_header.creator,
            &signed.proposal_bytes,
            &signed.signature,
        )?;
        let expected = transaction_id(&signature_header.nonce, &signature_header.creator);
        if channel_header.tx_id != expected || tx_id != expected {
            return Err(Status::invalid_argument(format!(
                "transaction ID {tx_id} does not match the proposal's nonce and creator"
            )));
        }
        if channel_header.channel_id != self.channel {
            return Err(Status::not_found(format!(
                "channel {} not found",
                channel_header.channel_id
            )));
        }
        let payload = peer::ChaincodeProposalPayload::decode(proposal.payload.as_slice())
            .map_err(|e| bad("proposal payload", e))?;
        let spec = peer::ChaincodeInvocationSpec::decode(payload.input.as_slice())
            .map_err(|e| bad("invocation spec", e))?
            .chaincode_spec
            .unwrap_or_default();
        let chaincode = spec.chaincode_id.unwrap_or_default().name;
        let mut args = spec.input.unwrap_or_default().args.into_iter();
        let function = args
            .next()
            .map(|f| String::from_utf8_lossy(&f).into_owned())
            .unwrap_or_default();
        let time = channel_header.timestamp.unwrap_or_default();
        Ok((
            Endorsed {
                function,
                args: args.collect(),
                creator,
                timestamp: TxTimestamp::new(time.seconds, time.nanos),
                chaincode,
            },
            proposal,
            expected,
        ))
    }

    /// Runs the call on the current state without keeping its writes.
    fn simulate(&self, call: &Endorsed, tx_id: &str) -> Result<Vec<u8>, String> {
        let mut state = self.state();
        let mut tx = state
            .ledger
            .begin(tx_id, call.timestamp, call.creator.clone());
        device_registry::invoke(&mut tx, &call.function, &call.args)
            .map_err(|e| format!("chaincode response 500, {e}"))
    }
}

/// Wraps the chaincode response in the transaction envelope Endorse returns (unsigned, no endorsements).
fn prepared_envelope(
    proposal: &peer::Proposal,
    call: &Endorsed,
    result: Vec<u8>,
) -> common::Envelope {
    let header = common::Header::decode(proposal.header.as_slice()).unwrap_or_default();
    let action = peer::ChaincodeAction {
        response: Some(peer::Response {
            status: 200,
            message: String::new(),
            payload: result,
        }),
        chaincode_id: Some(peer::ChaincodeId {
            name: call.chaincode.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let response_payload = peer::ProposalResponsePayload {
        proposal_hash: digest(&SHA256, &proposal.encode_to_vec()).as_ref().to_vec(),
        extension: action.encode_to_vec(),
    };
    let action_payload = peer::ChaincodeActionPayload {
        chaincode_proposal_payload: proposal.payload.clone(),
        action: Some(peer::ChaincodeEndorsedAction {
            proposal_response_payload: response_payload.encode_to_vec(),
            endorsements: Vec::new(),
        }),
    };
    let transaction = peer::Transaction {
        actions: vec![peer::TransactionAction {
            header: header.signature_header.clone(),
            payload: action_payload.encode_to_vec(),
        }],
    };
    common::Envelope {
        payload: common::Payload {
            header: Some(header),
            data: transaction.encode_to_vec(),
        }
        .encode_to_vec(),
        signature: Vec::new(),
    }
}

#[tonic::async_trait]
impl Gateway for GatewayDouble {
    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let request = request.into_inner();
        let (call, _, tx_id) =
            self.open_proposal(request.proposed_transaction, &request.transaction_id)?;
        let payload = self.simulate(&call, &tx_id).map_err(|message| {
            self.refuse(
                Code::Unknown,
                format!("evaluate call to endorser returned error: {message}"),
            )
        })?;
        Ok(Response::new(EvaluateResponse {
            result: Some(peer::Response {
                status: 200,
                message: String::new(),
                payload,
            }),
        }))
    }

    async fn endorse(
        &self,
        request: Request<EndorseRequest>,
    ) -> Result<Response<EndorseResponse>, Status> {
        let request = request.into_inner();
        let (call, proposal, tx_id) =
            self.open_proposal(request.proposed_transaction, &request.transaction_id)?;
        if let Some(org) = request
            .endorsing_organizations
            .iter()
            .find(|o| **o != self.msp_id)
        {
            return Err(self.refuse(
                Code::Unavailable,
                format!("no peers available to endorse for organization {org}"),
            ));
        }
        let result = self
            .simulate(&call, &tx_id)
            .map_err(|message| self.refuse(Code::Aborted, message))?;
        let envelope = prepared_envelope(&proposal, &call, result);
        self.state().endorsed.insert(tx_id, call);
        Ok(Response::new(EndorseResponse {
            prepared_transaction: Some(envelope),
        }))
    }

    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let request = request.into_inner();
        let envelope = request
            .prepared_transaction
            .ok_or_else(|| Status::invalid_argument("no prepared transaction"))?;
        let payload = common::Payload::decode(envelope.payload.as_slice())
            .map_err(|e| Status::invalid_argument(format!("malformed payload: {e}")))?;
        let header = payload.header.unwrap_or_default();
        let signature_header = common::SignatureHeader::decode(header.signature_header.as_slice())
            .map_err(|e| Status::invalid_argument(format!("malformed signature header: {e}")))?;
        let channel_header = common::ChannelHeader::decode(header.channel_header.as_slice())
            .map_err(|e| Status::invalid_argument(format!("malformed channel header: {e}")))?;
        self.check_signed(
            &signature_header.creator,
            &envelope.payload,
            &envelope.signature,
        )
        .map_err(|s| {
            self.refuse(
                s.code(),
                format!("orderer refused the envelope: {}", s.message()),
            )
        })?;
        let tx_id = channel_header.tx_id;
        let manual = {
            let mut state = self.state();
            if tx_id != request.transaction_id || !state.endorsed.contains_key(&tx_id) {
                return Err(Status::failed_precondition(format!(
                    "transaction {tx_id} was not endorsed by this gateway"
                )));
            }
            state.queued.push(tx_id);
            state.manual_blocks
        };
        if !manual {
            self.cut_block();
        }
        Ok(Response::new(SubmitResponse {}))
    }

    async fn commit_status(
        &self,
        request: Request<SignedCommitStatusRequest>,
    ) -> Result<Response<CommitStatusResponse>, Status> {
        let signed = request.into_inner();
        let request = CommitStatusRequest::decode(signed.request.as_slice())
            .map_err(|e| Status::invalid_argument(format!("malformed request: {e}")))?;
        self.check_signed(&request.identity, &signed.request, &signed.signature)?;
        let mut heights = self.height_tx.subscribe();
        loop {
            {
                let state = self.state();
                if let Some((code, block)) = state.committed.get(&request.transaction_id) {
                    return Ok(Response::new(CommitStatusResponse {
                        result: *code as i32,
                        block_number: *block,
                    }));
                }
                if !state.queued.contains(&request.transaction_id) {
                    return Err(Status::not_found(format!(
                        "transaction {} was not submitted",
                        request.transaction_id
                    )));
                }
            }
            heights
                .changed()
                .await
                .map_err(|_| Status::unavailable("gateway double stopped"))?;
        }
    }

    type ChaincodeEventsStream = ReceiverStream<Result<ChaincodeEventsResponse, Status>>;

    async fn chaincode_events(
        &self,
        request: Request<SignedChaincodeEventsRequest>,
    ) -> Result<Response<Self::ChaincodeEventsStream>, Status> {
        let signed = request.into_inner();
        let request = ChaincodeEventsRequest::decode(signed.request.as_slice())
            .map_err(|e| Status::invalid_argument(format!("malformed request: {e}")))?;
        self.check_signed(&request.identity, &signed.request, &signed.signature)?;
        if request.channel_id != self.channel {
            return Err(Status::not_found(format!(
                "channel {} not found",
                request.channel_id
            )));
        }
        let height = self.height();
        let start = match request.start_position.and_then(|p| p.r#type) {
            Some(seek_position::Type::Specified(s)) => s.number,
            Some(seek_position::Type::Oldest(_)) => 0,
            Some(seek_position::Type::Newest(_)) => height.saturating_sub(1),
            Some(seek_position::Type::NextCommit(_)) | None => height,
        };
        let (tx, rx) = mpsc::channel(16);
        let double = self.clone();
        let mut heights = self.height_tx.subscribe();
        tokio::spawn(async move {
            let mut next = start;
            loop {
                let ready: Vec<(u64, Vec<peer::ChaincodeEvent>)> = double
                    .state()
                    .blocks
                    .iter()
                    .filter(|(n, _)| *n >= next)
                    .cloned()
                    .collect();
                for (block, events) in ready {
                    let mut events: Vec<_> = events
                        .into_iter()
                        .filter(|e| e.chaincode_id == request.chaincode_id)
                        .collect();
                    if block == start && !request.after_transaction_id.is_empty() {
                        if let Some(i) = events
                            .iter()
                            .position(|e| e.tx_id == request.after_transaction_id)
                        {
                            events.drain(..=i);
                        }
                    }
                    next = block + 1;
                    if events.is_empty() {
                        continue;
                    }
                    let response = ChaincodeEventsResponse {
                        events,
                        block_number: block,
                    };
                    if tx.send(Ok(response)).await.is_err() {
                        return;
                    }
                }
                if heights.changed().await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
