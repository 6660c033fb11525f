//! Stream set-up and tear-down against the peer test double: REGISTER/REGISTERED/READY,
//! KEEPALIVE, out-of-order handshakes, and shutdown.

mod common;

use chaincode_shim::{ShimConfig, TlsFiles};
use common::*;
use prost::Message;
use sf2c_protos::protos::chaincode_message::Type;
use sf2c_protos::protos::{ChaincodeAdditionalParams, ChaincodeId, ChaincodeMessage};
use test_doubles::peer_double::{DoubleOptions, next_message, raw_stream};

#[tokio::test]
async fn registers_with_the_package_id_and_echoes_keepalive() {
    let server = start().await;
    let options = DoubleOptions {
        additional_params: ChaincodeAdditionalParams {
            use_write_batch: true,
            max_size_write_batch: 1000,
        },
        ..Default::default()
    };
    let peer = double(&server, options).await;
    assert_eq!(peer.registered_name(), PACKAGE_ID);
    let echo = peer.keepalive().await.unwrap();
    assert_eq!(echo.r#type(), Type::Keepalive);
    // Still serving transactions after the keepalive.
    assert_eq!(
        ok_text(peer.submit(&tx(1), &[b"put", b"k", b"v"]).await.unwrap()),
        ""
    );
}

#[tokio::test]
async fn transaction_before_ready_gets_error_and_ends_the_stream() {
    let server = start().await;
    let (out, mut inbound) = raw_stream(endpoint(server.addr)).await.unwrap();
    let register = next_message(&mut inbound, "REGISTER").await.unwrap();
    assert_eq!(register.r#type(), Type::Register);
    let id = ChaincodeId::decode(register.payload.as_slice()).unwrap();
    assert_eq!(id.name, PACKAGE_ID);
    let early = test_doubles::peer_double::PeerDouble::transaction(&tx(1), &[b"get", b"k"]);
    out.send(early).await.unwrap();
    let reply = next_message(&mut inbound, "ERROR").await.unwrap();
    assert_eq!(reply.r#type(), Type::Error);
    assert_eq!(reply.txid, "tx0001");
    assert!(String::from_utf8_lossy(&reply.payload).contains("expected REGISTERED"));
    assert!(next_message(&mut inbound, "end of stream").await.is_err());

    // A new stream from the same peer is served normally.
    let peer = double(&server, DoubleOptions::default()).await;
    peer.keepalive().await.unwrap();
}

#[tokio::test]
async fn keepalive_is_answered_before_registration_completes() {
    let server = start().await;
    let (out, mut inbound) = raw_stream(endpoint(server.addr)).await.unwrap();
    next_message(&mut inbound, "REGISTER").await.unwrap();
    out.send(ChaincodeMessage {
        r#type: Type::Keepalive as i32,
        ..Default::default()
    })
    .await
    .unwrap();
    let echo = next_message(&mut inbound, "KEEPALIVE").await.unwrap();
    assert_eq!(echo.r#type(), Type::Keepalive);
}

#[tokio::test]
async fn shutdown_ends_peer_streams_and_the_server() {
    let mut server = start().await;
    let (_out, mut inbound) = raw_stream(endpoint(server.addr)).await.unwrap();
    next_message(&mut inbound, "REGISTER").await.unwrap();
    server.stop.take().unwrap().send(()).unwrap();
    let ended = next_message(&mut inbound, "end of stream").await;
    assert!(
        matches!(ended, Err(test_doubles::peer_double::DoubleError::Closed)),
        "{ended:?}"
    );
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), &mut server.task)
        .await
        .expect("server stops after shutdown")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn tls_server_with_client_ca_admits_only_certified_peers() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let issue = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = issue(vec!["localhost".into(), "127.0.0.1".into()]);
    let (peer_cert, peer_key) = issue(vec!["peer0.org1".into()]);

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        path
    };
    let files = TlsFiles {
        cert: write("server.crt", &server_cert),
        key: write("server.key", &server_key),
        client_ca: Some(write("ca.crt", &ca.pem())),
    };
    let server = start_with(ShimConfig::new(PACKAGE_ID), Some(files)).await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let base = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca.pem()))
        .domain_name("localhost");

    let with_cert = tonic::transport::Endpoint::from_shared(url.clone())
        .unwrap()
        .tls_config(
            base.clone()
                .identity(Identity::from_pem(&peer_cert, &peer_key)),
        )
        .unwrap();
    let peer = test_doubles::peer_double::PeerDouble::connect(with_cert, DoubleOptions::default())
        .await
        .unwrap();
    assert_eq!(peer.registered_name(), PACKAGE_ID);
    assert_eq!(
        ok_text(peer.submit(&tx(1), &[b"put", b"k", b"v"]).await.unwrap()),
        ""
    );

    let without_cert = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .tls_config(base)
        .unwrap();
    assert!(
        raw_stream(without_cert).await.is_err(),
        "a peer without a client certificate was admitted"
    );
}
