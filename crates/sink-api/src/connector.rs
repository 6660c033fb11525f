//! The client's transport to the sink: TCP for `http://`, TCP wrapped in rustls for `https://`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a connection's TLS failure stays attributable to a request that failed after it.
const TLS_FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// The TLS error that last ended one of a client's connections, with when it happened.
///
/// With TLS 1.3 the server checks the client certificate after the client has finished its
/// handshake, so the refusal arrives as an alert on the first read. hyper then often reports
/// only "connection was not ready"; this slot keeps the alert so the client can name it.
#[derive(Clone, Default)]
pub struct TlsFailureSlot(Arc<Mutex<Option<(Instant, rustls::Error)>>>);

impl TlsFailureSlot {
    fn record(&self, error: &rustls::Error) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((Instant::now(), error.clone()));
        }
    }

    /// The failure recorded within the last few seconds, taken out of the slot.
    pub fn take_recent(&self) -> Option<rustls::Error> {
        let mut slot = self.0.lock().ok()?;
        match slot.take() {
            Some((at, error)) if at.elapsed() <= TLS_FAILURE_MEMORY => Some(error),
            _ => None,
        }
    }
}

/// Opens connections for one sink client; with a TLS configuration every connection is TLS.
#[derive(Clone)]
pub struct SinkConnector {
    tcp: HttpConnector,
    tls: Option<TlsConnector>,
    failures: TlsFailureSlot,
}

impl SinkConnector {
    pub fn plain() -> Self {
        Self {
            tcp: HttpConnector::new(),
            tls: None,
            failures: TlsFailureSlot::default(),
        }
    }

    pub fn tls(config: ClientConfig) -> Self {
        let mut tcp = HttpConnector::new();
        // The connector itself checks nothing about the scheme; TLS is added below.
        tcp.enforce_http(false);
        Self {
            tcp,
            tls: Some(TlsConnector::from(Arc::new(config))),
            failures: TlsFailureSlot::default(),
        }
    }

    /// Where this connector's connections leave the TLS error that ended them.
    pub fn failures(&self) -> TlsFailureSlot {
        self.failures.clone()
    }
}

impl tower_service::Service<Uri> for SinkConnector {
    type Response = TokioIo<SinkStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.tcp.call(uri.clone());
        let tls = self.tls.clone();
        let failures = self.failures.clone();
        Box::pin(async move {
            let tcp = connecting.await?.into_inner();
            let Some(tls) = tls else {
                return Ok(TokioIo::new(SinkStream::Plain(tcp)));
            };
            // IPv6 hosts come bracketed in URIs; the certificate names the bare address.
            let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| format!("{host:?} is not a usable TLS server name: {e}"))?;
            let stream = match tls.connect(name, tcp).await {
                Ok(stream) => stream,
                Err(e) => {
                    if let Some(tls) = tls_failure(&e) {
                        failures.record(tls);
                    }
                    return Err(e.into());
                }
            };
            Ok(TokioIo::new(SinkStream::Tls(Box::new(stream), failures)))
        })
    }
}

/// One open connection to the sink.
pub enum SinkStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>, TlsFailureSlot),
}

impl Connection for SinkStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for SinkStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s, failures) => {
                let polled = Pin::new(s).poll_read(cx, buf);
                if let Poll::Ready(Err(e)) = &polled
                    && let Some(tls) = tls_failure(e)
                {
                    failures.record(tls);
                }
                polled
            }
        }
    }
}

impl AsyncWrite for SinkStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s, _) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s, _) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s, _) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The TLS failure somewhere in `error`'s chain, if the exchange failed because of TLS.
pub fn tls_failure<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // io::Error hides its payload from `source()`, so look inside it explicitly.
        if let Some(tls) = e
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        current = e.source();
    }
    None
}
