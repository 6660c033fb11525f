//! Envelopes, headers, blocks, identities and signature policies (`common`, `msp`).

use prost::Message;
use sf2c_protos::{Timestamp, common, msp};

use crate::wire;

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
