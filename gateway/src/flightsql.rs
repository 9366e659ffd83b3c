//! Arrow Flight SQL on the gateway's Flight service: statement queries and
//! the metadata commands BI tools and ADBC/JDBC drivers send first.
//!
//! Each connector instance with the Query family is one Flight SQL catalog.
//! A statement runs on the connector named by the `x-dmesh-connector` call
//! header, or on the one whose name qualifies every table it reads
//! (`demo.public.orders`); the qualifier is removed before the connector sees
//! the SQL.

use std::sync::Arc;

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::{
    Any, Command, CommandGetTables, CommandStatementQuery, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{FlightDescriptor, FlightEndpoint, FlightInfo, Ticket};
use sqlparser::ast::{ObjectName, ObjectNamePart, visit_relations_mut};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use dmesh_connector_api::TableFilter;
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use std::ops::ControlFlow;
use tonic::metadata::MetadataMap;
use tonic::Status;

use crate::engine::client_deadline;
use crate::service::Caller;
use crate::flight::{BoxStream, FlightApi, MAX_FLIGHT_DATA_BYTES, stream_ticket};

/// The call header that names the connector a statement runs on.
pub const CONNECTOR_HEADER: &str = "x-dmesh-connector";

/// The table types dmesh reports, in the order GetTableTypes lists them.
const TABLE_TYPES: [&str; 5] = ["TABLE", "VIEW", "MATERIALIZED VIEW", "EXTERNAL TABLE", "SYSTEM TABLE"];

fn table_type_name(t: dmesh_connector_api::TableType) -> &'static str {
    use dmesh_connector_api::TableType as T;
    match t {
        T::Table => TABLE_TYPES[0],
        T::View => TABLE_TYPES[1],
        T::MaterializedView => TABLE_TYPES[2],
        T::External => TABLE_TYPES[3],
        T::System => TABLE_TYPES[4],
    }
}

/// Whether a descriptor command or ticket is a Flight SQL message.
pub fn is_flight_sql(bytes: &[u8]) -> Option<Any> {
    let any = Any::decode(bytes).ok()?;
    any.type_url
        .starts_with("type.googleapis.com/arrow.flight.protocol.sql.")
        .then_some(any)
}

/// The server facts GetSqlInfo reports.
pub fn sql_info() -> &'static SqlInfoData {
    static INFO: std::sync::OnceLock<SqlInfoData> = std::sync::OnceLock::new();
    INFO.get_or_init(build_sql_info)
}

fn build_sql_info() -> SqlInfoData {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "dmesh");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    b.append(SqlInfo::FlightSqlServerArrowVersion, "59");
    b.append(SqlInfo::FlightSqlServerReadOnly, true);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(SqlInfo::FlightSqlServerTransaction, 0i32);
    b.append(SqlInfo::FlightSqlServerCancel, true);
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, false);
    b.append(SqlInfo::SqlDdlTable, false);
    b.build().expect("fixed SQL info values always build")
}

impl FlightApi {
    /// GetFlightInfo for a Flight SQL command.
    pub(crate) async fn sql_flight_info(
        &self,
        any: Any,
        descriptor: FlightDescriptor,
        metadata: &MetadataMap,
    ) -> Result<FlightInfo, Status> {
        let command = Command::try_from(any).map_err(|e| Status::invalid_argument(format!("bad Flight SQL command: {e}")))?;
        match command {
            Command::CommandStatementQuery(q) => self.statement_info(q, descriptor, metadata).await,
            Command::CommandGetCatalogs(q) => info_for(&q.into_builder().schema(), q.as_any(), descriptor),
            Command::CommandGetDbSchemas(q) => info_for(&q.clone().into_builder().schema(), q.as_any(), descriptor),
            Command::CommandGetTables(q) => info_for(&q.clone().into_builder().schema(), q.as_any(), descriptor),
            Command::CommandGetTableTypes(q) => info_for(&q.into_builder().schema(), q.as_any(), descriptor),
            Command::CommandGetSqlInfo(q) => {
                let schema = q.clone().into_builder(sql_info()).schema();
                info_for(&schema, q.as_any(), descriptor)
            }
            Command::CommandPreparedStatementQuery(q) => {
                self.prepared_info(&q.prepared_statement_handle, descriptor, metadata).await
            }
            Command::CommandGetPrimaryKeys(q) => info_for(&primary_keys_schema(), q.as_any(), descriptor),
            Command::CommandGetXdbcTypeInfo(q) => {
                let schema = q.into_builder(xdbc_types()).schema();
                info_for(&schema, q.as_any(), descriptor)
            }
            Command::CommandGetImportedKeys(q) => info_for(&foreign_keys_schema(), q.as_any(), descriptor),
            Command::CommandGetExportedKeys(q) => info_for(&foreign_keys_schema(), q.as_any(), descriptor),
            Command::CommandGetCrossReference(q) => info_for(&foreign_keys_schema(), q.as_any(), descriptor),
            other => Err(Status::unimplemented(format!(
                "Flight SQL {} is not offered yet; statement queries, prepared statements and the catalog, schema, \
                 table, table type and SQL info commands are",
                other.type_url()
            ))),
        }
    }

    async fn statement_info(
        &self,
        q: CommandStatementQuery,
        descriptor: FlightDescriptor,
        metadata: &MetadataMap,
    ) -> Result<FlightInfo, Status> {
        let (connector, sql) = self.route(&q.query, metadata)?;
        self.state().allow(metadata, &connector)?;
        let limits = dmesh_connector_api::Limits {
            timeout: client_deadline(metadata),
            ..Default::default()
        };
        let caller = self.state().caller(metadata);
        let prepared = self
            .engine()
            .prepare_for(&caller, &connector, &sql, Vec::new(), limits, false)
            .await?;
        let ticket = TicketStatementQuery {
            statement_handle: prepared.ticket.into(),
        };
        let info = FlightInfo::new()
            .try_with_schema(&prepared.schema)
            .map_err(|e| Status::internal(format!("encoding the schema failed: {e}")))?
            .with_descriptor(descriptor)
            .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket.as_any().encode_to_vec())))
            .with_ordered(true);
        Ok(info)
    }

    /// Which connector a statement runs on, and its SQL as that connector sees it.
    fn route(&self, sql: &str, metadata: &MetadataMap) -> Result<(String, String), Status> {
        if let Some(name) = metadata.get(CONNECTOR_HEADER).and_then(|v| v.to_str().ok()) {
            return Ok((name.to_owned(), sql.to_owned()));
        }
        let names: Vec<String> = self.engine().registry().list().iter().map(|i| i.name.clone()).collect();
        let no_route = || {
            Status::invalid_argument(format!(
                "cannot tell which connector runs this statement: qualify every table with its connector \
                 (e.g. {}.public.orders) or send the `{CONNECTOR_HEADER}` header; connectors: {}",
                names.first().map_or("demo", String::as_str),
                names.join(", ")
            ))
        };
        let Ok(mut statements) = Parser::parse_sql(&GenericDialect {}, sql) else {
            return Err(no_route());
        };
        let mut catalogs: Vec<String> = Vec::new();
        let mut unqualified = false;
        for statement in &mut statements {
            let _ = visit_relations_mut(statement, |name: &mut ObjectName| {
                if name.0.len() == 3
                    && let Some(ObjectNamePart::Identifier(first)) = name.0.first()
                    && names.contains(&first.value)
                {
                    if !catalogs.contains(&first.value) {
                        catalogs.push(first.value.clone());
                    }
                    name.0.remove(0);
                } else {
                    unqualified = true;
                }
                ControlFlow::<()>::Continue(())
            });
        }
        match catalogs.as_slice() {
            [one] if !unqualified => {
                let rewritten: Vec<String> = statements.iter().map(ToString::to_string).collect();
                Ok((one.clone(), rewritten.join("; ")))
            }
            [_, _, ..] => Err(Status::invalid_argument(format!(
                "the statement reads from several connectors ({}); queries across connectors are not supported yet",
                catalogs.join(", ")
            ))),
            _ => Err(no_route()),
        }
    }

    /// DoGet for a Flight SQL ticket.
    pub(crate) async fn sql_do_get(&self, any: Any, metadata: &MetadataMap) -> Result<BoxStream<arrow_flight::FlightData>, Status> {
        let command = Command::try_from(any).map_err(|e| Status::invalid_argument(format!("bad Flight SQL ticket: {e}")))?;
        match command {
            Command::TicketStatementQuery(t) => {
                let principal = crate::service::AppState::principal(metadata);
                stream_ticket(self.engine(), &t.statement_handle, client_deadline(metadata), principal.as_deref()).await
            }
            Command::CommandGetCatalogs(q) => {
                let mut b = q.into_builder();
                for name in self.query_connectors(metadata) {
                    b.append(name);
                }
                one_batch(b.build())
            }
            Command::CommandGetDbSchemas(q) => {
                let catalog = q.catalog.clone();
                let caller = self.state().caller(metadata);
                let mut b = q.into_builder();
                for name in self.query_connectors(metadata) {
                    if catalog.as_deref().is_some_and(|c| c != name) {
                        continue;
                    }
                    for schema in self.schemas_of(&name, &caller).await? {
                        b.append(&name, schema);
                    }
                }
                one_batch(b.build())
            }
            Command::CommandGetTables(q) => self.tables(q, metadata).await,
            Command::CommandGetTableTypes(q) => {
                let mut b = q.into_builder();
                for t in TABLE_TYPES {
                    b.append(t);
                }
                one_batch(b.build())
            }
            Command::CommandGetSqlInfo(q) => {
                one_batch(q.into_builder(sql_info()).build())
            }
            Command::CommandGetXdbcTypeInfo(q) => {
                one_batch(q.into_builder(xdbc_types()).build())
            }
            keys @ (Command::CommandGetPrimaryKeys(_)
            | Command::CommandGetImportedKeys(_)
            | Command::CommandGetExportedKeys(_)
            | Command::CommandGetCrossReference(_)) => self.keys_do_get(keys, metadata).await,
            other => Err(Status::unimplemented(format!("Flight SQL {} is not offered yet", other.type_url()))),
        }
    }

    fn query_connectors(&self, metadata: &MetadataMap) -> Vec<String> {
        let mut names: Vec<String> = self
            .engine()
            .registry()
            .list()
            .iter()
            .filter(|i| i.query().is_ok() && self.state().visible(metadata, &i.name))
            .map(|i| i.name.clone())
            .collect();
        names.sort();
        names
    }

    async fn schemas_of(&self, connector: &str, caller: &Caller) -> Result<Vec<String>, Status> {
        let instance = self.engine().registry().get(connector)?;
        let tables = instance.query()?.list_tables(&TableFilter::default()).await.map_err(crate::error::GatewayError::from)?;
        let mut schemas: Vec<String> = tables
            .into_iter()
            .filter(|t| caller.sees(connector, &t.table))
            .filter_map(|t| t.table.schema)
            .collect();
        schemas.sort();
        schemas.dedup();
        Ok(schemas)
    }

    async fn tables(&self, q: CommandGetTables, metadata: &MetadataMap) -> Result<BoxStream<arrow_flight::FlightData>, Status> {
        let catalog = q.catalog.clone();
        let include_schema = q.include_schema;
        let caller = self.state().caller(metadata);
        let mut b = q.into_builder();
        for name in self.query_connectors(metadata) {
            if catalog.as_deref().is_some_and(|c| c != name) {
                continue;
            }
            let instance = self.engine().registry().get(&name)?;
            let query = instance.query()?;
            let tables = query.list_tables(&TableFilter::default()).await.map_err(crate::error::GatewayError::from)?;
            for t in tables.into_iter().filter(|t| caller.sees(&name, &t.table)) {
                let schema_name = t.table.schema.clone().unwrap_or_default();
                let arrow_schema = if include_schema {
                    let described = query.get_schema(&t.table).await.map_err(crate::error::GatewayError::from)?;
                    described.schema.as_ref().clone()
                } else {
                    Schema::empty()
                };
                b.append(&name, &schema_name, &t.table.name, table_type_name(t.table_type), &arrow_schema)
                    .map_err(|e| Status::internal(format!("listing tables: {e}")))?;
            }
        }
        one_batch(b.build())
    }
}

fn info_for(schema: &Schema, command: Any, descriptor: FlightDescriptor) -> Result<FlightInfo, Status> {
    Ok(FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("encoding the schema failed: {e}")))?
        .with_descriptor(descriptor)
        .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(command.encode_to_vec()))))
}

fn one_batch<E: std::fmt::Display>(batch: Result<RecordBatch, E>) -> Result<BoxStream<arrow_flight::FlightData>, Status> {
    let batch = batch.map_err(|e| Status::internal(format!("building the result: {e}")))?;
    let schema = batch.schema();
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .with_max_flight_data_size(MAX_FLIGHT_DATA_BYTES)
        .build(futures::stream::once(async move { Ok(batch) }))
        .map_err(|e| match e {
            FlightError::Tonic(status) => *status,
            other => Status::internal(format!("encoding the result failed: {other}")),
        });
    Ok(Box::pin(stream.boxed()))
}

/// The bearer token handed out by the handshake.
pub fn new_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What a prepared statement handle holds. Handles are self-contained, so
/// any replica can execute them and closing one frees nothing on the server.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Handle {
    connector: String,
    sql: String,
    #[serde(default)]
    params: Vec<dmesh_connector_api::Param>,
}

impl Handle {
    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn decode(bytes: &[u8]) -> Result<Self, Status> {
        serde_json::from_slice(bytes)
            .map_err(|_| Status::invalid_argument("unknown prepared statement handle; create the statement again"))
    }
}

impl FlightApi {
    /// The `CreatePreparedStatement` action: checks the statement on its
    /// connector and returns a handle and the result's schema.
    pub(crate) async fn create_prepared_statement(
        &self,
        request: arrow_flight::sql::ActionCreatePreparedStatementRequest,
        metadata: &MetadataMap,
    ) -> Result<arrow_flight::sql::ActionCreatePreparedStatementResult, Status> {
        let (connector, sql) = self.route(&request.query, metadata)?;
        self.state().allow(metadata, &connector)?;
        let prepared = self
            .engine()
            .prepare_for(
                &self.state().caller(metadata),
                &connector,
                &sql,
                Vec::new(),
                dmesh_connector_api::Limits::default(),
                false,
            )
            .await?;
        let parameters = self
            .engine()
            .registry()
            .get(&connector)?
            .query()?
            .parameter_schema(&dmesh_connector_api::QueryRequest::read_only(sql.clone()))
            .await
            .map_err(crate::error::GatewayError::from)?;
        let options = arrow::ipc::writer::IpcWriteOptions::default();
        let ipc = |schema: &Schema| -> Result<bytes::Bytes, Status> {
            let arrow_flight::IpcMessage(bytes) = arrow_flight::SchemaAsIpc::new(schema, &options)
                .try_into()
                .map_err(|e: arrow::error::ArrowError| Status::internal(format!("encoding a schema failed: {e}")))?;
            Ok(bytes)
        };
        let schema = ipc(&prepared.schema)?;
        let parameter_schema = match parameters {
            Some(p) => ipc(&p)?,
            None => Default::default(),
        };
        Ok(arrow_flight::sql::ActionCreatePreparedStatementResult {
            prepared_statement_handle: Handle {
                connector,
                sql,
                params: Vec::new(),
            }
            .encode()
            .into(),
            dataset_schema: schema,
            parameter_schema,
        })
    }

    /// DoPut of parameter values for a prepared statement: returns a new
    /// handle carrying them.
    pub(crate) async fn bind_parameters(
        &self,
        handle: &[u8],
        batches: Vec<RecordBatch>,
    ) -> Result<arrow_flight::sql::DoPutPreparedStatementResult, Status> {
        let mut h = Handle::decode(handle)?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows > 1 {
            return Err(Status::invalid_argument(format!(
                "{rows} rows of parameters were bound; bind one row per execution"
            )));
        }
        h.params = match batches.iter().find(|b| b.num_rows() == 1) {
            Some(batch) => batch
                .columns()
                .iter()
                .enumerate()
                .map(|(i, col)| {
                    param_value(col.as_ref()).map(|value| dmesh_connector_api::Param { name: None, value }).map_err(|why| {
                        Status::invalid_argument(format!("parameter {} ({}): {why}", i + 1, batch.schema().field(i).name()))
                    })
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(arrow_flight::sql::DoPutPreparedStatementResult {
            prepared_statement_handle: Some(h.encode().into()),
        })
    }

    /// GetFlightInfo for a prepared statement: plans it with its parameters.
    pub(crate) async fn prepared_info(
        &self,
        handle: &[u8],
        descriptor: FlightDescriptor,
        metadata: &MetadataMap,
    ) -> Result<FlightInfo, Status> {
        let h = Handle::decode(handle)?;
        self.state().allow(metadata, &h.connector)?;
        let limits = dmesh_connector_api::Limits {
            timeout: client_deadline(metadata),
            ..Default::default()
        };
        let caller = self.state().caller(metadata);
        let prepared = self
            .engine()
            .prepare_for(&caller, &h.connector, &h.sql, h.params, limits, false)
            .await?;
        let ticket = TicketStatementQuery {
            statement_handle: prepared.ticket.into(),
        };
        Ok(FlightInfo::new()
            .try_with_schema(&prepared.schema)
            .map_err(|e| Status::internal(format!("encoding the schema failed: {e}")))?
            .with_descriptor(descriptor)
            .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket.as_any().encode_to_vec())))
            .with_ordered(true))
    }
}

/// The value in row 0 of a parameter column.
fn param_value(col: &dyn arrow::array::Array) -> Result<dmesh_connector_api::ParamValue, String> {
    use arrow::array::AsArray;
    use arrow::datatypes::{DataType as D, TimeUnit};
    use dmesh_connector_api::ParamValue as P;
    if col.is_null(0) {
        return Ok(P::Null);
    }
    let as_i64 = |c: &dyn arrow::array::Array| -> Result<i64, String> {
        let cast = arrow::compute::cast(c, &D::Int64).map_err(|e| e.to_string())?;
        Ok(cast.as_primitive::<arrow::datatypes::Int64Type>().value(0))
    };
    Ok(match col.data_type() {
        D::Boolean => P::Bool(col.as_boolean().value(0)),
        D::Int8 | D::Int16 | D::Int32 | D::Int64 => P::Int64(as_i64(col)?),
        D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => {
            let cast = arrow::compute::cast(col, &D::UInt64).map_err(|e| e.to_string())?;
            P::UInt64(cast.as_primitive::<arrow::datatypes::UInt64Type>().value(0))
        }
        D::Float16 | D::Float32 | D::Float64 => {
            let cast = arrow::compute::cast(col, &D::Float64).map_err(|e| e.to_string())?;
            P::Float64(cast.as_primitive::<arrow::datatypes::Float64Type>().value(0))
        }
        D::Utf8 | D::LargeUtf8 | D::Utf8View => {
            let cast = arrow::compute::cast(col, &D::Utf8).map_err(|e| e.to_string())?;
            P::Utf8(cast.as_string::<i32>().value(0).to_owned())
        }
        D::Binary | D::LargeBinary | D::BinaryView => {
            let cast = arrow::compute::cast(col, &D::Binary).map_err(|e| e.to_string())?;
            P::Binary(cast.as_binary::<i32>().value(0).to_vec())
        }
        D::Date32 => P::Date32(col.as_primitive::<arrow::datatypes::Date32Type>().value(0)),
        D::Timestamp(_, _) => {
            let cast = arrow::compute::cast(col, &D::Timestamp(TimeUnit::Microsecond, None)).map_err(|e| e.to_string())?;
            P::TimestampMicros(cast.as_primitive::<arrow::datatypes::TimestampMicrosecondType>().value(0))
        }
        D::Decimal128(_, _) | D::Decimal256(_, _) => {
            P::Decimal(arrow::util::display::array_value_to_string(col, 0).map_err(|e| e.to_string())?)
        }
        other => return Err(format!("type {other} is not supported as a parameter")),
    })
}

/// The schema of GetPrimaryKeys results.
fn primary_keys_schema() -> arrow::datatypes::SchemaRef {
    use arrow::datatypes::{DataType, Field};
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// The schema of GetExportedKeys, GetImportedKeys and GetCrossReference results.
fn foreign_keys_schema() -> arrow::datatypes::SchemaRef {
    use arrow::datatypes::{DataType, Field};
    Arc::new(Schema::new(vec![
        Field::new("pk_catalog_name", DataType::Utf8, true),
        Field::new("pk_db_schema_name", DataType::Utf8, true),
        Field::new("pk_table_name", DataType::Utf8, false),
        Field::new("pk_column_name", DataType::Utf8, false),
        Field::new("fk_catalog_name", DataType::Utf8, true),
        Field::new("fk_db_schema_name", DataType::Utf8, true),
        Field::new("fk_table_name", DataType::Utf8, false),
        Field::new("fk_column_name", DataType::Utf8, false),
        Field::new("key_sequence", DataType::Int32, false),
        Field::new("fk_key_name", DataType::Utf8, true),
        Field::new("pk_key_name", DataType::Utf8, true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ]))
}

/// One foreign-key column pair, as Flight SQL lists it.
struct KeyRow {
    pk: (String, Option<String>, String, String),
    fk: (String, Option<String>, String, String),
    sequence: i32,
    fk_name: String,
}

fn foreign_keys_batch(rows: &[KeyRow]) -> Result<RecordBatch, Status> {
    use arrow::array::{ArrayRef, Int32Array, StringArray, UInt8Array};
    let s = |f: &dyn Fn(&KeyRow) -> Option<String>| -> ArrayRef { Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>())) };
    // Rules: 3 = NO ACTION, the default the catalog does not refine.
    let no_action: ArrayRef = Arc::new(UInt8Array::from(vec![3u8; rows.len()]));
    RecordBatch::try_new(
        foreign_keys_schema(),
        vec![
            s(&|r| Some(r.pk.0.clone())),
            s(&|r| r.pk.1.clone()),
            s(&|r| Some(r.pk.2.clone())),
            s(&|r| Some(r.pk.3.clone())),
            s(&|r| Some(r.fk.0.clone())),
            s(&|r| r.fk.1.clone()),
            s(&|r| Some(r.fk.2.clone())),
            s(&|r| Some(r.fk.3.clone())),
            Arc::new(Int32Array::from(rows.iter().map(|r| r.sequence).collect::<Vec<_>>())),
            s(&|r| Some(r.fk_name.clone())),
            s(&|_| None),
            no_action.clone(),
            no_action,
        ],
    )
    .map_err(|e| Status::internal(format!("building the key listing: {e}")))
}

impl FlightApi {
    fn catalog_of(&self, catalog: Option<&str>, metadata: &MetadataMap) -> Result<String, Status> {
        match catalog {
            Some(c) => {
                self.state().allow(metadata, c)?;
                Ok(c.to_owned())
            }
            None => {
                let names = self.query_connectors(metadata);
                match names.as_slice() {
                    [one] => Ok(one.clone()),
                    _ => Err(Status::invalid_argument(format!(
                        "name the catalog (the connector); catalogs: {}",
                        names.join(", ")
                    ))),
                }
            }
        }
    }

    async fn metadata(
        &self,
        caller: &Caller,
        catalog: &str,
        schema: Option<&str>,
        table: &str,
    ) -> Result<Option<dmesh_connector_api::TableMetadata>, Status> {
        let wanted = dmesh_connector_api::TableRef {
            catalog: None,
            schema: schema.map(str::to_owned),
            name: table.to_owned(),
        };
        if schema.is_some() && !caller.sees(catalog, &wanted) {
            return Ok(None);
        }
        let instance = self.engine().registry().get(catalog)?;
        let Ok(cat) = instance.catalog() else { return Ok(None) };
        let table = dmesh_connector_api::TableRef {
            catalog: None,
            schema: schema.map(str::to_owned),
            name: table.to_owned(),
        };
        match cat.get_table_metadata(&table).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == dmesh_connector_api::ErrorKind::Unsupported => Ok(None),
            Err(e) => Err(crate::error::GatewayError::from(e).into()),
        }
    }

    /// Foreign keys of tables in `catalog` (all of them, or those of `from`).
    async fn foreign_keys(
        &self,
        caller: &Caller,
        catalog: &str,
        from: Option<(&Option<String>, &str)>,
    ) -> Result<Vec<KeyRow>, Status> {
        let instance = self.engine().registry().get(catalog)?;
        let tables: Vec<(Option<String>, String)> = match from {
            Some((schema, name)) => vec![(schema.clone(), name.to_owned())],
            None => instance
                .query()?
                .list_tables(&TableFilter::default())
                .await
                .map_err(crate::error::GatewayError::from)?
                .into_iter()
                .map(|t| (t.table.schema, t.table.name))
                .collect(),
        };
        let mut rows = Vec::new();
        for (schema, name) in tables {
            let Some(m) = self.metadata(caller, catalog, schema.as_deref(), &name).await? else { continue };
            if !caller.sees(catalog, &m.info.table) {
                continue;
            }
            for fk in &m.foreign_keys {
                if !caller.sees(catalog, &fk.referenced_table) {
                    continue;
                }
                for (i, (col, pk_col)) in fk.columns.iter().zip(&fk.referenced_columns).enumerate() {
                    rows.push(KeyRow {
                        pk: (
                            catalog.to_owned(),
                            fk.referenced_table.schema.clone(),
                            fk.referenced_table.name.clone(),
                            pk_col.clone(),
                        ),
                        fk: (catalog.to_owned(), m.info.table.schema.clone(), m.info.table.name.clone(), col.clone()),
                        sequence: i as i32 + 1,
                        fk_name: fk.name.clone(),
                    });
                }
            }
        }
        Ok(rows)
    }

    /// DoGet for the key commands.
    pub(crate) async fn keys_do_get(
        &self,
        command: Command,
        metadata: &MetadataMap,
    ) -> Result<BoxStream<arrow_flight::FlightData>, Status> {
        use arrow::array::{ArrayRef, Int32Array, StringArray};
        let caller = self.state().caller(metadata);
        match command {
            Command::CommandGetPrimaryKeys(q) => {
                let catalog = self.catalog_of(q.catalog.as_deref(), metadata)?;
                let m = self
                    .metadata(&caller, &catalog, q.db_schema.as_deref(), &q.table)
                    .await?
                    .filter(|m| caller.sees(&catalog, &m.info.table));
                let keys: Vec<String> = m.as_ref().map(|m| m.primary_key.clone()).unwrap_or_default();
                let schema_name = m.as_ref().and_then(|m| m.info.table.schema.clone());
                let n = keys.len();
                let batch = RecordBatch::try_new(
                    primary_keys_schema(),
                    vec![
                        Arc::new(StringArray::from(vec![Some(catalog.clone()); n])) as ArrayRef,
                        Arc::new(StringArray::from(vec![schema_name; n])),
                        Arc::new(StringArray::from(vec![q.table.clone(); n])),
                        Arc::new(StringArray::from(keys)),
                        Arc::new(StringArray::from(vec![None::<String>; n])),
                        Arc::new(Int32Array::from((1..=n as i32).collect::<Vec<_>>())),
                    ],
                );
                one_batch(batch)
            }
            Command::CommandGetImportedKeys(q) => {
                let catalog = self.catalog_of(q.catalog.as_deref(), metadata)?;
                let rows = self.foreign_keys(&caller, &catalog, Some((&q.db_schema, &q.table))).await?;
                one_batch(foreign_keys_batch(&rows).map_err(|e| e.to_string()))
            }
            Command::CommandGetExportedKeys(q) => {
                let catalog = self.catalog_of(q.catalog.as_deref(), metadata)?;
                let rows: Vec<KeyRow> = self
                    .foreign_keys(&caller, &catalog, None)
                    .await?
                    .into_iter()
                    .filter(|r| r.pk.2 == q.table && (q.db_schema.is_none() || r.pk.1 == q.db_schema))
                    .collect();
                one_batch(foreign_keys_batch(&rows).map_err(|e| e.to_string()))
            }
            Command::CommandGetCrossReference(q) => {
                let catalog = self.catalog_of(q.fk_catalog.as_deref(), metadata)?;
                let rows: Vec<KeyRow> = self
                    .foreign_keys(&caller, &catalog, Some((&q.fk_db_schema, &q.fk_table)))
                    .await?
                    .into_iter()
                    .filter(|r| r.pk.2 == q.pk_table && (q.pk_db_schema.is_none() || r.pk.1 == q.pk_db_schema))
                    .collect();
                one_batch(foreign_keys_batch(&rows).map_err(|e| e.to_string()))
            }
            other => Err(Status::unimplemented(format!("Flight SQL {} is not offered yet", other.type_url()))),
        }
    }
}

/// The SQL types GetXdbcTypeInfo describes: those the connectors' results
/// carry, by their SQL names.
pub fn xdbc_types() -> &'static arrow_flight::sql::metadata::XdbcTypeInfoData {
    static TYPES: std::sync::OnceLock<arrow_flight::sql::metadata::XdbcTypeInfoData> = std::sync::OnceLock::new();
    TYPES.get_or_init(build_xdbc_types)
}

fn build_xdbc_types() -> arrow_flight::sql::metadata::XdbcTypeInfoData {
    use arrow_flight::sql::metadata::{XdbcTypeInfo, XdbcTypeInfoDataBuilder};
    use arrow_flight::sql::{Nullable, Searchable, XdbcDataType as X};
    let mut b = XdbcTypeInfoDataBuilder::new();
    let types: [(&str, X, Option<i32>, Option<&str>); 13] = [
        ("BOOLEAN", X::XdbcBit, Some(1), None),
        ("SMALLINT", X::XdbcSmallint, Some(5), None),
        ("INTEGER", X::XdbcInteger, Some(10), None),
        ("BIGINT", X::XdbcBigint, Some(19), None),
        ("REAL", X::XdbcReal, Some(7), None),
        ("DOUBLE PRECISION", X::XdbcDouble, Some(15), None),
        ("DECIMAL", X::XdbcDecimal, Some(38), None),
        ("VARCHAR", X::XdbcVarchar, None, Some("'")),
        ("DATE", X::XdbcDate, Some(10), Some("DATE '")),
        ("TIME", X::XdbcTime, Some(15), Some("TIME '")),
        ("TIMESTAMP", X::XdbcTimestamp, Some(26), Some("TIMESTAMP '")),
        ("INTERVAL", X::XdbcInterval, None, Some("INTERVAL '")),
        ("VARBINARY", X::XdbcVarbinary, None, None),
    ];
    for (name, data_type, size, prefix) in types {
        b.append(XdbcTypeInfo {
            type_name: name.to_owned(),
            data_type,
            column_size: size,
            literal_prefix: prefix.map(str::to_owned),
            literal_suffix: prefix.map(|_| "'".to_owned()),
            create_params: (name == "DECIMAL").then(|| vec!["precision".to_owned(), "scale".to_owned()]),
            nullable: Nullable::NullabilityNullable,
            case_sensitive: name == "VARCHAR",
            searchable: Searchable::Full,
            unsigned_attribute: None,
            fixed_prec_scale: false,
            auto_increment: None,
            local_type_name: Some(name.to_owned()),
            minimum_scale: None,
            maximum_scale: (name == "DECIMAL").then_some(38),
            sql_data_type: data_type,
            datetime_subcode: None,
            num_prec_radix: None,
            interval_precision: None,
        });
    }
    b.build().expect("fixed type descriptions always build")
}
