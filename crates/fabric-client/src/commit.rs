//! A submitted transaction awaiting its commit: asks the peer, with a signed request, how it ended.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use sf2c_protos::gateway::gateway_client::GatewayClient;
use sf2c_protos::gateway::{CommitStatusRequest, SignedCommitStatusRequest};
use sf2c_protos::peer::TxValidationCode;
use tonic::transport::Channel;

use crate::deadline::{Call, Target};
use crate::error::{CommitError, GatewayError};
use crate::gateway::Gateway;
use crate::identity::SigningIdentity;
use crate::status::PeerStatus;

/// How a transaction ended on the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    pub tx_id: String,
    pub code: TxValidationCode,
    pub block: u64,
}

impl CommitStatus {
    pub fn is_valid(&self) -> bool {
        self.code == TxValidationCode::Valid
    }
}

/// Handle on a submitted transaction; [`Commit::status`] waits until the peer has committed it,
/// at most the gateway's commit-status deadline.
#[derive(Debug, Clone)]
pub struct Commit {
    client: GatewayClient<Channel>,
    signer: Arc<SigningIdentity>,
    endpoint: Arc<str>,
    deadline: Duration,
    channel: String,
    tx_id: String,
}

impl Commit {
    pub(crate) fn new(gateway: &Gateway, channel: String, tx_id: String) -> Self {
        Self {
            client: gateway.client(),
            signer: gateway.signer_arc(),
            endpoint: gateway.endpoint_arc(),
            deadline: gateway.deadlines().commit_status,
            channel,
            tx_id,
        }
    }

    /// This handle waiting at most `deadline` for the commit.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    pub fn tx_id(&self) -> &str {
        &self.tx_id
    }

    /// Waits for the commit and reports its validation code, valid or not.
    pub async fn status(&self) -> Result<CommitStatus, GatewayError> {
        let request = CommitStatusRequest {
            transaction_id: self.tx_id.clone(),
            channel_id: self.channel.clone(),
            identity: self.signer.identity().serialize(),
        }
        .encode_to_vec();
        let signature = self.signer.sign(&request)?;
        let target = Target {
            call: Call::CommitStatus,
            deadline: self.deadline,
            endpoint: &self.endpoint,
            function: "",
            tx_id: &self.tx_id,
        };
        let call = async {
            self.client
                .clone()
                .commit_status(SignedCommitStatusRequest { request, signature })
                .await
                .map_err(|s| GatewayError::CommitStatus {
                    tx_id: self.tx_id.clone(),
                    status: PeerStatus::from_status(&s),
                })
        };
        let response = target.run(call).await?.into_inner();
        let code =
            TxValidationCode::try_from(response.result).map_err(|_| GatewayError::BadResponse {
                what: "commit status",
                reason: format!("unknown validation code {}", response.result),
            })?;
        Ok(CommitStatus {
            tx_id: self.tx_id.clone(),
            code,
            block: response.block_number,
        })
    }

    /// Waits for the commit; a transaction marked invalid becomes a [`CommitError`].
    pub async fn block(&self) -> Result<u64, GatewayError> {
        let status = self.status().await?;
        if status.is_valid() {
            Ok(status.block)
        } else {
            Err(CommitError {
                tx_id: status.tx_id,
                code: status.code,
                block: status.block,
            }
            .into())
        }
    }
}
