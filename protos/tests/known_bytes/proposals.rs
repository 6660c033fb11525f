//! Proposals, endorsements, transactions and chaincode events (`peer`).

use prost::Message;
use sf2c_protos::peer;

use crate::wire;

#[test]
fn proposal_and_signed_proposal() {
    let proposal = peer::Proposal {
        header: vec![1],
        payload: vec![2],
        extension: vec![3],
    };
    assert_eq!(
        proposal.encode_to_vec(),
        [0x0a, 0x01, 0x01, 0x12, 0x01, 0x02, 0x1a, 0x01, 0x03]
    );
    let signed = peer::SignedProposal {
        proposal_bytes: vec![1],
        signature: vec![2],
    };
    assert_eq!(signed.encode_to_vec(), [0x0a, 0x01, 0x01, 0x12, 0x01, 0x02]);
}

#[test]
fn chaincode_header_extension_uses_field_two() {
    let ext = peer::ChaincodeHeaderExtension {
        payload_visibility: vec![],
        chaincode_id: Some(peer::ChaincodeId {
            name: "cc".into(),
            ..Default::default()
        }),
    };
    // ChaincodeID.name is field 2 as well
    assert_eq!(ext.encode_to_vec(), [0x12, 0x04, 0x12, 0x02, b'c', b'c']);
}

#[test]
fn chaincode_spec_and_invocation_spec() {
    let spec = peer::ChaincodeSpec {
        r#type: peer::chaincode_spec::Type::Golang as i32,
        chaincode_id: Some(peer::ChaincodeId {
            name: "cc".into(),
            ..Default::default()
        }),
        input: Some(peer::ChaincodeInput {
            args: vec![b"f".to_vec()],
            decorations: [("d".to_string(), vec![1])].into(),
            is_init: true,
        }),
        timeout: 0,
    };
    let input = wire(&[
        &[0x0a, 0x01, b'f'],                               // 1 args
        &[0x12, 0x06, 0x0a, 0x01, b'd', 0x12, 0x01, 0x01], // 2 decorations entry
        &[0x18, 0x01],                                     // 3 is_init
    ]);
    let spec_bytes = wire(&[
        &[0x08, 0x01],                         // 1 type = GOLANG
        &[0x12, 0x04, 0x12, 0x02, b'c', b'c'], // 2 chaincode_id
        &[0x1a, input.len() as u8],
        &input, // 3 input
    ]);
    assert_eq!(spec.encode_to_vec(), spec_bytes);

    let invocation = peer::ChaincodeInvocationSpec {
        chaincode_spec: Some(spec),
    };
    assert_eq!(
        invocation.encode_to_vec(),
        wire(&[&[0x0a, spec_bytes.len() as u8], &spec_bytes])
    );
}

#[test]
fn chaincode_proposal_payload_transient_map() {
    let payload = peer::ChaincodeProposalPayload {
        input: vec![1],
        transient_map: [("k".to_string(), vec![2])].into(),
    };
    let expected = wire(&[
        &[0x0a, 0x01, 0x01],
        &[0x12, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, 0x02],
    ]);
    assert_eq!(payload.encode_to_vec(), expected);
}

#[test]
fn chaincode_action_and_response() {
    let action = peer::ChaincodeAction {
        results: vec![1],
        events: vec![2],
        response: Some(peer::Response {
            status: 200,
            ..Default::default()
        }),
        chaincode_id: Some(peer::ChaincodeId {
            name: "c".into(),
            ..Default::default()
        }),
    };
    let expected = wire(&[
        &[0x0a, 0x01, 0x01],
        &[0x12, 0x01, 0x02],
        &[0x1a, 0x03, 0x08, 0xc8, 0x01], // status 200 as a two-byte varint
        &[0x22, 0x03, 0x12, 0x01, b'c'],
    ]);
    assert_eq!(action.encode_to_vec(), expected);
}

#[test]
fn proposal_response_skips_field_three() {
    let response = peer::ProposalResponse {
        version: 1,
        timestamp: None,
        response: Some(peer::Response {
            status: 200,
            ..Default::default()
        }),
        payload: vec![5],
        endorsement: Some(peer::Endorsement {
            endorser: vec![1],
            signature: vec![2],
        }),
        interest: Some(peer::ChaincodeInterest {
            chaincodes: vec![peer::ChaincodeCall {
                name: "c".into(),
                disregard_namespace_policy: true,
                ..Default::default()
            }],
        }),
    };
    let expected = wire(&[
        &[0x08, 0x01],
        &[0x22, 0x03, 0x08, 0xc8, 0x01], // 4 response
        &[0x2a, 0x01, 0x05],             // 5 payload
        &[0x32, 0x06, 0x0a, 0x01, 0x01, 0x12, 0x01, 0x02], // 6 endorsement
        &[0x3a, 0x07, 0x0a, 0x05, 0x0a, 0x01, b'c', 0x30, 0x01], // 7 interest
    ]);
    assert_eq!(response.encode_to_vec(), expected);
}

#[test]
fn transaction_and_action_payload() {
    let tx = peer::Transaction {
        actions: vec![peer::TransactionAction {
            header: vec![1],
            payload: vec![2],
        }],
    };
    assert_eq!(
        tx.encode_to_vec(),
        [0x0a, 0x06, 0x0a, 0x01, 0x01, 0x12, 0x01, 0x02]
    );

    let cap = peer::ChaincodeActionPayload {
        chaincode_proposal_payload: vec![1],
        action: Some(peer::ChaincodeEndorsedAction {
            proposal_response_payload: vec![2],
            endorsements: vec![peer::Endorsement {
                endorser: vec![3],
                signature: vec![],
            }],
        }),
    };
    let expected = wire(&[
        &[0x0a, 0x01, 0x01],
        &[0x12, 0x08, 0x0a, 0x01, 0x02, 0x12, 0x03, 0x0a, 0x01, 0x03],
    ]);
    assert_eq!(cap.encode_to_vec(), expected);
}

#[test]
fn chaincode_event() {
    let event = peer::ChaincodeEvent {
        chaincode_id: "c".into(),
        tx_id: "t".into(),
        event_name: "e".into(),
        payload: vec![1],
    };
    assert_eq!(
        event.encode_to_vec(),
        [
            0x0a, 0x01, b'c', 0x12, 0x01, b't', 0x1a, 0x01, b'e', 0x22, 0x01, 0x01
        ]
    );
}
