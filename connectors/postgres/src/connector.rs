//! The `postgres` connector instance: pool, Query family, schema catalog,
//! health checks.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, RecyclingMethod, Runtime};
use dmesh_connector_api::{
    BatchStream, CatalogConnector, Connector, Error, Explanation, ForeignKey,
    HealthCheck, HealthReport, QueryConnector, QueryRequest, Result, SchemaInfo, SearchHit, SqlDialect, TableFilter,
    TableInfo, TableMetadata, TableRef, TableSchema, TableType,
};
use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_stream::wrappers::ReceiverStream;

use crate::config::{PostgresConfig, TlsMode};
use crate::decode::ResultShape;
use crate::error::{Target, from_pg};
use dmesh_connector_sql::catalog::{self, CatalogColumn};

/// The pool of connections.
pub(crate) type Pool = deadpool::managed::Pool<Verifying>;
/// A pooled connection.
pub(crate) type Object = deadpool::managed::Object<Verifying>;

/// How long after its last checkout a connection is handed out again
/// without a round trip to verify it. Within this window a connection the
/// server dropped fails on first use, which the read path retries.
const FRESH: Duration = Duration::from_millis(250);

/// Verifies pooled connections with a round trip on checkout (the fast
/// check, `is_closed`, misses sockets the server closed during a restart),
/// except for a connection checked out moments ago.
#[derive(Debug)]
pub(crate) struct Verifying(Manager);

impl deadpool::managed::Manager for Verifying {
    type Type = ClientWrapper;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<ClientWrapper, tokio_postgres::Error> {
        self.0.create().await
    }

    async fn recycle(
        &self,
        client: &mut ClientWrapper,
        metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<tokio_postgres::Error> {
        if !client.is_closed() && metrics.last_used() < FRESH {
            return Ok(());
        }
        self.0.recycle(client, metrics).await
    }

    fn detach(&self, client: &mut ClientWrapper) {
        self.0.detach(client);
    }
}

/// A PostgreSQL database behind a pool of connections.
pub struct PostgresConnector {
    inner: Arc<Inner>,
}

/// What the connector's tasks share.
pub(crate) struct Inner {
    pub name: String,
    pub config: PostgresConfig,
    pub pool: Pool,
    pub tls: MakeRustlsConnect,
    pub target: Target,
    pub driver: tokio_postgres::Config,
    pub parallel_threshold: u64,
    pub counters: Counters,
}

/// Running totals of what the connector did, for operators and tests.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// What every SQL connector counts.
    pub base: dmesh_connector_sql::Counters,
    pub parallel_reads: AtomicU64,
}

/// What a connector has done since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectorStats {
    /// Statements started.
    pub reads: u64,
    /// Reads split into page ranges over several connections.
    pub parallel_reads: u64,
    /// Attempts repeated after a transient failure.
    pub retries: u64,
    /// Cancel requests sent for abandoned or failed reads.
    pub cancels: u64,
    /// Connections open now.
    pub pool_open: usize,
    /// The pool's size.
    pub pool_size: usize,
}

impl fmt::Debug for PostgresConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConnector")
            .field("name", &self.inner.name)
            .field("target", &self.inner.target.address)
            .field("pool_size", &self.inner.config.pool_size)
            .finish_non_exhaustive()
    }
}

impl PostgresConnector {
    /// Builds the pool. No connection is opened until the first request, so
    /// an instance exists (and reports why in its health check) while its
    /// database is down.
    ///
    /// # Errors
    /// `InvalidArgument` for a bad config; `Unavailable` when the TLS roots
    /// cannot be read.
    pub async fn open(name: &str, config: PostgresConfig) -> Result<Self> {
        let driver = config.driver_config()?;
        let tls = MakeRustlsConnect::new(tls_config(&config)?);
        let target = target_of(&driver);
        let manager = Manager::from_config(
            driver.clone(),
            tls.clone(),
            ManagerConfig {
                // Fast recycling hands out sockets the server has closed.
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool = Pool::builder(Verifying(manager))
            .max_size(config.pool_size)
            .wait_timeout(Some(config.checkout_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::internal(format!("building the connection pool: {e}")))?;
        let parallel_threshold = config.parallel_threshold_bytes()?;
        tracing::debug!(connector = name, target = %target.address, pool = config.pool_size, "postgres connector ready");
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                config,
                pool,
                tls,
                target,
                driver,
                parallel_threshold,
                counters: Counters::default(),
            }),
        })
    }

    /// Connections open now and the pool's size, for operators and tests.
    pub fn pool_status(&self) -> (usize, usize) {
        let s = self.inner.pool.status();
        (s.size, s.max_size)
    }

    /// Totals since the connector was built.
    pub fn stats(&self) -> ConnectorStats {
        let c = &self.inner.counters;
        let s = self.inner.pool.status();
        ConnectorStats {
            reads: c.base.reads.load(Ordering::Relaxed),
            parallel_reads: c.parallel_reads.load(Ordering::Relaxed),
            retries: c.base.retries.load(Ordering::Relaxed),
            cancels: c.base.cancels.load(Ordering::Relaxed),
            pool_open: s.size,
            pool_size: s.max_size,
        }
    }
}

fn target_of(driver: &tokio_postgres::Config) -> Target {
    let host = match driver.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => String::new(),
    };
    let port = driver.get_ports().first().copied().unwrap_or(5432);
    Target {
        address: format!("{host}:{port}"),
        database: driver
            .get_dbname()
            .or(driver.get_user())
            .unwrap_or_default()
            .to_owned(),
        user: driver.get_user().unwrap_or_default().to_owned(),
        system: "PostgreSQL",
        otel_system: "postgresql",
    }
}

fn tls_config(config: &PostgresConfig) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    if config.tls_mode != TlsMode::Disable {
        match &config.tls_root_cert {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
                    Error::invalid_argument(format!("tls_root_cert `{}`: {e}", path.display())).with_reason("INVALID_CONFIG")
                })?;
                for cert in certs {
                    let cert = cert.map_err(|e| {
                        Error::invalid_argument(format!("tls_root_cert `{}`: {e}", path.display()))
                            .with_reason("INVALID_CONFIG")
                    })?;
                    roots.add(cert).map_err(|e| {
                        Error::invalid_argument(format!("tls_root_cert `{}`: {e}", path.display()))
                            .with_reason("INVALID_CONFIG")
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for cert in found.certs {
                    let _ = roots.add(cert);
                }
            }
        }
    }
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

impl Inner {
    /// A pooled connection, verified alive.
    pub(crate) async fn checkout_once(&self) -> Result<Object> {
        let wait = self.config.checkout_timeout;
        dmesh_connector_sql::pool::checkout_once(&self.pool, &self.name, &self.target, wait, |e| self.pg_error(&e)).await
    }

    /// A pooled connection, verified alive; transient failures are retried
    /// with jittered backoff, so a restarting server costs a short wait.
    pub(crate) async fn checkout(&self) -> Result<Object> {
        let wait = self.config.checkout_timeout;
        dmesh_connector_sql::pool::checkout(&self.pool, &self.name, &self.target, wait, &self.counters.base, |e| {
            self.pg_error(&e)
        })
        .await
    }

    pub(crate) fn pg_error(&self, e: &tokio_postgres::Error) -> Error {
        from_pg(e, &self.target)
    }

    /// Runs a catalog query in a read-only transaction.
    async fn catalog_query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let mut conn = self.checkout().await?;
        let tx = conn
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(|e| self.pg_error(&e))?;
        let rows = tx.query(sql, params).await.map_err(|e| self.pg_error(&e))?;
        tx.commit().await.map_err(|e| self.pg_error(&e))?;
        Ok(rows)
    }

    /// Finds a table: by schema and name, or by name along the search path.
    async fn resolve(&self, table: &TableRef) -> Result<Relation> {
        let rows = match &table.schema {
            Some(schema) => {
                self.catalog_query(&format!("{RELATION_SELECT} WHERE n.nspname = $1 AND c.relname = $2"), &[schema, &table.name])
                    .await?
            }
            None => {
                self.catalog_query(
                    &format!(
                        "{RELATION_SELECT} WHERE c.relname = $1 AND n.nspname = ANY(current_schemas(false)) \
                         ORDER BY array_position(current_schemas(false), n.nspname) LIMIT 1"
                    ),
                    &[&table.name],
                )
                .await?
            }
        };
        let row = rows.first().ok_or_else(|| {
            Error::not_found(format!(
                "table `{table}` not found in connector `{}` (database `{}`); list tables to see what exists",
                self.name, self.target.database
            ))
            .with_reason("TABLE_NOT_FOUND")
        })?;
        Ok(Relation::from_row(row, &self.target.database))
    }

    /// The Arrow schema and the catalog's columns of a relation.
    async fn columns(&self, rel: &Relation) -> Result<(SchemaRef, Vec<CatalogColumn>)> {
        let rows = self
            .catalog_query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                 pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum) \
                 FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                &[&rel.oid],
            )
            .await?;
        let columns: Vec<CatalogColumn> = rows
            .iter()
            .map(|r| CatalogColumn {
                name: r.get(0),
                source_type: r.get(1),
                not_null: r.get(2),
                default: r.get(3),
                comment: r.get(4),
            })
            .collect();
        // The driver resolves every type (enums, domains, arrays) and its
        // modifier from a prepared `SELECT *`; identifiers come from the
        // catalog and are quoted.
        let conn = self.checkout().await?;
        let sql = format!("SELECT * FROM {}.{}", quote_ident(&rel.schema), quote_ident(&rel.name));
        let statement = conn.prepare(&sql).await.map_err(|e| self.pg_error(&e))?;
        let shape = ResultShape::of(statement.columns())
            .map_err(|e| e.context(format!("reading the schema of `{}.{}`", rel.schema, rel.name)))?;
        let fields: Vec<arrow::datatypes::Field> = shape
            .schema
            .fields()
            .iter()
            .map(|f| {
                let not_null = columns.iter().any(|c| &c.name == f.name() && c.not_null);
                f.as_ref().clone().with_nullable(!not_null)
            })
            .collect();
        Ok((Arc::new(arrow::datatypes::Schema::new(fields)), columns))
    }
}

/// Quotes an identifier for PostgreSQL: `"` doubled inside double quotes.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

const RELATION_SELECT: &str = "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, \
     obj_description(c.oid, 'pg_class'), c.reltuples::float8, pg_get_userbyid(c.relowner)::text, \
     pg_total_relation_size(c.oid)::int8 \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace";

const USER_RELATIONS: &str = "c.relkind IN ('r', 'v', 'm', 'p', 'f') \
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// A relation as the catalog lists it.
#[derive(Debug)]
struct Relation {
    oid: u32,
    schema: String,
    name: String,
    info: TableInfo,
    owner: String,
    bytes: i64,
    relkind: String,
}

impl Relation {
    fn from_row(r: &tokio_postgres::Row, database: &str) -> Self {
        let schema: String = r.get(1);
        let name: String = r.get(2);
        let relkind: String = r.get(3);
        let tuples: f64 = r.get(5);
        let info = TableInfo {
            table: TableRef {
                catalog: Some(database.to_owned()),
                schema: Some(schema.clone()),
                name: name.clone(),
            },
            table_type: table_type(&relkind),
            description: r.get(4),
            row_estimate: (tuples >= 0.0).then_some(tuples as u64),
            location: None,
            format: None,
        };
        Self {
            oid: r.get(0),
            schema,
            name,
            info,
            owner: r.get(6),
            bytes: r.get(7),
            relkind,
        }
    }
}

fn table_type(relkind: &str) -> TableType {
    match relkind {
        "v" => TableType::View,
        "m" => TableType::MaterializedView,
        "f" => TableType::External,
        _ => TableType::Table,
    }
}

#[async_trait]
impl Connector for PostgresConnector {
    fn kind(&self) -> &str {
        "postgres"
    }

    fn pool_stats(&self) -> Option<dmesh_connector_api::PoolStats> {
        Some(dmesh_connector_sql::pool::stats(&self.inner.pool, &self.inner.counters.base))
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
            match inner.driver.get_hosts().first() {
                Some(tokio_postgres::config::Host::Tcp(host)) => {
                    let port = inner.driver.get_ports().first().copied().unwrap_or(5432);
                    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
                    match tokio::time::timeout(inner.config.connect_timeout, connect).await {
                        Ok(Ok(_)) => Ok("the port accepts connections".to_owned()),
                        Ok(Err(e)) => Err(Error::unavailable(format!(
                            "cannot connect to {address}: {e}; check `host` and `port`, and that PostgreSQL is running"
                        ))),
                        Err(_) => Err(Error::unavailable(format!(
                            "no answer from {address} within {:?}; check `host`, `port` and firewalls",
                            inner.config.connect_timeout
                        ))),
                    }
                }
                _ => Ok("a Unix socket".to_owned()),
            }
        })
        .await;
        let reachable = tcp.ok;
        checks.push(tcp);
        if !reachable {
            return HealthReport { checks };
        }

        // One direct connection tells authentication and database apart.
        let started = std::time::Instant::now();
        let direct = tokio::time::timeout(inner.config.connect_timeout, inner.driver.connect(inner.tls.clone())).await;
        let latency = started.elapsed();
        let user = inner.target.user.clone();
        let db = inner.target.database.clone();
        let auth_name = format!("log in as role `{user}`");
        let db_name = format!("open database `{db}`");
        let failed = |name: &str, detail: String| HealthCheck {
            name: name.to_owned(),
            ok: false,
            detail,
            latency,
        };
        let passed = |name: &str, detail: &str| HealthCheck {
            name: name.to_owned(),
            ok: true,
            detail: detail.to_owned(),
            latency,
        };
        match direct {
            Err(_) => {
                checks.push(failed(
                    &auth_name,
                    format!("PostgreSQL at {address} did not finish the login within {:?}", inner.config.connect_timeout),
                ));
                return HealthReport { checks };
            }
            Ok(Err(e)) => {
                let err = inner.pg_error(&e);
                if err.reason() == "DATABASE_NOT_FOUND" {
                    checks.push(passed(&auth_name, "credentials accepted"));
                    checks.push(failed(&db_name, err.to_string()));
                } else {
                    checks.push(failed(&auth_name, err.to_string()));
                }
                return HealthReport { checks };
            }
            Ok(Ok((client, connection))) => {
                let task = tokio::spawn(connection);
                checks.push(passed(&auth_name, "credentials accepted"));
                checks.push(passed(&db_name, "the database exists"));
                drop(client);
                let _ = task.await;
            }
        }

        checks.push(
            HealthCheck::run("role privileges", async {
                let rows = inner
                    .catalog_query(
                        "SELECT r.rolsuper, \
                         pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'), \
                         pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'), \
                         pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'), \
                         EXISTS (SELECT 1 FROM information_schema.table_privileges p \
                                 WHERE p.grantee IN (current_user, 'PUBLIC') \
                                 AND p.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE') \
                                 AND p.table_schema NOT IN ('pg_catalog', 'information_schema')), \
                         has_function_privilege('lo_from_bytea(oid, bytea)', 'EXECUTE') \
                         FROM pg_roles r WHERE r.rolname = current_user",
                        &[],
                    )
                    .await?;
                let row = rows.first().ok_or_else(|| Error::internal("no role row"))?;
                let flags: [(bool, &str); 6] = [
                    (row.get(0), "is a superuser"),
                    (row.get(1), "may read server files (pg_read_server_files)"),
                    (row.get(2), "may write server files (pg_write_server_files)"),
                    (row.get(3), "may run server programs (pg_execute_server_program)"),
                    (row.get(4), "may change table data (INSERT, UPDATE, DELETE or TRUNCATE)"),
                    (row.get(5), "may create large objects, even in READ ONLY transactions (lo_from_bytea)"),
                ];
                let risks: Vec<&str> = flags.iter().filter(|(set, _)| *set).map(|(_, what)| *what).collect();
                Ok(if risks.is_empty() {
                    format!("role `{user}` can read and not write")
                } else {
                    format!(
                        "WARNING: role `{user}` {}; dmesh's read-only checks stand in front of it, but a role \
                         with SELECT grants only is the layer that holds if they miss something",
                        risks.join(", ")
                    )
                })
            })
            .await,
        );
        checks.push(
            HealthCheck::run("run a read-only query through the pool", async {
                let rows = inner
                    .catalog_query("SELECT current_setting('server_version'), pg_is_in_recovery()", &[])
                    .await?;
                let row = rows.first().ok_or_else(|| Error::internal("no row"))?;
                let version: String = row.get(0);
                let standby: bool = row.get(1);
                let status = inner.pool.status();
                Ok(format!(
                    "PostgreSQL {version}{}; pool {}/{} open",
                    if standby { " (standby)" } else { "" },
                    status.size,
                    status.max_size
                ))
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
impl QueryConnector for PostgresConnector {
    fn dialect(&self) -> SqlDialect {
        SqlDialect::Postgres
    }

    async fn list_tables(&self, filter: &TableFilter) -> Result<Vec<TableInfo>> {
        let rows = self
            .inner
            .catalog_query(
                &format!(
                    "{RELATION_SELECT} WHERE {USER_RELATIONS} AND ($1::text IS NULL OR n.nspname = $1) \
                     ORDER BY n.nspname, c.relname"
                ),
                &[&filter.schema],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Relation::from_row(r, &self.inner.target.database).info)
            .collect())
    }

    async fn get_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let rel = self.inner.resolve(table).await?;
        let (schema, columns) = self.inner.columns(&rel).await?;
        Ok(TableSchema {
            info: rel.info,
            schema,
            columns: catalog::column_infos(&columns),
        })
    }

    async fn plan(&self, request: &QueryRequest) -> Result<SchemaRef> {
        Ok(self.inner.describe(request).await?.schema)
    }

    async fn parameter_schema(&self, request: &QueryRequest) -> Result<Option<SchemaRef>> {
        self.inner.plan(request)?;
        let conn = self.inner.checkout().await?;
        let statement = conn.prepare(&request.sql).await.map_err(|e| self.inner.pg_error(&e))?;
        let fields: Vec<arrow::datatypes::Field> = statement
            .params()
            .iter()
            .enumerate()
            .map(|(i, ty)| {
                let name = format!("${}", i + 1);
                let dt = crate::decode::map_type(&name, ty, -1).map_or(arrow::datatypes::DataType::Null, |(_, dt, _)| dt);
                arrow::datatypes::Field::new(name, dt, true)
            })
            .collect();
        Ok(Some(Arc::new(arrow::datatypes::Schema::new(fields))))
    }

    async fn execute(&self, request: QueryRequest) -> Result<BatchStream> {
        let (shape, rx) = self.inner.execute(request).await?;
        Ok(BatchStream::new(shape.schema, ReceiverStream::new(rx)))
    }

    async fn explain(&self, request: &QueryRequest, verbose: bool) -> Result<Explanation> {
        self.inner.plan(request)?;
        let options = if verbose { "(VERBOSE, FORMAT TEXT)" } else { "(FORMAT TEXT)" };
        let sql = format!("EXPLAIN {options} {}", request.sql.trim_end().trim_end_matches(';'));
        let mut conn = self.inner.checkout().await?;
        let tx = conn
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(|e| self.inner.pg_error(&e))?;
        let statement = tx.prepare(&sql).await.map_err(|e| self.inner.pg_error(&e))?;
        let bound = crate::params::bind(&request.params, statement.params())?;
        let rows = tx
            .query(&statement, &bound.iter().map(|b| b as &(dyn tokio_postgres::types::ToSql + Sync)).collect::<Vec<_>>())
            .await
            .map_err(|e| self.inner.pg_error(&e))?;
        let plan: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
        Ok(Explanation {
            plan: plan.join("\n"),
            sections: Vec::new(),
        })
    }
}

#[async_trait]
impl CatalogConnector for PostgresConnector {
    async fn list_schemas(&self, catalog: Option<&str>) -> Result<Vec<SchemaInfo>> {
        if let Some(c) = catalog
            && c != self.inner.target.database
        {
            return Ok(Vec::new());
        }
        let rows = self
            .inner
            .catalog_query(
                "SELECT n.nspname::text, obj_description(n.oid, 'pg_namespace') FROM pg_namespace n \
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' ORDER BY 1",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SchemaInfo {
                catalog: Some(self.inner.target.database.clone()),
                name: r.get(0),
                description: r.get(1),
            })
            .collect())
    }

    async fn get_table_metadata(&self, table: &TableRef) -> Result<TableMetadata> {
        let inner = &self.inner;
        let rel = inner.resolve(table).await?;
        let (schema, columns) = inner.columns(&rel).await?;
        let pk_rows = inner
            .catalog_query(
                "SELECT a.attname::text FROM pg_index i \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = $1 AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
                &[&rel.oid],
            )
            .await?;
        let fk_rows = inner
            .catalog_query(
                "SELECT con.conname::text, \
                 ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o) \
                       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o), \
                 fn.nspname::text, fc.relname::text, \
                 ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o) \
                       JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o) \
                 FROM pg_constraint con JOIN pg_class fc ON fc.oid = con.confrelid \
                 JOIN pg_namespace fn ON fn.oid = fc.relnamespace \
                 WHERE con.conrelid = $1 AND con.contype = 'f' ORDER BY con.conname",
                &[&rel.oid],
            )
            .await?;
        let db = &inner.target.database;
        let foreign_keys = fk_rows
            .iter()
            .map(|r| ForeignKey {
                name: r.get(0),
                columns: r.get(1),
                referenced_table: TableRef {
                    catalog: Some(db.clone()),
                    schema: Some(r.get(2)),
                    name: r.get(3),
                },
                referenced_columns: r.get(4),
            })
            .collect();
        let columns = catalog::column_metadata(&schema, columns);
        let mut properties = BTreeMap::new();
        properties.insert("relkind".to_owned(), rel.relkind.clone());
        properties.insert("total_bytes".to_owned(), rel.bytes.to_string());
        properties.insert("oid".to_owned(), rel.oid.to_string());
        Ok(TableMetadata {
            info: rel.info,
            columns,
            primary_key: pk_rows.iter().map(|r| r.get(0)).collect(),
            foreign_keys,
            owner: Some(rel.owner),
            properties,
        })
    }

    async fn search_tables(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let needle = catalog::search_needle(query)?;
        let pattern = catalog::like_pattern(&needle);
        let rows = self
            .inner
            .catalog_query(
                &format!(
                    "SELECT * FROM ({RELATION_SELECT} WHERE {USER_RELATIONS}) r, LATERAL (SELECT ARRAY( \
                     SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attnum > 0 \
                     AND NOT a.attisdropped AND (a.attname ILIKE $1 OR col_description(a.attrelid, a.attnum) ILIKE $1) \
                     ORDER BY a.attnum) AS matched) m \
                     WHERE r.relname ILIKE $1 OR obj_description(r.oid, 'pg_class') ILIKE $1 OR cardinality(m.matched) > 0"
                ),
                &[&pattern],
            )
            .await?;
        let candidates = rows
            .iter()
            .map(|r| (Relation::from_row(r, &self.inner.target.database).info, r.get::<_, Vec<String>>(8)))
            .collect();
        Ok(catalog::rank(&needle, candidates, limit))
    }
}
