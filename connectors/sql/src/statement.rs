//! What a statement is, read from its syntax tree in the source's dialect,
//! and whether a request may run it.
//!
//! Each SQL connector describes its dialect once as a [`Syntax`]: the
//! parser dialect, the functions no read may call, and the statements its
//! dialect treats specially. [`Syntax::classify`] then sorts any request
//! into a [`Class`], and a [`Gate`] built from the connector's config turns
//! the class and the request's access mode into a [`Mode`] or a refusal
//! whose status, reason and message are the same for every SQL source.

use std::ops::ControlFlow;

use dmesh_connector_api::{AccessMode, Error, Result};
use sqlparser::ast::{Expr, ObjectName, Query, SetExpr, Statement, visit_expressions, visit_relations};
use sqlparser::dialect::Dialect;
use sqlparser::parser::Parser;

/// What kind of statement a request holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// A query: SELECT, WITH ... SELECT, VALUES, a set operation.
    Query,
    /// A read that is not a query: EXPLAIN without ANALYZE, SHOW, DESCRIBE.
    OtherRead,
    /// A change to rows (INSERT, UPDATE, DELETE, MERGE, REPLACE, a
    /// data-modifying WITH), named by its leading keywords.
    Write(String),
    /// Anything else that is not a read: DDL, session and transaction
    /// control, bulk loads, procedures; named by its leading keywords.
    Schema(String),
    /// A statement that reaches outside a read whatever the access mode:
    /// files, programs, locks, other servers, settings (what it does).
    Denied(String),
    /// More than one statement.
    Several(usize),
    /// The parser did not understand it (its message).
    Unknown(String),
}

impl Class {
    /// Whether the statement only reads.
    pub fn is_read(&self) -> bool {
        matches!(self, Class::Query | Class::OtherRead)
    }
}

/// A statement and its class.
#[derive(Debug)]
pub struct Classified {
    /// What the statement is.
    pub class: Class,
    /// The parsed statement, when there was exactly one.
    pub statement: Option<Statement>,
}

/// A source's dialect, as the classifier needs it.
#[derive(Clone, Copy)]
pub struct Syntax {
    /// The parser dialect.
    pub dialect: &'static (dyn Dialect + Sync),
    /// Functions a read may not call, lower case, unqualified.
    pub denied_functions: &'static [&'static str],
    /// A rule the dialect applies before the common ones: `Some(class)`
    /// decides, `None` leaves the statement to the common rules.
    pub special: fn(&Statement) -> Option<Class>,
}

impl std::fmt::Debug for Syntax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syntax").field("dialect", &self.dialect).finish_non_exhaustive()
    }
}

/// No dialect-specific rule.
pub fn no_special(_: &Statement) -> Option<Class> {
    None
}

impl Syntax {
    /// Classifies `sql`.
    pub fn classify(&self, sql: &str) -> Classified {
        let statements = match Parser::parse_sql(self.dialect, sql) {
            Ok(s) => s,
            Err(e) => {
                return Classified {
                    class: Class::Unknown(e.to_string()),
                    statement: None,
                };
            }
        };
        let statement = match <[Statement; 1]>::try_from(statements) {
            Ok([one]) => one,
            Err(many) => {
                let class = if many.is_empty() {
                    Class::Unknown("the request holds no statement".into())
                } else {
                    Class::Several(many.len())
                };
                return Classified { class, statement: None };
            }
        };
        let class = self.class_of(&statement);
        Classified {
            class,
            statement: Some(statement),
        }
    }

    fn class_of(&self, statement: &Statement) -> Class {
        if let Some(function) = self.denied_function(statement) {
            return Class::Denied(format!("calling `{function}`"));
        }
        if let Some(class) = (self.special)(statement) {
            return class;
        }
        match statement {
            Statement::Query(q) => {
                if query_may_write(q) {
                    return Class::Write("a query with a data-modifying WITH".into());
                }
                if !q.locks.is_empty() {
                    return Class::Denied("SELECT ... FOR UPDATE/SHARE, which locks rows".into());
                }
                if let SetExpr::Select(select) = q.body.as_ref()
                    && select.into.is_some()
                {
                    return Class::Denied("SELECT ... INTO, which creates a table".into());
                }
                Class::Query
            }
            Statement::Explain { analyze: false, .. }
            | Statement::ExplainTable { .. }
            | Statement::ShowVariable { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowCreate { .. }
            | Statement::ShowDatabases { .. }
            | Statement::ShowSchemas { .. }
            | Statement::ShowViews { .. }
            | Statement::ShowCollation { .. } => Class::OtherRead,
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) | Statement::Merge(_) => {
                Class::Write(leading_words(statement))
            }
            other => Class::Schema(leading_words(other)),
        }
    }

    /// The first denied function a statement calls, in an expression or as
    /// a table function in FROM.
    fn denied_function(&self, statement: &Statement) -> Option<String> {
        let denied = |name: &ObjectName| -> Option<String> {
            let last = name.0.last()?.to_string();
            let last = last.trim_matches(|c| c == '"' || c == '`').to_ascii_lowercase();
            self.denied_functions.contains(&last.as_str()).then_some(last)
        };
        let found = visit_expressions(statement, |e: &Expr| match e {
            Expr::Function(f) => match denied(&f.name) {
                Some(name) => ControlFlow::Break(name),
                None => ControlFlow::Continue(()),
            },
            _ => ControlFlow::Continue(()),
        });
        if let ControlFlow::Break(name) = found {
            return Some(name);
        }
        match visit_relations(statement, |name| match denied(name) {
            Some(n) => ControlFlow::Break(n),
            None => ControlFlow::Continue(()),
        }) {
            ControlFlow::Break(name) => Some(name),
            ControlFlow::Continue(()) => None,
        }
    }
}

fn reads_only(body: &SetExpr) -> bool {
    matches!(body, SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) | SetExpr::SetOperation { .. } | SetExpr::Table(_))
}

/// Whether a query's body or one of its WITH clauses changes rows.
pub fn query_may_write(q: &Query) -> bool {
    let cte_writes = q
        .with
        .as_ref()
        .is_some_and(|w| w.cte_tables.iter().any(|c| !reads_only(&c.query.body)));
    cte_writes || !reads_only(&q.body)
}

/// The statement's leading keywords, e.g. `DROP TABLE`, `SET`.
pub fn leading_words(s: &Statement) -> String {
    let text = s.to_string();
    let words: Vec<String> = text.split_whitespace().take(2).map(str::to_ascii_uppercase).collect();
    match words.first().map(String::as_str) {
        Some("CREATE" | "DROP" | "ALTER") => words.join(" "),
        Some(w) => w.to_owned(),
        None => String::new(),
    }
}

/// How a request runs once admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Reads only; the connector also makes the source enforce it.
    Read,
    /// Reads and changes to rows.
    Write,
    /// Anything the source allows the connector's user, schema and session
    /// changes included.
    Ddl,
}

/// What a source does with statements its parser cannot read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Refuse them: the source has no transaction mode that holds on its
    /// own (SQLite's authorizer needs the class; MySQL's DDL commits
    /// implicitly, ending a read-only transaction).
    Refuse,
    /// Let the source decide: its read-only transaction refuses any change.
    LeaveToSource,
}

/// The read-only gate of one connector: its config's part of the decision.
#[derive(Clone, Copy, Debug)]
pub struct Gate {
    /// The config allows writes at all.
    pub allow_writes: bool,
    /// Statements are checked (on unless a test turns the parser layer off
    /// to prove the source's own layers hold).
    pub check_statements: bool,
    /// Whether denied functions stay denied for requests that may write.
    pub deny_when_writing: bool,
    /// What happens to statements the parser cannot read.
    pub unreadable: Unreadable,
    /// The reads the source runs, for messages, e.g. `SELECT, WITH ... SELECT, VALUES, EXPLAIN, SHOW`.
    pub reads: &'static str,
}

impl Gate {
    /// Admits a request of class `class` asking for `access`, or refuses it
    /// with PERMISSION_DENIED `READ_ONLY` / `DDL_NOT_ALLOWED`, or
    /// INVALID_ARGUMENT `ONE_STATEMENT` / `SQL_SYNTAX`.
    ///
    /// # Errors
    /// As above; every message says what is allowed instead.
    pub fn admit(&self, class: &Class, access: AccessMode) -> Result<Mode> {
        let writable = access.writes() && self.allow_writes;
        let ddl = writable && access == AccessMode::Ddl;
        let mode = if ddl {
            Mode::Ddl
        } else if writable {
            Mode::Write
        } else {
            Mode::Read
        };
        if !self.check_statements {
            return Ok(mode);
        }
        let reads = self.reads;
        match class {
            Class::Query | Class::OtherRead => Ok(mode),
            Class::Denied(what) if !writable || self.deny_when_writing => {
                let request = if writable { "" } else { " in a read-only request" };
                Err(Error::permission_denied(format!(
                    "{what} is not allowed{request}: it reaches outside a read; only a single query ({reads}) runs here"
                ))
                .with_reason("READ_ONLY"))
            }
            Class::Denied(_) => Ok(mode),
            Class::Several(n) => Err(Error::invalid_argument(format!(
                "the request holds {n} statements; send one statement per request"
            ))
            .with_reason("ONE_STATEMENT")),
            Class::Write(_) if writable => Ok(mode),
            Class::Schema(_) if ddl => Ok(mode),
            Class::Schema(what) if writable => Err(Error::permission_denied(format!(
                "{what} changes the schema or the session, which needs the `ddl` right; this request may change \
                 rows only"
            ))
            .with_reason("DDL_NOT_ALLOWED")),
            Class::Write(what) | Class::Schema(what) => {
                let why = if self.allow_writes {
                    "this request is read-only"
                } else {
                    "connector is read-only (its config does not set `allow_writes`)"
                };
                Err(Error::permission_denied(format!("{what} is not allowed: {why}; only reads ({reads}) run here"))
                    .with_reason("READ_ONLY"))
            }
            Class::Unknown(_) if self.unreadable == Unreadable::LeaveToSource => Ok(mode),
            Class::Unknown(why) => Err(Error::invalid_argument(format!(
                "SQL syntax error (or SQL the read-only check cannot read): {why}"
            ))
            .with_reason("SQL_SYNTAX")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::GenericDialect;

    const SYNTAX: Syntax = Syntax {
        dialect: &GenericDialect {},
        denied_functions: &["evil"],
        special: no_special,
    };

    fn gate(allow_writes: bool) -> Gate {
        Gate {
            allow_writes,
            check_statements: true,
            deny_when_writing: false,
            unreadable: Unreadable::Refuse,
            reads: "SELECT",
        }
    }

    #[test]
    fn statements_are_sorted() {
        let class = |sql| SYNTAX.classify(sql).class;
        assert_eq!(class("SELECT 1"), Class::Query);
        assert_eq!(class("DELETE FROM t"), Class::Write("DELETE".into()));
        assert_eq!(class("DROP TABLE t"), Class::Schema("DROP TABLE".into()));
        assert_eq!(class("SELECT 1; SELECT 2"), Class::Several(2));
        assert!(matches!(class("SELECT evil(1)"), Class::Denied(_)));
        assert!(matches!(class("SELECT * FROM evil(1)"), Class::Denied(_)));
        assert!(matches!(class("SELECT * FROM t FOR UPDATE"), Class::Denied(_)));
        assert!(matches!(class("SELECT 1 )( nonsense"), Class::Unknown(_)));
    }

    #[test]
    fn the_gate_follows_access_and_config() {
        let ro = AccessMode::ReadOnly;
        let rw = AccessMode::ReadWrite;
        let ddl = AccessMode::Ddl;
        let reason = |r: Result<Mode>| r.err().map(|e| e.reason());
        assert_eq!(gate(true).admit(&Class::Query, ro).ok(), Some(Mode::Read));
        assert_eq!(gate(true).admit(&Class::Query, rw).ok(), Some(Mode::Write));
        assert_eq!(gate(false).admit(&Class::Query, rw).ok(), Some(Mode::Read));
        assert_eq!(reason(gate(true).admit(&Class::Write("DELETE".into()), ro)), Some("READ_ONLY"));
        assert_eq!(reason(gate(false).admit(&Class::Write("DELETE".into()), rw)), Some("READ_ONLY"));
        assert_eq!(gate(true).admit(&Class::Write("DELETE".into()), rw).ok(), Some(Mode::Write));
        assert_eq!(reason(gate(true).admit(&Class::Schema("DROP TABLE".into()), rw)), Some("DDL_NOT_ALLOWED"));
        assert_eq!(gate(true).admit(&Class::Schema("DROP TABLE".into()), ddl).ok(), Some(Mode::Ddl));
        assert_eq!(reason(gate(true).admit(&Class::Several(2), rw)), Some("ONE_STATEMENT"));
        assert_eq!(reason(gate(true).admit(&Class::Unknown("x".into()), ro)), Some("SQL_SYNTAX"));
        assert_eq!(reason(gate(true).admit(&Class::Denied("x".into()), ro)), Some("READ_ONLY"));
        assert_eq!(gate(true).admit(&Class::Denied("x".into()), rw).ok(), Some(Mode::Write));
        let strict = Gate {
            deny_when_writing: true,
            ..gate(true)
        };
        assert_eq!(reason(strict.admit(&Class::Denied("x".into()), rw)), Some("READ_ONLY"));
    }
}
