//! A peer's gRPC error status: code, message and the `gateway.ErrorDetail` list it attaches.

use std::fmt;

use prost::Message;
use sf2c_protos::gateway::ErrorDetail;

/// Type URL under which the Gateway service packs each [`ErrorDetail`] in the status details.
pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/gateway.ErrorDetail";

/// `google.rpc.Status`, the encoding of gRPC's `grpc-status-details-bin` trailer.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// What a peer answered when a call failed: the status and, per endorser or orderer, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    pub code: tonic::Code,
    pub message: String,
    /// One entry per peer or orderer that failed (address, MSP ID, its own message).
    pub details: Vec<ErrorDetail>,
}

impl PeerStatus {
    /// Reads code, message and any `gateway.ErrorDetail` entries from a gRPC status.
    pub fn from_status(status: &tonic::Status) -> Self {
        let details = RpcStatus::decode(status.details())
            .map(|s| {
                s.details
                    .iter()
                    .filter(|any| any.type_url == ERROR_DETAIL_TYPE_URL)
                    .filter_map(|any| ErrorDetail::decode(any.value.as_slice()).ok())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            code: status.code(),
            message: status.message().to_string(),
            details,
        }
    }

    /// Builds a gRPC status carrying `details` the way the Gateway service does.
    pub fn to_status(&self) -> tonic::Status {
        let encoded = RpcStatus {
            code: self.code as i32,
            message: self.message.clone(),
            details: self
                .details
                .iter()
                .map(|d| prost_types::Any {
                    type_url: ERROR_DETAIL_TYPE_URL.to_string(),
                    value: d.encode_to_vec(),
                })
                .collect(),
        }
        .encode_to_vec();
        tonic::Status::with_details(self.code, self.message.clone(), encoded.into())
    }
}

impl fmt::Display for PeerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)?;
        for d in &self.details {
            write!(f, "; {} ({}): {}", d.address, d.msp_id, d.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_survive_the_grpc_status_encoding() {
        let sent = PeerStatus {
            code: tonic::Code::Aborted,
            message: "failed to endorse".into(),
            details: vec![
                ErrorDetail {
                    address: "peer0.org1:7051".into(),
                    msp_id: "Org1MSP".into(),
                    message: "chaincode response 500, denied".into(),
                },
                ErrorDetail {
                    address: "peer0.org2:9051".into(),
                    msp_id: "Org2MSP".into(),
                    message: "timeout".into(),
                },
            ],
        };
        let received = PeerStatus::from_status(&sent.to_status());
        assert_eq!(received, sent);
        let text = received.to_string();
        assert!(
            text.contains("Org2MSP") && text.contains("denied"),
            "{text}"
        );
    }

    #[test]
    fn status_without_details_has_none() {
        let received = PeerStatus::from_status(&tonic::Status::unavailable("down"));
        assert_eq!(received.code, tonic::Code::Unavailable);
        assert!(received.details.is_empty());
    }
}
