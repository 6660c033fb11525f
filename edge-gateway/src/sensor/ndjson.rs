//! Newline-delimited JSON readings from a file, device or stdin; bad lines are logged and skipped.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::mpsc;

use signed_message::MAX_MEASUREMENT_NAME;

use super::Measurements;
use crate::stale::RESERVED_PREFIX;
use runtime::Shutdown;

/// Counts of what a reader went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NdjsonStats {
    pub lines: u64,
    pub readings: u64,
    pub bad: u64,
}

/// Parses one line: a JSON object of measurements (number, string or bool values).
/// Blank lines give `Ok(None)`.
pub fn parse_line(line: &str) -> Result<Option<Measurements>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let m: Measurements = serde_json::from_str(line)
        .map_err(|e| format!("not a JSON object of number/string/bool values: {e}"))?;
    if m.is_empty() {
        return Err("the object has no measurements".into());
    }
    if let Some(name) = m
        .keys()
        .find(|k| k.is_empty() || k.len() > MAX_MEASUREMENT_NAME)
    {
        return Err(format!(
            "measurement name {name:?} must be 1 to {MAX_MEASUREMENT_NAME} bytes"
        ));
    }
    if let Some(name) = m.keys().find(|k| k.starts_with(RESERVED_PREFIX)) {
        return Err(format!(
            "measurement name {name:?} starts with {RESERVED_PREFIX:?}, which the gateway keeps for itself"
        ));
    }
    Ok(Some(m))
}

/// Reads lines until end of input, shutdown, or until nobody listens; never fails on bad input.
pub async fn run<R: AsyncBufRead + Unpin>(
    reader: R,
    source: &str,
    tx: mpsc::Sender<Measurements>,
    mut shutdown: Shutdown,
    on_bad_line: impl Fn(),
) -> NdjsonStats {
    let mut stats = NdjsonStats::default();
    let mut lines = reader.lines();
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line,
            _ = shutdown.wait() => break,
        };
        let line = match line {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                // Invalid UTF-8 or a read error: the line is lost, the stream may go on.
                stats.lines += 1;
                stats.bad += 1;
                on_bad_line();
                tracing::warn!(source, line = stats.lines, error = %e, "skipping unreadable input line");
                if e.kind() == std::io::ErrorKind::InvalidData {
                    continue;
                }
                break;
            }
        };
        stats.lines += 1;
        match parse_line(&line) {
            Ok(Some(m)) => {
                stats.readings += 1;
                if tx.send(m).await.is_err() {
                    break;
                }
            }
            Ok(None) => {}
            Err(reason) => {
                stats.bad += 1;
                on_bad_line();
                tracing::warn!(source, line = stats.lines, %reason, "skipping bad input line");
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use signed_message::Measurement;

    #[test]
    fn objects_parse_and_everything_else_is_refused() {
        let m = parse_line(r#"{"t": 21.5, "door": "open", "ok": true}"#)
            .unwrap()
            .unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["ok"], Measurement::Bool(true));
        assert_eq!(parse_line("   ").unwrap(), None);
        for bad in [
            "[1,2]",
            "42",
            "{\"t\": null}",
            "{\"t\": {\"x\": 1}}",
            "{}",
            "{\"t\": 1",
            "{\"\": 1}",
            "{\"sf2c_taken_ms\": 1}",
        ] {
            assert!(parse_line(bad).is_err(), "{bad} was accepted");
        }
    }

    #[tokio::test]
    async fn bad_lines_are_counted_and_skipped_and_good_ones_flow_on() {
        let input =
            b"{\"a\": 1}\nnot json\n\n{\"a\": 2}\n{\"a\": [1]}\n\xff\xfe\n{\"a\": 3}\n".to_vec();
        let (tx, mut rx) = mpsc::channel(16);
        let (_stop, shutdown) = runtime::shutdown::channel();
        let bad_seen = std::sync::atomic::AtomicU64::new(0);
        let stats = run(&input[..], "test input", tx, shutdown, || {
            bad_seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .await;
        let mut got = Vec::new();
        while let Some(m) = rx.recv().await {
            got.push(m["a"].clone());
        }
        assert_eq!(
            got,
            vec![
                Measurement::from(1u64),
                Measurement::from(2u64),
                Measurement::from(3u64)
            ]
        );
        assert_eq!(
            stats,
            NdjsonStats {
                lines: 7,
                readings: 3,
                bad: 3
            }
        );
        assert_eq!(bad_seen.into_inner(), 3);
    }
}
