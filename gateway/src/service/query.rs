//! `dmesh.v1.QueryService`.

use std::sync::Arc;

use dmesh_connector_api::TableFilter;
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::query_service_server::QueryService;
use tonic::{Request, Response, Status};

use super::{AppState, paginate};
use crate::convert;
use crate::engine::ipc_stream;
use crate::error::GatewayError;

/// Inline results are at most this many bytes unless the client asks for less.
const INLINE_MAX_BYTES: u64 = 1 << 20;

/// The query service.
#[derive(Debug, Clone)]
pub struct QueryApi(pub Arc<AppState>);

#[tonic::async_trait]
impl QueryService for QueryApi {
    async fn execute(&self, request: Request<pb::ExecuteRequest>) -> Result<Response<pb::ExecuteResponse>, Status> {
        let deadline = crate::engine::client_deadline(request.metadata());
        self.0.allow(request.metadata(), &request.get_ref().connector)?;
        let caller = self.0.caller(request.metadata());
        let r = request.into_inner();
        let mut limits = convert::limits(r.limits.as_ref())?;
        if let Some(d) = deadline {
            limits.timeout = Some(limits.timeout.map_or(d, |t| t.min(d)));
        }
        let params = convert::params(&r.params)?;
        let prepared = self
            .0
            .engine
            .prepare_for(&caller, &r.connector, &r.sql, params, limits, r.write)
            .await?;
        let arrow_schema = ipc_stream(&prepared.schema, &[])?;
        // A change runs once, when its ticket is redeemed: never inline too.
        let inline = match r.inline {
            Some(p) if p.max_rows > 0 && !r.write => {
                let max_rows = p.max_rows.min(self.0.inline_max_rows);
                let max_bytes = if p.max_bytes == 0 { INLINE_MAX_BYTES } else { p.max_bytes.min(INLINE_MAX_BYTES * 16) };
                self.0
                    .engine
                    .inline(&prepared, max_rows, max_bytes)
                    .await?
                    .map(|i| pb::InlineResult {
                        arrow_ipc: i.ipc,
                        rows: i.rows,
                        truncation: convert::truncation(i.truncation.as_ref()),
                    })
            }
            _ => None,
        };
        tracing::info!(query_id = %prepared.claims.query_id, connector = %r.connector, inline = inline.is_some(), "query planned");
        Ok(Response::new(pb::ExecuteResponse {
            arrow_schema,
            ticket: Some(pb::Ticket {
                ticket: prepared.ticket,
                expires_at: Some(convert::timestamp_ms(prepared.claims.expires_at_ms)),
            }),
            inline,
            query_id: prepared.claims.query_id,
        }))
    }

    async fn get_schema(&self, request: Request<pb::GetSchemaRequest>) -> Result<Response<pb::GetSchemaResponse>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let table = convert::table_ref_from(r.table.as_ref())?;
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let caller = self.0.caller(&metadata);
        let schema = instance.query()?.get_schema(&table).await.map_err(GatewayError::from)?;
        caller.require_table(&r.connector, &schema.info.table)?;
        let columns = schema
            .schema
            .fields()
            .iter()
            .zip(schema.columns.iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(f, c)| pb::Column {
                name: f.name().clone(),
                arrow_type: f.data_type().to_string(),
                source_type: c.and_then(|c| c.source_type.clone()).unwrap_or_default(),
                nullable: f.is_nullable(),
                description: c.and_then(|c| c.description.clone()).unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(pb::GetSchemaResponse {
            table: Some(convert::table_info(&schema.info)),
            arrow_schema: ipc_stream(&schema.schema, &[])?,
            columns,
        }))
    }

    async fn list_tables(&self, request: Request<pb::ListTablesRequest>) -> Result<Response<pb::ListTablesResponse>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let filter = TableFilter {
            schema: (!r.schema.is_empty()).then(|| r.schema.clone()),
        };
        let caller = self.0.caller(&metadata);
        let mut tables = instance.query()?.list_tables(&filter).await.map_err(GatewayError::from)?;
        tables.retain(|t| caller.sees(&r.connector, &t.table));
        let (page, next_page_token) = paginate(tables, r.page.as_ref())?;
        Ok(Response::new(pb::ListTablesResponse {
            tables: page.iter().map(convert::table_info).collect(),
            next_page_token,
        }))
    }

    async fn explain(&self, request: Request<pb::ExplainRequest>) -> Result<Response<pb::ExplainResponse>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        if r.sql.trim().is_empty() {
            return Err(GatewayError::BadRequest("`sql` is empty; send the query to explain".into()).into());
        }
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        self.0.engine.authorize(&self.0.caller(&metadata), &r.connector, &r.sql, false)?;
        let req = dmesh_connector_api::QueryRequest {
            sql: r.sql,
            params: convert::params(&r.params)?,
            ..Default::default()
        };
        let e = instance.query()?.explain(&req, r.verbose).await.map_err(GatewayError::from)?;
        Ok(Response::new(pb::ExplainResponse {
            plan: e.plan,
            sections: e
                .sections
                .into_iter()
                .map(|(name, plan)| pb::PlanSection { name, plan })
                .collect(),
        }))
    }
}
