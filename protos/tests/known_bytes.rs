//! Known-bytes tests: expected encodings worked out by hand from Fabric's field numbers.
//!
//! A tag byte is `(field_number << 3) | wire_type`, wire type 0 = varint and
//! 2 = length-delimited; so field 1 bytes is 0x0a, field 2 bytes 0x12, field 3
//! bytes 0x1a, field 1 varint 0x08, and so on. A wrong field number in a
//! .proto file changes a tag byte and fails the matching test.

use prost::Message;
use sf2c_protos::{Timestamp, common, gateway, msp, orderer, peer, queryresult};

/// Concatenates wire fragments so each test reads tag by tag.
fn wire(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn serialized_identity() {
    let id = msp::SerializedIdentity {
        mspid: "Org1MSP".into(),
        id_bytes: b"x".to_vec(),
    };
    let expected = wire(&[&[0x0a, 0x07], b"Org1MSP", &[0x12, 0x01], b"x"]);
    assert_eq!(id.encode_to_vec(), expected);
}

#[test]
fn channel_header_every_field() {
    let header = common::ChannelHeader {
        r#type: common::HeaderType::EndorserTransaction as i32,
        version: 1,
        timestamp: Some(Timestamp {
            seconds: 5,
            nanos: 0,
        }),
        channel_id: "ch".into(),
        tx_id: "t".into(),
        epoch: 7,
        extension: vec![1],
        tls_cert_hash: vec![2],
    };
    let expected = wire(&[
        &[0x08, 0x03],             // 1 type = ENDORSER_TRANSACTION (3)
        &[0x10, 0x01],             // 2 version
        &[0x1a, 0x02, 0x08, 0x05], // 3 timestamp { seconds: 5 }
        &[0x22, 0x02],
        b"ch", // 4 channel_id
        &[0x2a, 0x01],
        b"t",                // 5 tx_id
        &[0x30, 0x07],       // 6 epoch
        &[0x3a, 0x01, 0x01], // 7 extension
        &[0x42, 0x01, 0x02], // 8 tls_cert_hash
    ]);
    assert_eq!(header.encode_to_vec(), expected);
}

#[test]
fn signature_header_envelope_payload() {
    let sig = common::SignatureHeader {
        creator: vec![0xaa],
        nonce: vec![0xbb],
    };
    assert_eq!(sig.encode_to_vec(), [0x0a, 0x01, 0xaa, 0x12, 0x01, 0xbb]);

    let env = common::Envelope {
        payload: vec![1],
        signature: vec![2],
    };
    assert_eq!(env.encode_to_vec(), [0x0a, 0x01, 0x01, 0x12, 0x01, 0x02]);

    let payload = common::Payload {
        header: Some(common::Header {
            channel_header: vec![1],
            signature_header: vec![2],
        }),
        data: vec![3],
    };
    let expected = wire(&[
        &[0x0a, 0x06, 0x0a, 0x01, 0x01, 0x12, 0x01, 0x02],
        &[0x12, 0x01, 0x03],
    ]);
    assert_eq!(payload.encode_to_vec(), expected);
}

#[test]
fn block_with_empty_metadata_entry() {
    let block = common::Block {
        header: Some(common::BlockHeader {
            number: 1,
            previous_hash: vec![2],
            data_hash: vec![3],
        }),
        data: Some(common::BlockData {
            data: vec![vec![4]],
        }),
        metadata: Some(common::BlockMetadata {
            metadata: vec![vec![5], vec![]],
        }),
    };
    let expected = wire(&[
        &[0x0a, 0x08, 0x08, 0x01, 0x12, 0x01, 0x02, 0x1a, 0x01, 0x03],
        &[0x12, 0x03, 0x0a, 0x01, 0x04],
        // repeated bytes keep empty entries: metadata index positions matter
        &[0x1a, 0x05, 0x0a, 0x01, 0x05, 0x0a, 0x00],
    ]);
    assert_eq!(block.encode_to_vec(), expected);
}

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

#[test]
fn chaincode_message_every_field() {
    let msg = peer::ChaincodeMessage {
        r#type: peer::chaincode_message::Type::GetStateMultiple as i32,
        timestamp: Some(Timestamp {
            seconds: 5,
            nanos: 0,
        }),
        payload: vec![1],
        txid: "t".into(),
        proposal: Some(peer::SignedProposal {
            proposal_bytes: vec![1],
            signature: vec![],
        }),
        chaincode_event: Some(peer::ChaincodeEvent {
            event_name: "e".into(),
            ..Default::default()
        }),
        channel_id: "ch".into(),
    };
    let expected = wire(&[
        &[0x08, 0x19],                   // 1 type = GET_STATE_MULTIPLE (25)
        &[0x12, 0x02, 0x08, 0x05],       // 2 timestamp
        &[0x1a, 0x01, 0x01],             // 3 payload
        &[0x22, 0x01, b't'],             // 4 txid
        &[0x2a, 0x03, 0x0a, 0x01, 0x01], // 5 proposal
        &[0x32, 0x03, 0x1a, 0x01, b'e'], // 6 chaincode_event
        &[0x3a, 0x02],
        b"ch", // 7 channel_id
    ]);
    assert_eq!(msg.encode_to_vec(), expected);
}

#[test]
fn shim_state_messages() {
    let put = peer::PutState {
        key: "k".into(),
        value: vec![1],
        collection: "c".into(),
    };
    assert_eq!(
        put.encode_to_vec(),
        [0x0a, 0x01, b'k', 0x12, 0x01, 0x01, 0x1a, 0x01, b'c']
    );
    let del = peer::DelState {
        key: "k".into(),
        collection: "c".into(),
    };
    assert_eq!(del.encode_to_vec(), [0x0a, 0x01, b'k', 0x12, 0x01, b'c']);
    let get = peer::GetState {
        key: "k".into(),
        collection: "c".into(),
    };
    assert_eq!(get.encode_to_vec(), [0x0a, 0x01, b'k', 0x12, 0x01, b'c']);
    let many = peer::GetStateMultiple {
        keys: vec!["a".into(), "b".into()],
        collection: String::new(),
    };
    assert_eq!(many.encode_to_vec(), [0x0a, 0x01, b'a', 0x0a, 0x01, b'b']);
    let batch = peer::WriteBatchState {
        rec: vec![peer::WriteRecord {
            key: "k".into(),
            r#type: peer::write_record::Type::DelState as i32,
            ..Default::default()
        }],
    };
    assert_eq!(
        batch.encode_to_vec(),
        [0x0a, 0x05, 0x0a, 0x01, b'k', 0x28, 0x0a]
    );
    let params = peer::ChaincodeAdditionalParams {
        use_write_batch: true,
        max_size_write_batch: 1000,
    };
    assert_eq!(params.encode_to_vec(), [0x08, 0x01, 0x10, 0xe8, 0x07]);
}

#[test]
fn shim_query_messages() {
    let range = peer::GetStateByRange {
        start_key: "a".into(),
        end_key: "b".into(),
        collection: String::new(),
        metadata: vec![1],
    };
    assert_eq!(
        range.encode_to_vec(),
        [0x0a, 0x01, b'a', 0x12, 0x01, b'b', 0x22, 0x01, 0x01]
    );
    let history = peer::GetHistoryForKey { key: "k".into() };
    assert_eq!(history.encode_to_vec(), [0x0a, 0x01, b'k']);
    let next = peer::QueryStateNext { id: "i".into() };
    assert_eq!(next.encode_to_vec(), [0x0a, 0x01, b'i']);
    let close = peer::QueryStateClose { id: "i".into() };
    assert_eq!(close.encode_to_vec(), [0x0a, 0x01, b'i']);
    let qmeta = peer::QueryMetadata {
        page_size: 3,
        bookmark: "b".into(),
    };
    assert_eq!(qmeta.encode_to_vec(), [0x08, 0x03, 0x12, 0x01, b'b']);
    let response = peer::QueryResponse {
        results: vec![peer::QueryResultBytes {
            result_bytes: vec![1],
        }],
        has_more: true,
        id: "i".into(),
        metadata: vec![2],
    };
    assert_eq!(
        response.encode_to_vec(),
        [
            0x0a, 0x03, 0x0a, 0x01, 0x01, 0x10, 0x01, 0x1a, 0x01, b'i', 0x22, 0x01, 0x02
        ]
    );
    let rmeta = peer::QueryResponseMetadata {
        fetched_records_count: 3,
        bookmark: "b".into(),
    };
    assert_eq!(rmeta.encode_to_vec(), [0x08, 0x03, 0x12, 0x01, b'b']);
}

#[test]
fn seek_positions_use_their_oneof_tags() {
    use orderer::seek_position::Type;
    let cases: [(Type, &[u8]); 4] = [
        (Type::Newest(orderer::SeekNewest {}), &[0x0a, 0x00]),
        (Type::Oldest(orderer::SeekOldest {}), &[0x12, 0x00]),
        (
            Type::Specified(orderer::SeekSpecified { number: 5 }),
            &[0x1a, 0x02, 0x08, 0x05],
        ),
        (Type::NextCommit(orderer::SeekNextCommit {}), &[0x22, 0x00]),
    ];
    for (position, expected) in cases {
        let msg = orderer::SeekPosition {
            r#type: Some(position),
        };
        assert_eq!(msg.encode_to_vec(), expected);
    }
}

#[test]
fn gateway_requests() {
    let endorse = gateway::EndorseRequest {
        transaction_id: "t".into(),
        channel_id: "c".into(),
        proposed_transaction: Some(peer::SignedProposal {
            proposal_bytes: vec![1],
            signature: vec![],
        }),
        endorsing_organizations: vec!["O".into()],
    };
    assert_eq!(
        endorse.encode_to_vec(),
        [
            0x0a, 0x01, b't', 0x12, 0x01, b'c', 0x1a, 0x03, 0x0a, 0x01, 0x01, 0x22, 0x01, b'O'
        ]
    );
    let submit = gateway::SubmitRequest {
        transaction_id: "t".into(),
        channel_id: "c".into(),
        prepared_transaction: Some(common::Envelope {
            payload: vec![1],
            signature: vec![],
        }),
    };
    assert_eq!(
        submit.encode_to_vec(),
        [
            0x0a, 0x01, b't', 0x12, 0x01, b'c', 0x1a, 0x03, 0x0a, 0x01, 0x01
        ]
    );
    let status = gateway::CommitStatusRequest {
        transaction_id: "t".into(),
        channel_id: "c".into(),
        identity: vec![1],
    };
    assert_eq!(
        status.encode_to_vec(),
        [0x0a, 0x01, b't', 0x12, 0x01, b'c', 0x1a, 0x01, 0x01]
    );
    let events = gateway::ChaincodeEventsRequest {
        channel_id: "ch".into(),
        chaincode_id: "cc".into(),
        identity: vec![1],
        start_position: Some(orderer::SeekPosition {
            r#type: Some(orderer::seek_position::Type::NextCommit(
                orderer::SeekNextCommit {},
            )),
        }),
        after_transaction_id: "t".into(),
    };
    let expected = wire(&[
        &[0x0a, 0x02],
        b"ch",
        &[0x12, 0x02],
        b"cc",
        &[0x1a, 0x01, 0x01],
        &[0x22, 0x02, 0x22, 0x00],
        &[0x2a, 0x01, b't'],
    ]);
    assert_eq!(events.encode_to_vec(), expected);
}

#[test]
fn gateway_responses() {
    let endorse = gateway::EndorseResponse {
        prepared_transaction: Some(common::Envelope {
            payload: vec![1],
            signature: vec![],
        }),
    };
    assert_eq!(endorse.encode_to_vec(), [0x0a, 0x03, 0x0a, 0x01, 0x01]);
    let status = gateway::CommitStatusResponse {
        result: peer::TxValidationCode::MvccReadConflict as i32,
        block_number: 9,
    };
    assert_eq!(status.encode_to_vec(), [0x08, 0x0b, 0x10, 0x09]);
    let evaluate = gateway::EvaluateResponse {
        result: Some(peer::Response {
            status: 200,
            message: "m".into(),
            payload: vec![1],
        }),
    };
    assert_eq!(
        evaluate.encode_to_vec(),
        [
            0x0a, 0x09, 0x08, 0xc8, 0x01, 0x12, 0x01, b'm', 0x1a, 0x01, 0x01
        ]
    );
    let events = gateway::ChaincodeEventsResponse {
        events: vec![peer::ChaincodeEvent {
            event_name: "e".into(),
            ..Default::default()
        }],
        block_number: 2,
    };
    assert_eq!(
        events.encode_to_vec(),
        [0x0a, 0x03, 0x1a, 0x01, b'e', 0x10, 0x02]
    );
    let detail = gateway::ErrorDetail {
        address: "a".into(),
        msp_id: "m".into(),
        message: "x".into(),
    };
    assert_eq!(
        detail.encode_to_vec(),
        [0x0a, 0x01, b'a', 0x12, 0x01, b'm', 0x1a, 0x01, b'x']
    );
}

#[test]
fn query_results() {
    let kv = queryresult::Kv {
        namespace: "n".into(),
        key: "k".into(),
        value: vec![1],
    };
    assert_eq!(
        kv.encode_to_vec(),
        [0x0a, 0x01, b'n', 0x12, 0x01, b'k', 0x1a, 0x01, 0x01]
    );
    let modification = queryresult::KeyModification {
        tx_id: "t".into(),
        value: vec![1],
        timestamp: Some(Timestamp {
            seconds: 5,
            nanos: 0,
        }),
        is_delete: true,
    };
    assert_eq!(
        modification.encode_to_vec(),
        [
            0x0a, 0x01, b't', 0x12, 0x01, 0x01, 0x1a, 0x02, 0x08, 0x05, 0x20, 0x01
        ]
    );
}

#[test]
fn signature_policy_envelope() {
    use common::signature_policy::{NOutOf, Type};
    let envelope = common::SignaturePolicyEnvelope {
        version: 0,
        rule: Some(common::SignaturePolicy {
            r#type: Some(Type::NOutOf(NOutOf {
                n: 1,
                rules: vec![common::SignaturePolicy {
                    r#type: Some(Type::SignedBy(0)),
                }],
            })),
        }),
        identities: vec![common::MspPrincipal {
            principal_classification: common::msp_principal::Classification::Role as i32,
            principal: vec![1],
        }],
    };
    let expected = wire(&[
        // 2 rule { 2 n_out_of { 1 n: 1, 2 rules { 1 signed_by: 0 } } }
        &[0x12, 0x08, 0x12, 0x06, 0x08, 0x01, 0x12, 0x02, 0x08, 0x00],
        &[0x1a, 0x03, 0x12, 0x01, 0x01], // 3 identities
    ]);
    assert_eq!(envelope.encode_to_vec(), expected);
    let role = common::MspRole {
        msp_identifier: "O".into(),
        role: common::msp_role::MspRoleType::Admin as i32,
    };
    assert_eq!(role.encode_to_vec(), [0x0a, 0x01, b'O', 0x10, 0x01]);
}
