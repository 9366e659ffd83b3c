//! Retries of work that failed before any row left: jittered, exponential,
//! bounded backoff, one `retry` span per repeated attempt, and a count the
//! connector reports as `dmesh.retries`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use dmesh_connector_api::{Error, ErrorKind, Result};
use tracing::Instrument;

/// Attempts after the first.
pub const RETRIES: usize = 4;

/// The backoff between attempts: 50 ms doubling to 1 s, jittered, at most
/// [`RETRIES`] times.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(1))
        .with_factor(2.0)
        .with_jitter()
        .with_max_times(RETRIES)
}

/// Whether an error is a transient failure worth retrying before any row
/// has been sent: the connection, not the statement, failed. A refused
/// login and a pool timeout (which already waited its whole time) are not.
pub fn is_transient(e: &Error) -> bool {
    e.is_retryable()
        && matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Aborted)
        && e.reason() != "SOURCE_AUTH_FAILED"
        && e.reason() != "POOL_TIMEOUT"
}

/// Runs `attempt` until it succeeds, fails for good, or the backoff runs
/// out. The first attempt runs in the caller's span; each repeat in a span
/// named `retry` with its attempt number. Every repeat adds one to
/// `retries`.
///
/// # Errors
/// The last attempt's error.
pub async fn with_retries<T, F, Fut>(connector: &str, what: &'static str, retries: &AtomicU64, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut delays = backoff().build();
    let mut number = 1u32;
    loop {
        let outcome = if number == 1 {
            attempt().await
        } else {
            let span = tracing::info_span!("retry", otel.name = "retry", attempt = number, connector = %connector);
            attempt().instrument(span).await
        };
        match outcome {
            Err(e) if is_transient(&e) => match delays.next() {
                Some(delay) => {
                    retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(connector = %connector, error = %e, ?delay, "retrying {what}");
                    tokio::time::sleep(delay).await;
                    number += 1;
                }
                None => return Err(e),
            },
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_and_counted() {
        let retries = AtomicU64::new(0);
        let mut calls = 0;
        let out = with_retries("c", "a test", &retries, || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(Error::unavailable("down")) } else { Ok(n) } }
        })
        .await;
        assert_eq!(out.ok(), Some(3));
        assert_eq!(retries.load(Ordering::Relaxed), 2);

        let mut calls = 0;
        let out: Result<()> = with_retries("c", "a test", &retries, || {
            calls += 1;
            async { Err(Error::invalid_argument("bad sql")) }
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls, 1, "a statement error is not retried");

        let mut calls = 0;
        let out: Result<()> = with_retries("c", "a test", &retries, || {
            calls += 1;
            async { Err(Error::unavailable("down")) }
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls, RETRIES + 1, "gives up after the backoff runs out");
    }
}
