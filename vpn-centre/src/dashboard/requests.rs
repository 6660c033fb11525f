//! The Requests page: accepted telemetry as the cloud sink reports it (totals, rate, recent rows).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Extension, State};
use axum::response::{Html, IntoResponse, Response};
use sink_api::{CountsResponse, SinkClient, TelemetryQuery, TelemetryRecord};

use super::DashboardState;
use super::html::{Nav, Viewer, esc, page as frame, utc_time};
use crate::auth::Operator;

/// How far back "recent" reaches.
pub const RECENT_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Most devices queried for recent rows per refresh, to bound the load on the sink.
pub const RECENT_DEVICES: usize = 20;
/// Most recent rows shown.
pub const RECENT_ROWS: usize = 25;
/// Longest measurement text shown per row.
const DATA_PREVIEW: usize = 160;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Newest rows of the busiest devices; the sink's query API is per device and ordered by seq.
async fn recent(sink: &SinkClient, counts: &CountsResponse) -> Vec<TelemetryRecord> {
    let mut devices: Vec<_> = counts.devices.iter().collect();
    devices.sort_by_key(|d| std::cmp::Reverse(d.rows));
    let from_ms = now_ms().saturating_sub(RECENT_WINDOW.as_millis() as u64);
    let mut rows = Vec::new();
    for d in devices.into_iter().take(RECENT_DEVICES) {
        let query = TelemetryQuery {
            device: d.device.clone(),
            from_ms: Some(from_ms),
            to_ms: None,
            limit: Some(1000),
        };
        match sink.query(&query).await {
            Ok(mut records) => {
                let keep = records.len().saturating_sub(RECENT_ROWS);
                rows.extend(records.drain(keep..));
            }
            Err(e) => tracing::warn!(error = %e, device = %d.device, "sink query failed"),
        }
    }
    rows.sort_by(|a, b| b.received_ms.cmp(&a.received_ms).then(b.seq.cmp(&a.seq)));
    rows.truncate(RECENT_ROWS);
    rows
}

fn preview(data: &serde_json::Value) -> String {
    let text = data.to_string();
    if text.chars().count() <= DATA_PREVIEW {
        return text;
    }
    let cut: String = text.chars().take(DATA_PREVIEW).collect();
    format!("{cut}…")
}

/// The live part of the page.
async fn fragment(state: &DashboardState) -> String {
    let Some(sink) = &state.sink else {
        return "<p class=\"error\" role=\"alert\">No cloud sink is configured, so accepted \
                requests cannot be shown. Start the centre with <code>--sink-url \
                http://HOST:PORT</code>.</p>"
            .into();
    };
    let counts = match sink.counts().await {
        Ok(c) => c,
        Err(e) => {
            return format!(
                "<p class=\"error unreachable\" role=\"alert\"><strong>Sink unreachable.</strong> \
                 {}</p>",
                esc(&e.to_string())
            );
        }
    };
    let rate = state
        .rate
        .observe(counts.total)
        .map(|r| format!("{r:.2} per second over the last minute"))
        .unwrap_or_else(|| "measuring…".into());
    let mut out = format!(
        "<dl class=\"totals\"><dt>Accepted requests stored</dt><dd id=\"accepted-total\">{}</dd>\
         <dt>Rate</dt><dd id=\"accepted-rate\">{}</dd><dt>Devices</dt><dd>{}</dd></dl>",
        counts.total,
        esc(&rate),
        counts.devices.len()
    );
    let rows = recent(sink, &counts).await;
    out.push_str("<h2>Recent accepted messages</h2>");
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">None in the last 10 minutes.</p>");
    } else {
        out.push_str(
            "<table><thead><tr><th>Received</th><th>Device</th><th>Seq</th><th>Validator</th>\
             <th>Measurements</th></tr></thead><tbody>",
        );
        for r in &rows {
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                utc_time(r.received_ms),
                esc(&r.device),
                r.seq,
                esc(&r.validator),
                esc(&preview(&r.data)),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str(
        "<h2>Per device</h2><table><thead><tr><th>Device</th><th>Stored</th><th>Highest seq</th>\
         </tr></thead><tbody>",
    );
    for d in &counts.devices {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&d.device),
            d.rows,
            d.max_seq
        );
    }
    out.push_str("</tbody></table>");
    out
}

pub async fn page(
    State(state): State<DashboardState>,
    Extension(op): Extension<Operator>,
) -> Response {
    let live = fragment(&state).await;
    let body = format!(
        "<p class=\"hint\">Successful requests as stored by the cloud sink; updates every 2 seconds.</p>\
         <div id=\"requests-live\" data-live=\"/dashboard/requests/live\">{live}</div>"
    );
    let viewer = Viewer {
        name: &op.name,
        csrf: &op.csrf,
    };
    Html(frame("Requests", Nav::Requests, &viewer, &body)).into_response()
}

pub async fn live(State(state): State<DashboardState>) -> Response {
    Html(fragment(&state).await).into_response()
}
