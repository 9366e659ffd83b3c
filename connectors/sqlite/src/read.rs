//! Running a statement on a blocking thread and turning its rows into Arrow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use dmesh_connector_api::{Error, ErrorKind, Param, ParamValue, Result};
use dmesh_connector_sql::{ArrowColumn, BatchBuilder};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

/// Rows per batch.
const BATCH_ROWS: usize = 8192;

pub(crate) use dmesh_connector_sql::Mode;

/// Where the database is and how to open it.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    /// A path or a `file:` URI.
    pub target: String,
    /// Whether the file may be opened for writing at all.
    pub writable: bool,
    pub busy_timeout: Duration,
}

/// Functions refused on every connection.
fn denied_function(name: &str) -> bool {
    crate::sql::DENIED_FUNCTIONS.contains(&name.to_ascii_lowercase().as_str())
}

/// Pragmas that take an argument only to describe something.
fn informational(pragma: &str) -> bool {
    matches!(
        pragma.to_ascii_lowercase().as_str(),
        "table_info" | "table_xinfo" | "index_list" | "index_info" | "index_xinfo" | "foreign_key_list"
    )
}

impl Source {
    /// Opens a connection for `mode`, with the authorizer installed.
    pub(crate) fn open(&self, mode: Mode) -> Result<Connection> {
        let write = mode != Mode::Read && self.writable;
        let base = OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let flags = if write {
            base | OpenFlags::SQLITE_OPEN_READ_WRITE
        } else {
            base | OpenFlags::SQLITE_OPEN_READ_ONLY
        };
        let mut conn = Connection::open_with_flags(&self.target, flags).map_err(|e| {
            Error::unavailable(format!("cannot open the SQLite database `{}`: {e}", self.target)).with_reason("SOURCE_UNAVAILABLE")
        })?;
        conn.busy_timeout(self.busy_timeout).map_err(|e| from_sqlite(&e, None))?;
        if !write {
            conn.pragma_update(None, "query_only", true).map_err(|e| from_sqlite(&e, None))?;
        }
        let ddl = mode == Mode::Ddl && self.writable;
        conn.authorizer(Some(move |ctx: AuthContext<'_>| match ctx.action {
            AuthAction::Attach { .. } | AuthAction::Detach { .. } => Authorization::Deny,
            AuthAction::Function { function_name } if denied_function(function_name) => Authorization::Deny,
            AuthAction::Pragma { pragma_name, pragma_value: Some(_) } if !ddl && !informational(pragma_name) => {
                Authorization::Deny
            }
            _ => Authorization::Allow,
        }))
        .map_err(|e| from_sqlite(&e, None))?;
        Ok(conn)
    }
}

/// Maps a SQLite error; `deadline` tells an interrupt by the time limit
/// from one by a client that left.
pub(crate) fn from_sqlite(e: &rusqlite::Error, deadline: Option<(Instant, Duration)>) -> Error {
    use rusqlite::ErrorCode as C;
    let message = e.to_string();
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            C::OperationInterrupted => match deadline {
                Some((at, limit)) if Instant::now() >= at => Error::new(
                    ErrorKind::DeadlineExceeded,
                    format!("the statement ran past its time limit of {}s", limit.as_secs_f64()),
                )
                .with_reason("TIMEOUT"),
                _ => Error::new(ErrorKind::Cancelled, "the statement was stopped: the client went away").with_reason("CANCELLED"),
            },
            C::ReadOnly => Error::permission_denied(format!(
                "SQLite refused a change: {message}; this request is read-only"
            ))
            .with_reason("READ_ONLY"),
            C::AuthorizationForStatementDenied => Error::permission_denied(format!(
                "SQLite refused the statement: {message}; ATTACH, DETACH, extension loading, file functions and \
                 pragma changes are not allowed here"
            ))
            .with_reason("READ_ONLY"),
            C::DatabaseBusy | C::DatabaseLocked => {
                Error::unavailable(format!("the database is locked by another writer: {message}")).with_reason("SOURCE_BUSY")
            }
            C::CannotOpen | C::NotADatabase | C::DatabaseCorrupt => {
                Error::unavailable(format!("SQLite cannot use the file: {message}")).with_retryable(false)
            }
            _ if message.contains("no such table") => {
                Error::not_found(format!("SQLite: {message}")).with_reason("TABLE_NOT_FOUND")
            }
            _ => Error::invalid_argument(format!("SQLite: {message}")).with_reason("SQL_INVALID"),
        },
        rusqlite::Error::SqlInputError { msg, .. } => Error::invalid_argument(format!("SQLite: {msg}")).with_reason("SQL_SYNTAX"),
        rusqlite::Error::InvalidParameterCount(given, wanted) => Error::invalid_argument(format!(
            "the statement has {wanted} parameters and {given} values were bound"
        )),
        _ => Error::internal(format!("SQLite: {message}")),
    }
}

fn bind_value(p: &ParamValue, n: usize) -> Result<Value> {
    Ok(match p {
        ParamValue::Null => Value::Null,
        ParamValue::Bool(b) => Value::Integer(i64::from(*b)),
        ParamValue::Int64(i) => Value::Integer(*i),
        ParamValue::UInt64(u) => Value::Integer(i64::try_from(*u).map_err(|_| {
            Error::invalid_argument(format!("${n}: {u} is larger than SQLite's biggest integer"))
        })?),
        ParamValue::Float64(f) => Value::Real(*f),
        ParamValue::Utf8(s) | ParamValue::Decimal(s) => Value::Text(s.clone()),
        ParamValue::Binary(b) => Value::Blob(b.clone()),
        ParamValue::Date32(d) => Value::Text(
            arrow::temporal_conversions::date32_to_datetime(*d)
                .map(|t| t.date().to_string())
                .ok_or_else(|| Error::invalid_argument(format!("${n}: day {d} is not a date")))?,
        ),
        ParamValue::TimestampMicros(us) => Value::Text(
            arrow::temporal_conversions::timestamp_us_to_datetime(*us)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S%.f").to_string())
                .ok_or_else(|| Error::invalid_argument(format!("${n}: {us} is not a timestamp")))?,
        ),
    })
}

/// The Arrow type a declared column type maps to (the crate docs' table).
pub(crate) fn declared_type(decl: &str) -> DataType {
    let d = decl.to_ascii_uppercase();
    if d.contains("INT") {
        DataType::Int64
    } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
        DataType::Utf8
    } else if d.contains("BLOB") {
        DataType::Binary
    } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
        DataType::Float64
    } else if d.contains("BOOL") {
        DataType::Boolean
    } else if d.contains("NUMERIC") || d.contains("DECIMAL") {
        DataType::Float64
    } else {
        DataType::Utf8
    }
}

fn value_type(v: &Value) -> Option<DataType> {
    match v {
        Value::Null => None,
        Value::Integer(_) => Some(DataType::Int64),
        Value::Real(_) => Some(DataType::Float64),
        Value::Text(_) => Some(DataType::Utf8),
        Value::Blob(_) => Some(DataType::Binary),
    }
}

/// Appends one value to a column; a misfit names the cast that fixes it.
fn push(column: &mut ArrowColumn, name: &str, v: &Value) -> std::result::Result<(), String> {
    match v {
        Value::Null => {
            column.push_null();
            Ok(())
        }
        Value::Integer(x) => column.push_i64(*x),
        Value::Real(r) => column.push_f64(*r),
        Value::Text(t) => column.push_str(t),
        Value::Blob(b) => column.push_bytes(b),
    }
    .map_err(|why| format!("{why}; cast it in the query, e.g. CAST({name} AS TEXT)"))
}

/// A statement to run.
pub(crate) struct Job {
    pub sql: String,
    pub params: Vec<Param>,
    pub mode: Mode,
    pub limit: Duration,
    /// Stop once the schema is known (for `plan`).
    pub schema_only: bool,
}

/// Runs `job` on the calling (blocking) thread: the schema goes to
/// `schema_tx`, then batches to `tx` until the rows run out, an error, the
/// time limit, or the receiver closes.
pub(crate) fn run(source: &Source, job: Job, schema_tx: oneshot::Sender<Result<SchemaRef>>, tx: mpsc::Sender<Result<RecordBatch>>) {
    let deadline = Instant::now() + job.limit;
    let limit = Some((deadline, job.limit));
    let mut schema_tx = Some(schema_tx);
    let fail = |schema_tx: &mut Option<oneshot::Sender<Result<SchemaRef>>>, e: Error| {
        match schema_tx.take() {
            Some(s) => {
                let _ = s.send(Err(e));
            }
            None => {
                let _ = tx.blocking_send(Err(e));
            }
        }
    };
    let mut conn = match source.open(job.mode) {
        Ok(c) => c,
        Err(e) => return fail(&mut schema_tx, e),
    };
    let closed = Arc::new(AtomicBool::new(false));
    let watch = tx.clone();
    let stop = closed.clone();
    let _ = conn.progress_handler(
        1000,
        Some(move || {
            let out = Instant::now() >= deadline || watch.is_closed();
            if out {
                stop.store(true, Ordering::Relaxed);
            }
            out
        }),
    );
    let mut stmt = match conn.prepare(&job.sql) {
        Ok(s) => s,
        Err(e) => return fail(&mut schema_tx, from_sqlite(&e, limit)),
    };
    let mut values = Vec::with_capacity(job.params.len());
    for (i, p) in job.params.iter().enumerate() {
        match bind_value(&p.value, i + 1) {
            Ok(v) => values.push(v),
            Err(e) => return fail(&mut schema_tx, e),
        }
    }
    let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let declared: Vec<Option<DataType>> = stmt.columns().map(|c| c.decl_type().map(declared_type)).collect();
    if names.is_empty() {
        // A statement without a result: its count of changed rows.
        let outcome = stmt.execute(rusqlite::params_from_iter(values.iter()));
        let schema = Arc::new(Schema::new(vec![Field::new("rows_affected", DataType::Int64, false)]));
        match outcome {
            Ok(n) => {
                if let Some(s) = schema_tx.take() {
                    let _ = s.send(Ok(schema.clone()));
                }
                let batch = RecordBatch::try_new(schema, vec![Arc::new(arrow::array::Int64Array::from(vec![n as i64]))])
                    .map_err(|e| Error::internal(e.to_string()));
                let _ = tx.blocking_send(batch);
            }
            Err(e) => fail(&mut schema_tx, from_sqlite(&e, limit)),
        }
        return;
    }
    // Types come from the declarations when every column has one, and for
    // changes (which must not run to be planned); otherwise from the values.
    let infer = job.mode == Mode::Read && declared.iter().any(Option::is_none);
    let mut schema: Option<SchemaRef> = None;
    if !infer {
        let fields: Vec<Field> = names
            .iter()
            .zip(&declared)
            .map(|(n, t)| Field::new(n, t.clone().unwrap_or(DataType::Utf8), true))
            .collect();
        let known = Arc::new(Schema::new(fields));
        if let Some(s) = schema_tx.take() {
            let _ = s.send(Ok(known.clone()));
        }
        schema = Some(known);
    }
    if job.schema_only && schema.is_some() {
        return;
    }
    let mut rows = match stmt.query(rusqlite::params_from_iter(values.iter())) {
        Ok(r) => r,
        Err(e) => return fail(&mut schema_tx, from_sqlite(&e, limit)),
    };
    let width = names.len();
    let mut chunk: Vec<Vec<Value>> = Vec::with_capacity(BATCH_ROWS);
    let mut builder: Option<BatchBuilder<ArrowColumn>> = None;
    loop {
        let next = rows.next();
        let done = match next {
            Ok(Some(row)) => {
                let mut vals = Vec::with_capacity(width);
                for i in 0..width {
                    vals.push(row.get::<_, Value>(i).unwrap_or(Value::Null));
                }
                chunk.push(vals);
                false
            }
            Ok(None) => true,
            Err(e) => {
                if closed.load(Ordering::Relaxed) && tx.is_closed() {
                    return;
                }
                return fail(&mut schema_tx, from_sqlite(&e, limit));
            }
        };
        if chunk.len() < BATCH_ROWS && !done {
            continue;
        }
        let schema = schema.get_or_insert_with(|| {
            let fields: Vec<Field> = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let ty = declared[i]
                        .clone()
                        .or_else(|| chunk.iter().find_map(|r| value_type(&r[i])))
                        .unwrap_or(DataType::Utf8);
                    Field::new(name, ty, true)
                })
                .collect();
            Arc::new(Schema::new(fields))
        });
        if let Some(s) = schema_tx.take()
            && (s.send(Ok(schema.clone())).is_err() || job.schema_only)
        {
            return;
        }
        if !chunk.is_empty() {
            let builder = builder.get_or_insert_with(|| {
                let kinds = schema.fields().iter().map(|f| f.data_type().clone()).collect();
                BatchBuilder::new(schema.clone(), kinds, BATCH_ROWS, usize::MAX)
            });
            let mut filled = Ok(());
            'rows: for row in chunk.drain(..) {
                for (i, v) in row.iter().enumerate() {
                    let name = &names[i];
                    filled = builder.append(i, |c| push(c, name, v));
                    if filled.is_err() {
                        break 'rows;
                    }
                }
                builder.end_row(0);
            }
            let batch = filled.and_then(|()| builder.finish());
            let failed = batch.is_err();
            if tx.blocking_send(batch).is_err() || failed {
                return;
            }
        }
        if done {
            return;
        }
    }
}
