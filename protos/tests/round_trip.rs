//! Round-trip tests: nested Fabric messages survive encode then decode unchanged.

use prost::Message;
use sf2c_protos::{Timestamp, common, gateway, msp, orderer, peer};

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(msg: &M) {
    let bytes = msg.encode_to_vec();
    let back = M::decode(bytes.as_slice()).expect("decode what we encoded");
    assert_eq!(&back, msg);
}

fn signed_proposal() -> peer::SignedProposal {
    let creator = msp::SerializedIdentity {
        mspid: "Org1MSP".into(),
        id_bytes: b"-----BEGIN CERTIFICATE-----\n".to_vec(),
    }
    .encode_to_vec();
    let channel_header = common::ChannelHeader {
        r#type: common::HeaderType::EndorserTransaction as i32,
        timestamp: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 123,
        }),
        channel_id: "registry".into(),
        tx_id: "ab".repeat(32),
        extension: peer::ChaincodeHeaderExtension {
            chaincode_id: Some(peer::ChaincodeId {
                name: "device-registry".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec(),
        ..Default::default()
    };
    let header = common::Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: common::SignatureHeader {
            creator,
            nonce: vec![7; 24],
        }
        .encode_to_vec(),
    };
    let proposal = peer::Proposal {
        header: header.encode_to_vec(),
        payload: peer::ChaincodeProposalPayload {
            input: vec![1, 2, 3],
            transient_map: [("secret".to_string(), vec![9, 9])].into(),
        }
        .encode_to_vec(),
        extension: vec![],
    };
    peer::SignedProposal {
        proposal_bytes: proposal.encode_to_vec(),
        signature: vec![0x30, 0x44],
    }
}

#[test]
fn signed_proposal_and_its_layers() {
    let signed = signed_proposal();
    round_trip(&signed);
    let proposal = peer::Proposal::decode(signed.proposal_bytes.as_slice()).unwrap();
    let header = common::Header::decode(proposal.header.as_slice()).unwrap();
    let channel_header = common::ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
    assert_eq!(channel_header.channel_id, "registry");
    let ext = peer::ChaincodeHeaderExtension::decode(channel_header.extension.as_slice()).unwrap();
    assert_eq!(ext.chaincode_id.unwrap().name, "device-registry");
    let payload = peer::ChaincodeProposalPayload::decode(proposal.payload.as_slice()).unwrap();
    assert_eq!(payload.transient_map["secret"], vec![9, 9]);
}

#[test]
fn chaincode_message_with_proposal_and_event() {
    let msg = peer::ChaincodeMessage {
        r#type: peer::chaincode_message::Type::Transaction as i32,
        timestamp: Some(Timestamp {
            seconds: 10,
            nanos: 20,
        }),
        payload: vec![4; 40],
        txid: "tx1".into(),
        proposal: Some(signed_proposal()),
        chaincode_event: Some(peer::ChaincodeEvent {
            chaincode_id: "device-registry".into(),
            tx_id: "tx1".into(),
            event_name: "DeviceBanned".into(),
            payload: b"{}".to_vec(),
        }),
        channel_id: "registry".into(),
    };
    round_trip(&msg);
}

#[test]
fn block_and_events_request() {
    let block = common::Block {
        header: Some(common::BlockHeader {
            number: 42,
            previous_hash: vec![1; 32],
            data_hash: vec![2; 32],
        }),
        data: Some(common::BlockData {
            data: vec![
                common::Envelope {
                    payload: vec![5; 10],
                    signature: vec![6; 70],
                }
                .encode_to_vec(),
            ],
        }),
        metadata: Some(common::BlockMetadata {
            metadata: vec![vec![], vec![], vec![0], vec![], vec![3; 32]],
        }),
    };
    round_trip(&block);

    let request = gateway::ChaincodeEventsRequest {
        channel_id: "registry".into(),
        chaincode_id: "device-registry".into(),
        identity: vec![1, 2],
        start_position: Some(orderer::SeekPosition {
            r#type: Some(orderer::seek_position::Type::Specified(
                orderer::SeekSpecified { number: 42 },
            )),
        }),
        after_transaction_id: "tx1".into(),
    };
    round_trip(&request);
}

#[test]
fn unknown_fields_from_newer_peers_are_skipped() {
    // A Response with an extra field 15 (varint) must still decode.
    let mut bytes = peer::Response {
        status: 500,
        message: "boom".into(),
        payload: vec![],
    }
    .encode_to_vec();
    bytes.extend_from_slice(&[0x78, 0x01]);
    let decoded = peer::Response::decode(bytes.as_slice()).unwrap();
    assert_eq!(decoded.status, 500);
    assert_eq!(decoded.message, "boom");
}
