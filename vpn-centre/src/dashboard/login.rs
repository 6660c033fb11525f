//! Login and logout: checks a password, throttles failures per address, starts and ends sessions.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Extension, Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::DashboardState;
use super::html::{bare_page, esc};
use crate::auth::Operator;

/// Fields of the login form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

fn login_page(status: StatusCode, message: Option<&str>, username: &str) -> Response {
    let alert = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default();
    let body = format!(
        "{alert}<form method=\"post\" action=\"/login\" class=\"login\">\
         <label>Operator <input name=\"username\" autocomplete=\"username\" required value=\"{}\"></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Log in</button></form>",
        esc(username)
    );
    (status, Html(bare_page("Log in", &body))).into_response()
}

pub async fn page() -> Response {
    login_page(StatusCode::OK, None, "")
}

/// True when the request either names no origin or names this server (login CSRF defence).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bare = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    bare == Some(host)
}

pub async fn submit(
    State(state): State<DashboardState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    // Without connection info every client shares one bucket: stricter, never looser.
    let addr = peer.map_or(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        |Extension(ConnectInfo(a))| a.ip(),
    );
    if !same_origin(&headers) {
        return login_page(
            StatusCode::FORBIDDEN,
            Some("This login came from another site and was refused."),
            "",
        );
    }
    if let Some(wait) = state.limiter.blocked_for(addr) {
        tracing::warn!(%addr, "login refused: too many failures");
        return login_page(
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many failed logins from your address; try again in {} s.",
                wait.as_secs().max(1)
            )),
            &form.username,
        );
    }
    let operators = state.operators.clone();
    let (name, password) = (form.username.clone(), form.password);
    let checked = tokio::task::spawn_blocking(move || operators.check(&name, &password)).await;
    let ok = match checked {
        Ok(Ok(ok)) => ok,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot check operator password");
            return login_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(
                    "Operator accounts cannot be read; the administrator should check the VPN Centre logs.",
                ),
                &form.username,
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "password check task failed");
            return login_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("Login failed inside the server; try again."),
                &form.username,
            );
        }
    };
    if !ok {
        state.limiter.record_failure(addr);
        tracing::warn!(%addr, operator = %form.username, "failed login");
        return login_page(
            StatusCode::UNAUTHORIZED,
            Some("Wrong operator name or password."),
            &form.username,
        );
    }
    let (id, _) = match state.sessions.create(&form.username) {
        Ok(created) => created,
        Err(e) => {
            tracing::error!(error = %e, "no randomness for a session id");
            return login_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("The server cannot create a session right now; try again."),
                &form.username,
            );
        }
    };
    tracing::info!(%addr, operator = %form.username, "operator logged in");
    (
        [(header::SET_COOKIE, state.sessions.cookie(&id))],
        Redirect::to("/dashboard/warnings"),
    )
        .into_response()
}

pub async fn logout(
    State(state): State<DashboardState>,
    Extension(operator): Extension<Operator>,
) -> Response {
    state.sessions.remove(&operator.session_id);
    tracing::info!(operator = %operator.name, "operator logged out");
    (
        [(header::SET_COOKIE, state.sessions.clearing_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
}
