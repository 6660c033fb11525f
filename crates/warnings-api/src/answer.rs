//! JSON answers of the warnings API other than warnings themselves: a count and an error.

use serde::{Deserialize, Serialize};

/// JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    /// The offending field or query parameter, when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Position in a batch of the offending warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

/// Answer of `GET /v1/warnings/count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountBody {
    pub count: u64,
}
