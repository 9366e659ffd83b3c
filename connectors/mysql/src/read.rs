//! Running a statement: checkout, a session of the request's access mode
//! (each statement its own READ ONLY transaction for reads), the server's
//! own time limit, rows decoded into Arrow, and `KILL QUERY` when the client
//! leaves or runs out of time.
//!
//! One pooled connection serves a request. Its rows fill batches that go
//! through a small bounded channel, so memory stays bounded and a slow
//! client slows the read. The server stops the statement at the request's
//! time limit (`max_statement_time` on MariaDB, `max_execution_time` on
//! MySQL); a client that leaves gets its statement killed on the server
//! and its connection discarded.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arrow::array::UInt64Array;
use arrow::record_batch::RecordBatch;
use dmesh_connector_api::{Error, ErrorKind, QueryRequest, Result};
use dmesh_connector_sql::statement::{Gate, Mode, Unreadable};
use dmesh_connector_sql::{BATCH_BYTES, BATCH_ROWS, CHANNEL_DEPTH, statement_timeout, with_retries};
use mysql_async::prelude::{Protocol, Queryable};
use mysql_async::{Params, QueryResult, Value};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::connector::{Inner, Object};
use crate::decode::{Shape, param_value, push, wire_size};
use crate::sql::classify;

/// The reads MySQL requests may be, for messages.
const READS: &str = "SELECT, WITH ... SELECT, VALUES, SHOW, DESCRIBE, EXPLAIN";

/// How long past its limit a statement may run before the connector kills
/// it itself (the server's own limit normally ends it first).
const GRACE: Duration = Duration::from_secs(2);

/// A request, checked and ready to run.
#[derive(Debug)]
pub(crate) struct Plan {
    mode: Mode,
    limit: Duration,
}

/// How a read ended.
enum Outcome {
    /// The rows ran out, or the statement failed.
    Done(Result<()>),
    /// The client went away.
    Left,
    /// The statement outlived its time limit and the server did not stop it.
    Overran,
}

/// A statement prepared on a connection whose session is set for it.
struct Started {
    conn: Object,
    statement: Option<mysql_async::Statement>,
    shape: Shape,
}

impl Inner {
    fn gate(&self) -> Gate {
        Gate {
            allow_writes: self.config.allow_writes,
            check_statements: self.config.check_statements,
            deny_when_writing: true,
            unreadable: Unreadable::Refuse,
            reads: READS,
        }
    }

    /// Classifies a request and checks it against the access mode.
    pub(crate) fn plan(&self, request: &QueryRequest) -> Result<Plan> {
        let mode = self.gate().admit(&classify(&request.sql), request.access)?;
        Ok(Plan {
            mode,
            limit: statement_timeout(request, self.config.statement_timeout),
        })
    }

    /// Gives the session the access mode and time limit a request needs,
    /// in one round trip and only when they differ from the last request's.
    /// Statements then run in autocommit mode, each its own transaction of
    /// the session's access mode: READ ONLY for reads.
    pub(crate) async fn prepare_session(&self, conn: &mut Object, read_only: bool, limit: Duration) -> Result<()> {
        let mut setup = Vec::new();
        if conn.read_only != Some(read_only) {
            setup.push(if read_only { "SET SESSION TRANSACTION READ ONLY" } else { "SET SESSION TRANSACTION READ WRITE" }.to_owned());
        }
        if conn.limit != Some(limit) {
            // MariaDB reports 10.x and 11.x; MySQL's majors are below 10.
            setup.push(if conn.server_version().0 >= 10 {
                format!("SET SESSION max_statement_time = {:.3}", limit.as_secs_f64())
            } else {
                format!("SET SESSION max_execution_time = {}", limit.as_millis().max(1))
            });
        }
        if setup.is_empty() {
            return Ok(());
        }
        conn.read_only = None;
        conn.limit = None;
        conn.query_drop(setup.join("; ")).await.map_err(|e| self.mysql_error(&e))?;
        conn.read_only = Some(read_only);
        conn.limit = Some(limit);
        Ok(())
    }

    /// Sets the session up for the request and prepares its statement.
    /// Parameters are counted when the statement runs (a plan has none).
    async fn start(&self, plan: &Plan, request: &QueryRequest) -> Result<Started> {
        let mut conn = self.checkout_once().await?;
        if let Err(e) = self.prepare_session(&mut conn, plan.mode == Mode::Read, plan.limit).await {
            discard(conn);
            return Err(e);
        }
        let statement = match conn.prep(request.sql.as_str()).await {
            Ok(s) => Some(s),
            // Statements the binary protocol cannot prepare (some SHOW
            // forms) run as text when they have no parameters.
            Err(mysql_async::Error::Server(s)) if s.code == 1295 && request.params.is_empty() => None,
            Err(e) => {
                let err = self.mysql_error(&e);
                self.release(conn, plan.mode).await;
                return Err(err);
            }
        };
        let shape = match &statement {
            Some(s) if s.columns().is_empty() => Shape::rows_affected(),
            Some(s) => Shape::of(&s.columns()),
            None => {
                // Learn the text statement's columns by running it: SHOW
                // forms are cheap and read-only.
                let result = conn.query_iter(request.sql.as_str()).await;
                match result {
                    Ok(r) => {
                        let shape = r.columns().map_or_else(Shape::rows_affected, |c| Shape::of(&c));
                        let _ = r.drop_result().await;
                        shape
                    }
                    Err(e) => {
                        let err = self.mysql_error(&e);
                        self.release(conn, plan.mode).await;
                        return Err(err);
                    }
                }
            }
        };
        Ok(Started { conn, statement, shape })
    }

    /// The schema a statement's result will have, without running it.
    pub(crate) async fn describe(&self, request: &QueryRequest) -> Result<Shape> {
        let plan = self.plan(request)?;
        let started = with_retries(&self.name, "a plan", &self.counters.retries, || self.start(&plan, request)).await?;
        let shape = started.shape.clone();
        self.release(started.conn, plan.mode).await;
        Ok(shape)
    }

    /// Starts a statement and streams its result.
    pub(crate) async fn execute(self: &Arc<Self>, request: QueryRequest) -> Result<(Shape, mpsc::Receiver<Result<RecordBatch>>)> {
        let plan = self.plan(&request)?;
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!(
            "db.statement",
            otel.kind = "client",
            db.system.name = "mysql",
            db.namespace = %self.target.database,
            server.address = %self.target.address,
            db.query.text = %dmesh_connector_api::sanitize_sql(&request.sql),
        );
        let started = with_retries(&self.name, "the start of a read", &self.counters.retries, || {
            self.start(&plan, &request)
        })
        .instrument(span.clone())
        .await?;
        let shape = started.shape.clone();
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let inner = self.clone();
        tokio::spawn(async move { inner.run(plan, request, started, tx).await }.instrument(span));
        Ok((shape, rx))
    }

    /// Streams the rows, then returns the connection; kills the statement on
    /// the server when the client leaves or the time runs out.
    async fn run(self: Arc<Self>, plan: Plan, request: QueryRequest, started: Started, tx: mpsc::Sender<Result<RecordBatch>>) {
        let Started { mut conn, statement, shape } = started;
        let id = conn.id();
        let deadline = tokio::time::Instant::now() + plan.limit + GRACE;
        let outcome = {
            let read = stream(&mut conn, statement, &request, &shape, &tx, &self.target);
            tokio::select! {
                r = read => Outcome::Done(r),
                () = tx.closed() => Outcome::Left,
                () = tokio::time::sleep_until(deadline) => Outcome::Overran,
            }
        };
        match outcome {
            Outcome::Done(Ok(())) => {
                // The client has every row; the connection goes back after.
                drop(tx);
                self.release(conn, plan.mode).await;
            }
            Outcome::Done(Err(e)) => {
                if e.kind() == ErrorKind::Unavailable {
                    discard(conn);
                } else {
                    self.release(conn, plan.mode).await;
                }
                let _ = tx.send(Err(e)).await;
            }
            Outcome::Overran => {
                self.kill(id).await;
                discard(conn);
                let e = Error::new(
                    ErrorKind::DeadlineExceeded,
                    format!("the statement ran past its time limit of {:?}", plan.limit),
                )
                .with_reason("TIMEOUT");
                let _ = tx.send(Err(e)).await;
            }
            Outcome::Left => {
                // The client left mid-read: stop the statement on the server.
                self.counters.cancels.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(connector = %self.name, connection = id, "client left; killing its statement");
                self.kill(id).await;
                discard(conn);
            }
        }
    }

    /// `KILL QUERY id` over a connection of its own (the pool may be full).
    pub(crate) async fn kill(&self, id: u32) {
        let opts = self.opts.clone();
        let attempt = async move {
            let mut conn = mysql_async::Conn::new(opts).await?;
            conn.query_drop(format!("KILL QUERY {id}")).await?;
            conn.disconnect().await
        };
        match tokio::time::timeout(self.config.connect_timeout, attempt).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(connector = %self.name, error = %self.mysql_error(&e), "KILL QUERY failed"),
            Err(_) => tracing::debug!(connector = %self.name, "KILL QUERY timed out"),
        }
    }

    /// Returns the connection to the pool. After a request that could run
    /// anything (`ddl`) the session is reset (`COM_RESET_CONNECTION`: its
    /// variables, temporary tables, locks and open transaction go) and set
    /// again on next use, so nothing it did reaches the next caller; a
    /// connection that cannot be reset is dropped instead.
    pub(crate) async fn release(&self, mut conn: Object, mode: Mode) {
        if mode != Mode::Ddl {
            return;
        }
        conn.read_only = None;
        conn.limit = None;
        match tokio::time::timeout(Duration::from_secs(2), conn.reset()).await {
            Ok(Ok(true)) => {}
            _ => discard(conn),
        }
    }
}

/// Drops a connection instead of returning it to the pool.
fn discard(conn: Object) {
    drop(Object::take(conn));
}

/// Runs the statement and sends its rows as batches.
async fn stream(
    conn: &mut Object,
    statement: Option<mysql_async::Statement>,
    request: &QueryRequest,
    shape: &Shape,
    tx: &mpsc::Sender<Result<RecordBatch>>,
    target: &crate::error::Target,
) -> Result<()> {
    let map = |e: mysql_async::Error| crate::error::from_mysql(&e, target);
    match statement {
        Some(s) => {
            let params = if request.params.is_empty() {
                Params::Empty
            } else {
                Params::Positional(request.params.iter().map(|p| param_value(&p.value)).collect())
            };
            let mut result = conn.exec_iter(s, params).await.map_err(map)?;
            drain(&mut result, shape, tx).await.map_err(|e| e.either(map))
        }
        None => {
            let mut result = conn.query_iter(request.sql.as_str()).await.map_err(map)?;
            drain(&mut result, shape, tx).await.map_err(|e| e.either(map))
        }
    }
}

/// A failure while draining: the driver's, or one of ours.
enum Failure {
    Driver(mysql_async::Error),
    Ours(Error),
}

impl Failure {
    fn either(self, map: impl FnOnce(mysql_async::Error) -> Error) -> Error {
        match self {
            Failure::Driver(e) => map(e),
            Failure::Ours(e) => e,
        }
    }
}

/// Reads every row of `result` into batches.
async fn drain<P: Protocol>(
    result: &mut QueryResult<'_, 'static, P>,
    shape: &Shape,
    tx: &mpsc::Sender<Result<RecordBatch>>,
) -> std::result::Result<(), Failure> {
    let gone = || Failure::Ours(Error::new(ErrorKind::Cancelled, "the client went away").with_reason("CANCELLED"));
    if shape.schema.field(0).name() == "rows_affected" && result.columns().is_none_or(|c| c.is_empty()) {
        let affected = result.affected_rows();
        result.next().await.map_err(Failure::Driver)?;
        let batch = RecordBatch::try_new(shape.schema.clone(), vec![Arc::new(UInt64Array::from(vec![affected]))])
            .map_err(|e| Failure::Ours(Error::internal(e.to_string())))?;
        return tx.send(Ok(batch)).await.map_err(|_| gone());
    }
    let mut builder = shape.builder(BATCH_ROWS, BATCH_BYTES);
    let started = Instant::now();
    let mut sent = false;
    while let Some(row) = result.next().await.map_err(Failure::Driver)? {
        let mut bytes = 0;
        for (i, decode) in shape.decode.iter().enumerate() {
            let v = row.as_ref(i).unwrap_or(&Value::NULL);
            bytes += wire_size(v);
            builder.append(i, |c| push(c, *decode, v)).map_err(Failure::Ours)?;
        }
        builder.end_row(bytes);
        if builder.is_full() {
            let batch = builder.finish().map_err(Failure::Ours)?;
            tx.send(Ok(batch)).await.map_err(|_| gone())?;
            sent = true;
        }
    }
    if builder.rows() > 0 || !sent {
        let batch = builder.finish().map_err(Failure::Ours)?;
        tx.send(Ok(batch)).await.map_err(|_| gone())?;
    }
    tracing::trace!(elapsed = ?started.elapsed(), "rows read");
    Ok(())
}
