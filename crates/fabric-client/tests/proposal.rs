//! Signed proposals decode back to the structure an endorser expects, with Fabric's transaction ID.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use fabric_client::{
    ChaincodeCall, Identity, NONCE_LEN, Proposal, ProposalError, Signer, SigningIdentity,
    low_s::is_low_s_der, transaction_id, verify,
};
use prost::Message;
use sf2c_protos::{common, msp, peer};

fn signing_identity() -> SigningIdentity {
    let user = support::credential("User1@org1.example.com");
    let key_der = pem::parse(&user.key_pem).unwrap().into_contents();
    let identity = Identity::new("Org1MSP", user.cert_pem).unwrap();
    SigningIdentity::new(identity, Signer::from_private_key_der(&key_der).unwrap()).unwrap()
}

fn call() -> ChaincodeCall {
    ChaincodeCall::new("registry", "device-registry", "BanDevice")
        .arg("9f1c0e4e-2f7a-4a55-9b7e-2c1f3b8d6a10")
        .arg(b"stolen".to_vec())
        .transient("note", b"kept off the ledger".to_vec())
}

#[test]
fn transaction_id_is_sha256_of_nonce_then_creator() {
    let nonce = [3u8; NONCE_LEN];
    let creator = b"creator bytes";
    let mut joined = nonce.to_vec();
    joined.extend_from_slice(creator);
    let expected = hex::encode(digest(&SHA256, &joined));
    assert_eq!(transaction_id(&nonce, creator), expected);
    // order matters: creator || nonce must give another ID
    let mut reversed = creator.to_vec();
    reversed.extend_from_slice(&nonce);
    assert_ne!(expected, hex::encode(digest(&SHA256, &reversed)));
    assert_eq!(expected.len(), 64);
    assert!(expected.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
}

#[test]
fn signed_proposal_decodes_to_every_layer() {
    let signer = signing_identity();
    let nonce = [7u8; NONCE_LEN];
    let time = UNIX_EPOCH + Duration::new(1_700_000_000, 250);
    let proposal = Proposal::with_nonce(&call(), signer.identity(), nonce, time).unwrap();
    let tx_id = proposal.tx_id().to_string();
    let signed = proposal.sign(&signer).unwrap();

    // signature covers exactly proposal_bytes, in low-S form
    assert!(verify(
        signer.identity().public_key(),
        &signed.proposal_bytes,
        &signed.signature
    ));
    assert!(is_low_s_der(&signed.signature));

    let proposal = peer::Proposal::decode(signed.proposal_bytes.as_slice()).unwrap();
    let header = common::Header::decode(proposal.header.as_slice()).unwrap();

    let sig_header = common::SignatureHeader::decode(header.signature_header.as_slice()).unwrap();
    assert_eq!(sig_header.nonce, nonce);
    let creator = msp::SerializedIdentity::decode(sig_header.creator.as_slice()).unwrap();
    assert_eq!(creator.mspid, "Org1MSP");
    assert_eq!(creator.id_bytes, signer.identity().cert_pem());

    let channel_header = common::ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
    assert_eq!(
        channel_header.r#type,
        common::HeaderType::EndorserTransaction as i32
    );
    assert_eq!(channel_header.channel_id, "registry");
    assert_eq!(channel_header.tx_id, tx_id);
    assert_eq!(
        channel_header.tx_id,
        transaction_id(&sig_header.nonce, &sig_header.creator)
    );
    let ts = channel_header.timestamp.unwrap();
    assert_eq!((ts.seconds, ts.nanos), (1_700_000_000, 250));
    let ext = peer::ChaincodeHeaderExtension::decode(channel_header.extension.as_slice()).unwrap();
    assert_eq!(ext.chaincode_id.unwrap().name, "device-registry");

    let payload = peer::ChaincodeProposalPayload::decode(proposal.payload.as_slice()).unwrap();
    assert_eq!(payload.transient_map["note"], b"kept off the ledger");
    let invocation = peer::ChaincodeInvocationSpec::decode(payload.input.as_slice()).unwrap();
    let spec = invocation.chaincode_spec.unwrap();
    assert_eq!(spec.chaincode_id.unwrap().name, "device-registry");
    let args = spec.input.unwrap().args;
    assert_eq!(
        args,
        vec![
            b"BanDevice".to_vec(),
            b"9f1c0e4e-2f7a-4a55-9b7e-2c1f3b8d6a10".to_vec(),
            b"stolen".to_vec(),
        ]
    );
}

#[test]
fn same_inputs_give_same_bytes_and_fresh_nonces_differ() {
    let signer = signing_identity();
    let time = UNIX_EPOCH + Duration::from_secs(1);
    let a = Proposal::with_nonce(&call(), signer.identity(), [1; NONCE_LEN], time).unwrap();
    let b = Proposal::with_nonce(&call(), signer.identity(), [1; NONCE_LEN], time).unwrap();
    assert_eq!(a, b);

    let fresh1 = Proposal::new(&call(), signer.identity()).unwrap();
    let fresh2 = Proposal::new(&call(), signer.identity()).unwrap();
    assert_ne!(fresh1.tx_id(), fresh2.tx_id());
    let header = common::Header::decode(
        peer::Proposal::decode(fresh1.bytes())
            .unwrap()
            .header
            .as_slice(),
    )
    .unwrap();
    let sig_header = common::SignatureHeader::decode(header.signature_header.as_slice()).unwrap();
    assert_eq!(sig_header.nonce.len(), NONCE_LEN);
}

#[test]
fn offline_signature_is_attached_unchanged() {
    let signer = signing_identity();
    let proposal = Proposal::new(&call(), signer.identity()).unwrap();
    let bytes = proposal.bytes().to_vec();
    let signature = signer.sign(&bytes).unwrap();
    let signed = proposal.with_signature(signature.clone());
    assert_eq!(signed.proposal_bytes, bytes);
    assert_eq!(signed.signature, signature);
}

#[test]
fn empty_names_are_refused() {
    let signer = signing_identity();
    for (call, field) in [
        (ChaincodeCall::new("", "cc", "f"), "channel"),
        (ChaincodeCall::new("ch", "", "f"), "chaincode"),
        (ChaincodeCall::new("ch", "cc", ""), "function"),
    ] {
        let err = Proposal::new(&call, signer.identity()).unwrap_err();
        assert!(
            matches!(err, ProposalError::Missing { field: f } if f == field),
            "{err:?}"
        );
    }
}
