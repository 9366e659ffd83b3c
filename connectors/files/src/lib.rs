//! The `files` connector: SQL over local Parquet, CSV, JSON lines and Avro
//! files, run by DataFusion.
//!
//! The config's `path` is a file or a folder. A file is one table named after
//! the file. In a folder, each file is a table named after the file, and each
//! sub-folder whose files share one format is a table named after the
//! sub-folder (new files dropped into it are read by the next query). Names
//! are lower-cased, with characters other than letters, digits and `_`
//! replaced by `_`.
//!
//! The connector is read-only: a statement must be a single query. DDL, DML
//! and statements such as `CREATE EXTERNAL TABLE`, `COPY` and `SET` are
//! refused, since they could read or write any path on the gateway's host.

mod config;
mod connector;
mod discover;
mod error;
mod params;

pub use config::{FileFormat, FilesConfig};
pub use connector::FilesConnector;
