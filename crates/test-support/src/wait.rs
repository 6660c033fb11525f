//! Polling helpers: wait for a condition with a deadline and report how long it took.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every `every` until it yields a value or `limit` passes; returns the value and
/// the time it took, or `None` on timeout.
pub async fn until<T, F, Fut>(
    limit: Duration,
    every: Duration,
    mut check: F,
) -> Option<(T, Duration)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some((value, start.elapsed()));
        }
        if start.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}
