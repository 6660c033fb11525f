//! The chaincode shim stream: `ChaincodeMessage`, state and query requests, query results.

use prost::Message;
use sf2c_protos::{Timestamp, peer, queryresult};

use crate::wire;

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
