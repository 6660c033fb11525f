//! Builds and signs the proposal for a chaincode call: the message a Fabric endorser simulates.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use prost::Message;
use prost_types::Timestamp;
use sf2c_protos::{common, peer};
use thiserror::Error;

use crate::identity::{Identity, SigningIdentity};
use crate::signer::SignError;

/// Length of the random nonce in every proposal header.
pub const NONCE_LEN: usize = 24;

/// Why a proposal could not be built or signed.
#[derive(Debug, Error)]
pub enum ProposalError {
    #[error("{field} is empty; a chaincode call needs a channel, a chaincode name and a function")]
    Missing { field: &'static str },
    #[error("the system random generator failed while making a proposal nonce")]
    Random,
    #[error("clock is before 1970 ({0}); fix the system time")]
    Clock(String),
    #[error("signing the proposal failed: {0}")]
    Sign(#[from] SignError),
}

/// What to invoke: channel, chaincode, function and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodeCall {
    pub channel: String,
    pub chaincode: String,
    pub function: String,
    pub args: Vec<Vec<u8>>,
    /// Inputs endorsers see but the ledger never stores.
    pub transient: BTreeMap<String, Vec<u8>>,
}

impl ChaincodeCall {
    pub fn new(
        channel: impl Into<String>,
        chaincode: impl Into<String>,
        function: impl Into<String>,
    ) -> Self {
        Self {
            channel: channel.into(),
            chaincode: chaincode.into(),
            function: function.into(),
            args: Vec::new(),
            transient: BTreeMap::new(),
        }
    }

    pub fn arg(mut self, arg: impl Into<Vec<u8>>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn transient(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.transient.insert(key.into(), value.into());
        self
    }

    fn check(&self) -> Result<(), ProposalError> {
        for (field, value) in [
            ("channel", &self.channel),
            ("chaincode", &self.chaincode),
            ("function", &self.function),
        ] {
            if value.is_empty() {
                return Err(ProposalError::Missing { field });
            }
        }
        Ok(())
    }
}

/// Fabric's transaction ID: lowercase hex of SHA-256(nonce || serialized creator).
/// Endorsers recompute it and reject a proposal whose header disagrees.
pub fn transaction_id(nonce: &[u8], creator: &[u8]) -> String {
    let mut input = Vec::with_capacity(nonce.len() + creator.len());
    input.extend_from_slice(nonce);
    input.extend_from_slice(creator);
    hex::encode(digest(&SHA256, &input))
}

/// An unsigned proposal: its exact bytes are what gets signed, here or offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    tx_id: String,
    channel: String,
    bytes: Vec<u8>,
}

impl Proposal {
    /// Builds a proposal with a fresh random nonce and the current time.
    pub fn new(call: &ChaincodeCall, creator: &Identity) -> Result<Self, ProposalError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| ProposalError::Random)?;
        Self::with_nonce(call, creator, nonce, SystemTime::now())
    }

    /// Builds a proposal from a given nonce and time (reproducible; callers own nonce uniqueness).
    pub fn with_nonce(
        call: &ChaincodeCall,
        creator: &Identity,
        nonce: [u8; NONCE_LEN],
        time: SystemTime,
    ) -> Result<Self, ProposalError> {
        call.check()?;
        let since_epoch = time
            .duration_since(UNIX_EPOCH)
            .map_err(|e| ProposalError::Clock(e.to_string()))?;
        let creator = creator.serialize();
        let tx_id = transaction_id(&nonce, &creator);

        let chaincode_id = peer::ChaincodeId {
            name: call.chaincode.clone(),
            ..Default::default()
        };
        let channel_header = common::ChannelHeader {
            r#type: common::HeaderType::EndorserTransaction as i32,
            timestamp: Some(Timestamp {
                seconds: i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(since_epoch.subsec_nanos()).unwrap_or(0),
            }),
            channel_id: call.channel.clone(),
            tx_id: tx_id.clone(),
            extension: peer::ChaincodeHeaderExtension {
                chaincode_id: Some(chaincode_id.clone()),
                ..Default::default()
            }
            .encode_to_vec(),
            ..Default::default()
        };
        let header = common::Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: common::SignatureHeader {
                creator,
                nonce: nonce.to_vec(),
            }
            .encode_to_vec(),
        };

        // Fabric's convention: args[0] is the function name.
        let mut args = Vec::with_capacity(call.args.len() + 1);
        args.push(call.function.as_bytes().to_vec());
        args.extend(call.args.iter().cloned());
        let invocation = peer::ChaincodeInvocationSpec {
            chaincode_spec: Some(peer::ChaincodeSpec {
                // peers ignore the language for invocations; NODE is what
                // Fabric's own gateway clients send
                r#type: peer::chaincode_spec::Type::Node as i32,
                chaincode_id: Some(chaincode_id),
                input: Some(peer::ChaincodeInput {
                    args,
                    ..Default::default()
                }),
                timeout: 0,
            }),
        };
        let payload = peer::ChaincodeProposalPayload {
            input: invocation.encode_to_vec(),
            transient_map: call
                .transient
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let proposal = peer::Proposal {
            header: header.encode_to_vec(),
            payload: payload.encode_to_vec(),
            extension: Vec::new(),
        };
        Ok(Self {
            tx_id,
            channel: call.channel.clone(),
            bytes: proposal.encode_to_vec(),
        })
    }

    pub fn tx_id(&self) -> &str {
        &self.tx_id
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The encoded `protos.Proposal`: sign exactly these bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Signs with the creator's key.
    pub fn sign(self, signer: &SigningIdentity) -> Result<peer::SignedProposal, ProposalError> {
        let signature = signer.sign(&self.bytes)?;
        Ok(self.with_signature(signature))
    }

    /// Attaches a signature made elsewhere (offline signing, HSM).
    pub fn with_signature(self, signature: Vec<u8>) -> peer::SignedProposal {
        peer::SignedProposal {
            proposal_bytes: self.bytes,
            signature,
        }
    }
}
