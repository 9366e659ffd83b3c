//! A connector instance and the families it serves.

use async_trait::async_trait;

use crate::{CatalogConnector, Family, HealthReport, ProcessingConnector, QueryConnector, StorageConnector};

/// A connection pool at one moment, and the retries made through it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open now.
    pub open: usize,
    /// The most it may open.
    pub max: usize,
    /// Connections checked out now.
    pub in_use: usize,
    /// Requests waiting for a connection now.
    pub waiters: usize,
    /// Attempts repeated after a transient failure, since the connector was built.
    pub retries: u64,
}

/// A built connector instance.
///
/// An instance exposes each family it serves through an `as_*` accessor; the
/// defaults say it serves none, so a Query-only connector overrides
/// [`as_query`](Self::as_query) alone.
#[async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// The kind it was built as, e.g. `files`.
    fn kind(&self) -> &str;

    /// The Query family, when served.
    fn as_query(&self) -> Option<&dyn QueryConnector> {
        None
    }

    /// The Catalog family, when served.
    fn as_catalog(&self) -> Option<&dyn CatalogConnector> {
        None
    }

    /// The Processing family, when served.
    fn as_processing(&self) -> Option<&dyn ProcessingConnector> {
        None
    }

    /// The Storage family, when served.
    fn as_storage(&self) -> Option<&dyn StorageConnector> {
        None
    }

    /// The state of the connector's connection pool, for operators'
    /// dashboards; `None` when it has no pool.
    fn pool_stats(&self) -> Option<PoolStats> {
        None
    }

    /// The families served, derived from the accessors.
    fn families(&self) -> Vec<Family> {
        let mut out = Vec::new();
        if self.as_query().is_some() {
            out.push(Family::Query);
        }
        if self.as_catalog().is_some() {
            out.push(Family::Catalog);
        }
        if self.as_processing().is_some() {
            out.push(Family::Processing);
        }
        if self.as_storage().is_some() {
            out.push(Family::Storage);
        }
        out
    }

    /// Checks that the source is reachable and usable, timing each step.
    /// A failed check carries the precise reason; this never returns an error.
    async fn health_check(&self) -> HealthReport;

    /// Releases pooled resources before the instance is dropped.
    async fn close(&self) {}
}
