//! The connector instance: statements checked, run off the async runtime,
//! streamed as Arrow.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use dmesh_connector_api::{
    BatchStream, CatalogConnector, Connector, SchemaInfo, SearchHit, TableMetadata, Error, HealthCheck, HealthReport, QueryConnector, QueryRequest,
    Result, SqlDialect, TableFilter, TableInfo, TableRef, TableSchema, TableType,
};
use tokio::sync::{mpsc, oneshot};

use crate::SqliteConfig;
use crate::read::{Job, Mode, Source, declared_type, from_sqlite};
use crate::sql::classify;
use dmesh_connector_sql::catalog::{self, CatalogColumn, KeyColumn};
use dmesh_connector_sql::statement::{Gate, Unreadable};

/// The one schema a SQLite database has (attached ones are refused).
const SCHEMA: &str = "main";

/// A SQLite database.
pub struct SqliteConnector {
    name: String,
    config: SqliteConfig,
    source: Source,
    /// Keeps an in-memory database alive between queries.
    _keeper: Option<Mutex<rusqlite::Connection>>,
}

impl fmt::Debug for SqliteConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteConnector")
            .field("name", &self.name)
            .field("path", &self.config.path)
            .finish_non_exhaustive()
    }
}

impl SqliteConnector {
    /// Opens the database once to check it.
    ///
    /// # Errors
    /// `NotFound` when the file does not exist (and writes are not allowed),
    /// `Unavailable` when it is not a SQLite database.
    pub fn open(name: &str, config: SqliteConfig) -> Result<Self> {
        let memory = config.path == ":memory:";
        let (target, keeper) = if memory {
            let id: u64 = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let uri = format!("file:dmesh-{name}-{id:x}?mode=memory&cache=shared");
            let keeper = rusqlite::Connection::open_with_flags(
                &uri,
                rusqlite::OpenFlags::SQLITE_OPEN_URI
                    | rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_CREATE,
            )
            .map_err(|e| from_sqlite(&e, None))?;
            (uri, Some(Mutex::new(keeper)))
        } else {
            let path = Path::new(&config.path);
            if !path.exists() {
                if !config.allow_writes {
                    return Err(Error::not_found(format!(
                        "no SQLite database at `{}`; give the path of an existing file",
                        config.path
                    ))
                    .with_reason("DATABASE_NOT_FOUND"));
                }
                rusqlite::Connection::open(path).map_err(|e| from_sqlite(&e, None))?;
            }
            (config.path.clone(), None)
        };
        let source = Source {
            target,
            writable: config.allow_writes,
            busy_timeout: config.busy_timeout,
        };
        let conn = source.open(Mode::Read)?;
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0))
            .map_err(|e| from_sqlite(&e, None))?;
        tracing::debug!(connector = name, path = %config.path, "sqlite connector ready");
        Ok(Self {
            name: name.to_owned(),
            config,
            source,
            _keeper: keeper,
        })
    }

    fn mode(&self, request: &QueryRequest) -> Result<Mode> {
        let gate = Gate {
            allow_writes: self.config.allow_writes,
            check_statements: self.config.check_statements,
            deny_when_writing: true,
            unreadable: Unreadable::Refuse,
            reads: "SELECT, WITH ... SELECT, VALUES, EXPLAIN",
        };
        gate.admit(&classify(&request.sql), request.access)
    }

    /// Starts `request` on a blocking thread; its schema and its batches.
    async fn start(
        &self,
        request: &QueryRequest,
        schema_only: bool,
    ) -> Result<(SchemaRef, mpsc::Receiver<Result<arrow::record_batch::RecordBatch>>)> {
        let mode = self.mode(request)?;
        let limit = dmesh_connector_sql::statement_timeout(request, self.config.statement_timeout);
        let job = Job {
            sql: request.sql.clone(),
            params: request.params.clone(),
            mode,
            limit,
            schema_only,
        };
        let (schema_tx, schema_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(2);
        let source = self.source.clone();
        let span = tracing::info_span!(
            "db.statement",
            otel.kind = "client",
            db.system.name = "sqlite",
            db.namespace = %self.config.path,
            db.query.text = %dmesh_connector_api::sanitize_sql(&request.sql),
        );
        // The span goes with the work to the blocking thread.
        drop(tokio::task::spawn_blocking(move || {
            let _in = span.enter();
            crate::read::run(&source, job, schema_tx, tx);
        }));
        let schema = schema_rx
            .await
            .map_err(|_| Error::internal("the SQLite reader stopped before it had a schema"))??;
        Ok((schema, rx))
    }

    /// A table's columns as `pragma_table_info` describes them, each with
    /// its place in the primary key (0 when not in it).
    async fn catalog_columns(&self, table: &str) -> Result<Vec<(CatalogColumn, i64)>> {
        let name = table.to_owned();
        self.blocking(move |c| {
            let mut stmt = c.prepare(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
            )?;
            let rows = stmt.query_map([&name], |r| {
                Ok((
                    CatalogColumn {
                        name: r.get(0)?,
                        source_type: r.get(1)?,
                        not_null: r.get(2)?,
                        default: r.get(3)?,
                        comment: None,
                    },
                    r.get::<_, i64>(4)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    /// Finds a table or view by name in `main`.
    async fn resolve(&self, table: &TableRef) -> Result<TableInfo> {
        let tables = self.list_tables(&TableFilter::default()).await?;
        let schema_ok = table.schema.as_deref().is_none_or(|s| s == SCHEMA);
        tables
            .into_iter()
            .find(|t| schema_ok && t.table.name == table.name)
            .ok_or_else(|| {
                Error::not_found(format!("no table `{table}` in SQLite database `{}`", self.config.path))
                    .with_reason("TABLE_NOT_FOUND")
            })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let source = self.source.clone();
        tokio::task::spawn_blocking(move || {
            let conn = source.open(Mode::Read)?;
            f(&conn).map_err(|e| from_sqlite(&e, None))
        })
        .await
        .map_err(|e| Error::internal(format!("the SQLite task failed: {e}")))?
    }
}

#[async_trait]
impl Connector for SqliteConnector {
    fn kind(&self) -> &str {
        "sqlite"
    }

    fn as_query(&self) -> Option<&dyn QueryConnector> {
        Some(self)
    }

    fn as_catalog(&self) -> Option<&dyn CatalogConnector> {
        Some(self)
    }

    async fn health_check(&self) -> HealthReport {
        let mut checks = Vec::new();
        checks.push(
            HealthCheck::run("open the database", async {
                let n = self
                    .blocking(|c| c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0)))
                    .await?;
                Ok(format!("`{}`: {n} schema entries", self.config.path))
            })
            .await,
        );
        checks.push(
            HealthCheck::run("read-only", async {
                let writable_file = Path::new(&self.config.path)
                    .metadata()
                    .is_ok_and(|m| !m.permissions().readonly());
                Ok(match (self.config.allow_writes, writable_file) {
                    (true, _) => "writes allowed by the config (callers still need the `write` right)".to_owned(),
                    (false, true) => "warning: the gateway's user could write the file; the connector opens it \
                                      read-only with query_only on"
                        .to_owned(),
                    (false, false) => "opened read-only; the file is not writable by the gateway".to_owned(),
                })
            })
            .await,
        );
        HealthReport { checks }
    }
}

#[async_trait]
impl QueryConnector for SqliteConnector {
    fn dialect(&self) -> SqlDialect {
        SqlDialect::Sqlite
    }

    fn default_schema(&self) -> Option<String> {
        Some(SCHEMA.to_owned())
    }

    async fn list_tables(&self, filter: &TableFilter) -> Result<Vec<TableInfo>> {
        if filter.schema.as_deref().is_some_and(|s| s != SCHEMA) {
            return Ok(Vec::new());
        }
        let rows = self
            .blocking(|c| {
                let mut stmt = c.prepare(
                    "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' \
                     ORDER BY name",
                )?;
                let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(name, kind)| TableInfo {
                table: TableRef {
                    catalog: None,
                    schema: Some(SCHEMA.to_owned()),
                    name,
                },
                table_type: if kind == "view" { TableType::View } else { TableType::Table },
                description: None,
                row_estimate: None,
                location: Some(self.config.path.clone()),
                format: None,
            })
            .collect())
    }

    async fn get_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let info = self.resolve(table).await?;
        let columns = self.catalog_columns(&info.table.name).await?;
        Ok(TableSchema {
            info,
            schema: arrow_schema(&columns),
            columns: catalog::column_infos(&columns.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>()),
        })
    }

    async fn plan(&self, request: &QueryRequest) -> Result<SchemaRef> {
        // A change is prepared, never run, to be planned: its schema comes
        // from the declarations alone.
        let (schema, _rx) = self.start(request, true).await?;
        Ok(schema)
    }

    async fn execute(&self, request: QueryRequest) -> Result<BatchStream> {
        let (schema, rx) = self.start(&request, false).await?;
        Ok(BatchStream::new(schema, tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}

/// The Arrow schema of `SELECT *` from a table with these columns.
fn arrow_schema(columns: &[(CatalogColumn, i64)]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(c, _)| {
            let ty = if c.source_type.is_empty() { DataType::Utf8 } else { declared_type(&c.source_type) };
            Field::new(&c.name, ty, !c.not_null)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

#[async_trait]
impl CatalogConnector for SqliteConnector {
    async fn list_schemas(&self, catalog: Option<&str>) -> Result<Vec<SchemaInfo>> {
        if catalog.is_some_and(|c| !c.is_empty()) {
            return Ok(Vec::new());
        }
        Ok(vec![SchemaInfo {
            catalog: None,
            name: SCHEMA.to_owned(),
            description: self.config.description.clone(),
        }])
    }

    async fn get_table_metadata(&self, table: &TableRef) -> Result<TableMetadata> {
        let info = self.resolve(table).await?;
        let columns = self.catalog_columns(&info.table.name).await?;
        let schema = arrow_schema(&columns);
        let mut key: Vec<(i64, String)> =
            columns.iter().filter(|(_, pk)| *pk > 0).map(|(c, pk)| (*pk, c.name.clone())).collect();
        key.sort();
        let name = info.table.name.clone();
        let fks = self
            .blocking(move |c| {
                let mut stmt = c.prepare(
                    "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
                )?;
                let rows = stmt.query_map([&name], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let mut foreign_keys = Vec::new();
        for (id, referenced, from, to) in fks {
            // A key naming no columns references the other table's primary key.
            let to = match to {
                Some(t) => t,
                None => {
                    let theirs = self.catalog_columns(&referenced).await?;
                    let mut pk: Vec<(i64, String)> =
                        theirs.into_iter().filter(|(_, p)| *p > 0).map(|(c, p)| (p, c.name)).collect();
                    pk.sort();
                    pk.into_iter().next().map(|(_, n)| n).unwrap_or_default()
                }
            };
            foreign_keys.push(KeyColumn {
                constraint: format!("{}_fk{id}", info.table.name),
                column: from,
                referenced_catalog: None,
                referenced_schema: SCHEMA.to_owned(),
                referenced_table: referenced,
                referenced_column: to,
            });
        }
        let mut properties = std::collections::BTreeMap::new();
        properties.insert("path".to_owned(), self.config.path.clone());
        Ok(TableMetadata {
            info,
            columns: catalog::column_metadata(&schema, columns.into_iter().map(|(c, _)| c).collect()),
            primary_key: key.into_iter().map(|(_, n)| n).collect(),
            foreign_keys: catalog::foreign_keys(foreign_keys),
            owner: None,
            properties,
        })
    }

    async fn search_tables(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let needle = catalog::search_needle(query)?;
        let mut candidates = Vec::new();
        for table in self.list_tables(&TableFilter::default()).await? {
            let matched: Vec<String> = self
                .catalog_columns(&table.table.name)
                .await?
                .into_iter()
                .map(|(c, _)| c.name)
                .filter(|n| n.to_lowercase().contains(&needle))
                .collect();
            candidates.push((table, matched));
        }
        Ok(catalog::rank(&needle, candidates, limit))
    }
}
