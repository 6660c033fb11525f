//! Health and metrics as an operator reads them: plain HTTP on the ops listener, or HTTPS over one
//! kept-alive connection (which a stale CRL no longer lets a new client open).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Client;

/// `GET path` over plain HTTP/1.1; returns the status and the body.
pub async fn plain_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {out:?}"));
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// `/healthz` on a validator's plain ops listener, as JSON.
pub async fn healthz(ops: SocketAddr) -> (u16, Value) {
    let (status, body) = plain_get(ops, "/healthz").await;
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("/healthz answered {status} with non-JSON {body:?}: {e}"));
    (status, json)
}

/// One HTTPS connection kept open for several requests.
pub struct KeepAlive {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    _conn: tokio::task::JoinHandle<()>,
}

impl KeepAlive {
    /// Opens the connection (the mutual-TLS handshake happens here).
    pub async fn open(client: &Client, addr: SocketAddr) -> Result<Self, String> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let connector = tokio_rustls::TlsConnector::from(client.config.clone());
        let stream = connector
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("http: {e}"))?;
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            _conn: conn,
        })
    }

    /// `GET path` on this connection; returns the status and the body as JSON.
    pub async fn get_json(&mut self, path: &str) -> (u16, Value) {
        let request = hyper::Request::get(path)
            .header("host", "127.0.0.1")
            .body(Empty::new())
            .unwrap();
        let send = self.sender.send_request(request);
        let response = tokio::time::timeout(Duration::from_secs(10), send)
            .await
            .expect("no answer within 10 s")
            .expect("the kept-alive connection failed");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }
}

/// Whether a new mutual-TLS connection with `client` completes a request to `addr`.
pub async fn new_connection_admitted(client: &Client, addr: SocketAddr) -> Result<(), String> {
    let mut conn = KeepAlive::open(client, addr).await?;
    // TLS 1.3 reports a refused client certificate only at the first read.
    let request = hyper::Request::get("/healthz")
        .header("host", "127.0.0.1")
        .body(Empty::new())
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(10), conn.sender.send_request(request)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("request: {e}")),
        Err(_) => Err("no answer within 10 s".into()),
    }
}

/// Polls `/healthz` on `ops` every 50 ms until `done(status, body)` holds or `limit` passes;
/// returns the last answer.
pub async fn healthz_until(
    ops: SocketAddr,
    limit: Duration,
    done: impl Fn(u16, &Value) -> bool,
) -> (u16, Value) {
    let start = std::time::Instant::now();
    loop {
        let (status, body) = healthz(ops).await;
        if done(status, &body) || start.elapsed() > limit {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
