//! The Catalog family: metadata, search, lineage and classifications.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::{Error, Result, TableInfo, TableRef};

/// A schema (namespace) in a catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaInfo {
    /// The catalog it belongs to, where the source has several.
    pub catalog: Option<String>,
    /// The schema name.
    pub name: String,
    /// The source's comment.
    pub description: Option<String>,
}

/// A column's catalog entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnMetadata {
    /// The column name.
    pub name: String,
    /// The Arrow type, as Arrow prints it.
    pub arrow_type: String,
    /// The source's own type name.
    pub source_type: Option<String>,
    /// Whether it may hold NULL.
    pub nullable: bool,
    /// The source's comment.
    pub description: Option<String>,
    /// The default expression, as the source writes it.
    pub default_expression: Option<String>,
    /// Labels such as `pii.email`.
    pub classifications: Vec<String>,
}

/// A foreign key from one table to another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForeignKey {
    /// The constraint name.
    pub name: String,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub referenced_table: TableRef,
    /// The referenced columns, in the same order.
    pub referenced_columns: Vec<String>,
}

/// Everything a catalog knows about one table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableMetadata {
    /// The table.
    pub info: TableInfo,
    /// Its columns, in order.
    pub columns: Vec<ColumnMetadata>,
    /// Primary key columns, in key order.
    pub primary_key: Vec<String>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// The owner, where the source has one.
    pub owner: Option<String>,
    /// Source-specific properties.
    pub properties: BTreeMap<String, String>,
}

/// One search result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchHit {
    /// The matching table.
    pub table: TableInfo,
    /// Higher is better; comparable within one search.
    pub score: f64,
    /// Columns whose names or descriptions matched.
    pub matched_columns: Vec<String>,
}

/// Which way to follow lineage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineageDirection {
    /// Where the data comes from.
    Upstream,
    /// Where the data goes.
    Downstream,
    /// Both ways.
    #[default]
    Both,
}

/// A dataset in a lineage graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineageNode {
    /// A stable id within the graph.
    pub id: String,
    /// The dataset.
    pub table: TableRef,
    /// The connector holding it, when known.
    pub connector: Option<String>,
}

/// An edge of a lineage graph: data flows from `from_id` to `to_id`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineageEdge {
    /// Upstream node id.
    pub from_id: String,
    /// Downstream node id.
    pub to_id: String,
    /// What made the edge: `view`, `job`, `query`, `declared`.
    pub kind: String,
    /// The view, job or query behind it.
    pub via: Option<String>,
}

/// A lineage graph around one table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lineage {
    /// The datasets.
    pub nodes: Vec<LineageNode>,
    /// The flows between them.
    pub edges: Vec<LineageEdge>,
}

/// A label on a column, such as `pii.email`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Classification {
    /// The column.
    pub column: String,
    /// The label.
    pub label: String,
    /// 0..1; 1 for a declared label.
    pub confidence: f64,
    /// How it was found: `declared`, `name`, `sample`.
    pub method: String,
}

/// A source of metadata about data. Every ability is optional; each default
/// answers [`Error::unsupported`].
#[async_trait]
pub trait CatalogConnector: Send + Sync {
    /// The schemas, in name order.
    ///
    /// # Errors
    /// [`Error::unsupported`] unless the source has schemas.
    async fn list_schemas(&self, catalog: Option<&str>) -> Result<Vec<SchemaInfo>> {
        let _ = catalog;
        Err(Error::unsupported("listing schemas"))
    }

    /// Everything known about one table.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown table.
    async fn get_table_metadata(&self, table: &TableRef) -> Result<TableMetadata> {
        let _ = table;
        Err(Error::unsupported("table metadata"))
    }

    /// Tables whose names, columns or descriptions match `query`, best first.
    ///
    /// # Errors
    /// [`Error::unsupported`] unless the source can search.
    async fn search_tables(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let _ = (query, limit);
        Err(Error::unsupported("table search"))
    }

    /// The lineage graph around `table`, `depth` hops each way asked.
    ///
    /// # Errors
    /// [`Error::unsupported`] unless the source tracks lineage.
    async fn get_lineage(&self, table: &TableRef, direction: LineageDirection, depth: u32) -> Result<Lineage> {
        let _ = (table, direction, depth);
        Err(Error::unsupported("lineage"))
    }

    /// The labels on `table`'s columns.
    ///
    /// # Errors
    /// [`Error::unsupported`] unless the source classifies columns.
    async fn get_classifications(&self, table: &TableRef) -> Result<Vec<Classification>> {
        let _ = table;
        Err(Error::unsupported("classifications"))
    }
}
