//! The `mysql` connector: SQL over MySQL and MariaDB, results as Arrow.
//!
//! Requests run on pooled connections (the shared SQL layer's pool,
//! retries and batch builder) whose session has the request's access mode
//! (`SET SESSION TRANSACTION READ ONLY` for reads), so each statement runs
//! as its own read-only transaction; the session is set only when the mode
//! or time limit changes, and a small read costs one round trip. Read-only holds in layers: the
//! statement must parse (MySQL dialect) as exactly one read, with no file,
//! lock, sleep or user-variable side effects, and statements the parser
//! cannot read are refused, because MySQL commits implicitly before DDL and
//! so a read-only transaction alone cannot hold; the read-only transaction
//! refuses any row change the parser missed; and `dmesh connector test` warns when the
//! user holds more than SELECT. The server stops a statement at the
//! request's time limit (`max_statement_time` on MariaDB,
//! `max_execution_time` on MySQL, which covers SELECT only); a client that
//! leaves gets its statement ended with `KILL QUERY`.
//!
//! Covered: MariaDB 10.11 (tested); MySQL 5.7 and 8.x speak the same
//! protocol and catalog, and are expected to work.
//!
//! # Types
//!
//! Rows come over the binary protocol (prepared statements) and are
//! decoded into Arrow as they arrive:
//!
//! | MySQL                                   | Arrow                         |
//! |-----------------------------------------|-------------------------------|
//! | TINYINT, SMALLINT, MEDIUMINT, INT, BIGINT | Int8/16/32/32/64, or UInt8/16/32/32/64 when UNSIGNED (TINYINT(1) and BOOLEAN stay Int8) |
//! | FLOAT, DOUBLE                           | Float32, Float64              |
//! | DECIMAL(p, s)                           | Decimal128(p, s); Utf8 when p > 38 |
//! | CHAR, VARCHAR, TEXT, ENUM, SET, JSON    | Utf8                          |
//! | BINARY, VARBINARY, BLOB, GEOMETRY       | Binary                        |
//! | BIT(n)                                  | UInt64                        |
//! | YEAR                                    | UInt16                        |
//! | DATE                                    | Date32                        |
//! | DATETIME                                | Timestamp(µs), no zone        |
//! | TIMESTAMP                               | Timestamp(µs, UTC) (sessions run in UTC) |
//! | TIME                                    | Duration(µs) (TIME spans −838 h to 838 h) |
//!
//! Zero dates (`0000-00-00`, or a zero month or day) name no day and read as
//! NULL. Parameters are `?` placeholders, bound by the server.

mod config;
mod connector;
mod decode;
mod error;
mod read;
mod sql;

pub use config::{MySqlConfig, TlsMode};
pub use connector::MySqlConnector;
