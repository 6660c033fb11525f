//! One HTTPS request over a fresh rustls connection: how validators reach the centre's mTLS
//! listener and how a device reaches `/v1/enrol`. One connection per call keeps it simple;
//! warnings are sent in batches, so calls are few.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A client configuration trusting only the PEM CA(s) given, presenting no certificate.
pub fn trust_only(ca_pem: &str) -> Result<ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_slice_iter(ca_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("CA PEM cannot be read: {e}"))?;
    if certs.is_empty() {
        return Err("CA PEM holds no certificate".into());
    }
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("CA certificate is not usable: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Sends `request` to the host and port of `uri` over TLS; the error text says which step failed.
pub async fn send(
    uri: &Uri,
    config: Arc<ClientConfig>,
    request: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, String> {
    let host = uri.host().ok_or("URL has no host")?;
    // `[::1]` in a URL is `::1` as a name to verify.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(443);
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host:?} is not a valid TLS server name: {e}"))?;
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "TLS connection to the VPN Centre ended with an error");
        }
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| format!("request failed (a refused client certificate shows up here): {e}"))
}
