//! What the CLI prints: tables for people, and result files for tools.

use std::io::Write;

use anyhow::Context;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use clap::ValueEnum;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use dmesh_proto::v1 as pb;

/// Result formats of `dmesh query`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// CSV with a header row.
    Csv,
    /// JSON lines: one object per row.
    Json,
    /// An Arrow IPC stream.
    Arrow,
    /// A Parquet file.
    Parquet,
}

impl Format {
    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Arrow => "arrow",
            Self::Parquet => "parquet",
        }
    }
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
    t
}

/// `query, catalog`.
pub fn families(fs: &[i32]) -> String {
    let names: Vec<&str> = fs
        .iter()
        .map(|f| match pb::Family::try_from(*f) {
            Ok(pb::Family::Query) => "query",
            Ok(pb::Family::Catalog) => "catalog",
            Ok(pb::Family::Processing) => "processing",
            Ok(pb::Family::Storage) => "storage",
            _ => "?",
        })
        .collect();
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

fn origin(o: i32) -> &'static str {
    match pb::Origin::try_from(o) {
        Ok(pb::Origin::Builtin) => "built-in",
        Ok(pb::Origin::ConfigFile) => "config file",
        Ok(pb::Origin::Runtime) => "added",
        _ => "?",
    }
}

fn millis(d: Option<&prost_types::Duration>) -> String {
    d.map(|d| format!("{:.1} ms", d.seconds as f64 * 1e3 + f64::from(d.nanos) / 1e6))
        .unwrap_or_default()
}

/// `dmesh connector kinds`.
pub fn kinds(out: &mut impl Write, kinds: &[pb::ConnectorKind], json: bool) -> anyhow::Result<()> {
    if json {
        let all: Vec<serde_json::Value> = kinds
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kind": k.kind,
                    "description": k.description,
                    "families": families(&k.families),
                    "config_schema": serde_json::from_str::<serde_json::Value>(&k.config_schema_json).unwrap_or_default(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(());
    }
    let mut t = table();
    t.set_header(["KIND", "FAMILIES", "FIELDS", "DESCRIPTION"]);
    for k in kinds {
        let schema: serde_json::Value = serde_json::from_str(&k.config_schema_json).unwrap_or_default();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let fields: Vec<String> = schema["properties"]
            .as_object()
            .map(|p| {
                p.keys()
                    .map(|f| {
                        let flag = format!("--{}", f.replace('_', "-"));
                        if required.contains(&f.as_str()) { format!("{flag} (required)") } else { flag }
                    })
                    .collect()
            })
            .unwrap_or_default();
        t.add_row([k.kind.clone(), families(&k.families), fields.join("\n"), k.description.clone()]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

/// `dmesh connector list`.
pub fn connectors(out: &mut impl Write, cs: &[pb::Connector]) -> anyhow::Result<()> {
    if cs.is_empty() {
        writeln!(out, "no connectors; add one with `dmesh connector add KIND --name NAME ...`")?;
        return Ok(());
    }
    let mut t = table();
    t.set_header(["NAME", "KIND", "FAMILIES", "ORIGIN", "DESCRIPTION"]);
    for c in cs {
        t.add_row([c.name.clone(), c.kind.clone(), families(&c.families), origin(c.origin).into(), c.description.clone()]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

fn grant_text(g: &pb::Grant) -> String {
    let tables = if g.tables.is_empty() { String::new() } else { format!(":{}", g.tables.join(",")) };
    format!("{}{tables}={}", g.connector, g.rights.join(","))
}

fn limits_text(l: Option<&pb::RoleLimits>) -> String {
    let Some(l) = l else { return "-".into() };
    let mut parts = Vec::new();
    if let Some(v) = l.max_rows {
        parts.push(format!("rows {v}"));
    }
    if let Some(v) = l.max_bytes {
        parts.push(format!("bytes {v}"));
    }
    if let Some(v) = l.statement_timeout_ms {
        parts.push(format!("time {}", humantime::format_duration(std::time::Duration::from_millis(v))));
    }
    if let Some(v) = l.max_concurrent {
        parts.push(format!("concurrent {v}"));
    }
    if parts.is_empty() { "-".into() } else { parts.join(", ") }
}

fn when(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(|t| {
        let d = std::time::Duration::new(t.seconds.max(0) as u64, t.nanos.max(0) as u32);
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + d).to_string().into()
    })
    .unwrap_or_else(|| "-".into())
}

/// `dmesh status`.
pub fn status(out: &mut impl Write, st: &pb::GetStatusResponse) -> anyhow::Result<()> {
    let uptime = st
        .uptime
        .as_ref()
        .map(|d| humantime::format_duration(std::time::Duration::from_secs(d.seconds.max(0) as u64)).to_string())
        .unwrap_or_default();
    let auth = if st.authenticated { "calls authenticated" } else { "calls not authenticated" };
    writeln!(
        out,
        "dmesh {} · up {uptime} · {} queries in flight · {auth}",
        st.version, st.queries_in_flight
    )?;
    let mut t = table();
    t.set_header(["CONNECTOR", "KIND", "STATE", "IN FLIGHT", "POOL (IN USE/OPEN/MAX)", "WAITING", "RETRIES"]);
    for c in &st.connectors {
        let state = if c.available { "ok".to_owned() } else { format!("unavailable: {}", c.problem) };
        let (pool, waiting, retries) = match &c.pool {
            Some(p) => (format!("{}/{}/{}", p.in_use, p.open, p.max), p.waiters.to_string(), p.retries.to_string()),
            None => ("-".into(), "-".into(), "-".into()),
        };
        t.add_row([c.name.clone(), c.kind.clone(), state, c.queries_in_flight.to_string(), pool, waiting, retries]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

/// `dmesh whoami`.
pub fn whoami(out: &mut impl Write, me: &pb::WhoAmIResponse) -> anyhow::Result<()> {
    let how = if me.authenticated { "authenticated" } else { "calls are not authenticated" };
    writeln!(out, "principal: {} ({how})", me.principal)?;
    writeln!(out, "roles:     {}", if me.roles.is_empty() { "-".into() } else { me.roles.join(", ") })?;
    let grants: Vec<String> = me.grants.iter().map(grant_text).collect();
    writeln!(out, "grants:    {}", if grants.is_empty() { "-".into() } else { grants.join("  ") })?;
    writeln!(out, "limits:    {}", limits_text(me.limits.as_ref()))?;
    Ok(())
}

/// `dmesh token list`.
pub fn tokens(out: &mut impl Write, ts: &[pb::TokenInfo]) -> anyhow::Result<()> {
    if ts.is_empty() {
        writeln!(out, "no tokens: calls are not authenticated; mint one with `dmesh token create --principal NAME --role admin`")?;
        return Ok(());
    }
    let mut t = table();
    t.set_header(["ID", "PRINCIPAL", "ROLES", "SOURCE", "CREATED", "EXPIRES", "REVOKED"]);
    for k in ts {
        t.add_row([
            k.id.clone(),
            k.principal.clone(),
            if k.roles.is_empty() { "-".into() } else { k.roles.join(", ") },
            k.source.clone(),
            when(k.created_at.as_ref()),
            when(k.expires_at.as_ref()),
            when(k.revoked_at.as_ref()),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

/// `dmesh role list`.
pub fn roles(out: &mut impl Write, rs: &[pb::Role]) -> anyhow::Result<()> {
    let mut t = table();
    t.set_header(["ROLE", "SOURCE", "GRANTS", "LIMITS"]);
    for r in rs {
        let grants: Vec<String> = r.grants.iter().map(grant_text).collect();
        t.add_row([r.name.clone(), r.source.clone(), grants.join("\n"), limits_text(r.limits.as_ref())]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

/// `dmesh connector show`.
pub fn connector(out: &mut impl Write, c: &pb::Connector) -> anyhow::Result<()> {
    writeln!(out, "name:     {}", c.name)?;
    writeln!(out, "kind:     {}", c.kind)?;
    writeln!(out, "families: {}", families(&c.families))?;
    writeln!(out, "origin:   {}", origin(c.origin))?;
    if !c.description.is_empty() {
        writeln!(out, "about:    {}", c.description)?;
    }
    let config = c.config.as_ref().map(crate::convert::struct_to_json).unwrap_or_default();
    writeln!(out, "config:\n{}", serde_json::to_string_pretty(&config)?)?;
    Ok(())
}

/// `dmesh connector test`.
pub fn test(out: &mut impl Write, name: &str, r: &pb::TestConnectorResponse) -> anyhow::Result<()> {
    if !r.checks.is_empty() {
        let mut t = table();
        t.set_header(["CHECK", "OK", "LATENCY", "DETAIL"]);
        for c in &r.checks {
            t.add_row([
                c.name.clone(),
                if c.ok { "yes".into() } else { "NO".into() },
                millis(c.latency.as_ref()),
                c.detail.clone(),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    let verdict = if r.healthy { "healthy" } else { "UNHEALTHY" };
    writeln!(out, "connector `{name}` is {verdict} ({} in all): {}", millis(r.latency.as_ref()), r.message)?;
    Ok(())
}

/// `dmesh tables`.
pub fn tables(out: &mut impl Write, ts: &[pb::TableInfo]) -> anyhow::Result<()> {
    let mut t = table();
    t.set_header(["SCHEMA", "TABLE", "TYPE", "FORMAT", "LOCATION"]);
    for info in ts {
        let r = info.table.clone().unwrap_or_default();
        let ty = pb::TableType::try_from(info.table_type)
            .map(|t| t.as_str_name().trim_start_matches("TABLE_TYPE_").to_ascii_lowercase())
            .unwrap_or_default();
        t.add_row([r.schema, r.name, ty, info.format.clone(), info.location.clone()]);
    }
    writeln!(out, "{t}")?;
    writeln!(out, "({} tables)", ts.len())?;
    Ok(())
}

/// `dmesh describe`.
pub fn describe(out: &mut impl Write, r: &pb::GetSchemaResponse) -> anyhow::Result<()> {
    if let Some(info) = &r.table {
        let tr = info.table.clone().unwrap_or_default();
        let name = if tr.schema.is_empty() { tr.name } else { format!("{}.{}", tr.schema, tr.name) };
        let mut line = format!("table {name}");
        if !info.format.is_empty() {
            line.push_str(&format!(" ({})", info.format));
        }
        writeln!(out, "{line}")?;
    }
    let mut t = table();
    t.set_header(["COLUMN", "TYPE", "NULLABLE", "SOURCE TYPE", "DESCRIPTION"]);
    for c in &r.columns {
        t.add_row([
            c.name.clone(),
            c.arrow_type.clone(),
            if c.nullable { "yes".into() } else { "no".into() },
            c.source_type.clone(),
            c.description.clone(),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

/// `dmesh explain`.
pub fn explain(out: &mut impl Write, r: &pb::ExplainResponse) -> anyhow::Result<()> {
    writeln!(out, "{}", r.plan.trim_end())?;
    Ok(())
}

/// Writes a result in one format as batches arrive.
pub struct ResultWriter {
    inner: Inner,
}

enum Inner {
    Table(Box<dyn Write + Send>, SchemaRef, Vec<RecordBatch>),
    Csv(arrow::csv::Writer<Box<dyn Write + Send>>),
    Json(arrow::json::LineDelimitedWriter<Box<dyn Write + Send>>),
    Arrow(arrow::ipc::writer::StreamWriter<Box<dyn Write + Send>>),
    Parquet(parquet::arrow::ArrowWriter<Box<dyn Write + Send>>),
}

impl std::fmt::Debug for ResultWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResultWriter")
    }
}

impl ResultWriter {
    /// A writer of `format` into `sink`.
    pub fn new(format: Format, sink: Box<dyn Write + Send>, schema: SchemaRef) -> anyhow::Result<Self> {
        let inner = match format {
            Format::Table => Inner::Table(sink, schema, Vec::new()),
            Format::Csv => Inner::Csv(arrow::csv::WriterBuilder::new().with_header(true).build(sink)),
            Format::Json => Inner::Json(arrow::json::LineDelimitedWriter::new(sink)),
            Format::Arrow => Inner::Arrow(arrow::ipc::writer::StreamWriter::try_new(sink, &schema)?),
            Format::Parquet => Inner::Parquet(parquet::arrow::ArrowWriter::try_new(sink, schema, None)?),
        };
        Ok(Self { inner })
    }

    /// Writes one batch (the table format keeps batches until the end).
    pub fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        match &mut self.inner {
            Inner::Table(_, _, batches) => batches.push(batch.clone()),
            Inner::Csv(w) => w.write(batch)?,
            Inner::Json(w) => w.write(batch)?,
            Inner::Arrow(w) => w.write(batch)?,
            Inner::Parquet(w) => w.write(batch).context("writing parquet")?,
        }
        Ok(())
    }

    /// Finishes the output and flushes it.
    pub fn finish(self) -> anyhow::Result<()> {
        match self.inner {
            Inner::Table(mut sink, schema, batches) => {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                if batches.is_empty() {
                    let empty = RecordBatch::new_empty(schema);
                    writeln!(sink, "{}", arrow::util::pretty::pretty_format_batches(&[empty])?)?;
                } else {
                    writeln!(sink, "{}", arrow::util::pretty::pretty_format_batches(&batches)?)?;
                }
                writeln!(sink, "({rows} {})", if rows == 1 { "row" } else { "rows" })?;
                sink.flush()?;
            }
            Inner::Csv(w) => w.into_inner().flush()?,
            Inner::Json(mut w) => {
                w.finish()?;
                w.into_inner().flush()?;
            }
            Inner::Arrow(mut w) => {
                w.finish()?;
                w.into_inner()?.flush()?;
            }
            Inner::Parquet(w) => {
                let mut sink = w.into_inner().context("finishing parquet")?;
                sink.flush()?;
            }
        }
        Ok(())
    }
}
