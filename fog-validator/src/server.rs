//! The HTTPS listener: TLS, connection limit, header-read and body timeouts, body size limit, and the routes
//! (`POST /` JSON-RPC, `GET /healthz` ([`crate::health`]), `GET /metrics`).
//!
//! `/healthz` and `/metrics` are served on the TLS listener and, when configured, also on a plain
//! HTTP ops listener meant for 127.0.0.1, so a local Prometheus need not trust the validator's certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use vpn_pki::CrlClientVerifier;

use crate::caller::{Caller, CallerIdentity};
use crate::metrics::Metrics;
use crate::refusal::{Refusal, code};
use crate::rpc;
use crate::validator::Validator;
use runtime::Shutdown;

/// Limits that protect the listener from large, many or slow clients.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most connections served at once; further clients wait in the accept backlog.
    pub max_connections: usize,
    /// Time allowed to receive a request body.
    pub request_timeout: Duration,
    /// Time allowed to receive the request line and headers (slowloris defence).
    pub header_read_timeout: Duration,
    /// Time allowed for the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Time in-flight connections get to finish at shutdown.
    pub drain_timeout: Duration,
}

/// A TLS certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "cannot read TLS {what} from {path}: {reason}; give a PEM file with --tls-cert / --tls-key"
    )]
    Read {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("TLS certificate {cert} and key {key} cannot be used together: {source}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
}

/// Loads a PEM certificate chain and private key into a TLS acceptor (HTTP/1.1 over TLS 1.2/1.3) that
/// asks for no client certificate: only for `client_auth = false` (see [`crate::client_auth`]).
pub fn load_tls(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let read = |what, path: &Path, reason: String| TlsError::Read {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| read("certificate", cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(read("certificate", cert, "no CERTIFICATE block".into()));
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| read("private key", key, e.to_string()))?;
    let config_err = |source| TlsError::Config {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        source,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(config_err)?
    .with_no_client_auth()
    .with_single_cert(certs, private_key)
    .map_err(config_err)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[derive(Clone)]
struct AppState {
    validator: Arc<Validator>,
    limits: ServerLimits,
}

/// The full API: JSON-RPC at `POST /` (also `/rpc`), plus health and metrics.
pub fn router(validator: Arc<Validator>, limits: ServerLimits) -> Router {
    Router::new()
        .route("/", post(rpc_handler))
        .route("/rpc", post(rpc_handler))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(AppState { validator, limits })
}

/// Health and metrics only, for the plain ops listener.
pub fn ops_router(validator: Arc<Validator>, limits: ServerLimits) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(AppState { validator, limits })
}

async fn rpc_handler(
    State(app): State<AppState>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Body,
) -> Response {
    let started = Instant::now();
    let limits = app.limits;
    let read = tokio::time::timeout(
        limits.request_timeout,
        Limited::new(body, limits.max_body_bytes).collect(),
    )
    .await;
    let refused = |status: StatusCode, refusal: Refusal| {
        app.validator.refuse(&refusal, &caller);
        (
            status,
            json(rpc::error_response(serde_json::Value::Null, &refusal)),
        )
            .into_response()
    };
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                Refusal::new(
                    code::OVERSIZED,
                    format!(
                        "request body is over the {}-byte limit; send smaller batches",
                        limits.max_body_bytes
                    ),
                ),
            );
        }
        Ok(Err(e)) => {
            return refused(
                StatusCode::BAD_REQUEST,
                Refusal::new(
                    code::INVALID_REQUEST,
                    format!("request body could not be read: {e}"),
                ),
            );
        }
        Err(_) => {
            return refused(
                StatusCode::REQUEST_TIMEOUT,
                Refusal::new(
                    code::INVALID_REQUEST,
                    format!(
                        "request body not received within {:?}",
                        limits.request_timeout
                    ),
                ),
            );
        }
    };
    match rpc::handle(&app.validator, &bytes, &caller, started).await {
        Some(answer) => (StatusCode::OK, json(answer)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

fn json(value: serde_json::Value) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&value).unwrap_or_default(),
    )
}

async fn healthz(State(app): State<AppState>) -> Response {
    let (status, body) = crate::health::report(&app.validator);
    (status, json(body)).into_response()
}

async fn metrics(State(app): State<AppState>) -> Response {
    let validator = app.validator.clone();
    // The spool depth is a SQLite query: keep it off the async threads.
    let gauges = tokio::task::spawn_blocking(move || validator.gauges())
        .await
        .unwrap_or_default();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.validator.metrics.render(gauges),
    )
        .into_response()
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until shutdown, then gives in-flight
/// connections `drain_timeout` to finish. Every request carries a [`Caller`]: the client's address and
/// the device its verified client certificate names. With `revocations` (the listener's
/// client-certificate verifier), a connection is closed as soon as a CRL listing its certificate is
/// installed, not only refused at the next handshake.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    revocations: Option<Arc<CrlClientVerifier>>,
    router: Router,
    limits: ServerLimits,
    metrics: Arc<Metrics>,
    mut shutdown: Shutdown,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = shutdown.wait() => break,
        };
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Usually out of file descriptors: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        let metrics = metrics.clone();
        let revocations = revocations.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = move |identity: CallerIdentity| {
                let caller = Caller {
                    addr: remote,
                    identity,
                };
                hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                    req.extensions_mut().insert(caller.clone());
                    router.clone().oneshot(req)
                })
            };
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let result = match tls {
                Some(tls) => {
                    let stream =
                        match tokio::time::timeout(limits.tls_handshake_timeout, tls.accept(tcp))
                            .await
                        {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                // Revoked, foreign or missing client certificates end here.
                                metrics.tls_handshake_failures.fetch_add(1, Relaxed);
                                tracing::info!(%remote, error = %e, "TLS handshake refused");
                                return;
                            }
                            Err(_) => {
                                metrics.tls_handshake_failures.fetch_add(1, Relaxed);
                                tracing::debug!(%remote, "TLS handshake timed out");
                                return;
                            }
                        };
                    let chain = stream.get_ref().1.peer_certificates();
                    let identity = CallerIdentity::from_chain(chain);
                    // Subscribed right after the handshake: a CRL installed since is seen too.
                    let revoked = match (&revocations, chain.and_then(|c| c.first())) {
                        (Some(v), Some(cert)) => Some(v.until_revoked(cert.as_ref())),
                        _ => None,
                    };
                    let conn = watcher
                        .watch(http.serve_connection(TokioIo::new(stream), service(identity)));
                    match revoked {
                        None => conn.await,
                        Some(revoked) => tokio::select! {
                            result = conn => result,
                            () = revoked => {
                                metrics.revoked_connections_closed.fetch_add(1, Relaxed);
                                tracing::info!(%remote, "client certificate revoked; connection closed");
                                return;
                            }
                        },
                    }
                }
                None => {
                    watcher
                        .watch(http.serve_connection(
                            TokioIo::new(tcp),
                            service(CallerIdentity::Anonymous),
                        ))
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?limits.drain_timeout, "connections still open after the drain timeout; closing them");
    }
}
