//! The real `vpn-centre serve` binary closes a live mutual-TLS connection once its client
//! certificate is revoked, not only the next handshake: a service keeps a keep-alive connection
//! open and answered, `vpn-centre revoke` runs in another process, and the running centre (which
//! picks the revocation up from the shared PKI database within `crl_sync_seconds`, 2 s) cuts the
//! connection well before its 60 s idle timeout.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{BinaryServer, issue_identity, revoke_with_cli};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const COUNT: &[u8] = b"GET /v1/warnings/count HTTP/1.1\r\nHost: centre\r\n\r\n";

/// Reads one HTTP response (headers and a Content-Length body) and returns its text.
async fn response(stream: &mut (impl AsyncRead + Unpin)) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(
            n > 0,
            "closed before answering: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn revoking_a_certificate_closes_its_open_connection() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let centre = BinaryServer::start(&["--data-dir", data], &[]);
    let (uuid, identity) = issue_identity(dir.path(), "dashboard-tools");
    let config = Arc::new(
        vpn_pki::client_config(&identity.ca_pem, &identity.cert_pem, &identity.key_pem).unwrap(),
    );
    let addr = centre.mtls_url.trim_start_matches("https://").to_string();
    let connect = || async {
        let tcp = TcpStream::connect(&addr).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        TlsConnector::from(config.clone()).connect(name, tcp).await
    };

    let mut live = connect().await.unwrap();
    live.write_all(COUNT).await.unwrap();
    let answer = response(&mut live).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Kept alive while the certificate is good.
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), live.read(&mut buf))
            .await
            .is_err(),
        "the connection closed before any revocation"
    );

    revoke_with_cli(data, &uuid);
    let revoked_at = Instant::now();

    let end = tokio::time::timeout(Duration::from_secs(10), live.read(&mut buf)).await;
    let took = revoked_at.elapsed();
    assert!(
        matches!(end, Ok(Ok(0)) | Ok(Err(_))),
        "the live connection was not closed within 10 s of the revocation: {end:?}"
    );
    eprintln!("revocation → live connection closed after {took:?}");
    // The sync runs every 2 s: closed within one sync and some slack, far before the idle timeout.
    assert!(took < Duration::from_secs(5), "closed only after {took:?}");
    // And a new handshake with the certificate gets no answer.
    let refused = match connect().await {
        Err(_) => true,
        Ok(mut again) => {
            let _ = again.write_all(COUNT).await;
            let mut buf = [0u8; 64];
            matches!(
                tokio::time::timeout(Duration::from_secs(5), again.read(&mut buf)).await,
                Ok(Ok(0)) | Ok(Err(_))
            )
        }
    };
    assert!(refused, "a revoked certificate still got a connection");
}
