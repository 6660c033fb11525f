//! One TLS gRPC connection to a peer's Gateway service plus the identity that signs every request.

use prost::Message;
use std::sync::Arc;
use std::time::Duration;

use sf2c_protos::gateway::gateway_client::GatewayClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::commit::Commit;
use crate::contract::Contract;
use crate::deadline::Deadlines;
use crate::error::GatewayError;
use crate::identity::SigningIdentity;

/// How long to wait for the TCP and TLS handshake before giving up on a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Named in errors when a gateway was built from a bare channel.
const UNNAMED_PEER: &str = "(unnamed peer)";

/// A connection to one peer's Gateway service, acting as one identity, with a deadline per call.
#[derive(Clone, Debug)]
pub struct Gateway {
    client: GatewayClient<Channel>,
    signer: Arc<SigningIdentity>,
    endpoint: Arc<str>,
    deadlines: Deadlines,
}

impl Gateway {
    /// Connects over TLS to `endpoint` (`host:port` or `https://host:port`), trusting `tls_root_pem`
    /// and checking the peer's certificate against `tls_server_name` rather than the address
    /// (peers on 127.0.0.1 carry their host name in the certificate).
    pub async fn connect(
        endpoint: &str,
        tls_root_pem: &[u8],
        tls_server_name: &str,
        signer: SigningIdentity,
    ) -> Result<Self, GatewayError> {
        let fail = |reason: String| GatewayError::Connect {
            endpoint: endpoint.to_string(),
            reason,
        };
        let channel = peer_endpoint(endpoint, tls_root_pem, tls_server_name)
            .map_err(fail)?
            .connect()
            .await
            .map_err(|e| fail(error_chain(&e)))?;
        Ok(Self::from_channel_at(channel, signer, endpoint))
    }

    /// Uses an already built channel (custom TLS, interceptors, tests); errors name no peer.
    pub fn from_channel(channel: Channel, signer: SigningIdentity) -> Self {
        Self::from_channel_at(channel, signer, UNNAMED_PEER)
    }

    /// Uses an already built channel to the peer at `endpoint` (the address errors name).
    pub fn from_channel_at(
        channel: Channel,
        signer: SigningIdentity,
        endpoint: impl Into<String>,
    ) -> Self {
        Self {
            client: GatewayClient::new(channel),
            signer: Arc::new(signer),
            endpoint: Arc::from(endpoint.into()),
            deadlines: Deadlines::default(),
        }
    }

    /// This gateway with other per-call deadlines (every network and contract made from it
    /// afterwards inherits them).
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// The per-call deadlines in force.
    pub fn deadlines(&self) -> Deadlines {
        self.deadlines
    }

    /// The peer address this gateway talks to, as errors name it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The identity that signs this gateway's requests.
    pub fn signer(&self) -> &SigningIdentity {
        &self.signer
    }

    /// A channel of the Fabric network, reached through this gateway.
    pub fn network(&self, channel: impl Into<String>) -> Network {
        Network {
            gateway: self.clone(),
            channel: channel.into(),
        }
    }

    pub(crate) fn client(&self) -> GatewayClient<Channel> {
        self.client.clone()
    }

    pub(crate) fn signer_arc(&self) -> Arc<SigningIdentity> {
        self.signer.clone()
    }

    pub(crate) fn endpoint_arc(&self) -> Arc<str> {
        self.endpoint.clone()
    }
}

/// A Fabric channel as seen through a gateway.
#[derive(Clone, Debug)]
pub struct Network {
    pub(crate) gateway: Gateway,
    pub(crate) channel: String,
}

impl Network {
    pub fn channel(&self) -> &str {
        &self.channel
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// This network with other per-call deadlines.
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.gateway.deadlines = deadlines;
        self
    }

    /// The commit of a transaction submitted earlier, e.g. after a submit failed or timed out, to
    /// learn whether it committed before trying the change again.
    pub fn commit_of(&self, tx_id: impl Into<String>) -> Commit {
        Commit::new(&self.gateway, self.channel.clone(), tx_id.into())
    }

    /// A chaincode deployed on this channel.
    pub fn contract(&self, chaincode: impl Into<String>) -> Contract {
        Contract::new(self.clone(), chaincode.into())
    }

    /// The channel's height on the gateway's peer (blocks `0..height` are committed there), read
    /// with the query system chaincode's `GetChainInfo`; any channel member may ask.
    pub async fn block_height(&self) -> Result<u64, GatewayError> {
        let bytes = self
            .contract("qscc")
            .evaluate("GetChainInfo", &[self.channel.as_bytes()])
            .await?;
        let info = sf2c_protos::common::BlockchainInfo::decode(bytes.as_slice()).map_err(|e| {
            GatewayError::BadResponse {
                what: "qscc GetChainInfo answer",
                reason: e.to_string(),
            }
        })?;
        Ok(info.height)
    }
}

/// A peer address (`host:port` or a URI) with TLS and the connect timeout set; the error says
/// why the address or the TLS settings are unusable.
pub(crate) fn peer_endpoint(
    endpoint: &str,
    tls_root_pem: &[u8],
    tls_server_name: &str,
) -> Result<Endpoint, String> {
    let uri = if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("https://{endpoint}")
    };
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(tls_root_pem))
        .domain_name(tls_server_name);
    Endpoint::from_shared(uri)
        .map_err(|e| format!("not a valid address: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tls_config(tls)
        .map_err(|e| format!("TLS settings refused: {e}"))
}

/// Every cause in an error's chain: transport errors hide the useful part (TLS, refused) inside.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
