//! What a statement is, read in SQLite's dialect before it reaches SQLite.

use std::ops::ControlFlow;

use sqlparser::ast::{Statement, visit_expressions};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

/// What kind of statement a request holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A query (SELECT, WITH ... SELECT, VALUES) or EXPLAIN of one.
    Read,
    /// INSERT, UPDATE, DELETE, REPLACE.
    Write(String),
    /// Anything else that is not a read: DDL, PRAGMA, VACUUM, transaction control.
    Schema(String),
    /// A read that reaches outside the database.
    Denied(String),
    /// More than one statement.
    Several(usize),
    /// The parser did not understand it.
    Unknown(String),
}

/// Functions no request may call: they load code or touch files.
pub(crate) const DENIED_FUNCTIONS: &[&str] = &["load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"];

/// Classifies `sql`.
pub(crate) fn classify(sql: &str) -> Class {
    let statements = match Parser::parse_sql(&SQLiteDialect {}, sql) {
        Ok(s) => s,
        Err(e) => return Class::Unknown(e.to_string()),
    };
    let statement = match statements.as_slice() {
        [one] => one,
        [] => return Class::Unknown("the request holds no statement".into()),
        many => return Class::Several(many.len()),
    };
    let denied = visit_expressions(statement, |e| {
        if let sqlparser::ast::Expr::Function(f) = e {
            let name = f.name.to_string().to_ascii_lowercase();
            let name = name.rsplit('.').next().unwrap_or(&name).trim_matches('"').to_owned();
            if DENIED_FUNCTIONS.contains(&name.as_str()) {
                return ControlFlow::Break(name);
            }
        }
        ControlFlow::Continue(())
    });
    if let ControlFlow::Break(name) = denied {
        return Class::Denied(format!("calling `{name}`"));
    }
    match statement {
        Statement::Query(_) | Statement::Explain { analyze: false, .. } | Statement::ExplainTable { .. } => Class::Read,
        Statement::AttachDatabase { .. } | Statement::DetachDuckDBDatabase { .. } => {
            Class::Denied("ATTACH/DETACH, which opens other files".into())
        }
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => Class::Write(leading(statement)),
        other => Class::Schema(leading(other)),
    }
}

fn leading(s: &Statement) -> String {
    let text = s.to_string();
    let words: Vec<String> = text.split_whitespace().take(2).map(str::to_ascii_uppercase).collect();
    match words.first().map(String::as_str) {
        Some("CREATE" | "DROP" | "ALTER") => words.join(" "),
        Some(w) => w.to_owned(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_the_rest_are_told_apart() {
        assert_eq!(classify("SELECT 1"), Class::Read);
        assert_eq!(classify("WITH x AS (SELECT 1) SELECT * FROM x"), Class::Read);
        assert_eq!(classify("INSERT INTO t VALUES (1)"), Class::Write("INSERT".into()));
        assert_eq!(classify("DROP TABLE t"), Class::Schema("DROP TABLE".into()));
        assert_eq!(classify("PRAGMA query_only = 0"), Class::Schema("PRAGMA".into()));
        assert!(matches!(classify("VACUUM INTO '/tmp/copy.db'"), Class::Schema(_) | Class::Unknown(_)));
        assert!(matches!(classify("ATTACH DATABASE '/tmp/x.db' AS x"), Class::Denied(_)));
        assert!(matches!(classify("SELECT load_extension('/tmp/evil')"), Class::Denied(_)));
        assert_eq!(classify("SELECT 1; SELECT 2"), Class::Several(2));
    }
}
