//! A chaincode on a channel: evaluate (query one peer) and submit (endorse, order, commit).

use std::collections::BTreeMap;

use sf2c_protos::gateway::{EndorseRequest, EvaluateRequest, SubmitRequest};
use sf2c_protos::peer::SignedProposal;

use crate::commit::Commit;
use crate::deadline::{Call, Deadlines, Target};
use crate::envelope::transaction_result;
use crate::error::GatewayError;
use crate::gateway::Network;
use crate::proposal::{ChaincodeCall, Proposal};
use crate::status::PeerStatus;

/// Choices for one submit; the defaults let the gateway pick endorsers from the policy.
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    /// MSP IDs whose peers must endorse; empty lets the gateway decide.
    pub endorsing_organizations: Vec<String>,
    /// Inputs endorsers see but the ledger never stores.
    pub transient: BTreeMap<String, Vec<u8>>,
}

/// What a committed submit returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitResult {
    /// The chaincode's response payload.
    pub payload: Vec<u8>,
    pub tx_id: String,
    /// Block holding the committed transaction.
    pub block: u64,
}

/// A chaincode deployed on a network.
#[derive(Clone, Debug)]
pub struct Contract {
    network: Network,
    chaincode: String,
}

impl Contract {
    pub(crate) fn new(network: Network, chaincode: String) -> Self {
        Self { network, chaincode }
    }

    pub fn chaincode(&self) -> &str {
        &self.chaincode
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    /// This contract with other per-call deadlines.
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.network = self.network.with_deadlines(deadlines);
        self
    }

    /// Where and how long `call` of `function` may run.
    fn target<'a>(&'a self, call: Call, function: &'a str, tx_id: &'a str) -> Target<'a> {
        let gateway = &self.network.gateway;
        Target {
            call,
            deadline: gateway.deadlines().of(call),
            endpoint: gateway.endpoint(),
            function,
            tx_id,
        }
    }

    /// Runs `function` on one peer without ordering it: nothing is written to the ledger.
    pub async fn evaluate<A: AsRef<[u8]>>(
        &self,
        function: &str,
        args: &[A],
    ) -> Result<Vec<u8>, GatewayError> {
        let (tx_id, proposal) = self.signed_proposal(function, args, &BTreeMap::new())?;
        let call = async {
            self.network
                .gateway
                .client()
                .evaluate(EvaluateRequest {
                    transaction_id: tx_id.clone(),
                    channel_id: self.network.channel.clone(),
                    proposed_transaction: Some(proposal),
                    target_organizations: Vec::new(),
                })
                .await
                .map_err(|s| GatewayError::Evaluate {
                    function: function.to_string(),
                    tx_id: tx_id.clone(),
                    status: PeerStatus::from_status(&s),
                })
        };
        let response = self
            .target(Call::Evaluate, function, &tx_id)
            .run(call)
            .await?
            .into_inner();
        let result = response.result.ok_or_else(|| GatewayError::BadResponse {
            what: "evaluate response",
            reason: "no result".to_string(),
        })?;
        Ok(result.payload)
    }

    /// Submits `function` and waits until it is committed; an invalid commit is a `CommitError`.
    pub async fn submit<A: AsRef<[u8]>>(
        &self,
        function: &str,
        args: &[A],
    ) -> Result<SubmitResult, GatewayError> {
        self.submit_with(function, args, &SubmitOptions::default())
            .await
    }

    /// [`Contract::submit`] with endorsing organisations or transient data.
    pub async fn submit_with<A: AsRef<[u8]>>(
        &self,
        function: &str,
        args: &[A],
        options: &SubmitOptions,
    ) -> Result<SubmitResult, GatewayError> {
        let (payload, commit) = self.submit_async(function, args, options).await?;
        let block = commit.block().await?;
        Ok(SubmitResult {
            payload,
            tx_id: commit.tx_id().to_string(),
            block,
        })
    }

    /// Endorses and hands the transaction to the ordering service without waiting for the commit.
    /// Returns the chaincode's response and a handle that reports the commit later.
    pub async fn submit_async<A: AsRef<[u8]>>(
        &self,
        function: &str,
        args: &[A],
        options: &SubmitOptions,
    ) -> Result<(Vec<u8>, Commit), GatewayError> {
        let channel = self.network.channel.clone();
        let mut client = self.network.gateway.client();
        let (tx_id, proposal) = self.signed_proposal(function, args, &options.transient)?;
        let endorse = client.endorse(EndorseRequest {
            transaction_id: tx_id.clone(),
            channel_id: channel.clone(),
            proposed_transaction: Some(proposal),
            endorsing_organizations: options.endorsing_organizations.clone(),
        });
        let endorse = async {
            endorse.await.map_err(|s| GatewayError::Endorse {
                function: function.to_string(),
                tx_id: tx_id.clone(),
                status: PeerStatus::from_status(&s),
            })
        };
        let endorsed = self
            .target(Call::Endorse, function, &tx_id)
            .run(endorse)
            .await?
            .into_inner();
        let mut envelope =
            endorsed
                .prepared_transaction
                .ok_or_else(|| GatewayError::BadResponse {
                    what: "endorse response",
                    reason: "no prepared transaction".to_string(),
                })?;
        let payload = transaction_result(&envelope)?;
        // The orderer checks the submitter's signature over the exact payload bytes.
        envelope.signature = self.network.gateway.signer().sign(&envelope.payload)?;
        let submit = client.submit(SubmitRequest {
            transaction_id: tx_id.clone(),
            channel_id: channel.clone(),
            prepared_transaction: Some(envelope),
        });
        let submit = async {
            submit.await.map_err(|s| GatewayError::Submit {
                tx_id: tx_id.clone(),
                status: PeerStatus::from_status(&s),
            })
        };
        self.target(Call::Submit, "", &tx_id).run(submit).await?;
        let commit = Commit::new(&self.network.gateway, channel, tx_id);
        Ok((payload, commit))
    }

    fn signed_proposal<A: AsRef<[u8]>>(
        &self,
        function: &str,
        args: &[A],
        transient: &BTreeMap<String, Vec<u8>>,
    ) -> Result<(String, SignedProposal), GatewayError> {
        let mut call = ChaincodeCall::new(&self.network.channel, &self.chaincode, function);
        call.args = args.iter().map(|a| a.as_ref().to_vec()).collect();
        call.transient = transient.clone();
        let signer = self.network.gateway.signer();
        let proposal = Proposal::new(&call, signer.identity())?;
        let tx_id = proposal.tx_id().to_string();
        Ok((tx_id, proposal.sign(signer)?))
    }
}
