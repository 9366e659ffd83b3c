//! MySQL's dialect for the shared statement check.
//!
//! MySQL ends a transaction implicitly before DDL, so its read-only
//! transaction cannot stop a statement the parser let through: statements
//! the parser cannot read are refused, and reads that act outside the
//! transaction (files, locks, sleeping, user variables set from a query)
//! are denied by name.

use std::ops::ControlFlow;

use dmesh_connector_sql::statement::{Class, Syntax};
use sqlparser::ast::{BinaryOperator, Expr, Statement, visit_expressions};
use sqlparser::dialect::MySqlDialect;

/// Functions no read may call.
const DENIED_FUNCTIONS: &[&str] = &[
    // files on the server
    "load_file",
    // locks held outside the transaction
    "get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock",
    // holding a connection for nothing, and CPU burners
    "sleep", "benchmark",
    // replication and the server's state
    "master_pos_wait", "source_pos_wait", "wait_for_executed_gtid_set", "wait_until_sql_thread_after_gtids",
    "master_gtid_wait",
    // sequences (MariaDB) change state in a read
    "nextval", "setval", "lastval",
];

/// MySQL as the shared statement check reads it.
pub(crate) const SYNTAX: Syntax = Syntax {
    dialect: &MySqlDialect {},
    denied_functions: DENIED_FUNCTIONS,
    special,
};

fn special(statement: &Statement) -> Option<Class> {
    // `@v := expr` inside a query sets a session variable as it reads.
    let assigns = visit_expressions(statement, |e: &Expr| match e {
        Expr::BinaryOp {
            op: BinaryOperator::Assignment,
            ..
        } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    });
    if assigns.is_break() {
        return Some(Class::Denied("assigning a user variable (`@v := ...`), which changes the session".into()));
    }
    match statement {
        Statement::Query(q) => {
            let text = q.to_string().to_ascii_uppercase();
            if text.contains(" INTO OUTFILE") || text.contains(" INTO DUMPFILE") {
                return Some(Class::Denied("SELECT ... INTO OUTFILE/DUMPFILE, which writes a file on the server".into()));
            }
            None
        }
        Statement::LoadData { .. } => Some(Class::Write("LOAD DATA".into())),
        _ => None,
    }
}

/// Classifies `sql`.
pub(crate) fn classify(sql: &str) -> Class {
    SYNTAX.classify(sql).class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_statements_are_sorted() {
        assert_eq!(classify("SELECT 1"), Class::Query);
        assert_eq!(classify("SELECT * FROM t WHERE a = ? LIMIT 5"), Class::Query);
        assert_eq!(classify("SHOW TABLES"), Class::OtherRead);
        assert!(matches!(classify("DELETE FROM t"), Class::Write(_)));
        assert!(matches!(classify("REPLACE INTO t VALUES (1)"), Class::Write(_)));
        assert!(matches!(classify("DROP TABLE t"), Class::Schema(_)));
        assert!(matches!(classify("SELECT * FROM t FOR UPDATE"), Class::Denied(_)));
        assert!(matches!(classify("SELECT * FROM t LOCK IN SHARE MODE"), Class::Denied(_) | Class::Unknown(_)));
        assert!(matches!(classify("SELECT SLEEP(10)"), Class::Denied(_)));
        assert!(matches!(classify("SELECT LOAD_FILE('/etc/passwd')"), Class::Denied(_)));
        assert!(matches!(classify("SELECT GET_LOCK('x', 1)"), Class::Denied(_)));
        assert!(!classify("SELECT @a := 1").is_read());
        assert!(!classify("SELECT * FROM t INTO OUTFILE '/tmp/x'").is_read());
        assert!(!classify("LOAD DATA INFILE '/tmp/x' INTO TABLE t").is_read());
        assert_eq!(classify("SELECT 1; SELECT 2"), Class::Several(2));
    }
}
