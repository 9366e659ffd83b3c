//! The `mysql` connector instance: pool, Query family, schema catalog,
//! health checks.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use dmesh_connector_api::{
    BatchStream, CatalogConnector, Connector, Error, Explanation, HealthCheck, HealthReport, QueryConnector,
    QueryRequest, Result, SchemaInfo, SearchHit, SqlDialect, TableFilter, TableInfo, TableMetadata, TableRef,
    TableSchema,
};
use dmesh_connector_sql::catalog::{self, CatalogColumn, InformationSchema, KeyColumn};
use dmesh_connector_sql::{Counters, Target};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row, Value};
use tokio_stream::wrappers::ReceiverStream;

use crate::config::MySqlConfig;
use crate::error::from_mysql;

/// The pool of connections.
pub(crate) type Pool = deadpool::managed::Pool<Manager>;
/// A pooled connection.
pub(crate) type Object = deadpool::managed::Object<Manager>;

/// How long after its last use a connection is handed out again without a
/// ping; within it, a connection the server dropped fails on first use,
/// which the read path retries.
const FRESH: Duration = Duration::from_millis(250);

/// A pooled connection and the session settings dmesh last gave it, so a
/// request changes them only when it needs others: a run of reads costs
/// one round trip each.
#[derive(Debug)]
pub(crate) struct Session {
    pub conn: Conn,
    /// `SET SESSION TRANSACTION READ ONLY` (true) or `READ WRITE` (false);
    /// `None` when unknown.
    pub read_only: Option<bool>,
    /// The server-side statement time limit in force.
    pub limit: Option<Duration>,
}

impl std::ops::Deref for Session {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

/// Opens connections and checks them on checkout.
#[derive(Debug)]
pub(crate) struct Manager {
    opts: Opts,
    connect_timeout: Duration,
}

impl deadpool::managed::Manager for Manager {
    type Type = Session;
    type Error = mysql_async::Error;

    async fn create(&self) -> std::result::Result<Session, mysql_async::Error> {
        match tokio::time::timeout(self.connect_timeout, Conn::new(self.opts.clone())).await {
            Ok(conn) => conn.map(|conn| Session {
                conn,
                read_only: None,
                limit: None,
            }),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {:?}", self.connect_timeout),
            )
            .into()),
        }
    }

    async fn recycle(&self, conn: &mut Session, metrics: &Metrics) -> RecycleResult<mysql_async::Error> {
        if metrics.last_used() < FRESH {
            return Ok(());
        }
        conn.ping().await.map_err(RecycleError::Backend)
    }
}

/// A MySQL or MariaDB database.
pub struct MySqlConnector {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub name: String,
    pub config: MySqlConfig,
    pub opts: Opts,
    pub pool: Pool,
    pub target: Target,
    pub counters: Counters,
}

impl fmt::Debug for MySqlConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlConnector")
            .field("name", &self.inner.name)
            .field("address", &self.inner.target.address)
            .field("database", &self.inner.target.database)
            .finish_non_exhaustive()
    }
}

/// `information_schema` as MySQL and MariaDB keep it: schemas are databases,
/// tables and columns carry comments, tables a row estimate.
const INFORMATION_SCHEMA: InformationSchema = InformationSchema {
    placeholder: |_| "?".to_owned(),
    system_schemas: &["information_schema", "mysql", "performance_schema", "sys"],
    table_comment: Some("NULLIF(t.table_comment, '')"),
    row_estimate: Some("CAST(t.table_rows AS SIGNED)"),
    column_comment: Some("NULLIF(c.column_comment, '')"),
    column_type: "c.column_type",
};

impl MySqlConnector {
    /// Builds the pool. Connections open on first use, so a connector can
    /// be added while its server is down; `dmesh connector test` tells.
    ///
    /// # Errors
    /// INVALID_ARGUMENT `INVALID_CONFIG` for a config that cannot work.
    pub async fn open(name: &str, config: MySqlConfig) -> Result<Self> {
        let opts = config.driver_opts()?;
        let manager = Manager {
            opts: opts.clone(),
            connect_timeout: config.connect_timeout,
        };
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .wait_timeout(Some(config.checkout_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::invalid_argument(format!("MySQL pool: {e}")).with_reason("INVALID_CONFIG"))?;
        let target = Target {
            address: format!("{}:{}", config.host, config.port),
            database: config.database.clone(),
            user: config.user.clone(),
            system: "MySQL",
            otel_system: "mysql",
        };
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                config,
                opts,
                pool,
                target,
                counters: Counters::default(),
            }),
        })
    }
}

impl Inner {
    pub(crate) fn mysql_error(&self, e: &mysql_async::Error) -> Error {
        from_mysql(e, &self.target)
    }

    /// A pooled connection.
    pub(crate) async fn checkout_once(&self) -> Result<Object> {
        let wait = self.config.checkout_timeout;
        dmesh_connector_sql::pool::checkout_once(&self.pool, &self.name, &self.target, wait, |e| self.mysql_error(&e)).await
    }

    /// A pooled connection; transient failures are retried with backoff.
    async fn checkout(&self) -> Result<Object> {
        let wait = self.config.checkout_timeout;
        dmesh_connector_sql::pool::checkout(&self.pool, &self.name, &self.target, wait, &self.counters, |e| {
            self.mysql_error(&e)
        })
        .await
    }

    /// Runs a catalog query as a read-only statement.
    async fn catalog_query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>> {
        let mut conn = self.checkout().await?;
        self.prepare_session(&mut conn, true, self.config.statement_timeout).await?;
        let rows: std::result::Result<Vec<Row>, _> =
            if params.is_empty() { conn.query(sql).await } else { conn.exec(sql, params).await };
        rows.map_err(|e| self.mysql_error(&e))
    }

    /// Finds a table by schema (the connector's database when none) and name.
    async fn resolve(&self, table: &TableRef) -> Result<TableInfo> {
        let schema = table.schema.clone().unwrap_or_else(|| self.config.database.clone());
        let rows = self
            .catalog_query(&INFORMATION_SCHEMA.tables(true, true), vec![schema.clone().into(), table.name.clone().into()])
            .await?;
        rows.first().map(table_info).ok_or_else(|| {
            Error::not_found(format!("no table or view `{schema}.{}` in MySQL at {}", table.name, self.target.address))
                .with_reason("TABLE_NOT_FOUND")
        })
    }

    /// A table's columns as the catalog describes them, and the Arrow
    /// schema of `SELECT *` from it.
    async fn columns(&self, info: &TableInfo) -> Result<(SchemaRef, Vec<CatalogColumn>)> {
        let schema = info.table.schema.clone().unwrap_or_default();
        let rows = self
            .catalog_query(&INFORMATION_SCHEMA.columns(), vec![schema.clone().into(), info.table.name.clone().into()])
            .await?;
        let columns: Vec<CatalogColumn> = rows
            .iter()
            .map(|r| CatalogColumn {
                name: text(r, 0).unwrap_or_default(),
                source_type: text(r, 1).unwrap_or_default(),
                not_null: text(r, 2).as_deref() == Some("NO"),
                default: text(r, 3),
                comment: text(r, 4),
            })
            .collect();
        let sql = format!("SELECT * FROM {}.{} LIMIT 0", quote_ident(&schema), quote_ident(&info.table.name));
        let shape = self.describe(&QueryRequest::read_only(sql)).await?;
        Ok((shape.schema, columns))
    }
}

/// Quotes an identifier for MySQL: backticks, doubled inside.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Column `i` of a catalog row as text.
fn text(row: &Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::NULL => None,
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// A table from a row of [`InformationSchema::tables`].
fn table_info(row: &Row) -> TableInfo {
    TableInfo {
        table: TableRef {
            catalog: None,
            schema: text(row, 0),
            name: text(row, 1).unwrap_or_default(),
        },
        table_type: catalog::table_type(&text(row, 2).unwrap_or_default()),
        description: text(row, 3),
        row_estimate: text(row, 4).and_then(|n| n.parse().ok()),
        location: None,
        format: None,
    }
}

#[async_trait]
impl Connector for MySqlConnector {
    fn kind(&self) -> &str {
        "mysql"
    }

    fn pool_stats(&self) -> Option<dmesh_connector_api::PoolStats> {
        Some(dmesh_connector_sql::pool::stats(&self.inner.pool, &self.inner.counters))
    }

    fn as_query(&self) -> Option<&dyn QueryConnector> {
        Some(self)
    }

    fn as_catalog(&self) -> Option<&dyn CatalogConnector> {
        Some(self)
    }

    async fn health_check(&self) -> HealthReport {
        let inner = &self.inner;
        let mut checks = Vec::new();
        let address = inner.target.address.clone();
        let tcp = HealthCheck::run(&format!("reach {address}"), async {
            let connect = tokio::net::TcpStream::connect((inner.config.host.as_str(), inner.config.port));
            match tokio::time::timeout(inner.config.connect_timeout, connect).await {
                Ok(Ok(_)) => Ok("the port accepts connections".to_owned()),
                Ok(Err(e)) => Err(Error::unavailable(format!(
                    "cannot connect to {address}: {e}; check `host` and `port`, and that MySQL is running"
                ))),
                Err(_) => Err(Error::unavailable(format!(
                    "no answer from {address} within {:?}; check `host`, `port` and firewalls",
                    inner.config.connect_timeout
                ))),
            }
        })
        .await;
        let reachable = tcp.ok;
        checks.push(tcp);
        if !reachable {
            return HealthReport { checks };
        }
        let user = inner.target.user.clone();
        checks.push(
            HealthCheck::run(&format!("log in as `{user}` and open `{}`", inner.target.database), async {
                let mut conn = tokio::time::timeout(inner.config.connect_timeout, Conn::new(inner.opts.clone()))
                    .await
                    .map_err(|_| Error::unavailable(format!("MySQL at {address} did not finish the login in time")))?
                    .map_err(|e| inner.mysql_error(&e))?;
                let version: Option<String> = conn.query_first("SELECT VERSION()").await.map_err(|e| inner.mysql_error(&e))?;
                let _ = conn.disconnect().await;
                Ok(format!("server {}", version.unwrap_or_default()))
            })
            .await,
        );
        checks.push(
            HealthCheck::run("user privileges", async {
                let rows = inner.catalog_query("SHOW GRANTS FOR CURRENT_USER()", Vec::new()).await?;
                let grants: Vec<String> = rows.iter().filter_map(|r| text(r, 0)).collect();
                let risky = ["ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE", "DROP", "FILE", "SUPER", "CREATE"];
                let found: Vec<&str> = risky
                    .iter()
                    .copied()
                    .filter(|p| grants.iter().any(|g| g.to_ascii_uppercase().contains(&format!(" {p}"))))
                    .collect();
                Ok(if found.is_empty() {
                    format!("user `{user}` can read and not write")
                } else {
                    format!(
                        "WARNING: user `{user}` holds {}; dmesh's read-only checks stand in front of it, but a user \
                         with SELECT grants only is the layer that holds if they miss something",
                        found.join(", ")
                    )
                })
            })
            .await,
        );
        checks.push(
            HealthCheck::run("run a read-only query through the pool", async {
                inner.catalog_query("SELECT 1", Vec::new()).await?;
                let s = inner.pool.status();
                Ok(format!("pool {}/{} open", s.size, s.max_size))
            })
            .await,
        );
        HealthReport { checks }
    }

    async fn close(&self) {
        self.inner.pool.close();
    }
}

#[async_trait]
impl QueryConnector for MySqlConnector {
    fn dialect(&self) -> SqlDialect {
        SqlDialect::MySql
    }

    fn default_schema(&self) -> Option<String> {
        Some(self.inner.config.database.clone())
    }

    async fn list_tables(&self, filter: &TableFilter) -> Result<Vec<TableInfo>> {
        let (sql, params) = match &filter.schema {
            Some(s) => (INFORMATION_SCHEMA.tables(true, false), vec![Value::from(s.clone())]),
            None => (INFORMATION_SCHEMA.tables(false, false), Vec::new()),
        };
        let rows = self.inner.catalog_query(&sql, params).await?;
        Ok(rows.iter().map(table_info).collect())
    }

    async fn get_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let info = self.inner.resolve(table).await?;
        let (schema, columns) = self.inner.columns(&info).await?;
        Ok(TableSchema {
            info,
            schema,
            columns: catalog::column_infos(&columns),
        })
    }

    async fn plan(&self, request: &QueryRequest) -> Result<SchemaRef> {
        Ok(self.inner.describe(request).await?.schema)
    }

    async fn execute(&self, request: QueryRequest) -> Result<BatchStream> {
        let (shape, rx) = self.inner.execute(request).await?;
        Ok(BatchStream::new(shape.schema, ReceiverStream::new(rx)))
    }

    async fn explain(&self, request: &QueryRequest, verbose: bool) -> Result<Explanation> {
        self.inner.plan(request)?;
        let format = if verbose { "FORMAT=JSON " } else { "" };
        let sql = format!("EXPLAIN {format}{}", request.sql.trim_end().trim_end_matches(';'));
        let explain = QueryRequest {
            sql,
            params: request.params.clone(),
            ..QueryRequest::read_only("")
        };
        let (_, mut rx) = self.inner.execute(explain).await?;
        let mut lines = Vec::new();
        while let Some(batch) = rx.recv().await {
            let batch = batch?;
            let text = arrow::util::pretty::pretty_format_batches(&[batch])
                .map_err(|e| Error::internal(format!("printing the plan: {e}")))?;
            lines.push(text.to_string());
        }
        Ok(Explanation {
            plan: lines.join("\n"),
            sections: Vec::new(),
        })
    }
}

#[async_trait]
impl CatalogConnector for MySqlConnector {
    async fn list_schemas(&self, catalog: Option<&str>) -> Result<Vec<SchemaInfo>> {
        if catalog.is_some_and(|c| !c.is_empty()) {
            return Ok(Vec::new());
        }
        let rows = self.inner.catalog_query(&INFORMATION_SCHEMA.schemas(), Vec::new()).await?;
        Ok(rows
            .iter()
            .map(|r| SchemaInfo {
                catalog: None,
                name: text(r, 0).unwrap_or_default(),
                description: None,
            })
            .collect())
    }

    async fn get_table_metadata(&self, table: &TableRef) -> Result<TableMetadata> {
        let inner = &self.inner;
        let info = inner.resolve(table).await?;
        let (schema, columns) = inner.columns(&info).await?;
        let key = vec![
            Value::from(info.table.schema.clone().unwrap_or_default()),
            Value::from(info.table.name.clone()),
        ];
        let pk = inner.catalog_query(&INFORMATION_SCHEMA.primary_key(), key.clone()).await?;
        let fks = inner.catalog_query(&INFORMATION_SCHEMA.foreign_keys(), key).await?;
        let foreign_keys = catalog::foreign_keys(
            fks.iter()
                .map(|r| KeyColumn {
                    constraint: text(r, 0).unwrap_or_default(),
                    column: text(r, 1).unwrap_or_default(),
                    referenced_catalog: None,
                    referenced_schema: text(r, 2).unwrap_or_default(),
                    referenced_table: text(r, 3).unwrap_or_default(),
                    referenced_column: text(r, 4).unwrap_or_default(),
                })
                .collect(),
        );
        let mut properties = BTreeMap::new();
        properties.insert("server".to_owned(), inner.target.address.clone());
        Ok(TableMetadata {
            info,
            columns: catalog::column_metadata(&schema, columns),
            primary_key: pk.iter().filter_map(|r| text(r, 0)).collect(),
            foreign_keys,
            owner: None,
            properties,
        })
    }

    async fn search_tables(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let needle = catalog::search_needle(query)?;
        let pattern = Value::from(catalog::like_pattern(&needle));
        let sql = INFORMATION_SCHEMA.search(|c| format!("GROUP_CONCAT({c} ORDER BY c.ordinal_position SEPARATOR ',')"));
        let rows = self.inner.catalog_query(&sql, vec![pattern.clone(), pattern.clone(), pattern.clone(), pattern]).await?;
        let candidates = rows
            .iter()
            .map(|r| {
                let matched = text(r, 5)
                    .map(|m| m.split(',').map(str::to_owned).collect())
                    .unwrap_or_default();
                (table_info(r), matched)
            })
            .collect();
        Ok(catalog::rank(&needle, candidates, limit))
    }
}
