//! Which warnings a list or count covers (and its query string), and one page of a listing.

use crate::warning::Warning;

/// Which warnings a list or count covers; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarningFilter {
    pub device: Option<String>,
    pub code: Option<i32>,
    pub submitter: Option<String>,
    /// Only warnings whose `time_ms` is at or after this instant.
    pub since_ms: Option<u64>,
}

/// One page of warnings, newest first, and the cursor for the next (older) page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WarningPage {
    pub warnings: Vec<Warning>,
    /// Pass as `before` to get the next page; `None` when this page is the last.
    pub next_before: Option<u64>,
}

/// The query parameters of `filter`, names as the API reads them.
pub(crate) fn filter_query(filter: &WarningFilter) -> Vec<String> {
    let mut query = Vec::new();
    if let Some(d) = &filter.device {
        query.push(format!("device={}", encode(d)));
    }
    if let Some(c) = filter.code {
        query.push(format!("code={c}"));
    }
    if let Some(s) = &filter.submitter {
        query.push(format!("submitter={}", encode(s)));
    }
    if let Some(t) = filter.since_ms {
        query.push(format!("since={t}"));
    }
    query
}

/// `path` with `query` appended, if any.
pub(crate) fn with_query(path: &str, query: &[String]) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_becomes_an_encoded_query() {
        let filter = WarningFilter {
            device: Some("a b&c".into()),
            code: Some(1004),
            submitter: None,
            since_ms: Some(5),
        };
        let query = filter_query(&filter);
        assert_eq!(query, ["device=a%20b%26c", "code=1004", "since=5"]);
        assert_eq!(
            with_query("/v1/warnings", &query),
            "/v1/warnings?device=a%20b%26c&code=1004&since=5"
        );
        assert_eq!(with_query("/v1/warnings", &[]), "/v1/warnings");
        assert!(filter_query(&WarningFilter::default()).is_empty());
    }
}
