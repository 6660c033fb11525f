//! The gate in front of every dashboard route: a live session for reads, plus its CSRF token
//! for anything that changes state.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::csrf::{CSRF_FIELD, CSRF_HEADER, form_field, tokens_match};
use super::session::{SessionStore, session_id_from_cookies};

/// Largest form body the gate reads while looking for the CSRF field.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The logged-in operator, placed in the request's extensions by [`require_operator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub csrf: String,
    pub session_id: String,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, format!("{message}\n")).into_response()
}

/// Lets a request through only with a live session, and a state change only with its token.
/// Unauthenticated page loads are sent to the login page; other methods get 401 or 403.
pub async fn require_operator(
    State(sessions): State<Arc<SessionStore>>,
    mut request: Request,
    next: Next,
) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    let session_id = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(session_id_from_cookies)
        .map(str::to_string);
    let session = session_id
        .as_deref()
        .and_then(|id| sessions.get(id).map(|s| (id.to_string(), s)));
    let Some((session_id, session)) = session else {
        return if safe {
            Redirect::to("/login").into_response()
        } else {
            refuse(
                StatusCode::UNAUTHORIZED,
                "no valid session: log in at /login first",
            )
        };
    };
    if !safe {
        let header_token = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let token = match header_token {
            Some(t) => Some(t),
            None => {
                let (parts, body) = request.into_parts();
                let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
                    return refuse(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "form body too large or unreadable",
                    );
                };
                let found = form_field(&bytes, CSRF_FIELD);
                request = Request::from_parts(parts, Body::from(bytes));
                found
            }
        };
        if !token.is_some_and(|t| tokens_match(&session.csrf, &t)) {
            tracing::warn!(operator = %session.operator, path = %request.uri().path(),
                "refused a state change without the session's CSRF token");
            return refuse(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token: reload the page and try again",
            );
        }
    }
    request.extensions_mut().insert(Operator {
        name: session.operator,
        csrf: session.csrf,
        session_id,
    });
    next.run(request).await
}
