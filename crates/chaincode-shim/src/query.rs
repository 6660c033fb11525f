//! Walks a peer query iterator: the first QueryResponse, then QUERY_STATE_NEXT while `has_more`.
//!
//! A paginated range query comes back as one response whose metadata carries the bookmark; an
//! unpaginated one (history) comes in batches. Stopping early closes the iterator on the peer.

use prost::Message;
use sf2c_protos::protos::chaincode_message::Type;
use sf2c_protos::protos::{QueryResponse, QueryResponseMetadata, QueryStateClose, QueryStateNext};

use crate::error::StubError;
use crate::stub::Stub;

/// All records of one query, still encoded, and its pagination metadata if the peer sent any.
pub(crate) struct Drained {
    pub records: Vec<Vec<u8>>,
    pub metadata: Option<QueryResponseMetadata>,
}

fn decode_response(
    operation: &'static str,
    key: &str,
    bytes: &[u8],
) -> Result<QueryResponse, StubError> {
    QueryResponse::decode(bytes).map_err(|e| StubError::Decode {
        operation,
        key: key.to_string(),
        reason: format!("QueryResponse: {e}"),
    })
}

pub(crate) fn drain(
    stub: &Stub,
    operation: &'static str,
    key: &str,
    first: &[u8],
    limit: usize,
) -> Result<Drained, StubError> {
    let mut response = decode_response(operation, key, first)?;
    let mut records = Vec::new();
    let mut metadata = None;
    loop {
        if !response.metadata.is_empty() {
            let m = QueryResponseMetadata::decode(response.metadata.as_slice()).map_err(|e| {
                StubError::Decode {
                    operation,
                    key: key.to_string(),
                    reason: format!("QueryResponseMetadata: {e}"),
                }
            })?;
            metadata = Some(m);
        }
        records.extend(response.results.into_iter().map(|r| r.result_bytes));
        if records.len() > limit {
            if response.has_more {
                close(stub, &response.id);
            }
            return Err(StubError::TooManyResults {
                operation,
                key: key.to_string(),
                limit,
            });
        }
        if !response.has_more {
            return Ok(Drained { records, metadata });
        }
        let next = QueryStateNext {
            id: response.id.clone(),
        };
        let bytes = stub.call(
            "QUERY_STATE_NEXT",
            key,
            Type::QueryStateNext,
            next.encode_to_vec(),
        )?;
        response = decode_response(operation, key, &bytes)?;
    }
}

/// Best effort: the peer also frees iterators when the transaction ends.
fn close(stub: &Stub, id: &str) {
    let body = QueryStateClose { id: id.to_string() };
    if let Err(e) = stub.call(
        "QUERY_STATE_CLOSE",
        id,
        Type::QueryStateClose,
        body.encode_to_vec(),
    ) {
        tracing::warn!(tx_id = stub.tx_id(), iterator = id, error = %e, "closing query iterator failed");
    }
}
