//! Runs one TRANSACTION or INIT on a blocking thread and builds the peer's answer.
//!
//! Answers (Fabric's rules): COMPLETED carrying an encoded peer `Response` (200 + payload or
//! 500 + message) and the event, if set; for INIT an error status becomes an ERROR message;
//! input that cannot be read, a missing proposal, or a contract panic become ERROR.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use prost::Message;
use sf2c_protos::protos::chaincode_message::Type;
use sf2c_protos::protos::{ChaincodeInput, ChaincodeMessage};

use crate::config::ShimConfig;
use crate::contract::Contract;
use crate::proposal;
use crate::session::Outbound;
use crate::stub::{Stub, StubParts};

/// What one transaction needs from its stream.
pub(crate) struct Job {
    pub msg: ChaincodeMessage,
    pub replies: Receiver<ChaincodeMessage>,
    pub outbound: Outbound,
    pub config: Arc<ShimConfig>,
    pub contract: Arc<dyn Contract>,
}

/// An ERROR message for the transaction `about` names.
pub(crate) fn error_reply(about: &ChaincodeMessage, text: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: Type::Error as i32,
        payload: text.as_bytes().to_vec(),
        txid: about.txid.clone(),
        channel_id: about.channel_id.clone(),
        ..Default::default()
    }
}

pub(crate) fn run(job: Job) -> ChaincodeMessage {
    let Job {
        msg,
        replies,
        outbound,
        config,
        contract,
    } = job;
    let is_init = msg.r#type() == Type::Init;
    let input = match ChaincodeInput::decode(msg.payload.as_slice()) {
        Ok(input) => input,
        Err(e) => {
            return error_reply(&msg, &format!("payload is not a valid ChaincodeInput: {e}"));
        }
    };
    let facts = match proposal::read(msg.proposal.as_ref()) {
        Ok(facts) => facts,
        Err(e) => return error_reply(&msg, &format!("cannot read the transaction proposal: {e}")),
    };
    let mut stub = Stub::new(StubParts {
        tx_id: msg.txid.clone(),
        channel_id: msg.channel_id.clone(),
        args: input.args,
        creator: facts.creator,
        timestamp: facts.timestamp,
        outbound,
        replies,
        response_timeout: config.response_timeout,
        max_query_results: config.max_query_results,
    });
    let response = match catch_unwind(AssertUnwindSafe(|| contract.invoke(&mut stub))) {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(tx_id = %msg.txid, "contract panicked; answering ERROR");
            return error_reply(
                &msg,
                "chaincode failed internally while running the transaction",
            );
        }
    };
    let event = stub.take_event();
    if is_init && response.status >= 400 {
        let mut reply = error_reply(&msg, &response.message);
        reply.chaincode_event = event;
        return reply;
    }
    ChaincodeMessage {
        r#type: Type::Completed as i32,
        payload: response.encode_to_vec(),
        txid: msg.txid,
        channel_id: msg.channel_id,
        chaincode_event: event,
        ..Default::default()
    }
}
