//! Reaching the ledger: `network.json`, an organisation and an identity turned into a Fabric network.

use std::convert::Infallible;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::GatewayError;
use crate::gateway::{Gateway, Network, peer_endpoint};
use crate::identity::SigningIdentity;
use crate::network_json::{NetworkFile, NetworkFileError, Node, Organization};

/// HTTP/2 pings on a lazily connected channel, so a silently dead peer ends an event stream and
/// its reader reconnects. Fabric peers refuse pings more often than once a minute by default.
const KEEPALIVE: Duration = Duration::from_secs(60);

/// Which of an organisation's identities signs: parsed from `admin`, `client` or an MSP folder path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityChoice {
    Admin,
    Client,
    MspDir(PathBuf),
}

impl From<&str> for IdentityChoice {
    fn from(text: &str) -> Self {
        match text {
            "admin" => Self::Admin,
            "client" => Self::Client,
            dir => Self::MspDir(PathBuf::from(dir)),
        }
    }
}

impl FromStr for IdentityChoice {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Self, Infallible> {
        Ok(Self::from(text))
    }
}

impl fmt::Display for IdentityChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Admin => f.write_str("admin"),
            Self::Client => f.write_str("client"),
            Self::MspDir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// Where the ledger is and who acts on it (`network`, `org`, `identity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSettings {
    /// The `network.json` the network scripts write.
    pub network: PathBuf,
    /// Organisation short name or MSP ID, as listed in `network.json`.
    pub org: String,
    /// `client`, `admin`, or the path of an MSP folder of that organisation (see [`IdentityChoice`]).
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
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}

/// What [`connect`] returns: the channel as the chosen identity, and the registry's chaincode name.
#[derive(Debug)]
pub struct LedgerConnection {
    pub network: Network,
    pub chaincode: String,
}

/// The organisation's first peer, its TLS root and the chosen identity, read from `network.json`.
struct Target {
    file: NetworkFile,
    org: Organization,
    peer: Node,
    tls_root: Vec<u8>,
    identity: SigningIdentity,
}

impl NetworkFile {
    /// Loads the identity `choice` names for `org`.
    pub fn chosen_identity(
        &self,
        org: &Organization,
        choice: &IdentityChoice,
    ) -> Result<SigningIdentity, LedgerConnectError> {
        Ok(match choice {
            IdentityChoice::Client => self.signing_identity(org, "client", &org.client)?,
            IdentityChoice::Admin => self.signing_identity(org, "admin", &org.admin)?,
            IdentityChoice::MspDir(dir) => SigningIdentity::load_msp_dir(&org.msp_id, dir)
                .map_err(|e| LedgerConnectError::Identity {
                    identity: choice.to_string(),
                    msp_id: org.msp_id.clone(),
                    reason: e.to_string(),
                })?,
        })
    }
}

fn target(settings: &LedgerSettings) -> Result<Target, LedgerConnectError> {
    let file = NetworkFile::load(&settings.network)?;
    let org = file.organization(&settings.org)?.clone();
    let identity = file.chosen_identity(&org, &IdentityChoice::from(settings.identity.as_str()))?;
    // NetworkFile::parse refuses organisations without peers.
    let peer = org
        .peers
        .first()
        .cloned()
        .ok_or_else(|| LedgerConnectError::Endpoint {
            endpoint: String::new(),
            org: org.name.clone(),
            network: settings.network.clone(),
            reason: "the organisation lists no peer".into(),
        })?;
    let tls_root = file.tls_root_pem(&peer)?;
    Ok(Target {
        file,
        org,
        peer,
        tls_root,
        identity,
    })
}

/// Loads the identity and prepares a TLS channel to the organisation's first peer. The channel
/// connects on first use and reconnects by itself, so a process can start while the peer is
/// down (calls fail as unavailable until the ledger answers).
pub fn connect(settings: &LedgerSettings) -> Result<LedgerConnection, LedgerConnectError> {
    let target = target(settings)?;
    let peer = &target.peer;
    let channel = peer_endpoint(&peer.endpoint, &target.tls_root, &peer.tls_host_name)
        .map_err(|reason| LedgerConnectError::Endpoint {
            endpoint: peer.endpoint.clone(),
            org: target.org.name.clone(),
            network: settings.network.clone(),
            reason,
        })?
        .http2_keep_alive_interval(KEEPALIVE)
        .keep_alive_while_idle(true)
        .connect_lazy();
    let gateway = Gateway::from_channel_at(channel, target.identity, peer.endpoint.clone());
    Ok(LedgerConnection {
        network: gateway.network(target.file.channel.clone()),
        chaincode: target.file.chaincode,
    })
}

/// Like [`connect`], but dials the peer now and fails if it does not answer.
pub async fn connect_now(
    settings: &LedgerSettings,
) -> Result<LedgerConnection, LedgerConnectError> {
    let target = target(settings)?;
    let peer = &target.peer;
    let gateway = Gateway::connect(
        &peer.endpoint,
        &target.tls_root,
        &peer.tls_host_name,
        target.identity,
    )
    .await?;
    Ok(LedgerConnection {
        network: gateway.network(target.file.channel.clone()),
        chaincode: target.file.chaincode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_choice_reads_the_two_names_and_anything_else_as_a_folder() {
        assert_eq!(IdentityChoice::from("admin"), IdentityChoice::Admin);
        assert_eq!(IdentityChoice::from("client"), IdentityChoice::Client);
        let dir: IdentityChoice = "/msp/ops".parse().unwrap();
        assert_eq!(dir, IdentityChoice::MspDir(PathBuf::from("/msp/ops")));
        // Names are exact: a differently cased word is a folder path, as on the command line.
        assert_eq!(
            IdentityChoice::from("Admin"),
            IdentityChoice::MspDir(PathBuf::from("Admin"))
        );
        for text in ["admin", "client", "/msp/ops"] {
            assert_eq!(IdentityChoice::from(text).to_string(), text);
        }
    }
}
