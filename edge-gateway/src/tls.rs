//! TLS client settings: trust the configured CA file, optionally present a client certificate.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;
use crate::error::GatewayError;

/// The client configuration for a gateway's validators: its CA file and, when set, its
/// client certificate and key.
pub fn client_config_for(config: &Config) -> Result<Arc<ClientConfig>, GatewayError> {
    client_config(
        &config.ca_path,
        config
            .client_cert_path
            .as_deref()
            .zip(config.client_key_path.as_deref()),
    )
}

/// Builds the client configuration used for every validator connection.
pub fn client_config(
    ca_path: &Path,
    client: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, GatewayError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(ca_path, "CA file")? {
        roots.add(cert).map_err(|e| {
            GatewayError::Tls(format!(
                "CA file {}: certificate refused: {e}",
                ca_path.display()
            ))
        })?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| GatewayError::Tls(format!("protocol versions: {e}")))?
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert_path, key_path)) => {
            let chain = read_certs(cert_path, "client certificate")?;
            crate::keygen::ensure_private(key_path, "client key")?;
            let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
                GatewayError::Tls(format!(
                    "client key {}: {e}; expected a PEM private key",
                    key_path.display()
                ))
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                GatewayError::Tls(format!(
                    "client certificate {} does not match key {}: {e}",
                    cert_path.display(),
                    key_path.display()
                ))
            })?
        }
    };
    Ok(Arc::new(config))
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, GatewayError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| GatewayError::Tls(format!("{what} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(GatewayError::Tls(format!(
            "{what} {} holds no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certs)
}
