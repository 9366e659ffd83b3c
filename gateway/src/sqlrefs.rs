//! The tables a statement names, read from its syntax tree in the
//! connector's dialect, for the table policy.
//!
//! Names are placed the way the source would read them: unquoted
//! identifiers fold to lower case (except in MySQL, where the server decides),
//! names of the statement's own WITH queries are left out, and table
//! functions (`generate_series(1, 3)`) are not tables. A name written without
//! a schema takes the connector's fixed default schema when it has one.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use dmesh_connector_api::SqlDialect;
use sqlparser::ast::{Ident, ObjectName, ObjectNamePart, Query, SetExpr, Statement, TableFactor, Visit, Visitor};
use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use crate::policy::Relation;

/// What a statement is, as far as the table policy cares.
#[derive(Debug, PartialEq, Eq)]
pub struct StatementTables {
    /// The tables it names, each once, in name order.
    pub relations: Vec<Relation>,
    /// Whether it is a query or a change to rows (INSERT, UPDATE, DELETE,
    /// MERGE), the statements whose every table appears in `relations`.
    pub rows_only: bool,
}

fn dialect(d: SqlDialect) -> Box<dyn Dialect> {
    match d {
        SqlDialect::Postgres => Box::new(PostgreSqlDialect {}),
        SqlDialect::MySql => Box::new(MySqlDialect {}),
        SqlDialect::Sqlite => Box::new(SQLiteDialect {}),
        _ => Box::new(GenericDialect {}),
    }
}

/// Functions that read tables named in text or SQL given as text, which no
/// parser can follow: refused for principals narrowed to some tables.
const TEXT_READERS: &[&str] = &[
    "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "table_to_xml", "table_to_xml_and_xmlschema",
    "table_to_xmlschema", "schema_to_xml", "schema_to_xml_and_xmlschema", "schema_to_xmlschema", "database_to_xml",
    "database_to_xml_and_xmlschema", "database_to_xmlschema", "cursor_to_xml", "cursor_to_xmlschema", "ts_stat",
    "ts_rewrite", "dblink", "dblink_exec", "dblink_open", "dblink_fetch", "pg_read_file", "pg_read_binary_file",
    "lo_get", "lo_export", "readfile", "load_extension", "json_populate_record",
];

/// Whether a function name (possibly schema-qualified or quoted) is one of
/// [`TEXT_READERS`].
fn reads_text_tables(name: &ObjectName) -> Option<String> {
    let full = name.to_string().to_ascii_lowercase();
    let last = full.rsplit('.').next().unwrap_or(&full).trim_matches('"');
    TEXT_READERS.contains(&last).then(|| last.to_owned())
}

fn uses_table_shorthand(set: &SetExpr) -> bool {
    match set {
        SetExpr::Table(_) => true,
        SetExpr::SetOperation { left, right, .. } => uses_table_shorthand(left) || uses_table_shorthand(right),
        SetExpr::Query(q) => uses_table_shorthand(&q.body),
        _ => false,
    }
}

struct Collect {
    fold: bool,
    /// Queries seen so far; the first is the statement's own.
    queries: usize,
    ctes: HashSet<String>,
    functions: HashMap<ObjectName, usize>,
    names: Vec<Vec<String>>,
}

impl Collect {
    fn ident(&self, i: &Ident) -> String {
        if self.fold && i.quote_style.is_none() {
            i.value.to_ascii_lowercase()
        } else {
            i.value.clone()
        }
    }
}

impl Visitor for Collect {
    type Break = String;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<String> {
        self.queries += 1;
        if uses_table_shorthand(&query.body) {
            return ControlFlow::Break("`TABLE name` is not checked here; write `SELECT * FROM name`".into());
        }
        if let SetExpr::Select(select) = query.body.as_ref()
            && select.into.is_some()
        {
            return ControlFlow::Break("`SELECT ... INTO` creates a table".into());
        }
        if let Some(with) = &query.with {
            if self.queries > 1 {
                return ControlFlow::Break("a WITH inside a subquery is not checked here; move it to the top".into());
            }
            if with.recursive {
                return ControlFlow::Break("WITH RECURSIVE is not checked here".into());
            }
            // Each WITH query may refer only to those defined before it.
            let mut earlier: HashSet<String> = HashSet::new();
            let all: HashSet<String> = with.cte_tables.iter().map(|c| self.ident(&c.alias.name)).collect();
            for cte in &with.cte_tables {
                let mut inner = Collect {
                    fold: self.fold,
                    queries: 1,
                    ctes: HashSet::new(),
                    functions: HashMap::new(),
                    names: Vec::new(),
                };
                if let ControlFlow::Break(why) = cte.query.visit(&mut inner) {
                    return ControlFlow::Break(why);
                }
                for parts in &inner.names {
                    if let [one] = parts.as_slice()
                        && all.contains(one)
                        && !earlier.contains(one)
                    {
                        return ControlFlow::Break(format!(
                            "the WITH name `{one}` is used before it is defined, where it could mean a table"
                        ));
                    }
                }
                earlier.insert(self.ident(&cte.alias.name));
            }
            self.ctes = all;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &sqlparser::ast::Expr) -> ControlFlow<String> {
        if let sqlparser::ast::Expr::Function(f) = expr
            && let Some(name) = reads_text_tables(&f.name)
        {
            return ControlFlow::Break(format!("`{name}` reads tables named in text"));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<String> {
        if let TableFactor::Table { name, args: Some(_), .. } = factor
            && let Some(n) = reads_text_tables(name)
        {
            return ControlFlow::Break(format!("`{n}` reads tables named in text"));
        }
        if let TableFactor::Table { name, args: Some(_), .. } = factor {
            *self.functions.entry(name.clone()).or_default() += 1;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<String> {
        if let Some(n) = self.functions.get_mut(relation)
            && *n > 0
        {
            *n -= 1;
            return ControlFlow::Continue(());
        }
        let mut parts = Vec::new();
        for part in &relation.0 {
            match part {
                ObjectNamePart::Identifier(i) => parts.push(self.ident(i)),
                ObjectNamePart::Function(_) => {
                    return ControlFlow::Break(format!("the table name `{relation}` is computed"));
                }
            }
        }
        self.names.push(parts);
        ControlFlow::Continue(())
    }
}

/// Reads `sql` in `dialect`.
///
/// # Errors
/// A message when the SQL does not parse, holds several statements, or
/// names a table in a way that cannot be read.
pub fn read(sql: &str, d: SqlDialect, default_schema: Option<&str>) -> Result<StatementTables, String> {
    let statements = Parser::parse_sql(dialect(d).as_ref(), sql).map_err(|e| e.to_string())?;
    let [statement] = statements.as_slice() else {
        return Err(format!("the request holds {} statements; send one", statements.len()));
    };
    let mut c = Collect {
        fold: d != SqlDialect::MySql,
        queries: 0,
        ctes: HashSet::new(),
        functions: HashMap::new(),
        names: Vec::new(),
    };
    if let ControlFlow::Break(why) = statement.visit(&mut c) {
        return Err(why);
    }
    let mut relations: Vec<Relation> = c
        .names
        .into_iter()
        .filter(|parts| !(parts.len() == 1 && c.ctes.contains(&parts[0])))
        .filter_map(|mut parts| {
            let name = parts.pop()?;
            let schema = parts.pop().or_else(|| default_schema.map(str::to_owned));
            Some(Relation { schema, name })
        })
        .collect();
    relations.sort();
    relations.dedup();
    let rows_only = matches!(
        statement,
        Statement::Query(_) | Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) | Statement::Merge(_)
    );
    Ok(StatementTables { relations, rows_only })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Vec<String> {
        read(sql, SqlDialect::Postgres, None)
            .expect("parses")
            .relations
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_table_a_query_reaches_is_found() {
        assert_eq!(names("SELECT * FROM Public.Orders o JOIN \"Sales\".x ON true"), ["Sales.x", "public.orders"]);
        assert_eq!(
            names("SELECT (SELECT max(id) FROM s.a) FROM s.b WHERE id IN (SELECT id FROM s.c) UNION SELECT 1 FROM s.d"),
            ["s.a", "s.b", "s.c", "s.d"]
        );
        assert_eq!(names("SELECT * FROM db.s.t"), ["s.t"]);
        assert_eq!(names("SELECT 1 FROM s.t WHERE EXISTS (SELECT 1 FROM LATERAL (SELECT * FROM s.u) x)"), ["s.t", "s.u"]);
    }

    #[test]
    fn constructs_that_hide_tables_are_refused() {
        for sql in [
            "TABLE hr.salaries",
            "SELECT 1 UNION TABLE hr.salaries",
            "WITH salaries AS (SELECT * FROM salaries) SELECT * FROM salaries",
            "WITH a AS (SELECT * FROM salaries), salaries AS (SELECT 1) SELECT * FROM a",
            "SELECT * FROM salaries, (WITH salaries AS (SELECT 1) SELECT 1) x",
            "WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT 1 FROM r) SELECT * FROM r",
            "SELECT table_to_xml('hr.salaries', true, false, '')",
            "SELECT * FROM ts_stat('SELECT to_tsvector(x) FROM hr.salaries')",
            "SELECT 1 INTO hr.t FROM public.x",
        ] {
            assert!(read(sql, SqlDialect::Postgres, None).is_err(), "{sql}");
        }
        // Chained WITH queries refer back to earlier ones.
        let ok = read("WITH a AS (SELECT * FROM s.t), b AS (SELECT * FROM a) SELECT * FROM b", SqlDialect::Postgres, None)
            .expect("chained");
        assert_eq!(ok.relations.len(), 1);
    }

    #[test]
    fn with_queries_and_table_functions_are_not_tables() {
        assert_eq!(names("WITH recent AS (SELECT * FROM s.orders) SELECT * FROM recent"), ["s.orders"]);
        assert_eq!(names("SELECT * FROM generate_series(1, 3) g, s.t"), ["s.t"]);
        // A WITH name does not hide a qualified table of the same name.
        assert_eq!(names("WITH t AS (SELECT 1) SELECT * FROM t, s.t"), ["s.t"]);
    }

    #[test]
    fn writes_name_their_targets_and_ddl_is_flagged() {
        let w = read("INSERT INTO s.t SELECT * FROM s.u", SqlDialect::Postgres, None).expect("parses");
        assert!(w.rows_only);
        assert_eq!(w.relations.len(), 2);
        let d = read("DROP TABLE s.t", SqlDialect::Postgres, None).expect("parses");
        assert!(!d.rows_only);
        assert!(read("SELECT 1; SELECT 2", SqlDialect::Postgres, None).is_err());
    }

    #[test]
    fn a_fixed_default_schema_places_bare_names() {
        let r = read("SELECT * FROM orders", SqlDialect::Generic, Some("public")).expect("parses");
        assert_eq!(r.relations[0].to_string(), "public.orders");
        let r = read("SELECT * FROM Orders", SqlDialect::MySql, None).expect("parses");
        assert_eq!(r.relations[0].to_string(), "Orders");
    }
}
