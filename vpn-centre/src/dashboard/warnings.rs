//! The Warnings page: refused messages as the validators reported them, filterable, live, deletable.

use std::fmt::Write as _;

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::DashboardState;
use super::html::{Nav, Viewer, error_page, esc, page as frame, query_value, utc_time};
use crate::auth::Operator;
use crate::warnings_store::{StoreError, WarningsStore};
use warnings_api::{Warning, WarningFilter};

/// Most rows the page shows; older warnings stay reachable through the API's paging.
pub const PAGE_ROWS: u32 = 200;

/// Filters as typed into the page's form; kept as text so a bad one can be shown back.
#[derive(Debug, Default, Deserialize)]
pub struct FilterForm {
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub submitter: String,
}

impl FilterForm {
    fn filter(&self) -> Result<WarningFilter, String> {
        let device = self.device.trim();
        let device = if device.is_empty() {
            None
        } else {
            match uuid::Uuid::parse_str(device) {
                Ok(u) => Some(u.hyphenated().to_string()),
                Err(_) => return Err(format!("Device filter {device:?} is not a UUID.")),
            }
        };
        let code = self.code.trim();
        let code = if code.is_empty() {
            None
        } else {
            Some(
                code.parse::<i32>()
                    .map_err(|_| format!("Code filter {code:?} is not a whole number."))?,
            )
        };
        let submitter = Some(self.submitter.trim().to_string()).filter(|s| !s.is_empty());
        Ok(WarningFilter {
            device,
            code,
            submitter,
            since_ms: None,
        })
    }

    fn query(&self) -> String {
        format!(
            "device={}&code={}&submitter={}",
            query_value(self.device.trim()),
            query_value(self.code.trim()),
            query_value(self.submitter.trim())
        )
    }
}

async fn load(
    store: &std::sync::Arc<WarningsStore>,
    filter: WarningFilter,
) -> Result<(Vec<Warning>, u64), String> {
    let store = store.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let page = store.list(&filter, PAGE_ROWS, None)?;
        let count = store.count(&filter)?;
        Ok::<_, StoreError>((page.warnings, count))
    })
    .await;
    match outcome {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "warnings page cannot read the store");
            Err(format!("The warnings store cannot be read: {e}"))
        }
        Err(e) => {
            tracing::error!(error = %e, "warnings store task failed");
            Err("The warnings store task failed; see the VPN Centre logs.".into())
        }
    }
}

/// The live part of the page: count and table. Served alone to the page's refresh script.
async fn fragment(state: &DashboardState, form: &FilterForm, csrf: &str) -> String {
    let filter = match form.filter() {
        Ok(f) => f,
        Err(message) => return format!("<p class=\"error\" role=\"alert\">{}</p>", esc(&message)),
    };
    let (rows, count) = match load(&state.store, filter).await {
        Ok(found) => found,
        Err(message) => return format!("<p class=\"error\" role=\"alert\">{}</p>", esc(&message)),
    };
    let mut out = format!(
        "<p class=\"summary\"><strong id=\"warning-count\">{count}</strong> matching warning{}{}</p>",
        if count == 1 { "" } else { "s" },
        if rows.len() >= PAGE_ROWS as usize {
            format!(", newest {PAGE_ROWS} shown")
        } else {
            String::new()
        }
    );
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">No warnings.</p>");
        return out;
    }
    out.push_str(
        "<table class=\"warnings\"><thead><tr><th>ID</th><th>Submitter</th>\
         <th>Offender address → device</th><th>Date</th><th>Code</th><th>Reason</th>\
         <th>Count</th><th>Last</th><th></th></tr></thead><tbody>",
    );
    for w in &rows {
        let n = &w.warning;
        let device = n
            .offender_device
            .as_deref()
            .map(|d| format!("<code>{}</code>", esc(d)))
            .unwrap_or_else(|| "<span class=\"muted\">no certificate</span>".into());
        let _ = write!(
            out,
            "<tr id=\"warning-{id}\"><td>{id}</td><td>{sub}</td>\
             <td><code>{addr}</code> → {device}</td><td>{date}</td><td>{code}</td>\
             <td class=\"reason\">{reason}</td><td class=\"count\">{count}</td><td>{last}</td><td>\
             <form method=\"post\" action=\"/dashboard/warnings/{id}/delete\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\" class=\"danger\">Delete</button></form></td></tr>",
            id = w.id,
            sub = esc(&n.submitter),
            addr = esc(&n.offender_address),
            date = utc_time(n.time_ms),
            code = n.code,
            reason = esc(&n.reason),
            count = w.count,
            last = utc_time(w.last_ms.max(n.time_ms)),
            csrf = esc(csrf),
        );
    }
    out.push_str("</tbody></table>");
    out
}

pub async fn page(
    State(state): State<DashboardState>,
    Extension(op): Extension<Operator>,
    Query(form): Query<FilterForm>,
) -> Response {
    let live = fragment(&state, &form, &op.csrf).await;
    let body = format!(
        "<form method=\"get\" action=\"/dashboard/warnings\" class=\"filters\">\
         <label>Device <input name=\"device\" value=\"{d}\" placeholder=\"UUID\"></label>\
         <label>Code <input name=\"code\" value=\"{c}\" placeholder=\"-32001\"></label>\
         <label>Submitter <input name=\"submitter\" value=\"{s}\" placeholder=\"validator id\"></label>\
         <button type=\"submit\">Filter</button> <a href=\"/dashboard/warnings\">Clear</a></form>\
         <p class=\"hint\">Updates every 2 seconds.</p>\
         <div id=\"warnings-live\" data-live=\"/dashboard/warnings/live?{q}\">{live}</div>",
        d = esc(&form.device),
        c = esc(&form.code),
        s = esc(&form.submitter),
        q = esc(&form.query()),
    );
    let viewer = Viewer {
        name: &op.name,
        csrf: &op.csrf,
    };
    Html(frame("Warnings", Nav::Warnings, &viewer, &body)).into_response()
}

pub async fn live(
    State(state): State<DashboardState>,
    Extension(op): Extension<Operator>,
    Query(form): Query<FilterForm>,
) -> Response {
    Html(fragment(&state, &form, &op.csrf).await).into_response()
}

async fn remove(state: &DashboardState, id: &str) -> Result<u64, (StatusCode, String)> {
    let id: u64 = id.parse().map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            format!("Warning id {id:?} is not a number."),
        )
    })?;
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.delete(id)).await {
        Ok(Ok(())) => Ok(id),
        Ok(Err(StoreError::NotFound(_))) => Err((
            StatusCode::NOT_FOUND,
            format!("Warning {id} does not exist; it may have been deleted already."),
        )),
        Ok(Err(e)) => {
            tracing::error!(error = %e, id, "cannot delete warning");
            Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Warning {id} could not be deleted: {e}"),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "warnings store task failed");
            Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "The warnings store task failed; see the VPN Centre logs.".into(),
            ))
        }
    }
}

/// `POST /dashboard/warnings/{id}/delete` from a row's Delete button.
pub async fn delete_form(
    State(state): State<DashboardState>,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
) -> Response {
    match remove(&state, &id).await {
        Ok(id) => {
            tracing::info!(id, operator = %op.name, "warning deleted from the dashboard");
            Redirect::to("/dashboard/warnings").into_response()
        }
        Err((status, message)) => {
            let viewer = Viewer {
                name: &op.name,
                csrf: &op.csrf,
            };
            error_page(
                status,
                &viewer,
                Nav::Warnings,
                &message,
                "/dashboard/warnings",
            )
        }
    }
}

/// `DELETE /dashboard/warnings/{id}` for scripts, with the token in the `X-CSRF-Token` header.
pub async fn delete(
    State(state): State<DashboardState>,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
) -> Response {
    match remove(&state, &id).await {
        Ok(id) => {
            tracing::info!(id, operator = %op.name, "warning deleted from the dashboard");
            StatusCode::NO_CONTENT.into_response()
        }
        Err((status, message)) => (status, format!("{message}\n")).into_response(),
    }
}
