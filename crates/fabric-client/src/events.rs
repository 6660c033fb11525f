//! The chaincode event stream of a network, opened from a start position or a saved checkpoint.

use std::collections::VecDeque;

use prost::Message;
use sf2c_protos::gateway::{
    ChaincodeEventsRequest, ChaincodeEventsResponse, SignedChaincodeEventsRequest,
};
use sf2c_protos::orderer::{
    SeekNewest, SeekNextCommit, SeekPosition, SeekSpecified, seek_position,
};
use tonic::Streaming;

use crate::error::GatewayError;
use crate::gateway::Network;
use crate::status::PeerStatus;

/// Where an event stream begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    /// Only blocks committed after the request (what a fresh listener wants).
    NextCommit,
    /// From the newest block already committed.
    Newest,
    /// From block `n`, all its events included.
    Block(u64),
    /// Inside `block`, after the event of transaction `tx_id`: where a listener left off.
    AfterTx { block: u64, tx_id: String },
}

/// One chaincode event with where it was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodeEvent {
    pub block: u64,
    pub tx_id: String,
    pub chaincode: String,
    pub name: String,
    pub payload: Vec<u8>,
}

impl Network {
    /// Opens the stream of `chaincode`'s events, signed by this gateway's identity.
    pub async fn chaincode_events(
        &self,
        chaincode: &str,
        start: StartPosition,
    ) -> Result<ChaincodeEvents, GatewayError> {
        let (position, after_tx) = match start {
            StartPosition::NextCommit => (seek_position::Type::NextCommit(SeekNextCommit {}), ""),
            StartPosition::Newest => (seek_position::Type::Newest(SeekNewest {}), ""),
            StartPosition::Block(n) => (
                seek_position::Type::Specified(SeekSpecified { number: n }),
                "",
            ),
            StartPosition::AfterTx { block, ref tx_id } => (
                seek_position::Type::Specified(SeekSpecified { number: block }),
                tx_id.as_str(),
            ),
        };
        let signer = self.gateway.signer();
        let request = ChaincodeEventsRequest {
            channel_id: self.channel.clone(),
            chaincode_id: chaincode.to_string(),
            identity: signer.identity().serialize(),
            start_position: Some(SeekPosition {
                r#type: Some(position),
            }),
            after_transaction_id: after_tx.to_string(),
        }
        .encode_to_vec();
        let signature = signer.sign(&request)?;
        let stream = self
            .gateway
            .client()
            .chaincode_events(SignedChaincodeEventsRequest { request, signature })
            .await
            .map_err(|s| GatewayError::Events {
                chaincode: chaincode.to_string(),
                status: PeerStatus::from_status(&s),
            })?
            .into_inner();
        Ok(ChaincodeEvents {
            chaincode: chaincode.to_string(),
            stream,
            pending: VecDeque::new(),
        })
    }
}

/// Events in commit order; each block's events are delivered one at a time.
#[derive(Debug)]
pub struct ChaincodeEvents {
    chaincode: String,
    stream: Streaming<ChaincodeEventsResponse>,
    pending: VecDeque<ChaincodeEvent>,
}

impl ChaincodeEvents {
    /// The next event; `None` when the peer closed the stream.
    pub async fn next(&mut self) -> Option<Result<ChaincodeEvent, GatewayError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            match self.stream.message().await {
                Ok(Some(response)) => {
                    let block = response.block_number;
                    self.pending
                        .extend(response.events.into_iter().map(|e| ChaincodeEvent {
                            block,
                            tx_id: e.tx_id,
                            chaincode: e.chaincode_id,
                            name: e.event_name,
                            payload: e.payload,
                        }));
                }
                Ok(None) => return None,
                Err(s) => {
                    return Some(Err(GatewayError::Events {
                        chaincode: self.chaincode.clone(),
                        status: PeerStatus::from_status(&s),
                    }));
                }
            }
        }
    }
}
