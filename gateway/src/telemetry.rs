//! OpenTelemetry: traces, metrics and logs.
//!
//! - **Traces.** Every RPC gets a span that continues the client's W3C
//!   `traceparent`; the trace id goes back in the `x-dmesh-trace-id` response
//!   header. Beneath it: the connector call, the pool checkout, each retry
//!   attempt and the database statement (sanitised: literals become `?`; bound
//!   values and secrets are never recorded). Spans are exported over OTLP/gRPC
//!   when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set.
//! - **Metrics.** Calls by method and status with latency histograms, rows and
//!   bytes streamed, queries in flight, pool size / in use / waiters, retries,
//!   denials and queue rejections, labelled by kind, connector, method and
//!   status only. Exported over OTLP when the endpoint is set, and served in
//!   the Prometheus text format on `server.metrics_listen`.
//! - **Logs** as text or JSON; lines inside a call carry its `trace_id`.
//!
//! The other standard `OTEL_*` variables apply as the OpenTelemetry SDK
//! reads them: `OTEL_SERVICE_NAME` (default `dmesh`), `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_BSP_SCHEDULE_DELAY`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_TRACES_EXPORTER=none`,
//! `OTEL_METRICS_EXPORTER=none`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{KeyValue, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The response header carrying the call's trace id.
pub const TRACE_ID_HEADER: &str = "x-dmesh-trace-id";

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStyle {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The installed providers; flushes and stops them on [`shutdown`](Self::shutdown).
#[derive(Debug, Default)]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
    /// Where the Prometheus text is served, when it is.
    pub metrics_addr: Option<SocketAddr>,
}

fn env_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

fn exporter_wanted(signal: &str) -> bool {
    let choice = std::env::var(format!("OTEL_{signal}_EXPORTER")).unwrap_or_default();
    if choice.trim().eq_ignore_ascii_case("none") {
        return false;
    }
    env_set("OTEL_EXPORTER_OTLP_ENDPOINT") || env_set(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"))
}

fn resource() -> Resource {
    let mut builder = Resource::builder();
    if !env_set("OTEL_SERVICE_NAME") {
        builder = builder.with_service_name("dmesh");
    }
    builder
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Installs logging, tracing and metrics for `dmesh serve`.
///
/// # Errors
/// A bad log filter, an OTLP exporter that cannot be built, or a metrics
/// address that cannot be bound.
pub async fn init(log_filter: &str, style: LogStyle, metrics_listen: Option<SocketAddr>) -> anyhow::Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_new(log_filter)
        .map_err(|e| anyhow::anyhow!("--log `{log_filter}` is not a log filter: {e}"))?;
    let mut telemetry = Telemetry::default();

    // Spans always get OpenTelemetry ids, so a client's traceparent is
    // continued and the trace id comes back even when nothing is exported.
    let mut tracer_builder = SdkTracerProvider::builder().with_resource(resource());
    if exporter_wanted("TRACES") {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| anyhow::anyhow!("the OTLP span exporter: {e}"))?;
        tracer_builder = tracer_builder.with_batch_exporter(exporter);
    }
    let tracer_provider = tracer_builder.build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&tracer_provider, "dmesh");
    global::set_tracer_provider(tracer_provider.clone());
    telemetry.tracer = Some(tracer_provider);
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // Spans only: log events (audit lines with statement text, errors
        // that may echo values) never become span events.
        .with_filter(tracing_subscriber::filter::filter_fn(|m| m.is_span() && m.target().starts_with("dmesh")));

    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let registry = tracing_subscriber::registry().with(filter);
    let registry = registry.with(otel_layer);
    match style {
        LogStyle::Text => registry
            .with(tracing_subscriber::fmt::layer().with_ansi(ansi).with_writer(std::io::stderr))
            .try_init()?,
        LogStyle::Json => registry
            .with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr))
            .try_init()?,
    }

    let mut meter_builder = SdkMeterProvider::builder().with_resource(resource());
    let mut any_reader = false;
    if exporter_wanted("METRICS") {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| anyhow::anyhow!("the OTLP metric exporter: {e}"))?;
        meter_builder = meter_builder.with_reader(PeriodicReader::builder(exporter).build());
        any_reader = true;
    }
    if let Some(addr) = metrics_listen {
        let snapshot = Arc::new(Mutex::new(String::new()));
        let exporter = PrometheusText(snapshot.clone());
        meter_builder =
            meter_builder.with_reader(PeriodicReader::builder(exporter).with_interval(Duration::from_secs(1)).build());
        telemetry.metrics_addr = Some(serve_prometheus(addr, snapshot).await?);
        any_reader = true;
    }
    if any_reader {
        let provider = meter_builder.build();
        global::set_meter_provider(provider.clone());
        telemetry.meter = Some(provider);
        // Series that only move on rare events exist from the start, so
        // dashboards and alerts see a zero rather than nothing.
        let m = metrics();
        m.denials.add(0, &[]);
        m.rejections.add(0, &[]);
    }
    Ok(telemetry)
}

impl Telemetry {
    /// Exports what is pending and stops the providers.
    pub fn shutdown(self) {
        if let Some(t) = self.tracer {
            let _ = t.force_flush();
            let _ = t.shutdown();
        }
        if let Some(m) = self.meter {
            let _ = m.force_flush();
            let _ = m.shutdown();
        }
    }
}

/// The gateway's instruments. Created on first use from the global meter,
/// so they are no-ops unless [`init`] installed a meter provider.
pub struct Metrics {
    /// RPCs by method and status.
    pub calls: Counter<u64>,
    /// RPC latency, seconds, by method and status.
    pub duration: Histogram<f64>,
    /// Rows streamed to clients, by connector and kind.
    pub rows: Counter<u64>,
    /// Bytes of Arrow data streamed to clients, by connector and kind.
    pub bytes: Counter<u64>,
    /// Queries running now, by connector and kind.
    pub in_flight: UpDownCounter<i64>,
    /// Calls refused by policy or read-only checks, by connector.
    pub denials: Counter<u64>,
    /// Queries refused because a queue was full, by connector and scope.
    pub rejections: Counter<u64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn meter() -> Meter {
    global::meter("dmesh")
}

/// The gateway's instruments.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let m = meter();
        Metrics {
            calls: m.u64_counter("dmesh.rpc.calls").with_description("RPCs served, by method and status").build(),
            duration: m
                .f64_histogram("dmesh.rpc.duration")
                .with_unit("s")
                .with_description("Time to serve an RPC, streams included")
                .with_boundaries(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
                .build(),
            rows: m.u64_counter("dmesh.query.rows").with_description("Rows streamed to clients").build(),
            bytes: m
                .u64_counter("dmesh.query.bytes")
                .with_unit("By")
                .with_description("Bytes of Arrow data streamed to clients")
                .build(),
            in_flight: m
                .i64_up_down_counter("dmesh.queries.in_flight")
                .with_description("Queries running now")
                .build(),
            denials: m
                .u64_counter("dmesh.denials")
                .with_description("Calls refused by policy, authentication or read-only checks")
                .build(),
            rejections: m
                .u64_counter("dmesh.queue.rejections")
                .with_description("Queries refused because the running and waiting places were full")
                .build(),
        }
    })
}

/// Registers the pool gauges and the retry counter, read from the
/// registry's connectors whenever metrics are collected.
pub fn observe_pools(registry: Arc<crate::registry::Registry>) {
    let m = meter();
    type Pick = fn(&dmesh_connector_api::PoolStats) -> u64;
    let gauges: [(&'static str, &'static str, Pick); 4] = [
        ("dmesh.pool.size", "Connections open", |p| p.open as u64),
        ("dmesh.pool.max", "Connections the pool may open", |p| p.max as u64),
        ("dmesh.pool.in_use", "Connections checked out", |p| p.in_use as u64),
        ("dmesh.pool.waiters", "Requests waiting for a connection", |p| p.waiters as u64),
    ];
    for (name, description, pick) in gauges {
        let registry = registry.clone();
        let _ = m
            .u64_observable_gauge(name)
            .with_description(description)
            .with_callback(move |obs| {
                for (labels, stats) in pool_stats(&registry) {
                    obs.observe(pick(&stats), &labels);
                }
            })
            .build();
    }
    let _ = m
        .u64_observable_counter("dmesh.retries")
        .with_description("Attempts repeated after a transient failure")
        .with_callback(move |obs| {
            for (labels, stats) in pool_stats(&registry) {
                obs.observe(stats.retries, &labels);
            }
        })
        .build();
}

fn pool_stats(registry: &crate::registry::Registry) -> Vec<([KeyValue; 2], dmesh_connector_api::PoolStats)> {
    registry
        .list()
        .iter()
        .filter_map(|i| {
            let stats = i.connector().ok()?.pool_stats()?;
            Some(([KeyValue::new("connector", i.name.clone()), KeyValue::new("kind", i.kind.clone())], stats))
        })
        .collect()
}

/// Labels for a connector's series.
pub fn connector_labels(connector: &str, kind: &str) -> [KeyValue; 2] {
    [KeyValue::new("connector", connector.to_owned()), KeyValue::new("kind", kind.to_owned())]
}

// ---------------------------------------------------------------------------
// Prometheus text.

/// Keeps the latest metrics rendered in the Prometheus text format.
#[derive(Debug)]
struct PrometheusText(Arc<Mutex<String>>);

impl PushMetricExporter for PrometheusText {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let text = render_prometheus(metrics);
        if let Ok(mut s) = self.0.lock() {
            *s = text;
        }
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

fn prom_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

fn prom_labels<'a>(attrs: impl Iterator<Item = &'a KeyValue>, extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = attrs
        .map(|kv| {
            let v = kv.value.as_str();
            let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            format!("{}=\"{v}\"", prom_name(kv.key.as_str()))
        })
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() { String::new() } else { format!("{{{}}}", parts.join(",")) }
}

fn render_prometheus(rm: &ResourceMetrics) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for scope in rm.scope_metrics() {
        for metric in scope.metrics() {
            let unit = match metric.unit() {
                "s" => "_seconds",
                "By" => "_bytes",
                _ => "",
            };
            let name = prom_name(metric.name());
            let base = if name.ends_with(unit) { name } else { format!("{name}{unit}") };
            macro_rules! numbers {
                ($data:expr) => {
                    match $data {
                        MetricData::Sum(sum) => {
                            let (name, kind) = if sum.is_monotonic() {
                                (format!("{base}_total"), "counter")
                            } else {
                                (base.clone(), "gauge")
                            };
                            let _ = writeln!(out, "# HELP {name} {}", metric.description());
                            let _ = writeln!(out, "# TYPE {name} {kind}");
                            for p in sum.data_points() {
                                let _ = writeln!(out, "{name}{} {}", prom_labels(p.attributes(), None), p.value());
                            }
                        }
                        MetricData::Gauge(g) => {
                            let _ = writeln!(out, "# HELP {base} {}", metric.description());
                            let _ = writeln!(out, "# TYPE {base} gauge");
                            for p in g.data_points() {
                                let _ = writeln!(out, "{base}{} {}", prom_labels(p.attributes(), None), p.value());
                            }
                        }
                        MetricData::Histogram(h) => {
                            let _ = writeln!(out, "# HELP {base} {}", metric.description());
                            let _ = writeln!(out, "# TYPE {base} histogram");
                            for p in h.data_points() {
                                let mut cumulative = 0u64;
                                let bounds: Vec<f64> = p.bounds().collect();
                                for (i, count) in p.bucket_counts().enumerate() {
                                    cumulative += count;
                                    let le = bounds.get(i).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                                    let labels = prom_labels(p.attributes(), Some(("le", le)));
                                    let _ = writeln!(out, "{base}_bucket{labels} {cumulative}");
                                }
                                let labels = prom_labels(p.attributes(), None);
                                let _ = writeln!(out, "{base}_sum{labels} {}", p.sum());
                                let _ = writeln!(out, "{base}_count{labels} {}", p.count());
                            }
                        }
                        MetricData::ExponentialHistogram(_) => {}
                    }
                };
            }
            match metric.data() {
                AggregatedMetrics::F64(d) => numbers!(d),
                AggregatedMetrics::U64(d) => numbers!(d),
                AggregatedMetrics::I64(d) => numbers!(d),
            }
        }
    }
    out
}

async fn serve_prometheus(addr: SocketAddr, snapshot: Arc<Mutex<String>>) -> anyhow::Result<SocketAddr> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    // A few scrapers at a time, each with one deadline for its whole request.
    let slots = Arc::new(tokio::sync::Semaphore::new(8));
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = match listener.accept().await {
                Ok(s) => s,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
            let snapshot = snapshot.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let started = Instant::now();
                let mut buf = vec![0u8; 4096];
                let mut n = 0;
                while n < buf.len() {
                    let left = Duration::from_secs(5).saturating_sub(started.elapsed());
                    match tokio::time::timeout(left, socket.read(&mut buf[n..])).await {
                        Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
                        Ok(Ok(k)) => n += k,
                    }
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("");
                let (status, body, kind) = if head.starts_with("GET ") && (path == "/metrics" || path.starts_with("/metrics?")) {
                    let text = snapshot.lock().map(|s| s.clone()).unwrap_or_default();
                    ("200 OK", text, "text/plain; version=0.0.4; charset=utf-8")
                } else {
                    ("404 Not Found", "metrics are served at /metrics\n".to_owned(), "text/plain; charset=utf-8")
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    tracing::info!(addr = %local, "serving Prometheus metrics at /metrics");
    Ok(local)
}

// ---------------------------------------------------------------------------
// The RPC layer.

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The RPC paths this gateway serves; anything else is labelled `other`,
/// so a client cannot grow the metrics' label sets.
fn known_methods() -> &'static HashSet<String> {
    static KNOWN: OnceLock<HashSet<String>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let mut known = HashSet::new();
        if let Ok(fds) = <prost_types::FileDescriptorSet as prost::Message>::decode(dmesh_proto::FILE_DESCRIPTOR_SET) {
            for file in &fds.file {
                for service in &file.service {
                    for method in &service.method {
                        known.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                    }
                }
            }
        }
        for m in [
            "Handshake", "ListFlights", "GetFlightInfo", "PollFlightInfo", "GetSchema", "DoGet", "DoPut", "DoExchange",
            "DoAction", "ListActions",
        ] {
            known.insert(format!("/arrow.flight.protocol.FlightService/{m}"));
        }
        for m in ["/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"] {
            known.insert(m.to_owned());
        }
        known
    })
}

fn method_label(path: &str) -> String {
    if known_methods().contains(path)
        || matches!(
            path,
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
                | "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        )
    {
        path.trim_start_matches('/').to_owned()
    } else {
        "other".to_owned()
    }
}

fn status_name(code: &str) -> &'static str {
    match code.trim().parse::<i32>().map(tonic::Code::from) {
        Ok(c) => crate::error::code_name(c),
        Err(_) => "UNKNOWN",
    }
}

/// Traces and counts every RPC; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct RpcLayer;

impl<S> tower::Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService { inner }
    }
}

/// The service [`RpcLayer`] wraps around the gateway's router.
#[derive(Clone, Debug)]
pub struct RpcService<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for RpcService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    RB: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    RB::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or(("", ""));
        let span = tracing::info_span!(
            "rpc",
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
        let trace_id = span.context().span().span_context().trace_id();
        let trace_hex = (trace_id != opentelemetry::trace::TraceId::INVALID).then(|| trace_id.to_string());
        if let Some(t) = &trace_hex {
            span.record("trace_id", t.as_str());
        }
        let started = Instant::now();
        let label = method_label(&path);
        // Take the ready service and leave a fresh clone (tower's rule for
        // services cloned into futures).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let future_span = span.clone();
        Box::pin(
            async move {
                let response = inner.call(request).await?;
                let (mut parts, body) = response.into_parts();
                if let Some(t) = trace_hex.as_deref().and_then(|t| http::HeaderValue::from_str(t).ok()) {
                    parts.headers.insert(TRACE_ID_HEADER, t);
                }
                // A trailers-only reply (an error before any message) has its status here.
                let early = parts.headers.get("grpc-status").and_then(|v| v.to_str().ok()).map(status_name);
                let body = CallBody {
                    inner: Box::pin(body),
                    done: Some(CallEnd {
                        label,
                        started,
                        span: future_span,
                    }),
                    status: early,
                };
                Ok(http::Response::from_parts(parts, tonic::body::Body::new(body)))
            }
            .instrument(span),
        )
    }
}

struct CallEnd {
    label: String,
    started: Instant,
    span: tracing::Span,
}

impl CallEnd {
    fn finish(self, status: &'static str) {
        self.span.record("rpc.grpc.status_code", status);
        if status != "OK" {
            self.span.record("otel.status_code", "ERROR");
        }
        let labels = [KeyValue::new("method", self.label), KeyValue::new("status", status)];
        let m = metrics();
        m.calls.add(1, &labels);
        m.duration.record(self.started.elapsed().as_secs_f64(), &labels);
        if matches!(status, "PERMISSION_DENIED" | "UNAUTHENTICATED") {
            m.denials.add(1, &[labels[0].clone(), KeyValue::new("status", status)]);
        }
    }
}

/// A response body that reports the call's status when it ends.
struct CallBody<RB> {
    inner: Pin<Box<RB>>,
    done: Option<CallEnd>,
    status: Option<&'static str>,
}

impl<RB> Drop for CallBody<RB> {
    fn drop(&mut self) {
        if let Some(end) = self.done.take() {
            // Dropped before its trailers: the client went away.
            end.finish(self.status.unwrap_or("CANCELLED"));
        }
    }
}

impl<RB> http_body::Body for CallBody<RB>
where
    RB: http_body::Body<Data = bytes::Bytes>,
    RB::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(t) = frame.trailers_ref()
                    && let Some(code) = t.get("grpc-status").and_then(|v| v.to_str().ok())
                {
                    let status = status_name(code);
                    self.status = Some(status);
                    if let Some(end) = self.done.take() {
                        end.finish(status);
                    }
                }
            }
            Poll::Ready(None) => {
                let status = self.status.unwrap_or("OK");
                if let Some(end) = self.done.take() {
                    end.finish(status);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(end) = self.done.take() {
                    end.finish("INTERNAL");
                }
            }
            Poll::Pending => {}
        }
        polled.map(|o| o.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_share_one_label() {
        assert_eq!(method_label("/dmesh.v1.QueryService/Execute"), "dmesh.v1.QueryService/Execute");
        assert_eq!(method_label("/arrow.flight.protocol.FlightService/DoGet"), "arrow.flight.protocol.FlightService/DoGet");
        assert_eq!(method_label("/dmesh.v1.QueryService/Anything"), "other");
        assert_eq!(method_label("/x/y"), "other");
        assert_eq!(status_name("7"), "PERMISSION_DENIED");
        assert_eq!(status_name("x"), "UNKNOWN");
    }
}
