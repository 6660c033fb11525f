//! Raw mutual-TLS connections as one enrolled device: opened with one keep-alive request (so the
//! server has accepted the certificate), held open, and watched until the server closes them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::device::Device;

/// A held connection.
pub type Stream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// Why [`open`] got no keep-alive connection.
#[derive(Debug)]
pub enum Refused {
    /// The TLS handshake or the connection failed (a revoked certificate ends here).
    Tls(String),
    /// TLS was accepted but the HTTP answer was not 200 (e.g. the registry ban).
    Http(String),
}

impl Refused {
    pub fn is_tls(&self) -> bool {
        matches!(self, Refused::Tls(_))
    }
}

/// A TLS connection to `addr` as `device`, after one keep-alive `GET /healthz` was answered 200.
/// TLS 1.3 servers refuse a client certificate after the client's side of the handshake is done,
/// so only an answer proves the certificate was accepted.
pub async fn open(device: &Device, addr: SocketAddr) -> Result<Stream, Refused> {
    let mut stream = connect(device, addr).await?;
    let request = "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n\r\n";
    match exchange(&mut stream, request.as_bytes()).await? {
        a if a.starts_with("HTTP/1.1 200") => Ok(stream),
        a => Err(Refused::Http(
            a.lines().next().unwrap_or_default().to_string(),
        )),
    }
}

/// The TLS handshake alone, as `device`, to `addr` (a server named 127.0.0.1).
pub async fn connect(device: &Device, addr: SocketAddr) -> Result<Stream, Refused> {
    let read = |p: &Path| std::fs::read_to_string(p).expect("read an enrolment file");
    let tls = device.tls();
    let config = vpn_pki::client_config(&read(&tls.ca), &read(&tls.cert), &read(&tls.key))
        .expect("a client TLS config from the enrolment files");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| Refused::Tls(e.to_string()))?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("an IP server name");
    connector
        .connect(name, tcp)
        .await
        .map_err(|e| Refused::Tls(e.to_string()))
}

/// Writes one HTTP/1.1 request on `stream` and reads the start of its answer (one read).
pub async fn exchange(stream: &mut Stream, request: &[u8]) -> Result<String, Refused> {
    stream
        .write_all(request)
        .await
        .map_err(|e| Refused::Tls(e.to_string()))?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .map_err(|_| Refused::Tls("no answer within 5 s".into()))?
        .map_err(|e| Refused::Tls(e.to_string()))?;
    if n == 0 {
        return Err(Refused::Tls("closed without an answer".into()));
    }
    Ok(String::from_utf8_lossy(&buf[..n]).to_string())
}

/// Waits until the server closes `stream`; returns whether it did within `limit`.
pub async fn closed_within(stream: &mut Stream, limit: Duration) -> bool {
    tokio::time::timeout(limit, closed(stream)).await.is_ok()
}

/// Resolves when the server closes `stream` (end of stream or an error), at that instant.
pub async fn closed(stream: &mut Stream) -> Instant {
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return Instant::now(),
            Ok(_) => continue, // nothing was asked; a late answer is not a close
        }
    }
}

/// Opens a connection as `device` to `addr` every `every` until the TLS handshake is refused (an
/// HTTP refusal is not one); the instant of that refusal, or `None` past `limit`.
pub async fn until_tls_refused(
    device: &Device,
    addr: SocketAddr,
    every: Duration,
    limit: Duration,
) -> Option<Instant> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if matches!(open(device, addr).await, Err(refused) if refused.is_tls()) {
            return Some(Instant::now());
        }
        tokio::time::sleep(every).await;
    }
    None
}
