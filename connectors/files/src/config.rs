//! The `files` kind's config.

use std::path::PathBuf;
use std::sync::Arc;

use dmesh_connector_api::{BuildContext, Connector, ConnectorConfig, Error, Family, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::FilesConnector;

/// A file format the connector reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// Comma-separated values (`.csv`), or another delimiter with `csv_delimiter`.
    Csv,
    /// JSON lines: one object per line (`.json`, `.jsonl`, `.ndjson`).
    Json,
    /// Apache Avro object container files (`.avro`).
    Avro,
}

impl FileFormat {
    /// The format an extension names, if any.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Some(Self::Parquet),
            "csv" => Some(Self::Csv),
            "json" | "jsonl" | "ndjson" => Some(Self::Json),
            "avro" => Some(Self::Avro),
            _ => None,
        }
    }

    /// The lower-case name, e.g. `parquet`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Avro => "avro",
        }
    }
}

/// Config of the `files` kind: SQL over a local file or folder of files.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// A file, or a folder of files, on the gateway's host. Each file in the
    /// folder is a table named after the file; each sub-folder of like files
    /// is a table named after the sub-folder.
    #[schemars(extend("x-dmesh-path" = true))]
    pub path: PathBuf,

    /// The format of every file, for files whose extension does not say it:
    /// parquet, csv, json (JSON lines) or avro. By default each file's
    /// extension decides.
    #[serde(default)]
    pub format: Option<FileFormat>,

    /// Whether CSV files start with a header row naming the columns.
    #[serde(default = "default_true")]
    pub csv_has_header: bool,

    /// The CSV field delimiter, a single ASCII character.
    #[serde(default = "default_delimiter")]
    pub csv_delimiter: String,

    /// Memory one query may use for sorts, joins and aggregates before it
    /// fails with RESOURCE_EXHAUSTED (spilling to disk first where it can),
    /// e.g. `512MiB` or `2GiB`.
    #[serde(default = "default_memory_limit")]
    pub memory_limit: String,

    /// A description shown in listings.
    #[serde(default)]
    pub description: Option<String>,
}

fn default_true() -> bool {
    true
}

fn default_delimiter() -> String {
    ",".to_owned()
}

fn default_memory_limit() -> String {
    "1GiB".to_owned()
}

impl FilesConfig {
    /// A config over `path` with every other field at its default.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            format: None,
            csv_has_header: true,
            csv_delimiter: default_delimiter(),
            memory_limit: default_memory_limit(),
            description: None,
        }
    }

    /// The delimiter as one byte.
    pub(crate) fn delimiter_byte(&self) -> Result<u8> {
        match self.csv_delimiter.as_bytes() {
            [b] if b.is_ascii() => Ok(*b),
            _ => Err(Error::invalid_argument(format!(
                "csv_delimiter must be a single ASCII character, got {:?}",
                self.csv_delimiter
            ))
            .with_reason("INVALID_CONFIG")),
        }
    }

    /// The memory limit in bytes.
    pub(crate) fn memory_limit_bytes(&self) -> Result<usize> {
        parse_size(&self.memory_limit).ok_or_else(|| {
            Error::invalid_argument(format!(
                "memory_limit {:?} is not a size; write e.g. 512MiB or 2GiB",
                self.memory_limit
            ))
            .with_reason("INVALID_CONFIG")
        })
    }
}

/// A positive size in bytes (see [`dmesh_connector_api::parse_size`]).
fn parse_size(text: &str) -> Option<usize> {
    dmesh_connector_api::parse_size(text)
        .filter(|&b| b > 0)
        .and_then(|b| usize::try_from(b).ok())
}

impl ConnectorConfig for FilesConfig {
    const KIND: &'static str = "files";
    const DESCRIPTION: &'static str = "SQL over local Parquet, CSV, JSON lines and Avro files (DataFusion).";
    const FAMILIES: &'static [Family] = &[Family::Query, Family::Catalog];

    async fn build(self, ctx: &BuildContext) -> Result<Arc<dyn Connector>> {
        let connector = FilesConnector::open(&ctx.name, self).await?;
        Ok(Arc::new(connector))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_human_form() {
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("100MB"), Some(100_000_000));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("5 parsecs"), None);
    }

    #[test]
    fn extensions_name_formats() {
        assert_eq!(FileFormat::from_extension("PARQUET"), Some(FileFormat::Parquet));
        assert_eq!(FileFormat::from_extension("ndjson"), Some(FileFormat::Json));
        assert_eq!(FileFormat::from_extension("txt"), None);
    }

    #[test]
    fn delimiter_must_be_one_ascii_char() {
        let mut c = FilesConfig::new("/tmp");
        c.csv_delimiter = ";".into();
        assert_eq!(c.delimiter_byte().expect("ok"), b';');
        c.csv_delimiter = "||".into();
        assert!(c.delimiter_byte().is_err());
    }
}
