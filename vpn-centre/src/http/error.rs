//! The warnings API's failures as answers: a status and an [`ErrorBody`] naming the field at fault.

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use warnings_api::ErrorBody;

use crate::warnings_store::StoreError;

/// A failed request: status plus the body that explains it.
#[derive(Debug)]
pub struct ApiError {
    pub(super) status: StatusCode,
    pub(super) body: ErrorBody,
}

impl ApiError {
    pub(super) fn bad_field(
        field: impl Into<String>,
        index: Option<usize>,
        problem: impl Into<String>,
    ) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: problem.into(),
                field: Some(field.into()),
                index,
            },
        }
    }

    pub(super) fn status(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: message.into(),
                field: None,
                index: None,
            },
        }
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            body: ErrorBody {
                error: message.into(),
                field: None,
                index: None,
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => Self::not_found(e.to_string()),
            StoreError::BadLimit(_) => Self::bad_field("limit", None, e.to_string()),
            StoreError::Open { .. } | StoreError::Sql { .. } => {
                tracing::error!(error = %e, "warnings store failed");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    body: ErrorBody {
                        error: format!("{e}; the operator should check the VPN Centre logs"),
                        field: None,
                        index: None,
                    },
                }
            }
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        Self {
            status: r.status(),
            body: ErrorBody {
                error: format!(
                    "{}; send at most the configured body limit, or split the batch",
                    r.body_text()
                ),
                field: Some("body".into()),
                index: None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
