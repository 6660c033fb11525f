//! The Gateway service's requests and responses, and the orderer's seek positions they carry.

use prost::Message;
use sf2c_protos::{common, gateway, orderer, peer};

use crate::wire;

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
