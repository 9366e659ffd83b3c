//! The Catalog family over a SQL source's own catalog: the queries for
//! sources with an `information_schema` (parameterised by dialect), and the
//! assembly every SQL source shares once its rows are read — column
//! metadata, keys, search ranking.

use std::collections::BTreeMap;

use arrow::datatypes::Schema;
use dmesh_connector_api::{ColumnInfo, ColumnMetadata, Error, ForeignKey, Result, SearchHit, TableInfo, TableRef, TableType};

/// A column as a source's catalog describes it.
#[derive(Clone, Debug)]
pub struct CatalogColumn {
    /// Its name.
    pub name: String,
    /// The type as the source writes it, e.g. `varchar(40)`.
    pub source_type: String,
    /// Declared NOT NULL.
    pub not_null: bool,
    /// Its default expression.
    pub default: Option<String>,
    /// Its comment.
    pub comment: Option<String>,
}

/// Source details per column, for `TableSchema`.
pub fn column_infos(columns: &[CatalogColumn]) -> Vec<ColumnInfo> {
    columns
        .iter()
        .map(|c| ColumnInfo {
            name: c.name.clone(),
            source_type: Some(c.source_type.clone()),
            description: c.comment.clone(),
        })
        .collect()
}

/// Column metadata, with each column's Arrow type from `schema`.
pub fn column_metadata(schema: &Schema, columns: Vec<CatalogColumn>) -> Vec<ColumnMetadata> {
    columns
        .into_iter()
        .map(|c| ColumnMetadata {
            arrow_type: schema
                .field_with_name(&c.name)
                .map(|f| f.data_type().to_string())
                .unwrap_or_default(),
            nullable: !c.not_null,
            name: c.name,
            source_type: Some(c.source_type),
            description: c.comment,
            default_expression: c.default,
            classifications: Vec::new(),
        })
        .collect()
}

/// One column of a foreign key, as `information_schema` lists them.
#[derive(Clone, Debug)]
pub struct KeyColumn {
    /// The constraint's name.
    pub constraint: String,
    /// The referencing column.
    pub column: String,
    /// The referenced table's catalog.
    pub referenced_catalog: Option<String>,
    /// The referenced table's schema.
    pub referenced_schema: String,
    /// The referenced table.
    pub referenced_table: String,
    /// The referenced column.
    pub referenced_column: String,
}

/// Foreign keys from their columns, listed in key order per constraint.
pub fn foreign_keys(columns: Vec<KeyColumn>) -> Vec<ForeignKey> {
    let mut keys: BTreeMap<String, ForeignKey> = BTreeMap::new();
    for c in columns {
        let key = keys.entry(c.constraint.clone()).or_insert_with(|| ForeignKey {
            name: c.constraint.clone(),
            columns: Vec::new(),
            referenced_table: TableRef {
                catalog: c.referenced_catalog.clone(),
                schema: Some(c.referenced_schema.clone()),
                name: c.referenced_table.clone(),
            },
            referenced_columns: Vec::new(),
        });
        key.columns.push(c.column);
        key.referenced_columns.push(c.referenced_column);
    }
    keys.into_values().collect()
}

/// The table type for an `information_schema.tables.table_type`.
pub fn table_type(information_schema_type: &str) -> TableType {
    match information_schema_type.to_ascii_uppercase().as_str() {
        "VIEW" | "SYSTEM VIEW" => TableType::View,
        _ => TableType::Table,
    }
}

/// The lower-case search text; INVALID_ARGUMENT `EMPTY_QUERY` when blank.
///
/// # Errors
/// As above.
pub fn search_needle(query: &str) -> Result<String> {
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return Err(Error::invalid_argument("the search text is empty").with_reason("EMPTY_QUERY"));
    }
    Ok(needle)
}

/// A `LIKE` pattern matching `needle` anywhere, with `\` as the escape.
pub fn like_pattern(needle: &str) -> String {
    format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// Ranks candidate tables for a search: an exact name first, then names
/// containing the text, descriptions mentioning it, and matching columns;
/// ties in table order; at most `limit` (at least one).
pub fn rank(needle: &str, candidates: Vec<(TableInfo, Vec<String>)>, limit: usize) -> Vec<SearchHit> {
    let mut hits: Vec<SearchHit> = candidates
        .into_iter()
        .map(|(table, matched)| {
            let name = table.table.name.to_lowercase();
            let mut score = 0.0;
            if name == needle {
                score += 2.0;
            } else if name.contains(needle) {
                score += 1.0;
            }
            if table.description.as_deref().is_some_and(|d| d.to_lowercase().contains(needle)) {
                score += 0.5;
            }
            score += 0.3 * matched.len() as f64;
            SearchHit {
                table,
                score,
                matched_columns: matched,
            }
        })
        .filter(|h| h.score > 0.0)
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.table.table.cmp(&b.table.table)));
    hits.truncate(limit.max(1));
    hits
}

/// Catalog queries for a source with an `information_schema` whose schemas
/// are the source's namespaces (MySQL's databases, PostgreSQL's schemas).
/// Every query takes its parameters in order; [`placeholder`](Self::placeholder)
/// writes them in the dialect's style.
#[derive(Clone, Copy, Debug)]
pub struct InformationSchema {
    /// The `n`th parameter (from 1), e.g. `$1` or `?`.
    pub placeholder: fn(usize) -> String,
    /// Schemas that belong to the system, never listed.
    pub system_schemas: &'static [&'static str],
    /// An expression over `t` (tables) giving a table's comment, if the
    /// dialect keeps one there.
    pub table_comment: Option<&'static str>,
    /// An expression over `t` giving a row estimate, if any.
    pub row_estimate: Option<&'static str>,
    /// An expression over `c` (columns) giving a column's comment, if any.
    pub column_comment: Option<&'static str>,
    /// An expression over `c` giving a column's full type, e.g. `c.column_type`.
    pub column_type: &'static str,
}

impl InformationSchema {
    fn not_system(&self, column: &str) -> String {
        if self.system_schemas.is_empty() {
            return "TRUE".into();
        }
        let list: Vec<String> = self.system_schemas.iter().map(|s| format!("'{s}'")).collect();
        format!("{column} NOT IN ({})", list.join(", "))
    }

    /// Schemas: `schema_name`. No parameters.
    pub fn schemas(&self) -> String {
        format!(
            "SELECT schema_name FROM information_schema.schemata WHERE {} ORDER BY schema_name",
            self.not_system("schema_name")
        )
    }

    /// Tables: `table_schema, table_name, table_type, comment, row_estimate`.
    /// With `by_schema`, parameter 1 is the schema; with `by_name`, the next
    /// one is the table's name.
    pub fn tables(&self, by_schema: bool, by_name: bool) -> String {
        let mut n = 0;
        let mut next = || {
            n += 1;
            (self.placeholder)(n)
        };
        let mut filter = self.not_system("t.table_schema");
        if by_schema {
            filter.push_str(&format!(" AND t.table_schema = {}", next()));
        }
        if by_name {
            filter.push_str(&format!(" AND t.table_name = {}", next()));
        }
        format!(
            "SELECT t.table_schema, t.table_name, t.table_type, {}, {} FROM information_schema.tables t WHERE {filter} \
             ORDER BY t.table_schema, t.table_name",
            self.table_comment.unwrap_or("NULL"),
            self.row_estimate.unwrap_or("NULL"),
        )
    }

    /// Columns of one table (parameters: schema, table): `column_name, type,
    /// is_nullable ('YES'/'NO'), column_default, comment`, in order.
    pub fn columns(&self) -> String {
        format!(
            "SELECT c.column_name, {}, c.is_nullable, c.column_default, {} FROM information_schema.columns c \
             WHERE c.table_schema = {} AND c.table_name = {} ORDER BY c.ordinal_position",
            self.column_type,
            self.column_comment.unwrap_or("NULL"),
            (self.placeholder)(1),
            (self.placeholder)(2),
        )
    }

    /// The primary key's columns in key order (parameters: schema, table):
    /// `column_name`.
    pub fn primary_key(&self) -> String {
        format!(
            "SELECT k.column_name FROM information_schema.table_constraints tc \
             JOIN information_schema.key_column_usage k ON k.constraint_schema = tc.constraint_schema \
             AND k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema \
             AND k.table_name = tc.table_name \
             WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = {} AND tc.table_name = {} \
             ORDER BY k.ordinal_position",
            (self.placeholder)(1),
            (self.placeholder)(2),
        )
    }

    /// Foreign keys' columns (parameters: schema, table): `constraint_name,
    /// column_name, referenced schema, referenced table, referenced column`.
    pub fn foreign_keys(&self) -> String {
        format!(
            "SELECT k.constraint_name, k.column_name, k.referenced_table_schema, k.referenced_table_name, \
             k.referenced_column_name FROM information_schema.key_column_usage k \
             WHERE k.table_schema = {} AND k.table_name = {} AND k.referenced_table_name IS NOT NULL \
             ORDER BY k.constraint_name, k.ordinal_position",
            (self.placeholder)(1),
            (self.placeholder)(2),
        )
    }

    /// Search candidates (parameter 1, 2 and 3: the same LIKE pattern):
    /// `table_schema, table_name, table_type, comment, row_estimate,
    /// matched columns` (comma-separated, or NULL).
    pub fn search(&self, group_concat: fn(&str) -> String) -> String {
        let p = |n| (self.placeholder)(n);
        let column_match = match self.column_comment {
            Some(comment) => format!("(LOWER(c.column_name) LIKE {} OR LOWER({comment}) LIKE {})", p(1), p(2)),
            None => format!("LOWER(c.column_name) LIKE {}", p(1)),
        };
        let table_match = match self.table_comment {
            Some(comment) => format!("LOWER(t.table_name) LIKE {} OR LOWER({comment}) LIKE {}", p(3), p(4)),
            None => format!("LOWER(t.table_name) LIKE {}", p(3)),
        };
        format!(
            "SELECT t.table_schema, t.table_name, t.table_type, {}, {}, m.matched FROM information_schema.tables t \
             LEFT JOIN (SELECT c.table_schema, c.table_name, {} AS matched FROM information_schema.columns c \
             WHERE {column_match} GROUP BY c.table_schema, c.table_name) m \
             ON m.table_schema = t.table_schema AND m.table_name = t.table_name \
             WHERE {} AND ({table_match} OR m.matched IS NOT NULL) ORDER BY t.table_schema, t.table_name",
            self.table_comment.unwrap_or("NULL"),
            self.row_estimate.unwrap_or("NULL"),
            group_concat("c.column_name"),
            self.not_system("t.table_schema"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, description: Option<&str>) -> TableInfo {
        TableInfo {
            table: TableRef {
                catalog: None,
                schema: Some("s".into()),
                name: name.into(),
            },
            table_type: TableType::Table,
            description: description.map(str::to_owned),
            row_estimate: None,
            location: None,
            format: None,
        }
    }

    #[test]
    fn search_ranks_exact_names_first() {
        let hits = rank(
            "orders",
            vec![
                (table("customer", Some("who places orders")), vec![]),
                (table("orders_archive", None), vec![]),
                (table("orders", None), vec![]),
                (table("lines", None), vec!["orders_id".into()]),
                (table("unrelated", None), vec![]),
            ],
            10,
        );
        let names: Vec<&str> = hits.iter().map(|h| h.table.table.name.as_str()).collect();
        assert_eq!(names, ["orders", "orders_archive", "customer", "lines"]);
        assert!(search_needle("  ").is_err());
        assert_eq!(like_pattern("a_b%"), "%a\\_b\\%%");
    }

    #[test]
    fn foreign_keys_group_their_columns() {
        let col = |c: &str, rc: &str| KeyColumn {
            constraint: "fk".into(),
            column: c.into(),
            referenced_catalog: None,
            referenced_schema: "s".into(),
            referenced_table: "p".into(),
            referenced_column: rc.into(),
        };
        let keys = foreign_keys(vec![col("a", "x"), col("b", "y")]);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].columns, ["a", "b"]);
        assert_eq!(keys[0].referenced_columns, ["x", "y"]);
    }
}
