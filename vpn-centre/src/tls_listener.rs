//! Serves a router over plain TCP, TLS or mutual TLS with connection limits, so idle or slow
//! clients cannot pile up or lock others out: each TLS handshake (and, on the validators'
//! listener, its client certificate) is checked before any HTTP is read, a full listener sheds
//! a connection that sent no request for a newcomer, and on mutual TLS a connection closes when
//! its client certificate is revoked.
//!
//! Every request carries `ConnectInfo<SocketAddr>` (for per-address limits) and, when the client
//! presented a certificate, the [`CertIdentity`] read from it. A client without an acceptable
//! certificate never gets an HTTP answer: the handshake fails.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower_service::Service as _;
use vpn_pki::{CertIdentity, CrlClientVerifier, MtlsError};

use crate::conn_slots::{Admission, Slot, Slots};
use crate::idle::{Activity, Watched};
use crate::metrics::Metrics;

/// A handshake slower than this is dropped by default, so idle sockets cannot pile up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits of one listener (the same shape as fog-validator's `ServerLimits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Most connections open at once; past it a newcomer replaces the connection waiting longest
    /// without a request, or is disconnected at once when all have one in progress.
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
    /// Most connections open at once per listener (see [`ListenerLimits::max_connections`]).
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

/// Server-authenticated TLS for the operators' listener (browsers present no certificate).
pub fn server_only_tls(cert_pem: &str, key_pem: &str) -> Result<rustls::ServerConfig, MtlsError> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what, e: rustls::pki_types::pem::Error| MtlsError::BadPem {
        what,
        detail: e.to_string(),
    };
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("centre certificate", e))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| bad("centre private key", e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?)
}

/// How a listener's connections are secured.
#[derive(Clone)]
pub enum Security {
    Plain,
    /// Server-authenticated TLS (the operators' listener: browsers present no certificate).
    Tls(Arc<rustls::ServerConfig>),
    /// Mutual TLS whose `verifier` (the one inside `config`) also closes an open connection as
    /// soon as a CRL revoking its client certificate is in force.
    MutualTls {
        config: Arc<rustls::ServerConfig>,
        verifier: Arc<CrlClientVerifier>,
    },
}

/// [`serve`] over TLS with the default limits and no metrics.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let security = Security::Tls(tls);
    serve_with(
        listener,
        security,
        app,
        ListenerLimits::default(),
        None,
        shutdown,
    )
    .await;
}

/// [`serve_with`] over plain TCP, or TLS when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    limits: ListenerLimits,
    metrics: Option<Arc<Metrics>>,
    shutdown: impl Future<Output = ()>,
) {
    let security = tls.map_or(Security::Plain, Security::Tls);
    serve_with(listener, security, app, limits, metrics, shutdown).await;
}

/// Accepts connections on `listener` until `shutdown` resolves. Connections already open finish
/// their current requests on their own tasks. At `limits.max_connections` a newcomer takes the
/// slot of the connection that waited longest without a request ([`crate::conn_slots`]), or is
/// refused when every slot has a request in progress; both are counted in `metrics`.
pub async fn serve_with(
    listener: TcpListener,
    security: Security,
    app: Router,
    limits: ListenerLimits,
    metrics: Option<Arc<Metrics>>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Slots::new(limits.max_connections);
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
        let activity = Arc::new(Activity::new());
        let slot = match slots.admit(activity.clone()) {
            Admission::Admitted(slot) => slot,
            Admission::Shed(slot) => {
                if let Some(m) = &metrics {
                    m.record_shed_connection();
                }
                tracing::info!(%peer, max = limits.max_connections,
                    "connection limit reached; a connection without a request closed for a newcomer");
                slot
            }
            Admission::Refused => {
                // Dropping the socket closes it: a flood is answered cheaply.
                if let Some(m) = &metrics {
                    m.record_refused_connection();
                }
                tracing::warn!(%peer, max = limits.max_connections,
                    "connection limit reached with every connection busy; refused");
                continue;
            }
        };
        let (security, app) = (security.clone(), app.clone());
        tokio::spawn(async move {
            connection(tcp, peer, security, app, limits, activity, slot).await;
        });
    }
}

/// One connection: optional handshake, then HTTP/1.1 until the client leaves, idles out, is
/// shed for a newcomer or has its certificate revoked.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    security: Security,
    app: Router,
    limits: ListenerLimits,
    activity: Arc<Activity>,
    slot: Slot,
) {
    let tcp = Watched::new(tcp, activity.clone());
    let (config, verifier) = match security {
        Security::Plain => {
            let close = async { slot.shed().await };
            return http(tcp, peer, None, app, limits, activity, close).await;
        }
        Security::Tls(config) => (config, None),
        Security::MutualTls { config, verifier } => (config, Some(verifier)),
    };
    let handshake = tokio::time::timeout(
        limits.tls_handshake_timeout,
        TlsAcceptor::from(config).accept(tcp),
    );
    let tls = tokio::select! {
        done = handshake => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::info!(%peer, error = %e, "TLS handshake refused");
                return;
            }
            Err(_) => {
                tracing::info!(%peer, "TLS handshake timed out");
                return;
            }
        },
        () = slot.shed() => return,
    };
    let certificate = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
    let identity = certificate.and_then(|c| CertIdentity::from_der(c.as_ref()));
    // Subscribed right after the handshake, so a CRL installed from now on is seen.
    let revoked: Pin<Box<dyn Future<Output = ()> + Send>> = match (&verifier, certificate) {
        (Some(v), Some(cert)) => Box::pin(v.until_revoked(cert.as_ref())),
        _ => Box::pin(std::future::pending()),
    };
    let close = async {
        tokio::select! {
            () = slot.shed() => {}
            () = revoked => tracing::info!(%peer, "client certificate revoked; connection closed"),
        }
    };
    http(tls, peer, identity, app, limits, activity, close).await;
}

async fn http<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    io: S,
    peer: SocketAddr,
    identity: Option<CertIdentity>,
    app: Router,
    limits: ListenerLimits,
    activity: Arc<Activity>,
    close: impl Future<Output = ()>,
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
        () = close => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;

    #[test]
    fn listener_limits_come_from_file_and_environment() {
        assert_eq!(
            Config::default().listeners.limits(),
            ListenerLimits::default()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centre.toml");
        std::fs::write(
            &file,
            "[listeners]\nmax_connections = 7\ntls_handshake_timeout_seconds = 3\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            ENV_IDLE_TIMEOUT => Some("90".to_string()),
            ENV_HEADER_READ_TIMEOUT => Some("4".to_string()),
            _ => None,
        };
        let limits = Config::load(Some(&file), env).unwrap().listeners.limits();
        assert_eq!(limits.max_connections, 7);
        assert_eq!(limits.tls_handshake_timeout, Duration::from_secs(3));
        assert_eq!(limits.header_read_timeout, Duration::from_secs(4));
        assert_eq!(limits.idle_timeout, Duration::from_secs(90));

        let env = |k: &str| (k == ENV_MAX_CONNECTIONS).then(|| "many".to_string());
        let err = Config::load(None, env).unwrap_err();
        assert!(err.to_string().contains(ENV_MAX_CONNECTIONS), "{err}");
        let env = |k: &str| (k == ENV_MAX_CONNECTIONS).then(|| "0".to_string());
        let zero = Config::load(None, env).unwrap();
        assert!(
            matches!(zero.check(), Err(ConfigError::Invalid { key, .. }) if key == "listeners")
        );
    }
}
