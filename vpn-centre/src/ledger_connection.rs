//! Reaching the ledger: `network.json`, an organisation and an identity turned into a lazily connected Fabric network.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fabric_client::{Gateway, Network, NetworkFile, NetworkFileError, SigningIdentity};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

/// How long to wait for the TCP and TLS handshake with the peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 pings on the event stream, so a silently dead peer ends the stream and the follower
/// reconnects. Fabric peers refuse pings more often than once a minute by default.
const KEEPALIVE: Duration = Duration::from_secs(60);

/// Where the ledger is and who the centre acts as (`network`, `org`, `identity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSettings {
    /// The `network.json` the network scripts write.
    pub network: PathBuf,
    /// Organisation short name or MSP ID, as listed in `network.json`.
    pub org: String,
    /// `client`, `admin`, or the path of an MSP folder of that organisation.
    pub identity: String,
}

/// Why the ledger connection could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum LedgerConnectError {
    #[error(transparent)]
    NetworkFile(#[from] NetworkFileError),
    #[error(
        "identity {identity:?} is neither `admin`, `client` nor a readable MSP folder of {msp_id}: {reason}"
    )]
    Identity {
        identity: String,
        msp_id: String,
        reason: String,
    },
    #[error("peer endpoint {endpoint:?} of {org} in {network} is not usable: {reason}")]
    Endpoint {
        endpoint: String,
        org: String,
        network: PathBuf,
        reason: String,
    },
}

/// What [`connect`] returns: the channel as the chosen identity, and the registry's chaincode name.
pub struct LedgerConnection {
    pub network: Network,
    pub chaincode: String,
}

/// Loads the identity and prepares a TLS channel to the organisation's first peer. The channel
/// connects on first use and reconnects by itself, so a process can start while the peer is
/// down (calls fail as unavailable until the ledger answers).
pub fn connect(settings: &LedgerSettings) -> Result<LedgerConnection, LedgerConnectError> {
    let file = NetworkFile::load(&settings.network)?;
    let org = file.organization(&settings.org)?;
    let identity = match settings.identity.as_str() {
        "client" => file.signing_identity(org, "client", &org.client)?,
        "admin" => file.signing_identity(org, "admin", &org.admin)?,
        dir => SigningIdentity::load_msp_dir(&org.msp_id, Path::new(dir)).map_err(|e| {
            LedgerConnectError::Identity {
                identity: dir.to_string(),
                msp_id: org.msp_id.clone(),
                reason: e.to_string(),
            }
        })?,
    };
    let endpoint_err = |endpoint: &str, reason: String| LedgerConnectError::Endpoint {
        endpoint: endpoint.to_string(),
        org: org.name.clone(),
        network: settings.network.clone(),
        reason,
    };
    // NetworkFile::parse refuses organisations without peers.
    let peer = org
        .peers
        .first()
        .ok_or_else(|| endpoint_err("", "the organisation lists no peer".into()))?;
    let tls_root = file.tls_root_pem(peer)?;
    let uri = if peer.endpoint.contains("://") {
        peer.endpoint.clone()
    } else {
        format!("https://{}", peer.endpoint)
    };
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(tls_root))
        .domain_name(peer.tls_host_name.clone());
    let channel = Endpoint::from_shared(uri)
        .map_err(|e| endpoint_err(&peer.endpoint, format!("not a valid address: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(KEEPALIVE)
        .keep_alive_while_idle(true)
        .tls_config(tls)
        .map_err(|e| endpoint_err(&peer.endpoint, format!("TLS settings refused: {e}")))?
        .connect_lazy();
    let gateway = Gateway::from_channel(channel, identity);
    Ok(LedgerConnection {
        network: gateway.network(file.channel.clone()),
        chaincode: file.chaincode.clone(),
    })
}
