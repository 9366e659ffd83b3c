//! Running queries: planning into tickets, redeeming tickets into limited
//! streams, and inline results.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use dmesh_connector_api::{AccessMode, BatchStream, Error as ConnectorError, ErrorKind, Limits, Param, QueryRequest};
use futures::{Stream, StreamExt};
use tracing::Instrument;
use serde::Serialize;

use crate::audit::{AuditEntry, AuditLog};
use crate::error::{GatewayError, Result};
use crate::policy::{Policy, Right, tighter};
use crate::registry::Registry;
use crate::service::Caller;
use crate::ticket::{TicketClaims, TicketIssuer};

/// Why a result ended before the source ran out of rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Truncation {
    /// The limit that cut it: `max_rows` or `max_bytes`.
    pub limit: &'static str,
    /// Its value.
    pub value: u64,
}

/// A planned query: its schema and the ticket that runs it.
#[derive(Debug)]
pub struct Prepared {
    /// The result's schema.
    pub schema: SchemaRef,
    /// The signed ticket.
    pub ticket: Vec<u8>,
    /// What the ticket stands for.
    pub claims: TicketClaims,
}

/// Plans and runs queries on the registry's connectors.
#[derive(Debug)]
pub struct QueryEngine {
    registry: Arc<Registry>,
    tickets: TicketIssuer,
    running: Arc<Mutex<std::collections::HashMap<String, Vec<std::sync::Weak<CancelFlag>>>>>,
    audit: Arc<AuditLog>,
    gates: Mutex<std::collections::HashMap<String, Arc<Gate>>>,
    admission: Admission,
    in_flight: Mutex<std::collections::BTreeMap<String, Arc<std::sync::atomic::AtomicI64>>>,
}

/// How many queries a connector runs at once and how many may wait.
#[derive(Clone, Copy, Debug)]
pub struct Admission {
    /// Running at once, per connector.
    pub running: usize,
    /// Waiting, per connector; beyond this a query is refused at once.
    pub queued: usize,
    /// Longest wait in the queue.
    pub wait: Duration,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            running: 32,
            queued: 64,
            wait: Duration::from_secs(2),
        }
    }
}

/// One connector's admission: running permits and a bounded queue.
#[derive(Debug)]
struct Gate {
    permits: Arc<tokio::sync::Semaphore>,
    queued: std::sync::atomic::AtomicUsize,
}

/// Set when a client cancels a running query; wakes its stream.
#[derive(Debug, Default)]
pub struct CancelFlag {
    set: std::sync::atomic::AtomicBool,
    waker: futures::task::AtomicWaker,
}

impl CancelFlag {
    fn cancel(&self) {
        self.set.store(true, std::sync::atomic::Ordering::SeqCst);
        self.waker.wake();
    }
}

impl QueryEngine {
    /// An engine issuing tickets with `tickets`.
    pub fn new(registry: Arc<Registry>, tickets: TicketIssuer) -> Self {
        Self {
            registry,
            tickets,
            running: Arc::default(),
            audit: Arc::new(AuditLog::to_log()),
            gates: Mutex::default(),
            admission: Admission::default(),
            in_flight: Mutex::default(),
        }
    }

    /// Sets how many queries each connector runs and queues.
    #[must_use]
    pub fn with_admission(mut self, admission: Admission) -> Self {
        self.admission = admission;
        self
    }

    /// A running permit for `connector`: at once when one is free, after a
    /// short wait when the queue has room, else RESOURCE_EXHAUSTED at once.
    async fn admit(&self, connector: &str) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let a = self.admission;
        self.gate(&format!("c/{connector}"), a.running, a.queued, a.wait, || {
            ConnectorError::resource_exhausted(format!(
                "connector `{connector}` is running {} queries and {} are waiting; retry shortly",
                a.running, a.queued
            ))
            .with_reason("CONNECTOR_BUSY")
        })
        .await
    }

    /// A running permit for `principal`, who may run `max` queries at once
    /// with as many waiting briefly.
    async fn admit_principal(&self, principal: &str, max: u32) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let max = max.max(1) as usize;
        self.gate(&format!("p/{principal}/{max}"), max, max, self.admission.wait, || {
            ConnectorError::resource_exhausted(format!(
                "principal `{principal}` is running its {max} queries at once and {max} more are waiting; retry \
                 when one has finished"
            ))
            .with_reason("PRINCIPAL_BUSY")
        })
        .await
    }

    async fn gate(
        &self,
        key: &str,
        running: usize,
        queued: usize,
        wait: Duration,
        busy: impl Fn() -> ConnectorError,
    ) -> Result<tokio::sync::OwnedSemaphorePermit> {
        use std::sync::atomic::Ordering;
        let gate = {
            let mut gates = self
                .gates
                .lock()
                .map_err(|_| GatewayError::from(ConnectorError::internal("admission state poisoned")))?;
            gates
                .entry(key.to_owned())
                .or_insert_with(|| {
                    Arc::new(Gate {
                        permits: Arc::new(tokio::sync::Semaphore::new(running)),
                        queued: Default::default(),
                    })
                })
                .clone()
        };
        if let Ok(permit) = gate.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if gate.queued.fetch_add(1, Ordering::SeqCst) >= queued {
            gate.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(busy().into());
        }
        // Leaves the queue however the wait ends, a cancelled call included.
        struct Leave<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let leave = Leave(&gate.queued);
        let waited = tokio::time::timeout(wait, gate.permits.clone().acquire_owned()).await;
        drop(leave);
        match waited {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy().into()),
        }
    }

    /// Writes audit lines to `audit`.
    #[must_use]
    pub fn with_audit(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = audit;
        self
    }

    /// Cancels every running read of the query a ticket stands for; the
    /// number cancelled (0 when none is running).
    ///
    /// # Errors
    /// Unknown or expired tickets.
    pub fn cancel(&self, ticket: &[u8]) -> Result<usize> {
        let claims = self.tickets.redeem(ticket)?;
        let flags = self
            .running
            .lock()
            .map(|mut m| m.remove(&claims.query_id).unwrap_or_default())
            .unwrap_or_default();
        let mut n = 0;
        for flag in flags.iter().filter_map(std::sync::Weak::upgrade) {
            flag.cancel();
            n += 1;
        }
        tracing::debug!(query_id = %claims.query_id, cancelled = n, "cancel requested");
        Ok(n)
    }

    /// Queries streaming now, per connector that has run any.
    pub fn in_flight(&self) -> Vec<(String, i64)> {
        self.in_flight
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.load(std::sync::atomic::Ordering::Relaxed)))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn in_flight_counter(&self, connector: &str) -> Arc<std::sync::atomic::AtomicI64> {
        self.in_flight
            .lock()
            .map(|mut m| m.entry(connector.to_owned()).or_default().clone())
            .unwrap_or_default()
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Checks a statement on its connector and issues a ticket for it, for
    /// a caller with every right.
    ///
    /// # Errors
    /// Unknown connector, a connector without the Query family, or the
    /// connector's complaint about the statement.
    pub async fn prepare(&self, connector: &str, sql: &str, params: Vec<Param>, limits: Limits) -> Result<Prepared> {
        let caller = Caller {
            principal: None,
            policy: Arc::new(Policy::unrestricted()),
        };
        self.prepare_for(&caller, connector, sql, params, limits, false).await
    }

    /// Checks `sql` against the caller's policy: the right it needs on the
    /// connector and, where the caller's grants are narrowed to tables,
    /// every table it names. Returns the access mode to run it with.
    ///
    /// # Errors
    /// PERMISSION_DENIED naming the right or the table.
    pub fn authorize(&self, caller: &Caller, connector: &str, sql: &str, write: bool) -> Result<AccessMode> {
        let instance = self.registry.get(connector)?;
        let query = instance.query()?;
        let denied = |why: String| GatewayError::from(ConnectorError::permission_denied(why).with_reason("POLICY"));
        let (needed, access) = if !write {
            (Right::Read, AccessMode::ReadOnly)
        } else if caller.policy.may_everywhere(Right::Ddl, connector) {
            // Schema changes cannot be narrowed to tables: only a grant on
            // the whole connector gives them.
            return Ok(AccessMode::Ddl);
        } else if caller.policy.may(Right::Write, connector) {
            (Right::Write, AccessMode::ReadWrite)
        } else {
            return Err(denied(format!(
                "principal `{}` lacks the `write` right on connector `{connector}`; send the statement without \
                 `write` to run it read-only",
                caller.name()
            )));
        };
        if caller.policy.may_everywhere(needed, connector) {
            return Ok(access);
        }
        if !caller.policy.may(needed, connector) {
            return Err(denied(format!(
                "principal `{}` lacks the `{}` right on connector `{connector}`",
                caller.name(),
                needed.name()
            )));
        }
        let named = crate::sqlrefs::read(sql, query.dialect(), query.default_schema().as_deref()).map_err(|why| {
            denied(format!(
                "principal `{}` may use only some tables of connector `{connector}`, and the statement cannot be \
                 checked: {why}",
                caller.name()
            ))
        })?;
        if !named.rows_only {
            return Err(denied(format!(
                "principal `{}` may use only some tables of connector `{connector}`, where only queries and row \
                 changes run",
                caller.name()
            )));
        }
        for table in &named.relations {
            if !caller.policy.may_table(needed, connector, table) {
                let hint = if table.schema.is_none() { "; name its schema (`schema.table`)" } else { "" };
                return Err(denied(format!(
                    "principal `{}` may not {} table `{table}` of connector `{connector}`{hint}",
                    caller.name(),
                    if write { "change" } else { "read" }
                )));
            }
        }
        Ok(access)
    }

    /// As [`prepare`](Self::prepare), for `caller`, whose policy decides
    /// what the statement may touch and caps its limits, and who is named
    /// in the ticket and in the audit log. With `write` the statement may
    /// change the source, given the rights and the connector's consent.
    ///
    /// # Errors
    /// As [`prepare`](Self::prepare); PERMISSION_DENIED from the policy.
    pub async fn prepare_for(
        &self,
        caller: &Caller,
        connector: &str,
        sql: &str,
        params: Vec<Param>,
        limits: Limits,
        write: bool,
    ) -> Result<Prepared> {
        if sql.trim().is_empty() {
            return Err(GatewayError::BadRequest("`sql` is empty; send one SQL query".into()));
        }
        let principal = caller.principal.clone();
        let audit_failure = |e: &GatewayError| {
            let mut entry = AuditEntry::new("Plan", connector, sql);
            if let Some(p) = &principal {
                entry.principal.clone_from(p);
            }
            entry.failed(e.grpc_name());
            self.audit.record(&entry);
        };
        let access = match self.authorize(caller, connector, sql, write) {
            Ok(a) => a,
            Err(e) => {
                audit_failure(&e);
                return Err(e);
            }
        };
        let own = caller.policy.limits;
        let limits = Limits {
            max_rows: tighter(limits.max_rows, own.max_rows),
            max_bytes: tighter(limits.max_bytes, own.max_bytes),
            timeout: tighter(limits.timeout, own.statement_timeout),
        };
        let instance = self.registry.get(connector)?;
        let request = QueryRequest {
            sql: sql.to_owned(),
            params,
            limits,
            access,
        };
        let span = tracing::info_span!(
            "connector.plan",
            connector = %connector,
            connector.kind = %instance.kind,
            db.query.text = %dmesh_connector_api::sanitize_sql(sql),
        );
        let schema = match instance.query()?.plan(&request).instrument(span).await {
            Ok(schema) => schema,
            Err(e) => {
                // Refused or failed before anything ran: audited here.
                let e = GatewayError::from(e);
                audit_failure(&e);
                return Err(e);
            }
        };
        let claims = TicketClaims {
            query_id: new_query_id(),
            connector: connector.to_owned(),
            sql: request.sql,
            params: request.params,
            max_rows: limits.max_rows,
            max_bytes: limits.max_bytes,
            timeout_ms: limits.timeout.map(|d| d.as_millis() as u64),
            expires_at_ms: self.tickets.expiry_from_now(),
            principal,
            access,
            max_concurrent: own.max_concurrent,
        };
        let ticket = self.tickets.issue(&claims);
        Ok(Prepared { schema, ticket, claims })
    }

    /// Checks a ticket and starts its query.
    ///
    /// # Errors
    /// Unknown or expired tickets, and the connector's errors.
    /// `deadline` is the client's own (its `grpc-timeout`); the statement
    /// gets the shorter of it and the ticket's time limit.
    pub async fn redeem(&self, ticket: &[u8], deadline: Option<Duration>) -> Result<LimitedStream> {
        self.redeem_as(None, ticket, deadline).await
    }

    /// As [`redeem`](Self::redeem), for `principal`: a ticket issued to a
    /// principal is refused to anyone else.
    ///
    /// # Errors
    /// As [`redeem`](Self::redeem); PERMISSION_DENIED for another
    /// principal's ticket.
    pub async fn redeem_as(&self, principal: Option<&str>, ticket: &[u8], deadline: Option<Duration>) -> Result<LimitedStream> {
        let owner = self.tickets.redeem(ticket)?.principal;
        if owner.is_some() && owner.as_deref() != principal {
            return Err(ConnectorError::permission_denied("this ticket was issued to another principal")
                .with_reason("TICKET_OWNER")
                .into());
        }
        let mut claims = self.tickets.redeem(ticket)?;
        if let Some(d) = deadline {
            let ms = d.as_millis() as u64;
            claims.timeout_ms = Some(claims.timeout_ms.map_or(ms, |t| t.min(ms)));
        }
        self.run(&claims).await
    }

    /// Starts the query a ticket stands for.
    ///
    /// # Errors
    /// The connector's errors.
    pub async fn run(&self, claims: &TicketClaims) -> Result<LimitedStream> {
        let instance = self.registry.get(&claims.connector)?;
        let limits = claims.limits();
        let request = QueryRequest {
            sql: claims.sql.clone(),
            params: claims.params.clone(),
            limits,
            access: claims.access,
        };
        tracing::debug!(query_id = %claims.query_id, connector = %claims.connector, "query started");
        let started = std::time::Instant::now();
        let mut entry = AuditEntry::new("Run", &claims.connector, &claims.sql);
        if let Some(p) = &claims.principal {
            entry.principal.clone_from(p);
        }
        let span = tracing::info_span!(
            "connector.execute",
            connector = %claims.connector,
            connector.kind = %instance.kind,
            query_id = %claims.query_id,
            db.query.text = %dmesh_connector_api::sanitize_sql(&claims.sql),
            rows = tracing::field::Empty,
            bytes = tracing::field::Empty,
            truncated = tracing::field::Empty,
        );
        let labels = crate::telemetry::connector_labels(&claims.connector, &instance.kind);
        let admitted = async {
            let own = match (&claims.principal, claims.max_concurrent) {
                (Some(p), Some(max)) => Some(self.admit_principal(p, max).await?),
                _ => None,
            };
            Ok::<_, GatewayError>((own, self.admit(&claims.connector).await?))
        };
        let permit = match admitted.instrument(span.clone()).await {
            Ok(p) => p,
            Err(e) => {
                crate::telemetry::metrics().rejections.add(1, &labels);
                entry.failed("RESOURCE_EXHAUSTED");
                entry.took(started.elapsed());
                self.audit.record(&entry);
                return Err(e);
            }
        };
        let stream = match instance.query()?.execute(request).instrument(span.clone()).await {
            Ok(s) => s,
            Err(e) => {
                entry.failed(e.kind().grpc_name());
                entry.took(started.elapsed());
                self.audit.record(&entry);
                return Err(e.into());
            }
        };
        let flag = Arc::new(CancelFlag::default());
        if let Ok(mut running) = self.running.lock() {
            running.retain(|_, flags| {
                flags.retain(|f| f.strong_count() > 0);
                !flags.is_empty()
            });
            running.entry(claims.query_id.clone()).or_default().push(Arc::downgrade(&flag));
        }
        let mut limited = LimitedStream::new(stream, limits);
        limited.cancel = Some(flag);
        limited.audit = Some((self.audit.clone(), entry, started));
        limited.permit = Some(permit);
        crate::telemetry::metrics().in_flight.add(1, &labels);
        let counter = self.in_flight_counter(&claims.connector);
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        limited.telemetry = Some((span, labels, counter));
        Ok(limited)
    }

    /// Runs a prepared query and returns it whole as an Arrow IPC stream when
    /// it has at most `max_rows` rows and `max_bytes` bytes; `None` when it is
    /// bigger (the caller then streams it with the ticket).
    ///
    /// # Errors
    /// The connector's errors.
    pub async fn inline(&self, prepared: &Prepared, max_rows: u64, max_bytes: u64) -> Result<Option<InlineResult>> {
        let mut stream = self.run(&prepared.claims).await?;
        let truncation = stream.truncation_handle();
        let mut batches = Vec::new();
        let (mut rows, mut bytes) = (0u64, 0u64);
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            bytes += batch.get_array_memory_size() as u64;
            if rows > max_rows || bytes > max_bytes {
                return Ok(None);
            }
            batches.push(batch);
        }
        let ipc = ipc_stream(&stream.schema(), &batches)?;
        if ipc.len() as u64 > max_bytes {
            return Ok(None);
        }
        let truncation = truncation.lock().map(|t| t.clone()).unwrap_or(None);
        Ok(Some(InlineResult { ipc, rows, truncation }))
    }
}

/// A whole result, small enough to send in one reply.
#[derive(Debug)]
pub struct InlineResult {
    /// An Arrow IPC stream: schema, then every batch.
    pub ipc: Vec<u8>,
    /// How many rows.
    pub rows: u64,
    /// Whether a limit cut it.
    pub truncation: Option<Truncation>,
}

fn new_query_id() -> String {
    crate::convert::hex(&rand::random::<[u8; 8]>())
}

/// A connector's stream with the request's row, byte and time caps applied.
///
/// When a cap cuts the result the stream ends cleanly and
/// [`truncation`](Self::truncation_handle) says which cap did; when the time
/// runs out it ends with `DEADLINE_EXCEEDED`. Ending early drops the
/// connector's stream, which cancels the query at the source.
pub struct LimitedStream {
    schema: SchemaRef,
    inner: Option<BatchStream>,
    max_rows: Option<u64>,
    max_bytes: Option<u64>,
    rows: u64,
    bytes: u64,
    deadline: Option<(Pin<Box<tokio::time::Sleep>>, Duration)>,
    truncation: Arc<Mutex<Option<Truncation>>>,
    cancel: Option<Arc<CancelFlag>>,
    /// Recorded when the stream ends or is dropped.
    audit: Option<(Arc<AuditLog>, AuditEntry, std::time::Instant)>,
    /// The query's span and metric labels, closed when the stream ends.
    telemetry: Option<(tracing::Span, [opentelemetry::KeyValue; 2], Arc<std::sync::atomic::AtomicI64>)>,
    /// The principal's and the connector's running permits, released with
    /// the stream.
    permit: Option<(Option<tokio::sync::OwnedSemaphorePermit>, tokio::sync::OwnedSemaphorePermit)>,
}

impl Drop for LimitedStream {
    fn drop(&mut self) {
        if let Some((span, labels, counter)) = self.telemetry.take() {
            counter.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            let truncated = self.truncation.lock().map(|t| t.is_some()).unwrap_or(false);
            span.record("rows", self.rows);
            span.record("bytes", self.bytes);
            span.record("truncated", truncated);
            let m = crate::telemetry::metrics();
            m.rows.add(self.rows, &labels);
            m.bytes.add(self.bytes, &labels);
            m.in_flight.add(-1, &labels);
        }
        if let Some((log, mut entry, started)) = self.audit.take() {
            entry.rows = self.rows;
            entry.bytes = self.bytes;
            entry.truncated = self.truncation.lock().map(|t| t.is_some()).unwrap_or(false);
            if self.inner.is_some() && entry.status == "OK" {
                // Dropped before the end: the client left or was cut off.
                entry.failed("CANCELLED");
            }
            entry.took(started.elapsed());
            log.record(&entry);
        }
    }
}

impl std::fmt::Debug for LimitedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitedStream")
            .field("rows", &self.rows)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl LimitedStream {
    /// Applies `limits` to `inner`.
    pub fn new(inner: BatchStream, limits: Limits) -> Self {
        Self {
            schema: inner.schema(),
            inner: Some(inner),
            max_rows: limits.max_rows.filter(|&n| n > 0),
            max_bytes: limits.max_bytes.filter(|&n| n > 0),
            rows: 0,
            bytes: 0,
            deadline: limits.timeout.map(|t| (Box::pin(tokio::time::sleep(t)), t)),
            truncation: Arc::new(Mutex::new(None)),
            cancel: None,
            audit: None,
            telemetry: None,
            permit: None,
        }
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Shared view of the truncation, filled in when a cap cuts the result.
    pub fn truncation_handle(&self) -> Arc<Mutex<Option<Truncation>>> {
        self.truncation.clone()
    }

    fn cut(&mut self, limit: &'static str, value: u64) {
        self.inner = None;
        if let Ok(mut t) = self.truncation.lock() {
            *t = Some(Truncation { limit, value });
        }
    }
}

impl Stream for LimitedStream {
    type Item = Result<RecordBatch, ConnectorError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.inner.is_none() {
            return Poll::Ready(None);
        }
        if let Some(flag) = &this.cancel {
            flag.waker.register(cx.waker());
            if flag.set.load(std::sync::atomic::Ordering::SeqCst) {
                this.inner = None;
                if let Some((_, entry, _)) = this.audit.as_mut() {
                    entry.failed("CANCELLED");
                }
                return Poll::Ready(Some(Err(ConnectorError::new(
                    ErrorKind::Cancelled,
                    "the query was cancelled by a CancelFlightInfo request",
                )
                .with_reason("CANCELLED"))));
            }
        }
        if let Some((sleep, limit)) = this.deadline.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            let limit = *limit;
            this.inner = None;
            if let Some((_, entry, _)) = this.audit.as_mut() {
                entry.failed("DEADLINE_EXCEEDED");
            }
            return Poll::Ready(Some(Err(ConnectorError::new(
                ErrorKind::DeadlineExceeded,
                format!(
                    "the query ran past its time limit of {}",
                    humantime::format_duration(limit)
                ),
            )
            .with_reason("TIMEOUT"))));
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let batch = match inner.poll_next_unpin(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                this.inner = None;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Err(e))) => {
                this.inner = None;
                if let Some((_, entry, _)) = this.audit.as_mut() {
                    entry.failed(e.kind().grpc_name());
                }
                return Poll::Ready(Some(Err(e)));
            }
            Poll::Ready(Some(Ok(b))) => b,
        };
        // Every batch carries the schema the client was promised, even when
        // the source's batches differ in nullability or metadata alone.
        let batch = if Arc::ptr_eq(&batch.schema(), &this.schema) || batch.schema() == this.schema {
            batch
        } else {
            match RecordBatch::try_new(this.schema.clone(), batch.columns().to_vec()) {
                Ok(b) => b,
                Err(e) => {
                    this.inner = None;
                    return Poll::Ready(Some(Err(ConnectorError::internal(format!(
                        "the source sent rows that do not fit the result's announced schema: {e}"
                    )))));
                }
            }
        };
        if batch.num_rows() == 0 {
            return Poll::Ready(Some(Ok(batch)));
        }
        let mut batch = batch;
        if let Some(max) = this.max_rows {
            let remaining = max.saturating_sub(this.rows);
            if remaining == 0 {
                this.cut("max_rows", max);
                return Poll::Ready(None);
            }
            if batch.num_rows() as u64 > remaining {
                batch = batch.slice(0, remaining as usize);
                this.rows += remaining;
                this.cut("max_rows", max);
                return Poll::Ready(Some(Ok(batch)));
            }
        }
        let size = batch.get_array_memory_size() as u64;
        if let Some(max) = this.max_bytes
            && this.rows > 0
            && this.bytes + size > max
        {
            this.cut("max_bytes", max);
            return Poll::Ready(None);
        }
        this.rows += batch.num_rows() as u64;
        this.bytes += size;
        Poll::Ready(Some(Ok(batch)))
    }
}

/// An Arrow IPC stream of `batches` (just the schema when there are none).
///
/// # Errors
/// Arrow's, as an internal error.
pub fn ipc_stream(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut buf, schema).map_err(ConnectorError::from)?;
        for b in batches {
            w.write(b).map_err(ConnectorError::from)?;
        }
        w.finish().map_err(ConnectorError::from)?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use futures::TryStreamExt;

    fn source(batches: usize, rows_each: i64) -> BatchStream {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let s = schema.clone();
        let items: Vec<_> = (0..batches)
            .map(move |i| {
                let start = i as i64 * rows_each;
                RecordBatch::try_new(s.clone(), vec![Arc::new(Int64Array::from_iter_values(start..start + rows_each))])
                    .map_err(ConnectorError::from)
            })
            .collect();
        BatchStream::new(schema, futures::stream::iter(items))
    }

    fn limits(max_rows: Option<u64>) -> Limits {
        Limits {
            max_rows,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn row_caps_cut_and_say_so() {
        let s = LimitedStream::new(source(3, 10), limits(Some(25)));
        let t = s.truncation_handle();
        let got: Vec<RecordBatch> = s.try_collect().await.expect("ok");
        assert_eq!(got.iter().map(|b| b.num_rows()).sum::<usize>(), 25);
        assert_eq!(
            *t.lock().expect("lock"),
            Some(Truncation {
                limit: "max_rows",
                value: 25
            })
        );
    }

    #[tokio::test]
    async fn a_cap_equal_to_the_size_does_not_truncate() {
        let s = LimitedStream::new(source(2, 10), limits(Some(20)));
        let t = s.truncation_handle();
        let got: Vec<RecordBatch> = s.try_collect().await.expect("ok");
        assert_eq!(got.iter().map(|b| b.num_rows()).sum::<usize>(), 20);
        assert_eq!(*t.lock().expect("lock"), None);

        let s = LimitedStream::new(source(3, 10), limits(Some(20)));
        let t = s.truncation_handle();
        let got: Vec<RecordBatch> = s.try_collect().await.expect("ok");
        assert_eq!(got.iter().map(|b| b.num_rows()).sum::<usize>(), 20);
        assert!(t.lock().expect("lock").is_some());
    }

    #[tokio::test]
    async fn byte_caps_keep_at_least_one_batch() {
        let s = LimitedStream::new(
            source(5, 1000),
            Limits {
                max_bytes: Some(1),
                ..Default::default()
            },
        );
        let t = s.truncation_handle();
        let got: Vec<RecordBatch> = s.try_collect().await.expect("ok");
        assert_eq!(got.len(), 1);
        assert_eq!(t.lock().expect("lock").as_ref().map(|t| t.limit), Some("max_bytes"));
    }

    #[tokio::test]
    async fn deadlines_end_the_stream_with_an_error() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let never = BatchStream::new(schema, futures::stream::pending());
        let mut s = LimitedStream::new(
            never,
            Limits {
                timeout: Some(Duration::from_millis(20)),
                ..Default::default()
            },
        );
        let e = s.next().await.expect("an item").expect_err("deadline");
        assert_eq!(e.kind(), ErrorKind::DeadlineExceeded);
        assert!(s.next().await.is_none());
    }

    #[test]
    fn ipc_streams_read_back() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2, 3]))]).expect("batch");
        let bytes = ipc_stream(&schema, std::slice::from_ref(&batch)).expect("ipc");
        let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).expect("reader");
        let back: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("batches");
        assert_eq!(back, vec![batch]);
    }
}

/// The client's deadline from a call's `grpc-timeout` header, e.g. `500m`
/// (500 ms); `None` when it sent none or an unreadable one.
pub fn client_deadline(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        let mut m = tonic::metadata::MetadataMap::new();
        assert_eq!(client_deadline(&m), None);
        m.insert("grpc-timeout", "500m".parse().expect("value"));
        assert_eq!(client_deadline(&m), Some(Duration::from_millis(500)));
        m.insert("grpc-timeout", "2S".parse().expect("value"));
        assert_eq!(client_deadline(&m), Some(Duration::from_secs(2)));
        m.insert("grpc-timeout", "xS".parse().expect("value"));
        assert_eq!(client_deadline(&m), None);
    }
}
