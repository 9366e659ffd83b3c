//! The `sqlite` kind's config.

use std::sync::Arc;
use std::time::Duration;

use dmesh_connector_api::{BuildContext, Connector, ConnectorConfig, Family, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::SqliteConnector;

/// Config of the `sqlite` kind: a SQLite database file.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqliteConfig {
    /// The database file, or `:memory:` for an empty in-memory database that
    /// lives as long as the connector.
    #[schemars(extend("x-dmesh-path" = true))]
    pub path: String,
    /// Let callers holding the `write` or `ddl` right change the database.
    /// Off by default: the file is opened read-only.
    #[serde(default)]
    pub allow_writes: bool,
    /// The longest a statement may run, e.g. `30s`.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub statement_timeout: Duration,
    /// How long to wait for another process's lock on the file, e.g. `5s`.
    #[serde(default = "default_busy", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub busy_timeout: Duration,
    /// What the database holds, for people and agents browsing connectors.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether statements are checked before SQLite sees them (the first of
    /// the read-only layers). Only tests turn it off, to prove the other
    /// layers hold on their own.
    #[serde(default = "checked")]
    #[schemars(skip)]
    pub check_statements: bool,
}

fn checked() -> bool {
    true
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_busy() -> Duration {
    Duration::from_secs(5)
}

impl SqliteConfig {
    /// A config for `path` with the defaults.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            allow_writes: false,
            statement_timeout: default_timeout(),
            busy_timeout: default_busy(),
            description: None,
            check_statements: true,
        }
    }
}

impl ConnectorConfig for SqliteConfig {
    const KIND: &'static str = "sqlite";
    const DESCRIPTION: &'static str = "A SQLite database file: read-only by default, queries off the async runtime.";
    const FAMILIES: &'static [Family] = &[Family::Query, Family::Catalog];

    async fn build(self, ctx: &BuildContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(SqliteConnector::open(&ctx.name, self)?))
    }
}
