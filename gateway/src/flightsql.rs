//! Arrow Flight SQL on the gateway's Flight service: statement queries and
//! the metadata commands BI tools and ADBC/JDBC drivers send first.
//!
//! Each connector instance with the Query family is one Flight SQL catalog.
//! A statement runs on the connector named by the `x-dmesh-connector` call
//! header, or on the one whose name qualifies every table it reads
//! (`demo.public.orders`); the qualifier is removed before the connector sees
//! the SQL.

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
pub fn sql_info() -> SqlInfoData {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "dmesh");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    b.append(SqlInfo::FlightSqlServerArrowVersion, "59");
    b.append(SqlInfo::FlightSqlServerReadOnly, true);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(SqlInfo::FlightSqlServerTransaction, 0i32);
    b.append(SqlInfo::FlightSqlServerCancel, false);
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
            Command::CommandGetCatalogs(q) => info_for(&q.clone().into_builder().schema(), q.as_any(), descriptor),
            Command::CommandGetDbSchemas(q) => info_for(&q.clone().into_builder().schema(), q.as_any(), descriptor),
            Command::CommandGetTables(q) => info_for(&q.clone().into_builder().schema(), q.as_any(), descriptor),
            Command::CommandGetTableTypes(q) => info_for(&q.clone().into_builder().schema(), q.as_any(), descriptor),
            Command::CommandGetSqlInfo(q) => {
                let info = sql_info();
                let schema = q.clone().into_builder(&info).schema();
                info_for(&schema, q.as_any(), descriptor)
            }
            other => Err(Status::unimplemented(format!(
                "Flight SQL {} is not offered yet; statement queries and the catalog, schema, table, table type \
                 and SQL info commands are",
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
        let limits = dmesh_connector_api::Limits {
            timeout: client_deadline(metadata),
            ..Default::default()
        };
        let prepared = self.engine().prepare(&connector, &sql, Vec::new(), limits).await?;
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
                stream_ticket(self.engine(), &t.statement_handle, client_deadline(metadata)).await
            }
            Command::CommandGetCatalogs(q) => {
                let mut b = q.into_builder();
                for name in self.query_connectors() {
                    b.append(name);
                }
                one_batch(b.build())
            }
            Command::CommandGetDbSchemas(q) => {
                let catalog = q.catalog.clone();
                let mut b = q.into_builder();
                for name in self.query_connectors() {
                    if catalog.as_deref().is_some_and(|c| c != name) {
                        continue;
                    }
                    for schema in self.schemas_of(&name).await? {
                        b.append(&name, schema);
                    }
                }
                one_batch(b.build())
            }
            Command::CommandGetTables(q) => self.tables(q).await,
            Command::CommandGetTableTypes(q) => {
                let mut b = q.into_builder();
                for t in TABLE_TYPES {
                    b.append(t);
                }
                one_batch(b.build())
            }
            Command::CommandGetSqlInfo(q) => {
                let info = sql_info();
                one_batch(q.into_builder(&info).build())
            }
            other => Err(Status::unimplemented(format!("Flight SQL {} is not offered yet", other.type_url()))),
        }
    }

    fn query_connectors(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .engine()
            .registry()
            .list()
            .iter()
            .filter(|i| i.query().is_ok())
            .map(|i| i.name.clone())
            .collect();
        names.sort();
        names
    }

    async fn schemas_of(&self, connector: &str) -> Result<Vec<String>, Status> {
        let instance = self.engine().registry().get(connector)?;
        let tables = instance.query()?.list_tables(&TableFilter::default()).await.map_err(crate::error::GatewayError::from)?;
        let mut schemas: Vec<String> = tables.into_iter().filter_map(|t| t.table.schema).collect();
        schemas.sort();
        schemas.dedup();
        Ok(schemas)
    }

    async fn tables(&self, q: CommandGetTables) -> Result<BoxStream<arrow_flight::FlightData>, Status> {
        let catalog = q.catalog.clone();
        let include_schema = q.include_schema;
        let mut b = q.into_builder();
        for name in self.query_connectors() {
            if catalog.as_deref().is_some_and(|c| c != name) {
                continue;
            }
            let instance = self.engine().registry().get(&name)?;
            let query = instance.query()?;
            let tables = query.list_tables(&TableFilter::default()).await.map_err(crate::error::GatewayError::from)?;
            for t in tables {
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
