//! Real TLS handshakes over 127.0.0.1 against a server built with `server_config`: who gets in, and that a revoked certificate stops getting in once the CRL is refreshed.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use common::{enroller, now, register_and_enrol, uuid};
use device_record::NodeType;
use rcgen::RevocationReason;
use rustls::pki_types::ServerName;
use test_doubles::MemoryEnrolmentLedger;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use vpn_pki::{
    CertRole, CertificateAuthority, CrlClientVerifier, CrlRefresher, Enroller, LeafKey,
    LeafRequest, MtlsError, Revocations, client_config, server_config,
};

/// Aborts the spawned server task when the test ends, pass or fail.
struct TaskGuard(JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

const GREETING: &[u8] = b"hello from validator\n";

/// A TLS echo-less server: greets every client that completes the mutual-TLS handshake.
async fn start_tls_server(config: rustls::ServerConfig) -> (SocketAddr, TaskGuard) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.write_all(GREETING).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    (addr, TaskGuard(task))
}

/// The centre's CRL endpoint, as the VPN Centre would serve it.
async fn start_crl_server(e: Arc<Enroller<MemoryEnrolmentLedger>>) -> (String, TaskGuard) {
    async fn crl(
        State(e): State<Arc<Enroller<MemoryEnrolmentLedger>>>,
    ) -> Result<Vec<u8>, StatusCode> {
        e.crl_der(now())
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
    }
    let app = axum::Router::new()
        .route("/v1/pki/crl", axum::routing::get(crl))
        .with_state(e);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/pki/crl", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, TaskGuard(task))
}

/// True when the server let the client in (it only greets verified clients).
async fn admitted(addr: SocketAddr, config: rustls::ClientConfig) -> bool {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let connector = TlsConnector::from(Arc::new(config));
    let Ok(mut tls) = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
    else {
        return false;
    };
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut got)).await;
    matches!(read, Ok(Ok(_))) && got == GREETING
}

struct Setup {
    enroller: Arc<Enroller<MemoryEnrolmentLedger>>,
    verifier: Arc<CrlClientVerifier>,
    crl_url: String,
    tls_addr: SocketAddr,
    _guards: Vec<TaskGuard>,
    _dir: tempfile::TempDir,
}

/// A validator enrolled with a server certificate, serving mutual TLS with the centre's CRL.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let enroller = Arc::new(enroller(dir.path(), &["10.8.0.0/24", "fd00:8::/64"]));
    let (validator, validator_key) =
        register_and_enrol(&enroller, &uuid(1), NodeType::Validator).await;
    let (crl_url, crl_guard) = start_crl_server(enroller.clone()).await;
    let verifier = CrlClientVerifier::new(enroller.ca().cert_pem(), None, true).unwrap();
    assert!(
        CrlRefresher::refresh_once(&crl_url, &verifier)
            .await
            .unwrap()
    );
    let config = server_config(&validator.cert_pem, &validator_key, verifier.clone()).unwrap();
    let (tls_addr, tls_guard) = start_tls_server(config).await;
    Setup {
        enroller,
        verifier,
        crl_url,
        tls_addr,
        _guards: vec![crl_guard, tls_guard],
        _dir: dir,
    }
}

async fn gateway_client(s: &Setup, i: u32) -> rustls::ClientConfig {
    let (gw, key) = register_and_enrol(&s.enroller, &uuid(i), NodeType::Gateway).await;
    client_config(&gw.ca_pem, &gw.cert_pem, &key).unwrap()
}

#[tokio::test]
async fn only_clients_with_a_certificate_from_our_ca_get_in() {
    let s = setup().await;
    assert!(admitted(s.tls_addr, gateway_client(&s, 10).await).await);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(s.enroller.ca().cert_der().clone()).unwrap();
    let no_cert = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    assert!(!admitted(s.tls_addr, no_cert).await);

    // Same UUID, same shape of certificate, but from another CA.
    let rogue =
        CertificateAuthority::generate("Rogue CA", Duration::from_secs(86400), now()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let forged = rogue
        .issue(&LeafRequest {
            uuid: uuid(10),
            role: CertRole::Client,
            virtual_ips: vec!["10.8.0.3".parse().unwrap()],
            server_names: vec![],
            key: LeafKey::PublicKey(key.public_key_pem()),
            validity: Duration::from_secs(3600),
            now: now(),
        })
        .unwrap();
    let forged_client = client_config(
        s.enroller.ca().cert_pem(),
        &forged.pem,
        &key.serialize_pem(),
    )
    .unwrap();
    assert!(!admitted(s.tls_addr, forged_client).await);
}

#[tokio::test]
async fn revoked_certificate_is_refused_after_crl_refresh() {
    let s = setup().await;
    let banned = gateway_client(&s, 20).await;
    let other = gateway_client(&s, 21).await;
    assert!(admitted(s.tls_addr, banned.clone()).await);

    let serials = s
        .enroller
        .revoke_device(&uuid(20), RevocationReason::PrivilegeWithdrawn, now())
        .await
        .unwrap();
    assert_eq!(serials.len(), 1);
    // The server only learns of it through the CRL.
    assert!(admitted(s.tls_addr, banned.clone()).await);
    assert!(
        CrlRefresher::refresh_once(&s.crl_url, &s.verifier)
            .await
            .unwrap()
    );
    // `banned` is the same client config, session cache included: resuming must not bypass the CRL.
    assert!(!admitted(s.tls_addr, banned).await);
    assert!(admitted(s.tls_addr, other).await);
}

#[tokio::test]
async fn background_refresher_enforces_a_revocation_within_seconds() {
    let s = setup().await;
    let banned = gateway_client(&s, 30).await;
    assert!(admitted(s.tls_addr, banned.clone()).await);
    let _refresher = CrlRefresher::spawn(
        s.crl_url.clone(),
        Duration::from_millis(250),
        s.verifier.clone(),
    );

    s.enroller
        .revoke_device(&uuid(30), RevocationReason::PrivilegeWithdrawn, now())
        .await
        .unwrap();
    let start = Instant::now();
    while admitted(s.tls_addr, banned.clone()).await {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "revoked client still admitted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "revocation enforced {} ms after revoke (poll interval 250 ms)",
        start.elapsed().as_millis()
    );
}

#[tokio::test]
async fn forged_or_older_crls_are_not_installed() {
    let s = setup().await;
    let current = s.verifier.current_crl().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let rogue =
        CertificateAuthority::generate("Rogue CA", Duration::from_secs(86400), now()).unwrap();
    let conn = vpn_pki::open_database(&dir.path().join("rogue.db")).unwrap();
    let forged = Revocations::new(&conn)
        .crl_der(&rogue, now(), Duration::from_secs(600))
        .unwrap();
    assert!(matches!(
        s.verifier.replace_crl(&forged),
        Err(MtlsError::BadCrl(_))
    ));
    assert!(matches!(
        s.verifier.replace_crl(b"not a crl"),
        Err(MtlsError::BadCrl(_))
    ));

    let newer = s.enroller.crl_der(now()).await.unwrap();
    assert!(s.verifier.replace_crl(&newer).unwrap());
    assert!(matches!(
        s.verifier.replace_crl(&current),
        Err(MtlsError::StaleCrl { .. })
    ));
    assert_eq!(s.verifier.current_crl().unwrap(), newer);
    assert!(!s.verifier.replace_crl(&newer).unwrap());
}
