//! Reads the chaincode's answer out of the prepared transaction envelope an endorsement returns.

use prost::Message;
use sf2c_protos::{common, peer};

use crate::error::GatewayError;

fn bad(what: &'static str) -> impl Fn(prost::DecodeError) -> GatewayError {
    move |e| GatewayError::BadResponse {
        what,
        reason: e.to_string(),
    }
}

/// The chaincode response payload held in an endorsed transaction envelope.
///
/// Path: Envelope.payload -> Payload.data -> Transaction.actions[i].payload (ChaincodeActionPayload)
/// -> action.proposal_response_payload -> extension (ChaincodeAction) -> response.payload.
pub fn transaction_result(envelope: &common::Envelope) -> Result<Vec<u8>, GatewayError> {
    let payload = common::Payload::decode(envelope.payload.as_slice())
        .map_err(bad("transaction envelope payload"))?;
    let transaction =
        peer::Transaction::decode(payload.data.as_slice()).map_err(bad("transaction"))?;
    let mut last_error = None;
    for action in &transaction.actions {
        match action_result(action) {
            Ok(result) => return Ok(result),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or(GatewayError::BadResponse {
        what: "transaction",
        reason: "it holds no chaincode action".to_string(),
    }))
}

fn action_result(action: &peer::TransactionAction) -> Result<Vec<u8>, GatewayError> {
    let action_payload = peer::ChaincodeActionPayload::decode(action.payload.as_slice())
        .map_err(bad("chaincode action payload"))?;
    let endorsed = action_payload
        .action
        .ok_or_else(|| GatewayError::BadResponse {
            what: "chaincode action payload",
            reason: "no endorsed action".to_string(),
        })?;
    let response_payload =
        peer::ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice())
            .map_err(bad("proposal response payload"))?;
    let chaincode_action = peer::ChaincodeAction::decode(response_payload.extension.as_slice())
        .map_err(bad("chaincode action"))?;
    Ok(chaincode_action
        .response
        .map(|r| r.payload)
        .unwrap_or_default())
}
