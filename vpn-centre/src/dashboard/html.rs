//! HTML building blocks: escaping, the page frame, and time formatting.
//!
//! Every value that is not a literal of this crate goes through [`esc`]: reasons, addresses and
//! submitter ids arrive from the network.

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for use in element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The dashboard's pages, for the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Warnings,
    Requests,
    Devices,
}

/// Who is logged in, for the header (name and the token of the logout form).
pub struct Viewer<'a> {
    pub name: &'a str,
    pub csrf: &'a str,
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · SF2C-BC VPN Centre</title>\
         <link rel=\"stylesheet\" href=\"/static/dashboard.css\">\
         <script src=\"/static/dashboard.js\" defer></script></head>",
        esc(title)
    )
}

/// A full dashboard page: header with navigation and logout, then `body` (already HTML).
pub fn page(title: &str, nav: Nav, viewer: &Viewer<'_>, body: &str) -> String {
    let link = |target: Nav, href: &str, label: &str| {
        let current = if target == nav {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{current}>{label}</a>")
    };
    format!(
        "{head}<body><header><span class=\"brand\">SF2C-BC VPN Centre</span><nav>{w}{r}{d}</nav>\
         <form method=\"post\" action=\"/logout\" class=\"logout\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <span class=\"who\">{name}</span> <button type=\"submit\">Log out</button></form></header>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        head = head(title),
        w = link(Nav::Warnings, "/dashboard/warnings", "Warnings"),
        r = link(Nav::Requests, "/dashboard/requests", "Requests"),
        d = link(Nav::Devices, "/dashboard/devices", "Devices"),
        csrf = esc(viewer.csrf),
        name = esc(viewer.name),
        title = esc(title),
    )
}

/// A page without the dashboard frame (login, errors before login).
pub fn bare_page(title: &str, body: &str) -> String {
    format!(
        "{}<body class=\"bare\"><main><h1>{}</h1>{body}</main></body></html>",
        head(title),
        esc(title)
    )
}

/// A dashboard page answering a failed action: what went wrong and a way back.
pub fn error_page(
    status: StatusCode,
    viewer: &Viewer<'_>,
    nav: Nav,
    message: &str,
    back: &str,
) -> Response {
    let body = format!(
        "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"{}\">Back</a></p>",
        esc(message),
        esc(back)
    );
    (status, Html(page("Request refused", nav, viewer, &body))).into_response()
}

/// `YYYY-MM-DD HH:MM:SS UTC` for milliseconds since the Unix epoch.
pub fn utc_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_date(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (era arithmetic over 400-year cycles).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_untrusted_text_is_neutralised() {
        let hostile = r#"<script>alert("x")</script> & 'y'"#;
        let out = esc(hostile);
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('"'));
        assert_eq!(
            out,
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn times_match_known_calendar_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        // 2000-02-29 is a leap day in a century year divisible by 400.
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_time(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc_time(253_402_300_799_999), "9999-12-31 23:59:59 UTC");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("a b&c=d"), "a%20b%26c%3Dd");
        assert_eq!(query_value("validator-1"), "validator-1");
    }
}
