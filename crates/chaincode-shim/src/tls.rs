//! TLS for the chaincode server: its certificate and key, and optionally the CA that peers'
//! client certificates must chain to (then a client certificate is required).

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::error::ServeError;

/// Paths of the PEM files, as the peer's connection.json pairs them.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, peers must present a certificate issued by this CA.
    pub client_ca: Option<PathBuf>,
}

fn read_pem(what: &'static str, path: &Path) -> Result<Vec<u8>, ServeError> {
    let bytes = std::fs::read(path).map_err(|source| ServeError::TlsFile {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(ServeError::NotPem {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

impl TlsFiles {
    /// Reads the files and builds the server's TLS settings.
    pub fn server_config(&self) -> Result<ServerTlsConfig, ServeError> {
        let cert = read_pem("certificate", &self.cert)?;
        let key = read_pem("private key", &self.key)?;
        let mut config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = &self.client_ca {
            let ca = read_pem("client CA certificate", ca)?;
            config = config
                .client_ca_root(Certificate::from_pem(ca))
                .client_auth_optional(false);
        }
        Ok(config)
    }
}
