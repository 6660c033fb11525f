//! The real `vpn-centre serve` binary under an idle-connection flood on both listeners, past its
//! connection cap: silent TCP connections and TLS connections that finished their handshake and
//! never send a request. A validator's warning POST and a CRL fetch must still succeed promptly,
//! wave after wave, because a full listener sheds its oldest silent connection for a newcomer
//! instead of refusing everyone until the silent ones time out (10 s here).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{BinaryServer, fetch_crl, sample, validator_identity};
use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use warnings_api::{TlsIdentity, WarningClient};

/// Connections each listener holds at once.
const CAP: usize = 24;
/// What "promptly" means on a shared 2-core machine (the header timeout is 10 s).
const PROMPT: Duration = Duration::from_secs(2);

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("https://").parse().unwrap()
}

/// Opens `n` connections that say nothing; with `tls`, each finishes its handshake first.
async fn idle_wave(
    addr: SocketAddr,
    n: usize,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Vec<Box<dyn std::any::Any + Send>> {
    let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    for _ in 0..n {
        let tcp = TcpStream::connect(addr).await.unwrap();
        match &tls {
            None => held.push(Box::new(tcp)),
            Some(config) => {
                let name = ServerName::try_from("127.0.0.1").unwrap();
                // A shed connection may be cut mid-handshake; that is the server's right.
                if let Ok(Ok(stream)) = tokio::time::timeout(
                    PROMPT,
                    TlsConnector::from(config.clone()).connect(name, tcp),
                )
                .await
                {
                    held.push(Box::new(stream));
                }
            }
        }
    }
    held
}

/// How many of `held` TCP connections the server has closed.
async fn closed(held: &mut [TcpStream]) -> usize {
    let mut n = 0;
    for tcp in held {
        let mut buf = [0u8; 16];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(20), tcp.read(&mut buf)).await
        {
            n += 1;
        }
    }
    n
}

#[tokio::test]
async fn warnings_and_crl_fetches_get_through_an_idle_flood_past_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let cap = CAP.to_string();
    let centre = BinaryServer::start(&["--data-dir", data, "--max-connections", &cap], &[]);
    let validator: TlsIdentity = validator_identity(dir.path());
    let ca_pem = validator.ca_pem.clone();
    let (operators, validators) = (addr_of(&centre.url), addr_of(&centre.mtls_url));
    let server_auth = Arc::new(warnings_api::tls::trust_only(&ca_pem).unwrap());
    let mutual = Arc::new(
        vpn_pki::client_config(&validator.ca_pem, &validator.cert_pem, &validator.key_pem).unwrap(),
    );
    let submitter = WarningClient::with_mtls(&centre.mtls_url, &validator)
        .unwrap()
        .with_timeout(Duration::from_secs(15));

    // Silent TCP connections, fewer than the cap, kept to see the later waves shed them.
    let mut first_tcp: Vec<TcpStream> = Vec::new();
    for addr in [operators, validators] {
        for _ in 0..CAP / 2 {
            first_tcp.push(TcpStream::connect(addr).await.unwrap());
        }
    }
    let mut flood = Vec::new();
    for wave in 0..3 {
        // Each wave alone fills both listeners past their cap: handshaken TLS and bare TCP.
        flood.extend(idle_wave(operators, CAP / 2, Some(server_auth.clone())).await);
        flood.extend(idle_wave(validators, CAP / 2, Some(mutual.clone())).await);
        flood.extend(idle_wave(operators, CAP, None).await);
        flood.extend(idle_wave(validators, CAP, None).await);
        tokio::time::sleep(Duration::from_millis(200)).await;

        let started = Instant::now();
        let stored = submitter
            .report(&sample("validator", None, -32001, 1_000 + wave))
            .await
            .unwrap_or_else(|e| panic!("wave {wave}: the warning did not get through: {e}"));
        let posted = started.elapsed();
        assert!(stored.id > 0);

        let started = Instant::now();
        let crl = fetch_crl(&centre.url, &ca_pem)
            .await
            .unwrap_or_else(|e| panic!("wave {wave}: the CRL fetch failed: {e}"));
        let fetched = started.elapsed();
        assert!(
            <x509_parser::prelude::CertificateRevocationList as x509_parser::prelude::FromDer<_>>::from_der(&crl).is_ok(),
            "wave {wave}: not a CRL"
        );
        eprintln!(
            "wave {wave}: {} idle connections opened so far; warning POST {posted:?}, CRL fetch {fetched:?}",
            first_tcp.len() + flood.len()
        );
        assert!(posted < PROMPT, "wave {wave}: warning POST took {posted:?}");
        assert!(fetched < PROMPT, "wave {wave}: CRL fetch took {fetched:?}");
    }
    // The oldest silent connections made the room, long before their 10 s header timeout.
    let shed = closed(&mut first_tcp).await;
    assert_eq!(
        shed,
        first_tcp.len(),
        "only {shed} of the first silent connections were shed"
    );
}
