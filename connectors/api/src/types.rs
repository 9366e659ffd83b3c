//! Types shared by every family.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A family of abilities. One connector instance may serve several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// SQL: execute, get_schema, list_tables, explain.
    Query,
    /// Metadata, search, lineage, classifications.
    Catalog,
    /// Jobs followed by id.
    Processing,
    /// Files and objects.
    Storage,
}

impl Family {
    /// Every family, in a fixed order.
    pub const ALL: [Family; 4] = [Self::Query, Self::Catalog, Self::Processing, Self::Storage];

    /// The lower-case name, e.g. `query`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Catalog => "catalog",
            Self::Processing => "processing",
            Self::Storage => "storage",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A table within one connector instance. Empty parts are filled in by the
/// connector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableRef {
    /// The catalog (database), where the source has several.
    pub catalog: Option<String>,
    /// The schema, where the source has them.
    pub schema: Option<String>,
    /// The table name.
    pub name: String,
}

impl TableRef {
    /// A table known by name alone.
    pub fn bare(name: impl Into<String>) -> Self {
        Self {
            catalog: None,
            schema: None,
            name: name.into(),
        }
    }

    /// Parses `name`, `schema.name` or `catalog.schema.name` (no quoting).
    pub fn parse(text: &str) -> Self {
        let parts: Vec<&str> = text.split('.').collect();
        match parts.as_slice() {
            [name] => Self::bare(*name),
            [schema, name] => Self {
                catalog: None,
                schema: Some((*schema).to_owned()),
                name: (*name).to_owned(),
            },
            [catalog, schema, rest @ ..] => Self {
                catalog: Some((*catalog).to_owned()),
                schema: Some((*schema).to_owned()),
                name: rest.join("."),
            },
            [] => Self::bare(""),
        }
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.catalog {
            write!(f, "{c}.")?;
        }
        if let Some(s) = &self.schema {
            write!(f, "{s}.")?;
        }
        f.write_str(&self.name)
    }
}

/// What kind of relation a table is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableType {
    /// A base table.
    #[default]
    Table,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
    /// Data read from outside the source (files).
    External,
    /// A system or catalog table.
    System,
}

/// A table as listed by a connector.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    /// The table's full name within the connector.
    pub table: TableRef,
    /// Table, view, ...
    pub table_type: TableType,
    /// The source's comment on the table.
    pub description: Option<String>,
    /// Estimated rows, when the source knows it cheaply.
    pub row_estimate: Option<u64>,
    /// Where the data lives, when that means something.
    pub location: Option<String>,
    /// The storage format, when the source has one.
    pub format: Option<String>,
}

/// A column as a source describes it, beside its Arrow field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// The column name.
    pub name: String,
    /// The source's own type name (e.g. `varchar(20)`), when it has one.
    pub source_type: Option<String>,
    /// The source's comment on the column.
    pub description: Option<String>,
}

/// Caps on one request. `None` means the gateway's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Stop after this many rows.
    pub max_rows: Option<u64>,
    /// Stop after about this many bytes of Arrow data.
    pub max_bytes: Option<u64>,
    /// Time allowed for the statement at the source.
    pub timeout: Option<Duration>,
}

/// Whether a request may change the source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessMode {
    /// Reads only; enforced by the connector as deeply as its source allows.
    #[default]
    ReadOnly,
    /// Reads and changes to rows, for callers and connectors allowed to write.
    ReadWrite,
    /// Reads, changes to rows, and changes to the schema or the session
    /// (DDL), for callers holding that right on connectors allowed to write.
    Ddl,
}

impl AccessMode {
    /// Whether the mode allows any change at all.
    pub fn writes(self) -> bool {
        self != AccessMode::ReadOnly
    }
}

/// A value bound to a statement parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ParamValue {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int64(i64),
    /// An unsigned integer.
    UInt64(u64),
    /// A double.
    Float64(f64),
    /// Text.
    Utf8(String),
    /// Bytes.
    Binary(Vec<u8>),
    /// Days since 1970-01-01.
    Date32(i32),
    /// Microseconds since 1970-01-01T00:00:00Z.
    TimestampMicros(i64),
    /// An exact decimal in base 10, e.g. `-12.340`.
    Decimal(String),
}

/// A statement parameter, positional unless named.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// The parameter's name, for sources with named parameters.
    pub name: Option<String>,
    /// The bound value.
    pub value: ParamValue,
}

/// The outcome of a connector's health check.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthReport {
    /// The individual checks, in the order they ran.
    pub checks: Vec<HealthCheck>,
}

impl HealthReport {
    /// Healthy when every check passed (and there was at least one).
    pub fn healthy(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }

    /// The first failed check, if any.
    pub fn first_failure(&self) -> Option<&HealthCheck> {
        self.checks.iter().find(|c| !c.ok)
    }
}

/// One check of a health report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthCheck {
    /// What was checked, e.g. `path readable`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found; when failed, the precise reason.
    pub detail: String,
    /// How long it took.
    pub latency: Duration,
}

impl HealthCheck {
    /// Runs `check`, timing it, and records its outcome.
    pub async fn run<F>(name: &str, check: F) -> Self
    where
        F: Future<Output = crate::Result<String>>,
    {
        let started = std::time::Instant::now();
        let outcome = check.await;
        let latency = started.elapsed();
        match outcome {
            Ok(detail) => Self {
                name: name.to_owned(),
                ok: true,
                detail,
                latency,
            },
            Err(e) => Self {
                name: name.to_owned(),
                ok: false,
                detail: e.to_string(),
                latency,
            },
        }
    }
}

/// Parses a size as written in configs: `1024`, `64KiB`, `512MiB`, `2GiB`,
/// `1GB`, `100MB` (binary units as `KiB`/`K`, decimal as `KB`). `None` for
/// anything else or an overflow.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
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
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("5 parsecs"), None);
    }

    #[test]
    fn table_refs_parse_and_print() {
        assert_eq!(TableRef::parse("orders"), TableRef::bare("orders"));
        let t = TableRef::parse("public.orders");
        assert_eq!(t.schema.as_deref(), Some("public"));
        assert_eq!(t.to_string(), "public.orders");
        let t = TableRef::parse("db.public.orders");
        assert_eq!(t.catalog.as_deref(), Some("db"));
        assert_eq!(t.to_string(), "db.public.orders");
    }

    #[test]
    fn a_report_is_healthy_only_when_every_check_passed() {
        let ok = HealthCheck {
            name: "a".into(),
            ok: true,
            ..Default::default()
        };
        let bad = HealthCheck {
            name: "b".into(),
            ok: false,
            detail: "no such directory".into(),
            ..Default::default()
        };
        assert!(!HealthReport::default().healthy());
        assert!(HealthReport { checks: vec![ok.clone()] }.healthy());
        let report = HealthReport { checks: vec![ok, bad] };
        assert!(!report.healthy());
        assert_eq!(report.first_failure().map(|c| c.name.as_str()), Some("b"));
    }

    #[tokio::test]
    async fn health_check_run_records_failures() {
        let c = HealthCheck::run("probe", async { Err(crate::Error::unavailable("refused")) }).await;
        assert!(!c.ok);
        assert_eq!(c.detail, "refused");
    }
}

/// A statement fit for traces and metrics: string, number and dollar-quoted
/// literals become `?`, whitespace runs become one space, and the text is cut
/// at 2 KiB. Identifiers (quoted or not), keywords and `$n` parameters stay,
/// so the statement's shape is kept while its values, which may be personal
/// data or secrets, are not.
pub fn sanitize_sql(sql: &str) -> String {
    const MAX: usize = 2048;
    // Only the head is read: the output is cut at MAX anyway, and a bounded
    // input keeps the cost bounded whatever the statement.
    let chars: Vec<char> = sql.chars().take(4 * MAX).collect();
    let mut out = String::with_capacity(sql.len().min(MAX));
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() && out.len() < MAX {
        let c = chars[i];
        if c == '\'' {
            // A string literal, with '' escapes (and E'..' backslash escapes).
            let backslash = i > 0 && matches!(chars[i - 1], 'e' | 'E');
            i += 1;
            while i < chars.len() {
                if backslash && chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            if backslash {
                out.pop();
            }
            out.push('?');
            i += 1;
        } else if c == '"' || c == '`' {
            // A quoted identifier: kept.
            out.push(c);
            i += 1;
            while i < chars.len() {
                out.push(chars[i]);
                i += 1;
                if chars[i - 1] == c {
                    break;
                }
            }
        } else if c == '$' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
            // A parameter: kept.
            out.push(c);
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                out.push(chars[i]);
                i += 1;
            }
        } else if c == '$' {
            // A dollar-quoted literal, $tag$...$tag$.
            let end_tag = chars[i + 1..].iter().position(|&d| d == '$').map(|p| i + 1 + p);
            match end_tag {
                Some(e) if chars[i + 1..e].iter().all(|&d| ident(d)) => {
                    let tag: String = chars[i..=e].iter().collect();
                    let rest: String = chars[e + 1..].iter().collect();
                    let close = rest.find(&tag).map_or(chars.len(), |p| e + 1 + rest[..p].chars().count() + tag.chars().count());
                    out.push('?');
                    i = close;
                }
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() && (i == 0 || !ident(chars[i - 1])) {
            // A number.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push('?');
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            // A line comment: dropped.
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_whitespace() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

#[cfg(test)]
mod sanitize_tests {
    use super::sanitize_sql;

    #[test]
    fn literals_become_placeholders_and_names_stay() {
        assert_eq!(
            sanitize_sql("SELECT \"Name\", 42, 3.5e2 FROM t1 WHERE pw = 'it''s secret' AND id = $1"),
            "SELECT \"Name\", ?, ? FROM t1 WHERE pw = ? AND id = $1"
        );
        assert_eq!(sanitize_sql("SELECT $body$ hidden $ text $body$ AS x"), "SELECT ? AS x");
        assert_eq!(sanitize_sql("SELECT E'a\\'b' -- note 'x'\n, col2"), "SELECT ? , col2");
        assert_eq!(sanitize_sql("  SELECT\n\t1  "), "SELECT ?");
        assert!(sanitize_sql(&"x".repeat(5000)).len() <= 2048);
    }
}
