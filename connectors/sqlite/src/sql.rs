//! SQLite's dialect for the shared statement check.

use dmesh_connector_sql::statement::{Class, Syntax};
use sqlparser::ast::Statement;
use sqlparser::dialect::SQLiteDialect;

/// Functions no request may call: they load code or touch files.
pub(crate) const DENIED_FUNCTIONS: &[&str] = &["load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"];

/// SQLite as the shared statement check reads it.
pub(crate) const SYNTAX: Syntax = Syntax {
    dialect: &SQLiteDialect {},
    denied_functions: DENIED_FUNCTIONS,
    special,
};

/// ATTACH and DETACH open other files, whatever the access mode.
fn special(statement: &Statement) -> Option<Class> {
    matches!(statement, Statement::AttachDatabase { .. } | Statement::DetachDuckDBDatabase { .. })
        .then(|| Class::Denied("ATTACH/DETACH, which opens other files".into()))
}

/// Classifies `sql`.
pub(crate) fn classify(sql: &str) -> Class {
    SYNTAX.classify(sql).class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_the_rest_are_told_apart() {
        assert_eq!(classify("SELECT 1"), Class::Query);
        assert_eq!(classify("WITH x AS (SELECT 1) SELECT * FROM x"), Class::Query);
        assert_eq!(classify("INSERT INTO t VALUES (1)"), Class::Write("INSERT".into()));
        assert_eq!(classify("DROP TABLE t"), Class::Schema("DROP TABLE".into()));
        assert_eq!(classify("PRAGMA query_only = 0"), Class::Schema("PRAGMA".into()));
        assert!(matches!(classify("VACUUM INTO '/tmp/copy.db'"), Class::Schema(_) | Class::Unknown(_)));
        assert!(matches!(classify("ATTACH DATABASE '/tmp/x.db' AS x"), Class::Denied(_)));
        assert!(matches!(classify("SELECT load_extension('/tmp/evil')"), Class::Denied(_)));
        assert_eq!(classify("SELECT 1; SELECT 2"), Class::Several(2));
    }
}
