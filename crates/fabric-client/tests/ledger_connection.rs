//! `connect` and `connect_now` from `network.json`, against the TLS GatewayDouble (an in-process
//! test double of a peer's Gateway service; not a real peer).

use fabric_client::double_network::{CHAINCODE, CHANNEL};
use fabric_client::{
    DoubleNetwork, GatewayError, LedgerConnectError, LedgerConnection, LedgerSettings, connect,
    connect_now,
};

fn settings(net: &DoubleNetwork, org: &str, identity: &str) -> LedgerSettings {
    LedgerSettings {
        network: net.network_json.clone(),
        org: org.into(),
        identity: identity.into(),
    }
}

fn signer_cert(connection: &LedgerConnection) -> Vec<u8> {
    connection
        .network
        .gateway()
        .signer()
        .identity()
        .cert_pem()
        .to_vec()
}

#[tokio::test]
async fn each_identity_choice_signs_as_that_identity() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let admin_cert = net.admin().identity().cert_pem().to_vec();
    let client_cert = net.client().identity().cert_pem().to_vec();
    assert_ne!(admin_cert, client_cert);

    let admin = connect(&settings(&net, "Org1", "admin")).unwrap();
    assert_eq!(signer_cert(&admin), admin_cert);
    assert_eq!(admin.network.channel(), CHANNEL);
    assert_eq!(admin.chaincode, CHAINCODE);

    let by_msp_id = connect(&settings(&net, "Org1MSP", "client")).unwrap();
    assert_eq!(signer_cert(&by_msp_id), client_cert);

    let folder = net.admin_msp.to_string_lossy().into_owned();
    let by_folder = connect_now(&settings(&net, "Org1", &folder)).await.unwrap();
    assert_eq!(signer_cert(&by_folder), admin_cert);
}

#[tokio::test]
async fn lazy_connection_reaches_the_peer_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let connection = connect(&settings(&net, "Org1", "client")).unwrap();
    let contract = connection.network.contract(connection.chaincode);
    let answer = contract
        .evaluate("ListDevices", &[b"10".as_slice(), b"".as_slice()])
        .await
        .unwrap();
    let page: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(page["records"], serde_json::json!([]), "{page}");
}

#[tokio::test]
async fn unreadable_msp_folder_names_the_identity_and_organisation() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let missing = dir.path().join("no-such-msp");
    let err = connect(&settings(&net, "Org1", &missing.to_string_lossy())).unwrap_err();
    assert!(
        matches!(&err, LedgerConnectError::Identity { msp_id, .. } if msp_id == "Org1MSP"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("no-such-msp"), "{text}");
}

#[tokio::test]
async fn unknown_organisation_is_a_network_file_error() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let err = connect(&settings(&net, "Org9", "admin")).unwrap_err();
    assert!(matches!(err, LedgerConnectError::NetworkFile(_)), "{err:?}");
    assert!(err.to_string().contains("known: Org1"), "{err}");
}

#[tokio::test]
async fn lazy_connect_succeeds_while_the_peer_is_down_but_connect_now_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    // The same network, but its peer at a loopback port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let text = std::fs::read_to_string(&net.network_json).unwrap();
    let moved = text.replace(&net.addr.to_string(), &closed_addr);
    assert_ne!(moved, text);
    let down_json = dir.path().join("network-down.json");
    std::fs::write(&down_json, moved).unwrap();
    let settings = LedgerSettings {
        network: down_json,
        org: "Org1".into(),
        identity: "admin".into(),
    };

    assert!(connect(&settings).is_ok());
    let err = connect_now(&settings).await.unwrap_err();
    assert!(
        matches!(&err, LedgerConnectError::Gateway(GatewayError::Connect { endpoint, .. }) if *endpoint == closed_addr),
        "{err:?}"
    );
}
