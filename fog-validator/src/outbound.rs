//! The validator's clients of the cloud sink and the VPN Centre: over `https://` they trust the centre's
//! CA and present the validator's own certificate, so both can tell which validator is calling.

use std::path::{Path, PathBuf};

use sink_api::SinkClient;
use warnings_api::{TlsIdentity, WarningClient};

use crate::config::Config;

/// The files of the validator's client identity: the CA to trust and the certificate to present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A client of the sink or the centre that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error(
        "{setting} {url} is https:// but the validator has no client identity: set ca (the VPN \
         Centre's CA) and client_cert/client_key (or tls_cert/tls_key, used when those are absent)"
    )]
    NoIdentity { setting: &'static str, url: String },
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    // Both errors name their URL already; boxed because the sink's is large.
    #[error(transparent)]
    KeyFile(#[from] vpn_pki::KeyFileError),
    #[error("cloud sink client: {0}")]
    Sink(#[source] Box<sink_api::SinkError>),
    #[error("VPN Centre client: {0}")]
    Vpn(#[source] Box<warnings_api::ClientError>),
}

fn is_https(url: &str) -> bool {
    url.starts_with("https://")
}

fn identity(config: &Config, setting: &'static str, url: &str) -> Result<ClientTls, OutboundError> {
    config
        .client_tls()
        .ok_or_else(|| OutboundError::NoIdentity {
            setting,
            url: url.to_owned(),
        })
}

/// The sink client: plain for `http://`, mutual TLS with the validator's identity for `https://`.
pub fn sink_client(config: &Config) -> Result<SinkClient, OutboundError> {
    let url = &config.sink_url;
    let mut builder = SinkClient::builder(url);
    if is_https(url) {
        let tls = identity(config, "sink_url", url)?;
        builder = builder
            .ca_file(&tls.ca)
            .client_cert_files(&tls.cert, &tls.key);
    }
    builder
        .build()
        .map_err(|e| OutboundError::Sink(Box::new(e)))
}

/// The warnings client, if `vpn_url` is set: `https://` is the centre's mutual-TLS listener, where
/// the centre records the certificate's UUID as the warnings' submitter.
pub fn warning_client(config: &Config) -> Result<Option<WarningClient>, OutboundError> {
    let Some(url) = config.vpn_url.as_deref() else {
        return Ok(None);
    };
    let vpn_err = |e| OutboundError::Vpn(Box::new(e));
    if !is_https(url) {
        return WarningClient::new(url).map(Some).map_err(vpn_err);
    }
    let tls = identity(config, "vpn_url", url)?;
    let pem = TlsIdentity {
        ca_pem: read("CA certificate (ca)", &tls.ca)?,
        cert_pem: read("client certificate", &tls.cert)?,
        key_pem: vpn_pki::read_private_key(&tls.key)?,
    };
    WarningClient::with_mtls(url, &pem)
        .map(Some)
        .map_err(vpn_err)
}

fn read(what: &'static str, path: &Path) -> Result<String, OutboundError> {
    std::fs::read_to_string(path).map_err(|source| OutboundError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}
