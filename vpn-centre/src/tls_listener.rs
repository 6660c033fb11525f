//! Serves a router over plain TCP or TLS with connection limits, so idle or slow clients cannot
//! pile up: each TLS handshake (and, on the validators' listener, its client certificate) is
//! checked before any HTTP is read.
//!
//! Every request carries `ConnectInfo<SocketAddr>` (for per-address limits) and, when the client
//! presented a certificate, the [`PeerIdentity`] read from it. A client without an acceptable
//! certificate never gets an HTTP answer: the handshake fails.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower_service::Service as _;

use crate::idle::{Activity, Watched};
use crate::metrics::Metrics;
use crate::submitter::PeerIdentity;

/// A handshake slower than this is dropped by default, so idle sockets cannot pile up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits of one listener (the same shape as fog-validator's `ServerLimits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Most connections open at once; a client over the limit is disconnected at once.
    pub max_connections: usize,
    /// Time allowed to send a request line and headers, also between keep-alive requests.
    pub header_read_timeout: Duration,
    /// Time allowed for the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// A connection with no request in progress and no bytes moving for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: HANDSHAKE_TIMEOUT,
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// `[listeners]`: applied to the operators' and the validators' listener alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenerSettings {
    /// Most connections open at once per listener; more are closed at once.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (also the wait between keep-alive requests).
    pub header_read_timeout_seconds: u64,
    /// Seconds a client has to finish the TLS handshake.
    pub tls_handshake_timeout_seconds: u64,
    /// Seconds a connection may stay silent with no request in progress.
    pub idle_timeout_seconds: u64,
}

impl Default for ListenerSettings {
    fn default() -> Self {
        let limits = ListenerLimits::default();
        Self {
            max_connections: limits.max_connections,
            header_read_timeout_seconds: limits.header_read_timeout.as_secs(),
            tls_handshake_timeout_seconds: limits.tls_handshake_timeout.as_secs(),
            idle_timeout_seconds: limits.idle_timeout.as_secs(),
        }
    }
}

impl ListenerSettings {
    /// The limits the listeners are served with.
    pub fn limits(&self) -> ListenerLimits {
        ListenerLimits {
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_seconds),
            tls_handshake_timeout: Duration::from_secs(self.tls_handshake_timeout_seconds),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
        }
    }

    /// Refuses zero limits, which would stop the listener serving anyone.
    pub fn check(&self) -> Result<(), String> {
        if self.max_connections == 0
            || self.header_read_timeout_seconds == 0
            || self.tls_handshake_timeout_seconds == 0
            || self.idle_timeout_seconds == 0
        {
            return Err("[listeners] max_connections and the timeouts must be at least 1".into());
        }
        Ok(())
    }
}

/// [`serve`] over TLS with the default limits and no metrics.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    serve(
        listener,
        Some(tls),
        app,
        ListenerLimits::default(),
        None,
        shutdown,
    )
    .await;
}

/// Accepts connections on `listener` (over TLS when `tls` is given) until `shutdown` resolves.
/// Connections already open finish their current requests on their own tasks. Connections
/// refused for being over `limits.max_connections` are counted in `metrics`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    limits: ListenerLimits,
    metrics: Option<Arc<Metrics>>,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Usually out of file descriptors: pause rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Dropping the socket closes it: a flood is answered cheaply.
            if let Some(m) = &metrics {
                m.record_refused_connection();
            }
            tracing::warn!(%peer, max = limits.max_connections, "connection limit reached; refused");
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let _permit = permit;
            connection(tcp, peer, acceptor, app, limits).await;
        });
    }
}

/// One connection: optional handshake, then HTTP/1.1 until the client leaves or idles out.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    app: Router,
    limits: ListenerLimits,
) {
    let activity = Arc::new(Activity::new());
    let tcp = Watched::new(tcp, activity.clone());
    let Some(acceptor) = acceptor else {
        return http(tcp, peer, None, app, limits, activity).await;
    };
    let tls = match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "TLS handshake refused");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let identity = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(PeerIdentity::from_cert);
    http(tls, peer, identity, app, limits, activity).await;
}

async fn http<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    io: S,
    peer: SocketAddr,
    identity: Option<PeerIdentity>,
    app: Router,
    limits: ListenerLimits,
    activity: Arc<Activity>,
) {
    let busy = activity.clone();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        if let Some(id) = &identity {
            request.extensions_mut().insert(id.clone());
        }
        let guard = busy.start_request();
        let mut app = app.clone();
        async move {
            let _guard = guard;
            app.call(request).await
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::select! {
        result = conn => if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        },
        () = activity.idle(limits.idle_timeout) => {
            tracing::debug!(%peer, "idle connection closed");
        }
    }
}
