//! The dmesh connector API.
//!
//! Every connector — built in or contributed — depends on this crate and never
//! on the gateway. A connector kind is a [`ConnectorFactory`]: it publishes the
//! JSON Schema of its config and builds a [`Connector`] instance from a config
//! whose `type` key names the kind. An instance serves one or more families:
//!
//! | family | trait | abilities |
//! |---|---|---|
//! | Query | [`QueryConnector`] | execute (streams Arrow), get_schema, list_tables, explain |
//! | Catalog | [`CatalogConnector`] | list_schemas, get_table_metadata, search_tables, get_lineage, get_classifications |
//! | Processing | [`ProcessingConnector`] | submit_job, get_job_status, get_job_result, cancel_job, list_jobs |
//! | Storage | [`StorageConnector`] | list, head, read, write, delete |
//!
//! Optional abilities have defaults that answer [`Error::unsupported`], so a
//! connector implements what its source can do and nothing more.

mod catalog;
#[cfg(feature = "compliance")]
pub mod compliance;
mod connector;
mod error;
mod kind;
mod processing;
mod query;
mod secret;
mod storage;
mod types;

pub use catalog::*;
pub use connector::*;
pub use error::*;
pub use kind::*;
pub use processing::*;
pub use query::*;
pub use secret::*;
pub use storage::*;
pub use types::*;

/// Arrow, re-exported so connectors use the same version as the gateway.
pub use arrow;
