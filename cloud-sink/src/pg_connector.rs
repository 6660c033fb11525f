//! The rustls connector for each PostgreSQL `sslmode`, and plain-language reasons for TLS failures.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::Host;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::pg_tls::{PgTls, PgTlsError, SslMode};

/// How connections to one database are opened; cloned for every reconnect.
#[derive(Clone)]
pub enum PgConnector {
    Plain,
    Tls(MakeRustlsConnect),
}

impl PgConnector {
    /// The connector for `tls`; reads the CA file of `verify-full` now, so a bad file stops start-up.
    pub fn new(tls: &PgTls) -> Result<Self, PgTlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| PgTlsError::Setup(e.to_string()))?;
        let config = match (tls.mode, &tls.root_cert) {
            (SslMode::Disable, _) => return Ok(Self::Plain),
            (SslMode::VerifyFull, Some(path)) => builder
                .with_root_certificates(read_roots(path)?)
                .with_no_client_auth(),
            (SslMode::VerifyFull, None) => return Err(PgTlsError::MissingRootCert),
            (SslMode::Require, _) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth(),
        };
        Ok(Self::Tls(MakeRustlsConnect::new(config)))
    }
}

fn read_roots(path: &std::path::Path) -> Result<rustls::RootCertStore, PgTlsError> {
    let bad = |reason: String| PgTlsError::BadRootCert {
        path: path.into(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|source| PgTlsError::ReadRootCert {
        path: path.into(),
        source,
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(format!("cannot read PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("certificate not usable as a CA: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(roots)
}

/// `sslmode=require`: any certificate is accepted, but the server must still prove it holds the
/// certificate's key, so the session is encrypted to whoever answered; nothing says who that is.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What went wrong with TLS in a failed connection attempt, said plainly; `None` if TLS was not the cause.
pub fn explain(error: &tokio_postgres::Error, tls: &PgTls, host: &str) -> Option<String> {
    let ca = || {
        tls.root_cert
            .as_ref()
            .map_or_else(String::new, |p| format!(" in {}", p.display()))
    };
    if let Some(failure) = sink_api::connector::tls_failure(error) {
        let check = match failure {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                format!(
                    "certificate chain check failed: the server's certificate is not issued by the CA{}",
                    ca()
                )
            }
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => {
                format!("host name check failed: the server's certificate is not valid for {host}")
            }
            rustls::Error::InvalidCertificate(reason) => {
                format!("server certificate check failed: {reason:?}")
            }
            other => format!("TLS handshake failed: {other}"),
        };
        return Some(check);
    }
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        // tokio-postgres reports a server that answered "no" to SSLRequest only by this text.
        if e.to_string() == "server does not support TLS" {
            return Some(
                "the server does not accept TLS (is ssl = off?); this sslmode never falls back to plain text"
                    .into(),
            );
        }
        current = e.source();
    }
    None
}

/// The addresses of `config` reached over the network (not loopback, not a Unix socket).
pub fn remote_hosts(config: &tokio_postgres::Config) -> Vec<String> {
    // With `hostaddr` the host names serve TLS only; the addresses are what is dialled.
    let addrs = config.get_hostaddrs();
    if !addrs.is_empty() {
        return addrs
            .iter()
            .filter(|ip| !ip.is_loopback())
            .map(IpAddr::to_string)
            .collect();
    }
    config
        .get_hosts()
        .iter()
        .filter_map(|host| match host {
            Host::Tcp(name) if !is_loopback(name) => Some(name.clone()),
            _ => None,
        })
        .collect()
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_local_and_others_remote() {
        let config: tokio_postgres::Config =
            "postgres://u@localhost,127.0.0.2,[::1],db.example,10.0.0.5/x"
                .parse()
                .unwrap();
        assert_eq!(remote_hosts(&config), ["db.example", "10.0.0.5"]);
        let unix: tokio_postgres::Config = "host=/run/postgresql user=u".parse().unwrap();
        assert!(remote_hosts(&unix).is_empty());
        let pinned: tokio_postgres::Config =
            "host=db.example hostaddr=127.0.0.1 user=u".parse().unwrap();
        assert!(
            remote_hosts(&pinned).is_empty(),
            "hostaddr is what is dialled"
        );
    }

    #[test]
    fn ca_file_problems_name_the_file() {
        let verify = |path: &str| PgTls {
            mode: SslMode::VerifyFull,
            root_cert: Some(path.into()),
        };
        let err = PgConnector::new(&verify("/nonexistent/pg-ca.pem"))
            .err()
            .unwrap();
        assert!(
            matches!(&err, PgTlsError::ReadRootCert { .. })
                && err.to_string().contains("/nonexistent/pg-ca.pem"),
            "{err}"
        );
        let junk = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(junk.path(), "not a certificate\n").unwrap();
        let err = PgConnector::new(&verify(junk.path().to_str().unwrap()))
            .err()
            .unwrap();
        assert!(
            err.to_string().contains(junk.path().to_str().unwrap())
                && err.to_string().contains("no PEM certificate"),
            "{err}"
        );
        let plain = PgTls {
            mode: SslMode::Disable,
            root_cert: None,
        };
        assert!(matches!(PgConnector::new(&plain), Ok(PgConnector::Plain)));
    }
}
