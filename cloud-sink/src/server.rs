//! Where the sink's listening socket is made and served: plain HTTP on loopback, or HTTPS with client certificates.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use vpn_pki::{CertIdentity, CrlClientVerifier};

use crate::http::{App, Caller, CrlHealthSource, router};
use crate::store::Store;
use crate::tls::SinkTls;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After a refused handshake, how long the refused client may take to read the alert.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// A failure to open or run the listener.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "refusing plain HTTP on {addr}: without TLS the sink listens on loopback only; set tls_cert, tls_key, client_ca and crl_url, or listen on 127.0.0.1"
    )]
    PlainNotLoopback { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}; pick a free address with --listen")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP server on {addr} stopped: {source}")]
    Serve {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A bound listener, ready to serve the API.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    tls: Option<SinkTls>,
}

impl Server {
    /// Binds `addr` for plain HTTP, which is only allowed on a loopback address.
    /// Port 0 picks a free port, see [`Server::local_addr`].
    pub async fn bind(addr: SocketAddr) -> Result<Self, ServerError> {
        if !addr.ip().is_loopback() {
            return Err(ServerError::PlainNotLoopback { addr });
        }
        Self::open(addr, None).await
    }

    /// Binds `addr` for HTTPS; every client must present a certificate `tls` accepts.
    pub async fn bind_tls(addr: SocketAddr, tls: SinkTls) -> Result<Self, ServerError> {
        Self::open(addr, Some(tls)).await
    }

    async fn open(addr: SocketAddr, tls: Option<SinkTls>) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Self {
            listener,
            addr,
            tls,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// True when clients must use HTTPS with a client certificate.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves the API until `shutdown` completes, then lets in-flight requests finish.
    pub async fn serve<S: Store>(
        self,
        app: Arc<App<S>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let addr = self.addr;
        match self.tls {
            None => axum::serve(self.listener, router(app))
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(|source| ServerError::Serve { addr, source }),
            Some(tls) => {
                serve_tls(self.listener, &tls, router(app), shutdown).await;
                Ok(())
            }
        }
    }
}

/// Accepts until `shutdown`, then waits for open connections to finish their requests.
/// `tls` is borrowed for the whole loop so its CRL refresher runs as long as the listener.
async fn serve_tls(
    listener: TcpListener,
    tls: &SinkTls,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let watcher = graceful.watcher();
        tokio::spawn(connection(
            tcp,
            peer,
            tls.acceptor().clone(),
            tls.verifier().clone(),
            router.clone(),
            watcher,
        ));
    }
    drop(listener);
    graceful.shutdown().await;
}

/// One client: mutual-TLS handshake, then HTTP/1.1 until it closes, the server shuts down, or a
/// CRL listing its certificate is installed (then the connection is dropped at once).
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    verifier: Arc<CrlClientVerifier>,
    router: Router,
    watcher: Watcher,
) {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp).into_fallible());
    let stream = match handshake.await {
        Ok(Ok(stream)) => stream,
        Ok(Err((error, tcp))) => {
            tracing::warn!(%peer, %error, "TLS handshake refused");
            linger(tcp).await;
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "TLS handshake not finished within {HANDSHAKE_TIMEOUT:?}; dropped");
            return;
        }
    };
    let cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first());
    let identity = cert.and_then(|cert| CertIdentity::from_der(cert.as_ref()));
    // Subscribed right after the handshake, so a CRL installed since is seen too.
    let revoked = cert.map(|cert| verifier.until_revoked(cert.as_ref()));
    let revoked = async move {
        match revoked {
            Some(revoked) => revoked.await,
            None => std::future::pending().await,
        }
    };
    let service = TowerToHyperService::new(
        router
            .layer(axum::Extension(Caller(identity)))
            .layer(axum::Extension(CrlHealthSource(verifier.clone()))),
    );
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = watcher.watch(conn) => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
        () = revoked => tracing::info!(%peer, "client certificate revoked; connection closed"),
    }
}

/// Closes a refused connection gently: the alert was written, and reading what the client
/// already sent keeps the kernel from answering with a reset that could destroy the alert
/// before the client reads it, so the client learns why it was refused.
async fn linger(mut tcp: TcpStream) {
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_only_on_loopback() {
        for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
            let addr: SocketAddr = addr.parse().unwrap();
            match Server::bind(addr).await {
                Err(e @ ServerError::PlainNotLoopback { .. }) => {
                    assert!(e.to_string().contains("tls_cert"), "{e}")
                }
                Err(e) => panic!("{addr}: expected PlainNotLoopback, got {e}"),
                Ok(_) => panic!("{addr}: plain listener allowed off loopback"),
            }
        }
        let local = Server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        assert!(!local.is_tls() && local.local_addr().port() != 0);
    }
}
