//! `dmesh.v1.CatalogService`.

use std::sync::Arc;

use dmesh_connector_api as api;
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::catalog_service_server::CatalogService;
use tonic::{Request, Response, Status};

use super::{AppState, DEFAULT_PAGE, paginate};
use crate::convert;
use crate::error::GatewayError;

/// The catalog service.
#[derive(Debug, Clone)]
pub struct CatalogApi(pub Arc<AppState>);

#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn list_schemas(&self, request: Request<pb::ListSchemasRequest>) -> Result<Response<pb::ListSchemasResponse>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let catalog = (!r.catalog.is_empty()).then_some(r.catalog.as_str());
        let schemas = instance.catalog()?.list_schemas(catalog).await.map_err(GatewayError::from)?;
        let (page, next_page_token) = paginate(schemas, r.page.as_ref())?;
        Ok(Response::new(pb::ListSchemasResponse {
            schemas: page
                .into_iter()
                .map(|s| pb::SchemaInfo {
                    catalog: s.catalog.unwrap_or_default(),
                    name: s.name,
                    description: s.description.unwrap_or_default(),
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn get_table_metadata(&self, request: Request<pb::GetTableMetadataRequest>) -> Result<Response<pb::TableMetadata>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let table = convert::table_ref_from(r.table.as_ref())?;
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let caller = self.0.caller(&metadata);
        let mut m = instance.catalog()?.get_table_metadata(&table).await.map_err(GatewayError::from)?;
        caller.require_table(&r.connector, &m.info.table)?;
        m.foreign_keys.retain(|f| caller.sees(&r.connector, &f.referenced_table));
        Ok(Response::new(pb::TableMetadata {
            table: Some(convert::table_info(&m.info)),
            columns: m
                .columns
                .iter()
                .map(|c| pb::ColumnMetadata {
                    column: Some(pb::Column {
                        name: c.name.clone(),
                        arrow_type: c.arrow_type.clone(),
                        source_type: c.source_type.clone().unwrap_or_default(),
                        nullable: c.nullable,
                        description: c.description.clone().unwrap_or_default(),
                    }),
                    default_expression: c.default_expression.clone(),
                    primary_key: m.primary_key.contains(&c.name),
                    classifications: c.classifications.clone(),
                })
                .collect(),
            primary_key: m.primary_key.clone(),
            foreign_keys: m
                .foreign_keys
                .iter()
                .map(|f| pb::ForeignKey {
                    name: f.name.clone(),
                    columns: f.columns.clone(),
                    referenced_table: Some(convert::table_ref(&f.referenced_table)),
                    referenced_columns: f.referenced_columns.clone(),
                })
                .collect(),
            created_at: None,
            updated_at: None,
            owner: m.owner.clone().unwrap_or_default(),
            properties: m.properties.into_iter().collect(),
        }))
    }

    async fn search_tables(&self, request: Request<pb::SearchTablesRequest>) -> Result<Response<pb::SearchTablesResponse>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        if r.query.trim().is_empty() {
            return Err(GatewayError::BadRequest("`query` is empty; give words to search for".into()).into());
        }
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let hits = instance
            .catalog()?
            .search_tables(&r.query, 10 * DEFAULT_PAGE)
            .await
            .map_err(GatewayError::from)?;
        let caller = self.0.caller(&metadata);
        let hits: Vec<_> = hits.into_iter().filter(|h| caller.sees(&r.connector, &h.table.table)).collect();
        let (page, next_page_token) = paginate(hits, r.page.as_ref())?;
        Ok(Response::new(pb::SearchTablesResponse {
            hits: page
                .into_iter()
                .map(|h| pb::SearchHit {
                    table: Some(convert::table_info(&h.table)),
                    score: h.score,
                    matched_columns: h.matched_columns,
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn get_lineage(&self, request: Request<pb::GetLineageRequest>) -> Result<Response<pb::Lineage>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let table = convert::table_ref_from(r.table.as_ref())?;
        let direction = match pb::LineageDirection::try_from(r.direction).unwrap_or_default() {
            pb::LineageDirection::Upstream => api::LineageDirection::Upstream,
            pb::LineageDirection::Downstream => api::LineageDirection::Downstream,
            _ => api::LineageDirection::Both,
        };
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let caller = self.0.caller(&metadata);
        caller.require_table(&r.connector, &table)?;
        let mut l = instance
            .catalog()?
            .get_lineage(&table, direction, r.depth.max(1))
            .await
            .map_err(GatewayError::from)?;
        // Nodes the caller may not see are left out, with their edges.
        l.nodes.retain(|n| caller.sees(n.connector.as_deref().unwrap_or(&r.connector), &n.table));
        let kept: std::collections::HashSet<&str> = l.nodes.iter().map(|n| n.id.as_str()).collect();
        let edges: Vec<_> = l
            .edges
            .iter()
            .filter(|e| kept.contains(e.from_id.as_str()) && kept.contains(e.to_id.as_str()))
            .cloned()
            .collect();
        l.edges = edges;
        Ok(Response::new(pb::Lineage {
            nodes: l
                .nodes
                .into_iter()
                .map(|n| pb::LineageNode {
                    id: n.id,
                    table: Some(convert::table_ref(&n.table)),
                    connector: n.connector.unwrap_or_default(),
                })
                .collect(),
            edges: l
                .edges
                .into_iter()
                .map(|e| pb::LineageEdge {
                    from_id: e.from_id,
                    to_id: e.to_id,
                    kind: e.kind,
                    via: e.via.unwrap_or_default(),
                    columns: vec![],
                })
                .collect(),
        }))
    }

    async fn get_classifications(
        &self,
        request: Request<pb::GetClassificationsRequest>,
    ) -> Result<Response<pb::GetClassificationsResponse>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let table = convert::table_ref_from(r.table.as_ref())?;
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        self.0.caller(&metadata).require_table(&r.connector, &table)?;
        let cs = instance.catalog()?.get_classifications(&table).await.map_err(GatewayError::from)?;
        Ok(Response::new(pb::GetClassificationsResponse {
            classifications: cs
                .into_iter()
                .map(|c| pb::Classification {
                    column: c.column,
                    label: c.label,
                    confidence: c.confidence,
                    method: c.method,
                })
                .collect(),
        }))
    }
}
