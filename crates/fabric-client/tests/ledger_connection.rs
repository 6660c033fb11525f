//! `connect` and `connect_now` from the live network's `network.json`, and how they fail.

mod live;

use std::path::Path;

use fabric_client::{
    GatewayError, LedgerConnectError, LedgerConnection, LedgerSettings, NetworkFile,
    NetworkFileError, connect, connect_now,
};
use live::*;

fn signer_cert(connection: &LedgerConnection) -> Vec<u8> {
    let identity = connection.network.gateway().signer().identity();
    identity.cert_pem().to_vec()
}

/// Asks the peer something harmless; proves the connection and the identity work.
async fn answers(connection: &LedgerConnection) {
    let contract = connection.network.contract(&connection.chaincode);
    let uuid = unique_uuid();
    let answer = within(
        "DeviceExists",
        contract.evaluate("DeviceExists", &[uuid.as_str()]),
    )
    .await
    .unwrap();
    assert_eq!(answer, b"false");
}

#[tokio::test]
async fn every_organisation_and_identity_connects_and_signs_as_itself() {
    let net = LiveNetwork::get();
    for org in ["Org1", "Org2"] {
        let msp_id = &net.file.organization(org).unwrap().msp_id;
        for who in ["admin", "client"] {
            let expected = net.identity(org, who);
            for settings in [net.settings(org, who), net.settings(msp_id, who)] {
                let now = connect_now(&settings).await.unwrap();
                assert_eq!(signer_cert(&now), expected.identity().cert_pem());
                assert_eq!(now.network.gateway().signer().identity().msp_id(), msp_id);
                assert_eq!(now.network.channel(), net.file.channel);
                assert_eq!(now.chaincode, net.file.chaincode);
                answers(&now).await;
                let lazy = connect(&settings).unwrap();
                assert_eq!(signer_cert(&lazy), expected.identity().cert_pem());
                answers(&lazy).await;
            }
        }
        assert_ne!(
            net.identity(org, "admin").identity().cert_pem(),
            net.identity(org, "client").identity().cert_pem()
        );
    }
}

#[tokio::test]
async fn an_msp_folder_path_signs_as_that_identity() {
    let net = LiveNetwork::get();
    let org = net.file.organization("Org2").unwrap();
    let folder = net.file.resolve(
        org.admin
            .msp_dir
            .as_deref()
            .expect("network.json names MSP folders"),
    );
    let settings = net.settings("Org2", folder.to_str().unwrap());
    let connection = connect_now(&settings).await.unwrap();
    assert_eq!(
        signer_cert(&connection),
        net.identity("Org2", "admin").identity().cert_pem()
    );
    answers(&connection).await;
}

#[tokio::test]
async fn unknown_organisation_and_unreadable_folder_are_refused_before_dialling() {
    let net = LiveNetwork::get();
    let err = connect(&net.settings("Org9", "admin")).unwrap_err();
    assert!(
        matches!(
            err,
            LedgerConnectError::NetworkFile(NetworkFileError::UnknownOrg { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("known: Org1, Org2"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-msp");
    let err = connect_now(&net.settings("Org1", missing.to_str().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LedgerConnectError::Identity { msp_id, .. } if msp_id == "Org1MSP"),
        "{err:?}"
    );
    assert!(err.to_string().contains("no-such-msp"), "{err}");
}

/// A copy of the live `network.json` in `dir` with absolute paths, changed by `edit`.
fn edited_network(
    net: &LiveNetwork,
    dir: &Path,
    edit: impl FnOnce(&mut NetworkFile),
) -> LedgerSettings {
    let mut file = net.file.clone();
    let base = file.clone();
    for node in file
        .organizations
        .iter_mut()
        .flat_map(|o| o.peers.iter_mut())
        .chain(file.orderers.iter_mut())
    {
        node.tls_root_cert = base.resolve(&node.tls_root_cert);
    }
    for org in &mut file.organizations {
        for files in [&mut org.admin, &mut org.client] {
            for path in [&mut files.msp_dir, &mut files.cert, &mut files.key] {
                *path = path.as_deref().map(|p| base.resolve(p));
            }
        }
    }
    edit(&mut file);
    let path = dir.join("network.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    LedgerSettings {
        network: path,
        org: "Org1".into(),
        identity: "client".into(),
    }
}

fn org1_peer(file: &mut NetworkFile) -> &mut fabric_client::Node {
    let org = file.organizations.iter_mut().find(|o| o.name == "Org1");
    &mut org.expect("Org1 in network.json").peers[0]
}

#[tokio::test]
async fn a_peer_endpoint_nothing_listens_on_fails_to_connect_now() {
    let net = LiveNetwork::get();
    let dir = tempfile::tempdir().unwrap();
    // A loopback port that was free a moment ago and is closed now.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let settings = edited_network(&net, dir.path(), |file| {
        org1_peer(file).endpoint = closed_addr.clone();
    });

    let err = within("connect_now", connect_now(&settings))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LedgerConnectError::Gateway(GatewayError::Connect { endpoint, .. }) if *endpoint == closed_addr),
        "{err:?}"
    );
    // The lazy connection is made, and its first call reports the peer unavailable.
    let lazy = connect(&settings).unwrap();
    let contract = lazy.network.contract(&lazy.chaincode);
    let err = within(
        "evaluate",
        contract.evaluate("DeviceExists", &[unique_uuid().as_str()]),
    )
    .await
    .unwrap_err();
    let status = err.peer_status().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(status.code, tonic::Code::Unavailable, "{err}");

    // The untouched copy works, so the failures above are the endpoint's.
    let good = edited_network(&net, dir.path(), |_| {});
    answers(&connect_now(&good).await.unwrap()).await;
}

#[tokio::test]
async fn a_wrong_tls_host_name_is_refused_by_certificate_checking() {
    let net = LiveNetwork::get();
    let dir = tempfile::tempdir().unwrap();
    let settings = edited_network(&net, dir.path(), |file| {
        org1_peer(file).tls_host_name = "peer0.org2.example.com".into();
    });
    let err = within("connect_now", connect_now(&settings))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            LedgerConnectError::Gateway(GatewayError::Connect { .. })
        ),
        "{err:?}"
    );
}
