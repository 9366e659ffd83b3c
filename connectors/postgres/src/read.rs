//! Running a statement: checkout, transaction, the fastest read path the
//! statement allows, parallel page-range reads, retries, and cancellation.
//!
//! A read runs as one or more workers, each owning one pooled connection and
//! feeding batches into a small bounded channel, so memory stays bounded and a
//! slow client slows the reads. A coordinator forwards the batches; when the
//! client goes away or its deadline passes, the channel closes, each worker
//! sends PostgreSQL a cancel request, and its connection is discarded.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use backon::BackoffBuilder;
use deadpool::managed::Timeouts;
use tracing::Instrument;
use dmesh_connector_api::{Error, Param, QueryRequest, Result};
use futures::{StreamExt, pin_mut};
use tokio::sync::mpsc;
use tokio_postgres::Statement;
use tokio_postgres::types::{FromSql, ToSql, Type};

use crate::connector::{Inner, Object};
use crate::decode::{CopyParser, ResultShape, append_raw};
use dmesh_connector_sql::statement::{Gate, Mode as Admitted, Unreadable};
use dmesh_connector_sql::{BATCH_BYTES, BATCH_ROWS, CHANNEL_DEPTH, backoff, is_transient, statement_timeout, with_retries};
use crate::params::bind;
use crate::sql::{Classified, Splittable, classify};
use dmesh_connector_sql::Class;

/// The reads PostgreSQL requests may be, for messages.
const READS: &str = "SELECT, WITH ... SELECT, VALUES, EXPLAIN without ANALYZE, SHOW";

/// What a request is, decided before it touches the server.
#[derive(Debug)]
pub(crate) struct Plan {
    class: Class,
    split: Option<Box<Splittable>>,
    /// Whether the statement check applies to this request.
    checked: bool,
    read_only: bool,
    timeout_ms: u64,
}

impl Inner {
    /// The read-only gate: statements the parser cannot read go to the
    /// server, whose READ ONLY transaction holds on its own.
    fn gate(&self) -> Gate {
        Gate {
            allow_writes: self.config.allow_writes,
            check_statements: self.config.check_statements,
            deny_when_writing: false,
            unreadable: Unreadable::LeaveToSource,
            reads: READS,
        }
    }

    /// Classifies a request and checks it against the access mode.
    pub(crate) fn plan(&self, request: &QueryRequest) -> Result<Plan> {
        let Classified { class, split } = classify(&request.sql);
        let read_only = self.gate().admit(&class, request.access)? == Admitted::Read;
        let limit = statement_timeout(request, self.config.statement_timeout);
        Ok(Plan {
            class,
            split,
            checked: self.config.check_statements && read_only,
            read_only,
            timeout_ms: (limit.as_millis() as u64).max(1),
        })
    }

    /// The schema a statement's result will have.
    pub(crate) async fn describe(&self, request: &QueryRequest) -> Result<ResultShape> {
        let plan = self.plan(request)?;
        let conn = self.checkout().await?;
        let prepared = conn.prepare(&request.sql).await.map_err(|e| self.pg_error(&e));
        let shape = shape_of(&prepared?)?;
        plan.refuse_unchecked()?;
        Ok(shape)
    }

    /// Starts a statement and streams its result.
    pub(crate) async fn execute(self: &Arc<Self>, request: QueryRequest) -> Result<(ResultShape, mpsc::Receiver<Result<RecordBatch>>)> {
        let plan = self.plan(&request)?;
        self.counters.base.reads.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!(
            "db.statement",
            otel.kind = "client",
            db.system.name = "postgresql",
            db.namespace = %self.target.database,
            server.address = %self.target.address,
            db.query.text = %dmesh_connector_api::sanitize_sql(&request.sql),
            db.operation.parallel = tracing::field::Empty,
        );
        let started = self.start_with_retries(&plan, &request).instrument(span.clone()).await?;
        let shape = started.shape.clone();
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let inner = self.clone();
        tokio::spawn(async move { inner.coordinate(plan, request, started, tx).await }.instrument(span));
        Ok((shape, rx))
    }

    async fn start_with_retries(&self, plan: &Plan, request: &QueryRequest) -> Result<Started> {
        with_retries(&self.name, "the start of a read", &self.counters.base.retries, || self.start(plan, request)).await
    }

    /// Checks out a connection, opens the transaction, prepares the statement
    /// and, for a large single-table read, sets up parallel range readers.
    async fn start(&self, plan: &Plan, request: &QueryRequest) -> Result<Started> {
        let conn = self.checkout_once().await?;
        let begin = if plan.read_only {
            format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = {}",
                plan.timeout_ms
            )
        } else {
            format!("BEGIN; SET LOCAL statement_timeout = {}", plan.timeout_ms)
        };
        // One round trip: the statement, and the COPY that may run it, are
        // prepared inside the transaction.
        let copy_text = (request.params.is_empty() && plan.class == Class::Query)
            .then(|| copy_sql(&request.sql));
        let copy_prepare = async {
            match &copy_text {
                Some(text) => Some(conn.prepare(text).await),
                None => None,
            }
        };
        let (began, prepared, copy_prepared) =
            tokio::join!(conn.batch_execute(&begin), conn.prepare(&request.sql), copy_prepare);
        if let Err(e) = began {
            let err = self.pg_error(&e);
            discard(conn);
            return Err(err);
        }
        let statement = match prepared {
            Ok(s) => s,
            Err(e) => {
                let err = self.pg_error(&e);
                self.release(conn, false).await;
                return Err(err);
            }
        };
        // The server's own message for bad SQL comes first; SQL the server
        // accepts but the check cannot read is refused here.
        if let Err(e) = plan.refuse_unchecked() {
            self.release(conn, false).await;
            return Err(e);
        }
        if statement.columns().is_empty() {
            let shape = ResultShape {
                kinds: Vec::new(),
                schema: Arc::new(Schema::new(vec![Field::new("rows_affected", DataType::Int64, false)])),
            };
            if let Err(e) = bind(&request.params, statement.params()) {
                self.release(conn, false).await;
                return Err(e);
            }
            let job = Job {
                conn,
                mode: Mode::Execute(statement),
                params: request.params.clone(),
                read_only: plan.read_only,
            };
            return Ok(Started { shape, jobs: vec![job] });
        }
        let shape = match shape_of(&statement) {
            Ok(s) => s,
            Err(e) => {
                self.release(conn, false).await;
                return Err(e);
            }
        };
        let copy_statement = match copy_prepared {
            Some(Ok(c)) if statement.params().is_empty() => Some(c),
            _ => None,
        };
        let Some(copy_statement) = copy_statement else {
            if let Err(e) = bind(&request.params, statement.params()) {
                self.release(conn, false).await;
                return Err(e);
            }
            let job = Job {
                conn,
                mode: Mode::Rows(statement),
                params: request.params.clone(),
                read_only: plan.read_only,
            };
            return Ok(Started { shape, jobs: vec![job] });
        };
        if plan.read_only
            && let Some(split) = &plan.split
            && self.config.parallel_reads > 1
        {
            match self.split(&conn, split, &shape, plan).await {
                Ok(Some(mut helpers)) => {
                    let total = helpers.len() + 1;
                    let pages = helpers.first().map_or(0, |h| h.pages);
                    let bound = |i: usize| (pages * i as u64) / total as u64;
                    let mut jobs = Vec::with_capacity(total);
                    jobs.push(Job {
                        conn,
                        mode: Mode::CopyText(copy_sql(&split.page_range(None, Some(bound(1))))),
                        params: Vec::new(),
                        read_only: true,
                    });
                    for (i, h) in helpers.drain(..).enumerate() {
                        let n = i + 1;
                        let to = (n + 1 < total).then(|| bound(n + 1));
                        jobs.push(Job {
                            conn: h.conn,
                            mode: Mode::CopyText(copy_sql(&split.page_range(Some(bound(n)), to))),
                            params: Vec::new(),
                            read_only: true,
                        });
                    }
                    self.counters.parallel_reads.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(connector = %self.name, readers = total, pages, "parallel range read");
                    return Ok(Started { shape, jobs });
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(connector = %self.name, error = %e, "parallel read not set up; reading with one connection"),
            }
        }
        let job = Job {
            conn,
            mode: Mode::Copy(copy_statement),
            params: Vec::new(),
            read_only: plan.read_only,
        };
        Ok(Started { shape, jobs: vec![job] })
    }

    /// Extra connections reading the same snapshot, when the table is big
    /// enough and connections are free right now.
    async fn split(&self, leader: &Object, split: &Splittable, shape: &ResultShape, plan: &Plan) -> Result<Option<Vec<Helper>>> {
        let row = leader
            .query_opt(
                "SELECT pg_relation_size(c.oid)::int8, current_setting('block_size')::int8, \
                 current_setting('server_version_num')::int4 \
                 FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'm')",
                &[&split.table],
            )
            .await
            .map_err(|e| self.pg_error(&e))?;
        let Some(row) = row else { return Ok(None) };
        let (size, block, version): (i64, i64, i32) = (row.get(0), row.get(1), row.get(2));
        // TID range scans, which make a page range cheap, arrived in 14.
        if version < 140_000 || size < self.parallel_threshold as i64 || block <= 0 {
            return Ok(None);
        }
        let pages = (size / block) as u64;
        let wanted = self
            .config
            .parallel_reads
            .min((size as u64 / self.parallel_threshold.max(1)).max(2) as usize);
        let snapshot: String = leader
            .query_one("SELECT pg_export_snapshot()", &[])
            .await
            .map_err(|e| self.pg_error(&e))?
            .get(0);
        if !snapshot.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Ok(None);
        }
        let now = Timeouts {
            wait: Some(Duration::ZERO),
            create: Some(self.config.connect_timeout),
            recycle: Some(self.config.connect_timeout),
        };
        let mut helpers = Vec::new();
        for _ in 1..wanted {
            let Ok(conn) = self.pool.timeout_get(&now).await else { break };
            let begin = format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'; \
                 SET LOCAL statement_timeout = {}",
                plan.timeout_ms
            );
            if conn.batch_execute(&begin).await.is_err() {
                discard(conn);
                break;
            }
            // The rewritten statement must have the original's columns.
            let probe = split.page_range(Some(0), Some(1));
            match conn.prepare(&probe).await {
                Ok(s) if shape_of(&s).is_ok_and(|p| p.schema.fields() == shape.schema.fields()) => {}
                _ => {
                    self.release(conn, false).await;
                    break;
                }
            }
            helpers.push(Helper { conn, pages });
        }
        if helpers.is_empty() {
            return Ok(None);
        }
        Ok(Some(helpers))
    }

    /// Forwards batches from the workers to the client, retrying the whole
    /// read when it fails transiently before its first batch.
    async fn coordinate(
        self: Arc<Self>,
        plan: Plan,
        request: QueryRequest,
        started: Started,
        out: mpsc::Sender<Result<RecordBatch>>,
    ) {
        let mut delays = backoff().build();
        let mut started = Some(started);
        loop {
            let run = match started.take() {
                Some(s) => s,
                None => match self.start(&plan, &request).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = out.send(Err(e)).await;
                        return;
                    }
                },
            };
            let (itx, mut irx) = mpsc::channel(CHANNEL_DEPTH);
            for job in run.jobs {
                let inner = self.clone();
                let shape = run.shape.clone();
                let tx = itx.clone();
                tokio::spawn(async move { inner.work(job, shape, tx).await });
            }
            drop(itx);
            let mut forwarded = false;
            let failure = loop {
                let item = tokio::select! {
                    biased;
                    () = out.closed() => return,
                    item = irx.recv() => item,
                };
                match item {
                    None => return,
                    Some(Ok(batch)) => {
                        forwarded = true;
                        if out.send(Ok(batch)).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(e)) => break e,
                }
            };
            // Closing the channel stops the other workers.
            drop(irx);
            let retry = !forwarded && plan.read_only && is_transient(&failure);
            match delays.next() {
                Some(d) if retry => {
                    self.counters.base.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(connector = %self.name, error = %failure, delay = ?d, "retrying a read that failed before its first batch");
                    tokio::time::sleep(d).await;
                }
                _ => {
                    let _ = out.send(Err(failure)).await;
                    return;
                }
            }
        }
    }

    /// One worker: runs its job on its connection, then commits and returns
    /// the connection, or cancels and discards it.
    async fn work(self: Arc<Self>, mut job: Job, shape: ResultShape, tx: mpsc::Sender<Result<RecordBatch>>) {
        let token = job.conn.cancel_token();
        let outcome = tokio::select! {
            r = self.run(&mut job, &shape, &tx) => r,
            () = tx.closed() => Err(Stop::Abandoned),
        };
        match outcome {
            Ok(()) => {
                // The client has every row: end its stream, then end the
                // read-only transaction off the critical path.
                drop(tx);
                if job.read_only {
                    self.release(job.conn, true).await;
                }
            }
            Err(Stop::Abandoned) => {
                self.counters.base.cancels.fetch_add(1, Ordering::Relaxed);
                let tls = self.tls.clone();
                match tokio::time::timeout(Duration::from_secs(2), token.cancel_query(tls)).await {
                    Ok(Ok(())) => tracing::debug!(connector = %self.name, "read abandoned; cancel sent"),
                    Ok(Err(e)) => tracing::warn!(connector = %self.name, error = %e, "cancel request failed"),
                    Err(_) => tracing::warn!(connector = %self.name, "cancel request timed out"),
                }
                discard(job.conn);
            }
            Err(Stop::Failed { error, server_ended }) => {
                if server_ended {
                    self.release(job.conn, false).await;
                } else {
                    self.counters.base.cancels.fetch_add(1, Ordering::Relaxed);
                    let _ = tokio::time::timeout(Duration::from_secs(2), token.cancel_query(self.tls.clone())).await;
                    discard(job.conn);
                }
                let _ = tx.send(Err(error)).await;
            }
        }
    }

    async fn run(&self, job: &mut Job, shape: &ResultShape, tx: &mpsc::Sender<Result<RecordBatch>>) -> Result<(), Stop> {
        let send = |batch: RecordBatch| async move { tx.send(Ok(batch)).await.map_err(|_| Stop::Abandoned) };
        let server = |e: tokio_postgres::Error| Stop::Failed {
            error: self.pg_error(&e),
            server_ended: !e.is_closed(),
        };
        let local = |error: Error| Stop::Failed {
            error,
            server_ended: false,
        };
        let mut out = shape.batch_builder(BATCH_ROWS, BATCH_BYTES);
        let copy = match &job.mode {
            Mode::Copy(statement) => Some(job.conn.copy_out(statement).await.map_err(server)?),
            Mode::CopyText(sql) => Some(job.conn.copy_out(sql.as_str()).await.map_err(server)?),
            Mode::Rows(_) | Mode::Execute(_) => None,
        };
        match &job.mode {
            Mode::Copy(_) | Mode::CopyText(_) => {
                let Some(stream) = copy else { return Ok(()) };
                pin_mut!(stream);
                let mut parser = CopyParser::default();
                let mut full = Vec::new();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(server)?;
                    parser
                        .feed(&chunk, &mut out, &mut |b| {
                            full.push(b.finish()?);
                            Ok(())
                        })
                        .map_err(local)?;
                    for batch in full.drain(..) {
                        send(batch).await?;
                    }
                }
                if !parser.finished() {
                    return Err(local(Error::unavailable("the COPY stream ended early").with_reason("SOURCE_UNAVAILABLE")));
                }
            }
            Mode::Rows(statement) => {
                let bound = bind(&job.params, statement.params()).map_err(local)?;
                let rows = job
                    .conn
                    .query_raw(statement, bound.iter().map(|b| b as &dyn ToSql))
                    .await
                    .map_err(server)?;
                pin_mut!(rows);
                let width = shape.kinds.len();
                while let Some(row) = rows.next().await {
                    let row = row.map_err(server)?;
                    for i in 0..width {
                        let raw: Option<Raw<'_>> = row.try_get(i).map_err(server)?;
                        append_raw(&mut out, i, raw.map(|r| r.0)).map_err(local)?;
                    }
                    out.end_row(row.raw_size_bytes());
                    if out.is_full() {
                        send(out.finish().map_err(local)?).await?;
                    }
                }
            }
            Mode::Execute(statement) => {
                let bound = bind(&job.params, statement.params()).map_err(local)?;
                let n = job
                    .conn
                    .execute_raw(statement, bound.iter().map(|b| b as &dyn ToSql))
                    .await
                    .map_err(server)?;
                let batch = RecordBatch::try_new(
                    shape.schema.clone(),
                    vec![Arc::new(Int64Array::from(vec![i64::try_from(n).unwrap_or(i64::MAX)]))],
                )
                .map_err(|e| local(Error::internal(e.to_string())))?;
                // A write is committed before the client hears it succeeded.
                job.conn.batch_execute("COMMIT").await.map_err(server)?;
                send(batch).await?;
                return Ok(());
            }
        }
        if !job.read_only {
            job.conn.batch_execute("COMMIT").await.map_err(server)?;
        }
        if out.rows() > 0 {
            send(out.finish().map_err(local)?).await?;
        }
        Ok(())
    }

    /// Ends the connection's transaction and returns it to the pool, or
    /// discards it when that fails.
    pub(crate) async fn release(&self, conn: Object, commit: bool) {
        let end = if commit { "COMMIT" } else { "ROLLBACK" };
        match tokio::time::timeout(Duration::from_secs(2), conn.batch_execute(end)).await {
            Ok(Ok(())) => {}
            _ => discard(conn),
        }
    }
}

impl Plan {
    /// Refuses a checked request whose SQL the check could not parse.
    fn refuse_unchecked(&self) -> Result<()> {
        match &self.class {
            Class::Unknown(why) if self.checked => Err(Error::permission_denied(format!(
                "this statement could not be checked ({why}); read-only requests must be a single query dmesh \
                 can parse"
            ))
            .with_reason("READ_ONLY")),
            _ => Ok(()),
        }
    }
}

/// The result shape of a prepared statement.
fn shape_of(statement: &Statement) -> Result<ResultShape> {
    ResultShape::of(statement.columns())
}

fn copy_sql(query: &str) -> String {
    // The newlines end any trailing line comment inside the query.
    let query = query.trim_end().trim_end_matches(';');
    format!("COPY (\n{query}\n) TO STDOUT (FORMAT binary)")
}

/// Drops a connection instead of returning it to the pool.
fn discard(conn: Object) {
    drop(Object::take(conn));
}

struct Helper {
    conn: Object,
    pages: u64,
}

/// A read ready to run: its shape and one job per connection.
pub(crate) struct Started {
    shape: ResultShape,
    jobs: Vec<Job>,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started").field("jobs", &self.jobs.len()).finish_non_exhaustive()
    }
}

struct Job {
    conn: Object,
    mode: Mode,
    params: Vec<Param>,
    /// Read-only jobs commit after the client has its rows; writes before.
    read_only: bool,
}

enum Mode {
    /// `COPY (query) TO STDOUT (FORMAT binary)`, prepared.
    Copy(Statement),
    /// The same, for a statement built for one worker.
    CopyText(String),
    /// A prepared statement's rows, binary format.
    Rows(Statement),
    /// A statement without result columns; reports rows affected.
    Execute(Statement),
}

enum Stop {
    /// The client went away or its deadline passed.
    Abandoned,
    /// The read failed; `server_ended` when the server ended the statement
    /// itself, so the connection can be rolled back and reused.
    Failed { error: Error, server_ended: bool },
}

/// A value's bytes as the server sent them.
struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}
