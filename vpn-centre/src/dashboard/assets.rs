//! The dashboard's static files, compiled into the binary so a deployment is one file.

use axum::http::header;
use axum::response::IntoResponse;

const SCRIPT: &str = include_str!("../../static/dashboard.js");
const STYLESHEET: &str = include_str!("../../static/dashboard.css");

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLESHEET,
    )
}
