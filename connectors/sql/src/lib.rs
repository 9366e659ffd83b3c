//! What dmesh's SQL connectors (`postgres`, `mysql`, `sqlite`) share.
//!
//! A SQL source differs from the next in its wire protocol, its types and
//! its catalog; the rest is the same shape, and lives here once:
//!
//! - [`statement`]: a request's statement classified in the source's
//!   dialect ([`Syntax`]), and the read-only [`Gate`] that admits it for the
//!   request's access mode or refuses it with the same status, reason and
//!   message on every source;
//! - [`retry`]: jittered exponential backoff for work that failed before any
//!   row left, with `retry` spans and a retry count;
//! - [`pool`]: pooled checkouts in `pool.checkout` spans, pool errors, pool
//!   figures for `dmesh status` and metrics;
//! - [`batch`]: rows into Arrow batches of bounded rows and bytes, over the
//!   source's own column decoders or the typed [`ArrowColumn`];
//! - [`catalog`]: `information_schema` queries by dialect and the assembly
//!   of column metadata, keys and search hits.
//!
//! A source's crate keeps what is its own: connecting, binding parameters,
//! decoding its wire types, running a statement under the source's own
//! read-only and time limits, and cancelling it there.

pub mod batch;
pub mod catalog;
pub mod pool;
pub mod retry;
pub mod statement;

use std::time::Duration;

pub use batch::{ArrowColumn, BATCH_BYTES, BATCH_ROWS, BatchBuilder, CHANNEL_DEPTH, Column};
pub use pool::{Counters, Target};
pub use retry::{backoff, is_transient, with_retries};
pub use statement::{Class, Classified, Gate, Mode, Syntax, Unreadable};

/// The time a statement may run: the request's limit when it sets a
/// shorter one than the connector's `statement_timeout`.
pub fn statement_timeout(request: &dmesh_connector_api::QueryRequest, configured: Duration) -> Duration {
    request.limits.timeout.map_or(configured, |t| t.min(configured))
}
