//! The dmesh `postgres` connector.
//!
//! Reads run over pooled, verified connections in READ ONLY transactions
//! (unless the config sets `allow_writes` and the caller may write). Results
//! come from `COPY (query) TO STDOUT (FORMAT binary)` or binary result rows,
//! decoded straight into Arrow builders and streamed in bounded batches; a
//! large single-table read is split into page ranges read in parallel from
//! one snapshot. Transient failures before the first batch are retried with
//! jittered backoff; a client that leaves or runs out of time gets its query
//! cancelled on the server.
//!
//! # Type mapping
//!
//! | PostgreSQL | Arrow |
//! |---|---|
//! | `smallint`, `integer`, `bigint` | Int16, Int32, Int64 |
//! | `real`, `double precision` | Float32, Float64 |
//! | `numeric(p, s)`, p ≤ 38 | Decimal128(p, s) |
//! | `numeric` without precision, or p > 38 | Utf8, the exact decimal text (`NaN`, `Infinity` included) |
//! | `text`, `varchar`, `char(n)`, `name`, `xml`, `citext`, enums | Utf8 (`char(n)` keeps its padding) |
//! | `json`, `jsonb` | Utf8 with the `arrow.json` extension name |
//! | `bool` | Boolean |
//! | `bytea` | Binary |
//! | `date` | Date32 |
//! | `time` | Time64(µs) |
//! | `timestamp` | Timestamp(µs) |
//! | `timestamptz` | Timestamp(µs, "UTC") |
//! | `interval` | Interval(MonthDayNano) |
//! | `uuid` | FixedSizeBinary(16) with the `arrow.uuid` extension name |
//! | `oid`, `regclass`, `regtype` | UInt32 |
//! | a domain | its base type |
//! | a one-dimensional array of any of these | List of that type |
//!
//! Any other type is refused when the statement is planned, naming the
//! column and suggesting a cast (`col::text`). Values Arrow cannot hold
//! (`infinity` dates and timestamps, numeric `NaN` in a Decimal128 column,
//! multi-dimensional arrays) fail the read with an error naming the column
//! and row, never a wrong value.

mod config;
mod connector;
mod decode;
mod error;
mod params;
mod read;
mod sql;

pub use config::{PostgresConfig, TlsMode};
pub use connector::{ConnectorStats, PostgresConnector};
