//! The `sqlite` connector: SQL over a SQLite database file, results as Arrow.
//!
//! The file is opened read-only unless the config sets `allow_writes`; even
//! then a request runs read-only unless the caller asks to write and holds the
//! right. Read-only holds in three layers: the statement must parse (SQLite
//! dialect) as exactly one query; the connection is opened read-only with
//! `PRAGMA query_only` on, and an authorizer refuses `ATTACH`, `DETACH`,
//! `load_extension` and pragmas that change settings; and
//! `dmesh connector test` warns when the gateway could write the file.
//! Queries run on blocking threads, never on the async runtime, and a
//! progress handler stops a statement at its time limit or when the client
//! goes away.
//!
//! The Catalog family lists the one schema, `main`, with each table's
//! columns, primary key and foreign keys (from `pragma_table_info` and
//! `pragma_foreign_key_list`), and searches table and column names.
//!
//! # Types
//!
//! SQLite types values, not columns, so a column's Arrow type comes from its
//! declared type by SQLite's own affinity rules:
//!
//! | declared type contains            | Arrow      |
//! |-----------------------------------|------------|
//! | `INT`                             | Int64      |
//! | `CHAR`, `CLOB`, `TEXT`            | Utf8       |
//! | `BLOB`                            | Binary     |
//! | `REAL`, `FLOA`, `DOUB`            | Float64    |
//! | `BOOL`                            | Boolean    |
//! | `NUMERIC`, `DECIMAL`              | Float64    |
//! | anything else (`DATE`, `DATETIME`, `JSON`, ...) | Utf8 (SQLite keeps such values as text) |
//! | nothing (an expression)           | the type of the first non-null value in the first batch (Utf8 when all are NULL) |
//!
//! A value that does not fit its column is converted when that loses nothing
//! (an integer in a REAL column, a number in a TEXT column); otherwise the
//! query fails naming the column, the row and the cast to write
//! (`CAST(col AS TEXT)`).

mod config;
mod connector;
mod read;
mod sql;

pub use config::SqliteConfig;
pub use connector::SqliteConnector;
