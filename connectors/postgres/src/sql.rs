//! PostgreSQL's dialect for the shared statement check, and the reads
//! that may be split into page ranges.
//!
//! The parser decides only how a statement runs and what is refused up
//! front. Whether a read may change data is decided by the server as well:
//! read-only requests run in READ ONLY transactions, whatever the parser
//! thought.

use dmesh_connector_sql::statement::{Class, Syntax};
use sqlparser::ast::{Expr, GroupByExpr, Query, Select, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Functions a read-only query may not call, by their unqualified names.
const DENIED_FUNCTIONS: &[&str] = &[
    // files and programs on the server
    "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir", "pg_ls_waldir",
    "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_file_write", "pg_file_rename", "pg_file_unlink",
    "pg_logdir_ls", "pg_current_logfile",
    // large objects
    "lo_import", "lo_export", "lo_create", "lo_creat", "lo_unlink", "lo_put", "lo_get", "lo_from_bytea", "lo_open",
    "lo_write", "lo_truncate", "lowrite", "loread", "lo_close",
    // other servers
    "dblink", "dblink_exec", "dblink_connect", "dblink_connect_u", "dblink_send_query", "dblink_open",
    "dblink_fetch",
    // settings, sessions and the server itself
    "set_config", "pg_reload_conf", "pg_rotate_logfile", "pg_terminate_backend", "pg_cancel_backend",
    "pg_switch_wal", "pg_create_restore_point", "pg_promote", "pg_backup_start", "pg_backup_stop",
    "pg_start_backup", "pg_stop_backup", "pg_create_physical_replication_slot", "pg_create_logical_replication_slot",
    "pg_drop_replication_slot", "pg_replication_origin_create", "pg_log_backend_memory_contexts",
    "pg_notify",
    // locks
    "pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
    "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared", "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared", "pg_advisory_unlock", "pg_advisory_unlock_all",
    // sequences
    "nextval", "setval",
    // SQL text run by the server
    "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema",
];

/// A single-table query that can be restricted to page ranges.
#[derive(Debug)]
pub(crate) struct Splittable {
    statement: Statement,
    /// The table as written, e.g. `public."Orders"`.
    pub table: String,
}

/// PostgreSQL as the shared statement check reads it.
pub(crate) const SYNTAX: Syntax = Syntax {
    dialect: &PostgreSqlDialect {},
    denied_functions: DENIED_FUNCTIONS,
    special: dmesh_connector_sql::statement::no_special,
};

/// A classified statement, with the split a plain single-table query allows.
#[derive(Debug)]
pub(crate) struct Classified {
    pub class: Class,
    /// Set when the statement reads one table with no ordering, grouping or
    /// limit, so page ranges of that table can be read in parallel.
    pub split: Option<Box<Splittable>>,
}

/// Classifies `sql`.
pub(crate) fn classify(sql: &str) -> Classified {
    let parsed = SYNTAX.classify(sql);
    let split = match (&parsed.class, parsed.statement) {
        (Class::Query, Some(statement)) => match &statement {
            Statement::Query(q) => splittable_table(q),
            _ => None,
        }
        .map(|table| Box::new(Splittable { statement, table })),
        _ => None,
    };
    Classified {
        class: parsed.class,
        split,
    }
}

/// The table a query reads, when the query is a plain projection of its
/// columns with at most a WHERE clause.
fn splittable_table(q: &Query) -> Option<String> {
    if q.with.is_some()
        || q.order_by.is_some()
        || q.limit_clause.is_some()
        || q.fetch.is_some()
        || !q.locks.is_empty()
        || q.for_clause.is_some()
        || !q.pipe_operators.is_empty()
    {
        return None;
    }
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    plain_select_table(select)
}

fn plain_select_table(s: &Select) -> Option<String> {
    let no_grouping = matches!(&s.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    if s.distinct.is_some()
        || s.top.is_some()
        || s.into.is_some()
        || s.having.is_some()
        || s.qualify.is_some()
        || !s.named_window.is_empty()
        || !s.lateral_views.is_empty()
        || !s.connect_by.is_empty()
        || !no_grouping
        || s.from.len() != 1
    {
        return None;
    }
    let plain = s.projection.iter().all(|item| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
        }
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => true,
        _ => false,
    });
    if !plain {
        return None;
    }
    let TableWithJoins { relation, joins } = &s.from[0];
    if !joins.is_empty() {
        return None;
    }
    match relation {
        TableFactor::Table {
            name,
            args: None,
            with_hints,
            version: None,
            partitions,
            sample: None,
            ..
        } if with_hints.is_empty() && partitions.is_empty() => Some(name.to_string()),
        _ => None,
    }
}

impl Splittable {
    /// The statement restricted to the heap pages `[from, to)`; `None` ends
    /// are open, so together the ranges cover every row exactly once.
    pub(crate) fn page_range(&self, from: Option<u64>, to: Option<u64>) -> String {
        let mut bounds = Vec::new();
        if let Some(f) = from {
            bounds.push(format!("ctid >= '({f},0)'::tid"));
        }
        if let Some(t) = to {
            bounds.push(format!("ctid < '({t},0)'::tid"));
        }
        let mut statement = self.statement.clone();
        if let Statement::Query(q) = &mut statement
            && let SetExpr::Select(select) = q.body.as_mut()
            && !bounds.is_empty()
        {
            let range = bounds.join(" AND ");
            let condition = match select.selection.take() {
                Some(existing) => format!("({existing}) AND {range}"),
                None => range,
            };
            let expr = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&condition)
                .and_then(|mut p| p.parse_expr());
            if let Ok(expr) = expr {
                select.selection = Some(expr);
            }
        }
        statement.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_single_table_queries_split() {
        let Some(s) = classify("SELECT id, v FROM public.t WHERE id > 3").split else {
            panic!("should split");
        };
        assert_eq!(s.table, "public.t");
        let sql = s.page_range(Some(10), Some(20));
        assert!(sql.contains("(id > 3) AND ctid >= '(10,0)'::tid AND ctid < '(20,0)'::tid"), "{sql}");
        assert!(!s.page_range(None, Some(5)).contains(">="));
        for sql in [
            "SELECT count(*) FROM t",
            "SELECT * FROM t ORDER BY id",
            "SELECT * FROM t LIMIT 5",
            "SELECT DISTINCT a FROM t",
            "SELECT a FROM t JOIN u ON t.id = u.id",
            "SELECT a + 1 FROM t",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "SELECT * FROM generate_series(1, 10)",
        ] {
            let c = classify(sql);
            assert!(c.class == Class::Query && c.split.is_none(), "{sql}");
        }
    }

    #[test]
    fn writes_and_lists_are_named() {
        assert!(matches!(classify("DELETE FROM t").class, Class::Write(w) if w == "DELETE"));
        assert!(matches!(classify("DROP TABLE t").class, Class::Schema(w) if w == "DROP TABLE"));
        assert!(matches!(classify("SELECT 1; DROP TABLE t").class, Class::Several(2)));
        assert!(matches!(classify("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d").class, Class::Write(_)));
        assert!(matches!(classify("SHOW search_path").class, Class::OtherRead));
        assert!(matches!(classify("SELECT 1 )( nonsense").class, Class::Unknown(_)));
        assert!(matches!(classify("SELECT pg_read_file('/etc/passwd')").class, Class::Denied(_)));
        assert!(matches!(classify("SELECT * FROM pg_ls_dir('.')").class, Class::Denied(_)));
        assert!(matches!(classify("SELECT * FROM t FOR UPDATE").class, Class::Denied(_)));
    }
}
