//! Pooled connections: checkouts in a `pool.checkout` span, retried when
//! the source is briefly away, and the pool's figures for `dmesh status`
//! and the `dmesh.pool.*` metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool::managed::{Manager, Object, Pool, PoolError};
use dmesh_connector_api::{Error, PoolStats, Result};
use tracing::Instrument;

use crate::retry::with_retries;

/// What a connector counts about its work.
#[derive(Debug, Default)]
pub struct Counters {
    /// Statements started.
    pub reads: AtomicU64,
    /// Attempts repeated after a transient failure.
    pub retries: AtomicU64,
    /// Statements cancelled at the source because the client left or ran
    /// out of time.
    pub cancels: AtomicU64,
}

/// The pool's figures now.
pub fn stats<M: Manager>(pool: &Pool<M>, counters: &Counters) -> PoolStats {
    let s = pool.status();
    PoolStats {
        open: s.size,
        max: s.max_size,
        in_use: s.size.saturating_sub(s.available),
        waiters: s.waiting,
        retries: counters.retries.load(Ordering::Relaxed),
    }
}

/// Where a pool connects, for messages and spans. Never holds a secret.
#[derive(Clone, Debug)]
pub struct Target {
    /// `host:port` or a socket path.
    pub address: String,
    /// The database (namespace) name.
    pub database: String,
    /// The user name.
    pub user: String,
    /// The source's name in messages, e.g. `PostgreSQL`, `MySQL`.
    pub system: &'static str,
    /// `db.system.name` in spans, e.g. `postgresql`, `mysql`.
    pub otel_system: &'static str,
}

/// Maps a pool error; `backend` maps the source's own.
pub fn pool_error<E: std::fmt::Display>(e: PoolError<E>, target: &Target, wait: Duration, backend: impl FnOnce(E) -> Error) -> Error {
    match e {
        PoolError::Backend(b) => backend(b),
        PoolError::Timeout(_) => Error::unavailable(format!(
            "no {} connection to {} within {wait:?}: every pooled connection is busy or the server is not answering",
            target.system, target.address
        ))
        .with_reason("POOL_TIMEOUT"),
        PoolError::Closed => Error::unavailable("the connector is shutting down").with_reason("POOL_CLOSED"),
        other => Error::unavailable(format!("{} pool: {other}", target.system)).with_reason("SOURCE_UNAVAILABLE"),
    }
}

/// One checkout, in a `pool.checkout` span.
///
/// # Errors
/// As [`pool_error`].
pub async fn checkout_once<M: Manager>(
    pool: &Pool<M>,
    connector: &str,
    target: &Target,
    wait: Duration,
    backend: impl FnOnce(M::Error) -> Error,
) -> Result<Object<M>>
where
    M::Error: std::fmt::Display,
{
    let span = tracing::info_span!(
        "pool.checkout",
        otel.name = "pool.checkout",
        connector = %connector,
        db.system.name = target.otel_system,
    );
    pool.get().instrument(span).await.map_err(|e| pool_error(e, target, wait, backend))
}

/// A checkout retried with backoff while the source is briefly away.
///
/// # Errors
/// As [`pool_error`], after the retries.
pub async fn checkout<M: Manager>(
    pool: &Pool<M>,
    connector: &str,
    target: &Target,
    wait: Duration,
    counters: &Counters,
    backend: impl Fn(M::Error) -> Error,
) -> Result<Object<M>>
where
    M::Error: std::fmt::Display,
{
    with_retries(connector, "a checkout", &counters.retries, || {
        checkout_once(pool, connector, target, wait, &backend)
    })
    .await
}
