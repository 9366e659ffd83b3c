//! The Query family: SQL in, Arrow out.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use futures::Stream;

use crate::{AccessMode, ColumnInfo, Error, Limits, Param, Result, TableInfo, TableRef};

/// One SQL request.
#[derive(Clone, Debug, Default)]
pub struct QueryRequest {
    /// The statement, in the connector's dialect.
    pub sql: String,
    /// Values for its parameters, bound by the source.
    pub params: Vec<Param>,
    /// Caps on the result and on time.
    pub limits: Limits,
    /// Whether the request may write.
    pub access: AccessMode,
}

impl QueryRequest {
    /// A read-only request with no parameters and default limits.
    pub fn read_only(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            ..Default::default()
        }
    }
}

/// A stream of record batches that all share one schema.
///
/// Streams are lazy: the source is read as the stream is polled, so a slow
/// consumer slows the read. Dropping the stream cancels the query.
pub struct BatchStream {
    schema: SchemaRef,
    inner: Pin<Box<dyn Stream<Item = Result<RecordBatch>> + Send>>,
}

impl BatchStream {
    /// Wraps a stream of batches of `schema`.
    pub fn new(schema: SchemaRef, inner: impl Stream<Item = Result<RecordBatch>> + Send + 'static) -> Self {
        Self {
            schema,
            inner: Box::pin(inner),
        }
    }

    /// The schema every batch has.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

impl Stream for BatchStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for BatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchStream").field("schema", &self.schema).finish_non_exhaustive()
    }
}

/// A table's schema: its Arrow fields and what the source says of each column.
#[derive(Clone, Debug)]
pub struct TableSchema {
    /// The table.
    pub info: TableInfo,
    /// The Arrow schema of `SELECT *` from it.
    pub schema: SchemaRef,
    /// Source details per column, in the schema's order.
    pub columns: Vec<ColumnInfo>,
}

/// Which filter a listing applies.
#[derive(Clone, Debug, Default)]
pub struct TableFilter {
    /// Only tables in this schema.
    pub schema: Option<String>,
}

/// A query plan as the source prints it.
#[derive(Clone, Debug, Default)]
pub struct Explanation {
    /// The whole plan, ready to print.
    pub plan: String,
    /// Named parts (logical, physical), where the source has several.
    pub sections: Vec<(String, String)>,
}

/// The SQL dialect a source speaks, for the gateway's SQL checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlDialect {
    /// ANSI-ish SQL as DataFusion parses it.
    #[default]
    Generic,
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

/// A source that runs SQL and returns Arrow.
///
/// Required: [`list_tables`](Self::list_tables), [`get_schema`](Self::get_schema),
/// [`plan`](Self::plan) and [`execute`](Self::execute). [`explain`](Self::explain)
/// answers [`Error::unsupported`] unless the source can explain plans.
#[async_trait]
pub trait QueryConnector: Send + Sync {
    /// The dialect statements are written in.
    fn dialect(&self) -> SqlDialect {
        SqlDialect::Generic
    }

    /// The schema an unqualified table name always resolves to, when that
    /// is fixed; `None` when it depends on the session (PostgreSQL's
    /// `search_path`). The gateway's table policy uses it to place names
    /// written without a schema.
    fn default_schema(&self) -> Option<String> {
        None
    }

    /// The tables and views the connector exposes, in name order.
    ///
    /// # Errors
    /// [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable) when the
    /// source cannot be reached.
    async fn list_tables(&self, filter: &TableFilter) -> Result<Vec<TableInfo>>;

    /// The schema of one table.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) naming the table
    /// when it does not exist.
    async fn get_schema(&self, table: &TableRef) -> Result<TableSchema>;

    /// Checks a statement and returns the schema its result will have,
    /// without running it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for
    /// bad SQL, with the source's message;
    /// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied)
    /// for a statement the request's access mode does not allow.
    async fn plan(&self, request: &QueryRequest) -> Result<SchemaRef>;

    /// Runs a statement and streams its result.
    ///
    /// # Errors
    /// As [`plan`](Self::plan); errors while streaming come as stream items.
    async fn execute(&self, request: QueryRequest) -> Result<BatchStream>;

    /// The types of a statement's parameters (`$1`, `$2`, ...), in order,
    /// as fields named `$1`, `$2`, ...; `None` when the source cannot tell.
    /// A parameter whose type the source leaves open has type Null.
    ///
    /// # Errors
    /// As [`plan`](Self::plan).
    async fn parameter_schema(&self, request: &QueryRequest) -> Result<Option<SchemaRef>> {
        let _ = request;
        Ok(None)
    }

    /// The source's plan for a statement, without running it.
    ///
    /// # Errors
    /// As [`plan`](Self::plan), or [`Error::unsupported`].
    async fn explain(&self, request: &QueryRequest, verbose: bool) -> Result<Explanation> {
        let _ = (request, verbose);
        Err(Error::unsupported("explain"))
    }
}
