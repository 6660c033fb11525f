//! Reads what a transaction needs from the peer's SignedProposal: submitter and timestamp.
//!
//! Path through the bytes (Fabric's): SignedProposal.proposal_bytes → Proposal.header →
//! Header{channel_header → ChannelHeader.timestamp, signature_header → SignatureHeader.creator →
//! msp.SerializedIdentity}.

use prost::Message;
use sf2c_protos::Timestamp;
use sf2c_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use sf2c_protos::msp::SerializedIdentity;
use sf2c_protos::protos::{Proposal, SignedProposal};

/// The identity that signed the proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub msp_id: String,
    /// The submitter's certificate, PEM as Fabric serialises it.
    pub id_bytes: Vec<u8>,
}

/// Submitter and time of one transaction, taken from its proposal.
#[derive(Clone, Debug, PartialEq)]
pub struct ProposalFacts {
    pub creator: Identity,
    pub timestamp: Timestamp,
    pub channel_header_tx_id: String,
}

/// Why a proposal could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProposalError {
    #[error("transaction carries no signed proposal; the submitter and timestamp cannot be known")]
    Missing,
    #[error("proposal {part} is not valid protobuf: {reason}")]
    Decode { part: &'static str, reason: String },
    #[error("proposal has no {part}")]
    Empty { part: &'static str },
    #[error("channel header type {0} is not an endorser or config transaction")]
    WrongType(i32),
}

fn decode<M: Message + Default>(part: &'static str, bytes: &[u8]) -> Result<M, ProposalError> {
    if bytes.is_empty() {
        return Err(ProposalError::Empty { part });
    }
    M::decode(bytes).map_err(|e| ProposalError::Decode {
        part,
        reason: e.to_string(),
    })
}

/// Extracts submitter and timestamp from the proposal a TRANSACTION or INIT message carries.
pub fn read(signed: Option<&SignedProposal>) -> Result<ProposalFacts, ProposalError> {
    let signed = signed.ok_or(ProposalError::Missing)?;
    let proposal: Proposal = decode("bytes", &signed.proposal_bytes)?;
    let header: Header = decode("header", &proposal.header)?;
    let channel: ChannelHeader = decode("channel header", &header.channel_header)?;
    let allowed = [
        HeaderType::EndorserTransaction as i32,
        HeaderType::Config as i32,
    ];
    if !allowed.contains(&channel.r#type) {
        return Err(ProposalError::WrongType(channel.r#type));
    }
    let signature: SignatureHeader = decode("signature header", &header.signature_header)?;
    let creator: SerializedIdentity = decode("creator", &signature.creator)?;
    let timestamp = channel.timestamp.ok_or(ProposalError::Empty {
        part: "channel header timestamp",
    })?;
    Ok(ProposalFacts {
        creator: Identity {
            msp_id: creator.mspid,
            id_bytes: creator.id_bytes,
        },
        timestamp,
        channel_header_tx_id: channel.tx_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(channel: ChannelHeader, creator: &[u8]) -> SignedProposal {
        let header = Header {
            channel_header: channel.encode_to_vec(),
            signature_header: SignatureHeader {
                creator: creator.to_vec(),
                nonce: vec![1, 2, 3],
            }
            .encode_to_vec(),
        };
        let proposal = Proposal {
            header: header.encode_to_vec(),
            payload: Vec::new(),
            extension: Vec::new(),
        };
        SignedProposal {
            proposal_bytes: proposal.encode_to_vec(),
            signature: Vec::new(),
        }
    }

    fn endorser_header(seconds: i64) -> ChannelHeader {
        ChannelHeader {
            r#type: HeaderType::EndorserTransaction as i32,
            timestamp: Some(Timestamp { seconds, nanos: 7 }),
            tx_id: "abc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn reads_creator_and_timestamp() {
        let creator = SerializedIdentity {
            mspid: "Org1MSP".into(),
            id_bytes: b"-----BEGIN CERTIFICATE-----".to_vec(),
        };
        let facts = read(Some(&signed(endorser_header(42), &creator.encode_to_vec()))).unwrap();
        assert_eq!(facts.creator.msp_id, "Org1MSP");
        assert_eq!(facts.creator.id_bytes, creator.id_bytes);
        assert_eq!(
            facts.timestamp,
            Timestamp {
                seconds: 42,
                nanos: 7
            }
        );
        assert_eq!(facts.channel_header_tx_id, "abc");
    }

    #[test]
    fn refuses_missing_garbled_and_wrong_type() {
        assert_eq!(read(None), Err(ProposalError::Missing));
        let garbled = SignedProposal {
            proposal_bytes: vec![0xff, 0xff, 0xff],
            signature: Vec::new(),
        };
        assert!(matches!(
            read(Some(&garbled)),
            Err(ProposalError::Decode { .. })
        ));
        let mut header = endorser_header(1);
        header.r#type = HeaderType::DeliverSeekInfo as i32;
        let creator = SerializedIdentity::default().encode_to_vec();
        assert_eq!(
            read(Some(&signed(header, &creator))),
            Err(ProposalError::WrongType(HeaderType::DeliverSeekInfo as i32))
        );
        assert_eq!(
            read(Some(&signed(endorser_header(1), &[]))),
            Err(ProposalError::Empty { part: "creator" })
        );
    }
}
