//! The `files` connector instance.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::FileFormat as DfFileFormat;
use datafusion::datasource::file_format::avro::AvroFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use dmesh_connector_api::{
    AccessMode, BatchStream, CatalogConnector, ColumnInfo, ColumnMetadata, Connector, Error, Explanation,
    HealthCheck, HealthReport, QueryConnector, QueryRequest, Result, SchemaInfo, SearchHit, TableFilter,
    TableInfo, TableMetadata, TableRef, TableSchema, TableType,
};
use futures::TryStreamExt;

use crate::discover::{TableSource, discover, io_error};
use crate::error::from_datafusion;
use crate::{FileFormat, FilesConfig};

/// The one schema a files connector has.
const SCHEMA: &str = "public";

/// SQL over the files under one path.
pub struct FilesConnector {
    name: String,
    root: PathBuf,
    config: FilesConfig,
    ctx: SessionContext,
    tables: Vec<TableSource>,
}

impl fmt::Debug for FilesConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilesConnector")
            .field("name", &self.name)
            .field("root", &self.root)
            .field("tables", &self.tables.len())
            .finish_non_exhaustive()
    }
}

impl FilesConnector {
    /// Finds the tables under the config's path and registers them.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](dmesh_connector_api::ErrorKind::NotFound) when
    /// the path does not exist; `InvalidArgument` for a bad config or files
    /// whose schema cannot be read.
    pub async fn open(name: &str, config: FilesConfig) -> Result<Self> {
        let delimiter = config.delimiter_byte()?;
        let memory = config.memory_limit_bytes()?;
        let root = std::path::absolute(&config.path).map_err(|e| io_error(&config.path, &e))?;
        let tables = {
            let root = root.clone();
            let format = config.format;
            tokio::task::spawn_blocking(move || discover(&root, format))
                .await
                .map_err(|e| Error::internal(format!("table discovery panicked: {e}")))??
        };

        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(memory)))
            .build_arc()
            .map_err(from_datafusion)?;
        let mut session = SessionConfig::new()
            .with_information_schema(false)
            .with_default_catalog_and_schema("files", SCHEMA);
        // Plain Utf8/Binary rather than the view types: every Arrow and
        // Flight SQL client reads them, and they are what the files hold.
        session.options_mut().execution.parquet.schema_force_view_types = false;
        session.options_mut().sql_parser.map_string_types_to_utf8view = false;
        let ctx = SessionContext::new_with_config_rt(session, runtime);
        for table in &tables {
            register(&ctx, table, config.csv_has_header, delimiter)
                .await
                .map_err(|e| e.context(format!("reading the schema of `{}`", table.path.display())))?;
        }
        tracing::debug!(connector = name, root = %root.display(), tables = tables.len(), "files connector opened");
        Ok(Self {
            name: name.to_owned(),
            root,
            config,
            ctx,
            tables,
        })
    }

    /// The directory or file this connector serves.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn table_info(&self, t: &TableSource) -> TableInfo {
        TableInfo {
            table: TableRef {
                catalog: None,
                schema: Some(SCHEMA.to_owned()),
                name: t.name.clone(),
            },
            table_type: TableType::External,
            description: None,
            row_estimate: None,
            location: Some(t.path.display().to_string()),
            format: Some(t.format.as_str().to_owned()),
        }
    }

    fn find(&self, table: &TableRef) -> Result<&TableSource> {
        let schema_ok = table.schema.as_deref().is_none_or(|s| s == SCHEMA);
        let name = table.name.to_ascii_lowercase();
        self.tables
            .iter()
            .find(|t| schema_ok && t.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
                Error::not_found(format!(
                    "table `{table}` not found in connector `{}`; its tables are: {}",
                    self.name,
                    known.join(", ")
                ))
                .with_reason("TABLE_NOT_FOUND")
            })
    }

    /// Parses and plans a statement, refusing anything but one query.
    async fn dataframe(&self, request: &QueryRequest) -> Result<DataFrame> {
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(&request.sql, &dialect).map_err(from_datafusion)?;
        check_read_only(&statement, request.access)?;
        let plan = state.statement_to_plan(statement).await.map_err(from_datafusion)?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| Error::permission_denied(e.to_string()).with_reason("READ_ONLY"))?;
        let df = self.ctx.execute_logical_plan(plan).await.map_err(from_datafusion)?;
        if request.params.is_empty() {
            Ok(df)
        } else {
            let values = crate::params::to_scalars(&request.params)?;
            df.with_param_values(values).map_err(from_datafusion)
        }
    }
}

/// The first layer of read-only enforcement: the statement must be one query.
/// (The second is DataFusion's `SQLOptions`, checked on the plan.)
fn check_read_only(statement: &DfStatement, access: AccessMode) -> Result<()> {
    let what = match statement {
        DfStatement::Statement(s) => match s.as_ref() {
            Statement::Query(_) => return Ok(()),
            other => statement_kind(other),
        },
        DfStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE".to_owned(),
        DfStatement::CopyTo(_) => "COPY".to_owned(),
        DfStatement::Explain(_) => "EXPLAIN (use the Explain call instead)".to_owned(),
        DfStatement::Reset(_) => "RESET".to_owned(),
    };
    let why = match access {
        AccessMode::ReadOnly => "this request is read-only",
        AccessMode::ReadWrite | AccessMode::Ddl => "the files connector never writes",
    };
    Err(Error::permission_denied(format!(
        "{what} is not allowed: {why}; only a single query (SELECT, WITH ... SELECT, VALUES) runs here"
    ))
    .with_reason("READ_ONLY"))
}

/// The statement's leading keywords, e.g. `CREATE TABLE`, for messages.
fn statement_kind(s: &Statement) -> String {
    let text = s.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    let two = words.join(" ").to_ascii_uppercase();
    let first = words.first().map(|w| w.to_ascii_uppercase()).unwrap_or_default();
    match first.as_str() {
        "CREATE" | "DROP" | "ALTER" | "INSERT" | "DELETE" | "TRUNCATE" => two,
        _ => first,
    }
}

async fn register(ctx: &SessionContext, table: &TableSource, has_header: bool, delimiter: u8) -> Result<()> {
    let format: Arc<dyn DfFileFormat> = match table.format {
        FileFormat::Parquet => Arc::new(ParquetFormat::default().with_force_view_types(false)),
        FileFormat::Csv => Arc::new(
            CsvFormat::default()
                .with_has_header(has_header)
                .with_delimiter(delimiter),
        ),
        FileFormat::Json => Arc::new(JsonFormat::default()),
        FileFormat::Avro => Arc::new(AvroFormat),
    };
    let mut options = ListingOptions::new(format);
    let mut url = table.path.display().to_string();
    if table.is_dir {
        // A folder table reads only the files whose extension names its format.
        let ext = table
            .path
            .read_dir()
            .ok()
            .and_then(|mut entries| {
                entries.find_map(|e| {
                    let p = e.ok()?.path();
                    let ext = p.extension()?.to_str()?.to_owned();
                    (FileFormat::from_extension(&ext) == Some(table.format)).then_some(ext)
                })
            })
            .map(|ext| format!(".{ext}"))
            .unwrap_or_default();
        options = options.with_file_extension(ext);
        if !url.ends_with('/') {
            url.push('/');
        }
    } else {
        let ext = table
            .path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        options = options.with_file_extension(ext);
    }
    ctx.register_listing_table(table.name.as_str(), url, options, None, None)
        .await
        .map_err(from_datafusion)
}

#[async_trait]
impl Connector for FilesConnector {
    fn kind(&self) -> &str {
        "files"
    }

    fn as_query(&self) -> Option<&dyn QueryConnector> {
        Some(self)
    }

    fn as_catalog(&self) -> Option<&dyn CatalogConnector> {
        Some(self)
    }

    async fn health_check(&self) -> HealthReport {
        let mut checks = Vec::new();
        let root = self.root.clone();
        checks.push(
            HealthCheck::run("path readable", async {
                let meta = tokio::fs::metadata(&root).await.map_err(|e| io_error(&root, &e))?;
                Ok(format!(
                    "{} `{}`",
                    if meta.is_dir() { "folder" } else { "file" },
                    root.display()
                ))
            })
            .await,
        );
        checks.push(
            HealthCheck::run("tables found", async {
                if self.tables.is_empty() {
                    Err(Error::not_found(format!(
                        "no parquet, csv, json or avro files under `{}`",
                        self.root.display()
                    )))
                } else {
                    Ok(format!("{} tables", self.tables.len()))
                }
            })
            .await,
        );
        for t in &self.tables {
            let name = format!("read {}", t.name);
            checks.push(
                HealthCheck::run(&name, async {
                    let req = QueryRequest::read_only(format!("SELECT * FROM \"{}\" LIMIT 1", t.name));
                    let batches: Vec<_> = self.execute(req).await?.try_collect().await?;
                    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                    Ok(format!("{} format, {rows} row read", t.format.as_str()))
                })
                .await,
            );
        }
        HealthReport { checks }
    }
}

#[async_trait]
impl QueryConnector for FilesConnector {
    fn default_schema(&self) -> Option<String> {
        Some(SCHEMA.to_owned())
    }

    async fn list_tables(&self, filter: &TableFilter) -> Result<Vec<TableInfo>> {
        if filter.schema.as_deref().is_some_and(|s| s != SCHEMA) {
            return Ok(Vec::new());
        }
        Ok(self.tables.iter().map(|t| self.table_info(t)).collect())
    }

    async fn get_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let source = self.find(table)?;
        let provider = self
            .ctx
            .table_provider(source.name.as_str())
            .await
            .map_err(from_datafusion)?;
        let schema = provider.schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| ColumnInfo {
                name: f.name().clone(),
                source_type: None,
                description: None,
            })
            .collect();
        Ok(TableSchema {
            info: self.table_info(source),
            schema,
            columns,
        })
    }

    async fn plan(&self, request: &QueryRequest) -> Result<SchemaRef> {
        let df = self.dataframe(request).await?;
        Ok(Arc::new(df.schema().as_arrow().clone()))
    }

    async fn parameter_schema(&self, request: &QueryRequest) -> Result<Option<SchemaRef>> {
        let unbound = QueryRequest {
            params: Vec::new(),
            ..request.clone()
        };
        let df = self.dataframe(&unbound).await?;
        let types = df.logical_plan().get_parameter_types().map_err(from_datafusion)?;
        let mut named: Vec<(usize, Option<arrow::datatypes::DataType>)> = types
            .into_iter()
            .filter_map(|(name, ty)| Some((name.strip_prefix('$')?.parse().ok()?, ty)))
            .collect();
        named.sort_by_key(|(i, _)| *i);
        let fields: Vec<arrow::datatypes::Field> = named
            .into_iter()
            .map(|(i, ty)| arrow::datatypes::Field::new(format!("${i}"), ty.unwrap_or(arrow::datatypes::DataType::Null), true))
            .collect();
        Ok(Some(Arc::new(arrow::datatypes::Schema::new(fields))))
    }

    async fn execute(&self, request: QueryRequest) -> Result<BatchStream> {
        let df = self.dataframe(&request).await?;
        let stream = df.execute_stream().await.map_err(from_datafusion)?;
        let schema = stream.schema();
        Ok(BatchStream::new(schema, stream.map_err(from_datafusion)))
    }

    async fn explain(&self, request: &QueryRequest, verbose: bool) -> Result<Explanation> {
        let df = self.dataframe(request).await?;
        let batches = df
            .explain(verbose, false)
            .map_err(from_datafusion)?
            .collect()
            .await
            .map_err(from_datafusion)?;
        let mut sections = Vec::new();
        for batch in &batches {
            let kinds = arrow::array::cast::as_string_array(batch.column(0));
            let plans = arrow::array::cast::as_string_array(batch.column(1));
            for i in 0..batch.num_rows() {
                sections.push((kinds.value(i).to_owned(), plans.value(i).to_owned()));
            }
        }
        let plan = sections
            .iter()
            .map(|(name, plan)| format!("{name}:\n{plan}"))
            .collect::<Vec<_>>()
            .join("\n\n");
        Ok(Explanation { plan, sections })
    }
}

#[async_trait]
impl CatalogConnector for FilesConnector {
    async fn list_schemas(&self, _catalog: Option<&str>) -> Result<Vec<SchemaInfo>> {
        Ok(vec![SchemaInfo {
            catalog: None,
            name: SCHEMA.to_owned(),
            description: self.config.description.clone(),
        }])
    }

    async fn get_table_metadata(&self, table: &TableRef) -> Result<TableMetadata> {
        let schema = self.get_schema(table).await?;
        let columns = schema
            .schema
            .fields()
            .iter()
            .map(|f| ColumnMetadata {
                name: f.name().clone(),
                arrow_type: f.data_type().to_string(),
                nullable: f.is_nullable(),
                ..Default::default()
            })
            .collect();
        let properties = schema
            .info
            .format
            .iter()
            .map(|f| ("format".to_owned(), f.clone()))
            .collect();
        Ok(TableMetadata {
            info: schema.info,
            columns,
            properties,
            ..Default::default()
        })
    }

    async fn search_tables(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let words: Vec<String> = query.split_whitespace().map(str::to_ascii_lowercase).collect();
        let mut hits = Vec::new();
        for t in &self.tables {
            let schema = self.get_schema(&TableRef::bare(&t.name)).await?;
            let mut score = 0.0;
            let mut matched = Vec::new();
            for w in &words {
                if t.name.contains(w.as_str()) {
                    score += 2.0;
                }
                for f in schema.schema.fields() {
                    if f.name().to_ascii_lowercase().contains(w.as_str()) {
                        score += 1.0;
                        if !matched.contains(f.name()) {
                            matched.push(f.name().clone());
                        }
                    }
                }
            }
            if score > 0.0 {
                hits.push(SearchHit {
                    table: schema.info,
                    score,
                    matched_columns: matched,
                });
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.table.table.cmp(&b.table.table)));
        hits.truncate(limit);
        Ok(hits)
    }
}
