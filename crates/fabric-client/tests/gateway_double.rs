//! Evaluate, submit, refusals, invalid commits and resumable events, through the TLS GatewayDouble
//! (an in-process test double of a peer's Gateway service; not a real peer).

use device_record::{DeviceRecord, RegistryEvent};
use fabric_client::double_network::{CHAINCODE, CHANNEL};
use fabric_client::{
    Checkpoint, Contract, DoubleNetwork, FileCheckpoint, Gateway, GatewayError, SigningIdentity,
    StartPosition, SubmitOptions, TxValidationCode,
};

fn device_request(n: u8) -> (String, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let uuid = format!("6f1c2d3e-4a5b-4c6d-8e7f-0000000000{n:02x}");
    let body = serde_json::json!({
        "uuid": uuid,
        "node_type": "Gateway",
        "virtual_ip": format!("10.8.0.{}", n + 2),
        "public_key": key.public_key_pem(),
        "labels": {"area": "north"},
    });
    (uuid, serde_json::to_vec(&body).unwrap())
}

async fn contract(net: &DoubleNetwork, who: SigningIdentity) -> Contract {
    let gateway = Gateway::connect(
        &net.addr.to_string(),
        &net.tls_root_pem,
        fabric_client::double_network::PEER_HOST,
        who,
    )
    .await
    .unwrap();
    gateway.network(CHANNEL).contract(CHAINCODE)
}

#[tokio::test]
async fn submit_then_evaluate_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let admin = contract(&net, net.admin()).await;
    let (uuid, body) = device_request(1);
    let height_before = net.double.height();

    let result = admin.submit("RegisterDevice", &[body]).await.unwrap();
    let written = DeviceRecord::from_json(&result.payload).unwrap();
    assert_eq!(written.uuid, uuid);
    assert_eq!(written.owner_msp, "Org1MSP");
    assert_eq!(result.block, height_before);
    assert_eq!(result.tx_id.len(), 64);

    // a plain member reads what the administrator wrote
    let reader = contract(&net, net.client()).await;
    let read = reader
        .evaluate("GetDevice", &[uuid.as_bytes()])
        .await
        .unwrap();
    assert_eq!(DeviceRecord::from_json(&read).unwrap(), written);

    // evaluate does not write: a ban evaluated, not submitted, leaves the record unbanned
    admin
        .evaluate("BanDevice", &[uuid.as_bytes(), b"test"])
        .await
        .unwrap();
    let again = reader
        .evaluate("GetDevice", &[uuid.as_bytes()])
        .await
        .unwrap();
    assert!(!DeviceRecord::from_json(&again).unwrap().banned);
}

#[tokio::test]
async fn refused_endorsement_carries_the_contract_message() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let member = contract(&net, net.client()).await;
    let (_, body) = device_request(2);

    let err = member.submit("RegisterDevice", &[body]).await.unwrap_err();
    let GatewayError::Endorse {
        function, status, ..
    } = &err
    else {
        panic!("expected an endorsement error, got {err}");
    };
    assert_eq!(function, "RegisterDevice");
    assert_eq!(status.code, tonic::Code::Aborted);
    assert_eq!(status.details.len(), 1);
    assert_eq!(status.details[0].msp_id, "Org1MSP");
    assert!(
        status.details[0]
            .message
            .contains("may not change the device registry"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("may not change the device registry")
    );
}

#[tokio::test]
async fn failed_evaluate_names_the_missing_device() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let reader = contract(&net, net.client()).await;
    let missing = "6f1c2d3e-4a5b-4c6d-8e7f-00000000ffff";
    let err = reader
        .evaluate("GetDevice", &[missing.as_bytes()])
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::Evaluate { .. }), "{err}");
    let status = err.peer_status().unwrap();
    assert!(
        status.details[0].message.contains("is not registered"),
        "{err}"
    );
    assert!(status.details[0].message.contains(missing), "{err}");
}

#[tokio::test]
async fn invalid_commit_becomes_commit_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let admin = contract(&net, net.admin()).await;
    let (uuid, body) = device_request(3);

    net.double
        .fail_next_commit(TxValidationCode::EndorsementPolicyFailure);
    let err = admin.submit("RegisterDevice", &[body]).await.unwrap_err();
    let GatewayError::Commit(commit) = &err else {
        panic!("expected a commit error, got {err}");
    };
    assert_eq!(commit.code, TxValidationCode::EndorsementPolicyFailure);
    assert_eq!(commit.tx_id.len(), 64);
    let text = err.to_string();
    assert!(
        text.contains("ENDORSEMENT_POLICY_FAILURE") && text.contains(&commit.tx_id),
        "{text}"
    );

    let exists = admin
        .evaluate("DeviceExists", &[uuid.as_bytes()])
        .await
        .unwrap();
    assert_eq!(exists, b"false");
}

#[tokio::test]
async fn endorsing_organisations_are_passed_to_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let admin = contract(&net, net.admin()).await;
    let (_, body) = device_request(4);
    let options = SubmitOptions {
        endorsing_organizations: vec!["Org9MSP".into()],
        ..SubmitOptions::default()
    };
    let err = admin
        .submit_with("RegisterDevice", std::slice::from_ref(&body), &options)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Org9MSP"), "{err}");
    let options = SubmitOptions {
        endorsing_organizations: vec!["Org1MSP".into()],
        ..SubmitOptions::default()
    };
    admin
        .submit_with("RegisterDevice", &[body], &options)
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_tls_host_name_is_a_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let err = Gateway::connect(
        &net.addr.to_string(),
        &net.tls_root_pem,
        "peer0.org2.example.com",
        net.admin(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, GatewayError::Connect { .. }), "{err}");
}

/// Reads `count` events, saving the checkpoint after each one as a listener would.
async fn consume(
    contract: &Contract,
    checkpoint: &mut FileCheckpoint,
    fallback: StartPosition,
    count: usize,
) -> Vec<(u64, String)> {
    let start = checkpoint.start_position(fallback);
    let mut events = contract
        .network()
        .chaincode_events(CHAINCODE, start)
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..count {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let change = RegistryEvent::from_json(&event.payload).unwrap();
        assert_eq!(change.tx_id, event.tx_id);
        checkpoint.save(&event).unwrap();
        seen.push((event.block, event.tx_id));
    }
    seen
}

#[tokio::test]
async fn events_resume_after_the_checkpoint_without_loss_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let admin = contract(&net, net.admin()).await;
    let first_block = net.double.height();

    // three writes ordered into one block, then one more in the next block
    net.double.hold_blocks();
    let mut commits = Vec::new();
    for n in 10..13 {
        let (_, body) = device_request(n);
        let (_, commit) = admin
            .submit_async("RegisterDevice", &[body], &SubmitOptions::default())
            .await
            .unwrap();
        commits.push(commit);
    }
    net.double.cut_block();
    let (_, body) = device_request(13);
    let (_, last) = admin
        .submit_async("RegisterDevice", &[body], &SubmitOptions::default())
        .await
        .unwrap();
    net.double.cut_block();
    commits.push(last);
    let mut expected = Vec::new();
    for commit in &commits {
        expected.push((commit.block().await.unwrap(), commit.tx_id().to_string()));
    }
    assert_eq!(expected[0].0, expected[2].0, "first three share a block");
    assert_eq!(expected[3].0, expected[0].0 + 1);

    // a listener stops mid-block after two events ...
    let path = dir.path().join("events.checkpoint");
    let mut checkpoint = FileCheckpoint::open(&path).unwrap();
    let fallback = StartPosition::Block(first_block);
    let mut seen = consume(&admin, &mut checkpoint, fallback.clone(), 2).await;
    drop(checkpoint);

    // ... and a restarted one, reading the file again, continues exactly after them
    let mut reopened = FileCheckpoint::open(&path).unwrap();
    assert_eq!(reopened.position().unwrap().tx_id, expected[1].1);
    seen.extend(consume(&admin, &mut reopened, fallback, 2).await);
    assert_eq!(seen, expected);

    // an event committed while nobody listened is delivered on the next resume
    let (_, body) = device_request(14);
    let (_, commit) = admin
        .submit_async("RegisterDevice", &[body], &SubmitOptions::default())
        .await
        .unwrap();
    net.double.cut_block();
    let block = commit.block().await.unwrap();
    let mut third = FileCheckpoint::open(&path).unwrap();
    let resumed = consume(&admin, &mut third, StartPosition::NextCommit, 1).await;
    assert_eq!(resumed, vec![(block, commit.tx_id().to_string())]);
}

#[tokio::test]
async fn next_commit_skips_history() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let admin = contract(&net, net.admin()).await;
    let (_, body) = device_request(20);
    admin.submit("RegisterDevice", &[body]).await.unwrap();
    let mut events = admin
        .network()
        .chaincode_events(CHAINCODE, StartPosition::NextCommit)
        .await
        .unwrap();
    let (uuid, body) = device_request(21);
    let fresh = admin.submit("RegisterDevice", &[body]).await.unwrap();
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event.tx_id, fresh.tx_id);
    assert_eq!(event.block, fresh.block);
    assert_eq!(RegistryEvent::from_json(&event.payload).unwrap().uuid, uuid);
}
