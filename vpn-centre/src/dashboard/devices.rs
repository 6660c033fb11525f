//! The Devices page: the ledger's registry with ban/unban, and one device's history.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Extension, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use device_record::DeviceRecord;
use device_record::contract::HistoryEntry;
use serde::Deserialize;

use super::DashboardState;
use super::html::{Nav, Viewer, error_page, esc, page as frame, query_value};
use crate::auth::Operator;
use crate::registry::{CentreRegistry, RegistryError};

/// Longest ban reason, in bytes; it is written to the ledger.
pub const MAX_REASON_LEN: usize = 256;

const NOT_CONNECTED: &str = "The ledger is not connected: this VPN Centre has no Fabric \
     connection configured, so the device registry cannot be shown or changed.";

fn viewer(op: &Operator) -> Viewer<'_> {
    Viewer {
        name: &op.name,
        csrf: &op.csrf,
    }
}

fn status_of(e: &RegistryError) -> StatusCode {
    match e {
        RegistryError::NotFound(_) => StatusCode::NOT_FOUND,
        RegistryError::Refused(_) => StatusCode::BAD_REQUEST,
        RegistryError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        RegistryError::IpTaken { .. } | RegistryError::Conflict(_) => StatusCode::CONFLICT,
    }
}

fn shown(op: &Operator, title: &str, body: &str) -> Response {
    Html(frame(title, Nav::Devices, &viewer(op), body)).into_response()
}

fn not_connected(op: &Operator) -> Response {
    let body = format!(
        "<p class=\"error\" role=\"alert\">{}</p>",
        esc(NOT_CONNECTED)
    );
    (StatusCode::SERVICE_UNAVAILABLE, shown(op, "Devices", &body)).into_response()
}

fn registry(state: &DashboardState) -> Option<&Arc<dyn CentreRegistry>> {
    state.registry.as_ref()
}

fn state_cell(r: &DeviceRecord) -> String {
    if r.banned {
        format!(
            "<span class=\"banned\">banned</span> {}<br><small>{}</small>",
            esc(r.banned_timestamp.as_deref().unwrap_or("")),
            esc(r.ban_reason.as_deref().unwrap_or(""))
        )
    } else {
        "<span class=\"active\">active</span>".into()
    }
}

/// Short fingerprint with the full value on hover.
fn fingerprint(fp: &str) -> String {
    let short: String = fp.chars().take(16).collect();
    format!("<code title=\"{}\">{}…</code>", esc(fp), esc(&short))
}

fn actions(r: &DeviceRecord, csrf: &str) -> String {
    let uuid = esc(&r.uuid);
    let csrf = esc(csrf);
    if r.banned {
        format!(
            "<form method=\"post\" action=\"/dashboard/devices/{uuid}/unban\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\" name=\"unban\">Unban</button></form>"
        )
    } else {
        format!(
            "<form method=\"post\" action=\"/dashboard/devices/{uuid}/ban\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input name=\"reason\" required maxlength=\"{MAX_REASON_LEN}\" placeholder=\"reason\" aria-label=\"Ban reason\">\
             <button type=\"submit\" name=\"ban\" class=\"danger\">Ban</button></form>"
        )
    }
}

pub async fn list(
    State(state): State<DashboardState>,
    Extension(op): Extension<Operator>,
) -> Response {
    let Some(reg) = registry(&state) else {
        return not_connected(&op);
    };
    let devices = match reg.list().await {
        Ok(d) => d,
        Err(e) => {
            return error_page(
                status_of(&e),
                &viewer(&op),
                Nav::Devices,
                &e.to_string(),
                "/dashboard/devices",
            );
        }
    };
    let mut body = format!(
        "<p class=\"summary\">{} device{} registered.</p>",
        devices.len(),
        if devices.len() == 1 { "" } else { "s" }
    );
    body.push_str(
        "<table class=\"devices\"><thead><tr><th>Device</th><th>Type</th><th>Virtual IP</th>\
         <th>State</th><th>Key fingerprint</th><th>Ban / unban</th></tr></thead><tbody>",
    );
    for r in &devices {
        let _ = write!(
            body,
            "<tr id=\"device-{id}\"><td><a href=\"/dashboard/devices/{link}\">{id}</a></td>\
             <td>{kind}</td><td><code>{ip}</code></td><td class=\"state\">{state}</td>\
             <td>{fp}</td><td>{actions}</td></tr>",
            id = esc(&r.uuid),
            link = query_value(&r.uuid),
            kind = esc(r.node_type.as_str()),
            ip = esc(&r.virtual_ip),
            state = state_cell(r),
            fp = fingerprint(&r.key_fingerprint),
            actions = actions(r, &op.csrf),
        );
    }
    body.push_str("</tbody></table>");
    shown(&op, "Devices", &body)
}

/// What a history entry changed, judged against the entry before it.
fn change(prev: Option<&HistoryEntry>, entry: &HistoryEntry) -> &'static str {
    let before = prev.and_then(|p| p.record.as_ref());
    match (before, entry.record.as_ref()) {
        (_, None) => "deleted",
        (None, Some(_)) => "registered",
        (Some(b), Some(a)) if !b.banned && a.banned => "banned",
        (Some(b), Some(a)) if b.banned && !a.banned => "unbanned",
        (Some(b), Some(a)) if b.key_fingerprint != a.key_fingerprint => "key rotated",
        _ => "updated",
    }
}

pub async fn detail(
    State(state): State<DashboardState>,
    Extension(op): Extension<Operator>,
    Path(uuid): Path<String>,
) -> Response {
    let Some(reg) = registry(&state) else {
        return not_connected(&op);
    };
    let fail = |e: RegistryError| {
        error_page(
            status_of(&e),
            &viewer(&op),
            Nav::Devices,
            &e.to_string(),
            "/dashboard/devices",
        )
    };
    let record = match reg.get(&uuid).await {
        Ok(Some(r)) => r,
        Ok(None) => return fail(RegistryError::NotFound(uuid.clone())),
        Err(e) => return fail(e),
    };
    let history = match reg.history(&uuid).await {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let mut body = format!(
        "<p><a href=\"/dashboard/devices\">← All devices</a></p><dl class=\"record\">\
         <dt>UUID</dt><dd><code>{}</code></dd><dt>Type</dt><dd>{}</dd>\
         <dt>Virtual IP</dt><dd><code>{}</code></dd><dt>State</dt><dd class=\"state\">{}</dd>\
         <dt>Key</dt><dd>{} <code>{}</code></dd><dt>Owner</dt><dd>{}</dd>\
         <dt>Version</dt><dd>{}</dd><dt>Ban / unban</dt><dd>{}</dd></dl>",
        esc(&record.uuid),
        esc(record.node_type.as_str()),
        esc(&record.virtual_ip),
        state_cell(&record),
        esc(record.key_algorithm.as_str()),
        esc(&record.key_fingerprint),
        esc(&record.owner_msp),
        record.version,
        actions(&record, &op.csrf),
    );
    body.push_str(
        "<h2>History</h2><table class=\"history\"><thead><tr><th>Time</th><th>Change</th>\
         <th>Version</th><th>State</th><th>Transaction</th></tr></thead><tbody>",
    );
    // Newest first, as an audit trail is read.
    for (i, entry) in history.iter().enumerate().rev() {
        let prev = i.checked_sub(1).and_then(|p| history.get(p));
        let (version, state) = entry
            .record
            .as_ref()
            .map(|r| (r.version.to_string(), state_cell(r)))
            .unwrap_or_else(|| ("–".into(), "deleted".into()));
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"change\">{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&entry.timestamp),
            change(prev, entry),
            version,
            state,
            esc(&entry.tx_id),
        );
    }
    body.push_str("</tbody></table>");
    shown(&op, "Device history", &body)
}

/// Fields of the ban form.
#[derive(Deserialize)]
pub struct BanForm {
    #[serde(default)]
    pub reason: String,
}

pub async fn ban(
    State(state): State<DashboardState>,
    Extension(op): Extension<Operator>,
    Path(uuid): Path<String>,
    Form(form): Form<BanForm>,
) -> Response {
    let Some(reg) = registry(&state) else {
        return not_connected(&op);
    };
    let reason = form.reason.trim();
    if reason.is_empty() || reason.len() > MAX_REASON_LEN {
        return error_page(
            StatusCode::BAD_REQUEST,
            &viewer(&op),
            Nav::Devices,
            &format!(
                "A ban needs a reason of 1 to {MAX_REASON_LEN} bytes; it is kept on the ledger."
            ),
            "/dashboard/devices",
        );
    }
    match crate::ban::ban_and_revoke(reg.as_ref(), state.pki.as_deref(), &uuid, reason).await {
        Ok(_) => {
            tracing::info!(device = %uuid, operator = %op.name, reason, "device banned from the dashboard");
            Redirect::to("/dashboard/devices").into_response()
        }
        Err(e) => {
            let status = match &e {
                crate::ban::BanError::Registry(r) => status_of(r),
                crate::ban::BanError::Revoke { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error_page(
                status,
                &viewer(&op),
                Nav::Devices,
                &e.to_string(),
                "/dashboard/devices",
            )
        }
    }
}

pub async fn unban(
    State(state): State<DashboardState>,
    Extension(op): Extension<Operator>,
    Path(uuid): Path<String>,
) -> Response {
    let Some(reg) = registry(&state) else {
        return not_connected(&op);
    };
    match reg.unban(&uuid).await {
        Ok(_) => {
            tracing::info!(device = %uuid, operator = %op.name, "device unbanned from the dashboard");
            Redirect::to("/dashboard/devices").into_response()
        }
        Err(e) => error_page(
            status_of(&e),
            &viewer(&op),
            Nav::Devices,
            &e.to_string(),
            "/dashboard/devices",
        ),
    }
}
