//! OpenTelemetry end to end: the real `dmesh` binary exports to an OTLP
//! receiver running in this test process (built from the OpenTelemetry
//! protocol definitions), and serves Prometheus text that is scraped and
//! parsed. One query against a real PostgreSQL must yield RPC, connector,
//! pool and statement spans under the client's `traceparent`, the metrics
//! with their names and labels, and no secret or bound value anywhere.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_flight::{FlightClient, Ticket};
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::query_service_client::QueryServiceClient;
use dmesh_testkit::{PgServer, SUPERUSER, SUPERUSER_PASSWORD};
use futures::StreamExt;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{MetricsService, MetricsServiceServer};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_proto::tonic::trace::v1::Span;

const BIN: &str = env!("CARGO_BIN_EXE_dmesh");
const DB: &str = "telemetry_db";
const BOUND: &str = "bound-value-7f3a9c";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

#[derive(Default)]
struct Received {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
}

#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Received>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().expect("lock").traces.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.lock().expect("lock").metrics.push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

fn text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attrs(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter().map(|kv| (kv.key.clone(), text(kv.value.as_ref()))).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The gateway binary with OTLP pointed at the receiver.
struct Gateway {
    child: Child,
    endpoint: String,
    metrics: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_gateway(otlp: &str, config: &std::path::Path, state: &std::path::Path) -> Gateway {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--state-dir")
        .arg(state)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
        .env("OTEL_SERVICE_NAME", "dmesh-under-test")
        .env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "300")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("DMESH_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dmesh serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let mut sink = dmesh_testkit::log_file("telemetry-serve");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(f) = sink.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            let _ = tx.send(line);
        }
    });
    let (mut endpoint, mut metrics) = (None, None);
    while endpoint.is_none() || metrics.is_none() {
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("the gateway logs its addresses");
        let addr = line.split_whitespace().find_map(|w| w.strip_prefix("addr=")).map(str::to_owned);
        if line.contains("serving Prometheus metrics") {
            metrics = addr;
        } else if line.contains("dmesh gateway listening") {
            endpoint = addr;
        }
    }
    Gateway {
        child,
        endpoint: format!("http://{}", endpoint.expect("endpoint")),
        metrics: metrics.expect("metrics address"),
    }
}

fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the metrics port");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: dmesh\r\n\r\n").expect("request");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP reply");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_owned()
}

/// Parses the Prometheus text format: every sample line is
/// `name{label="value",...} number`, every family has a TYPE.
fn parse_prometheus(body: &str) -> Vec<(String, HashMap<String, String>, f64)> {
    let mut typed = std::collections::HashSet::new();
    let mut samples = Vec::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().expect("a name");
            let kind = parts.next().expect("a type");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let inner = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let mut labels = HashMap::new();
                for pair in inner.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label in {line}"));
                    assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "label name {k}");
                    labels.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
                }
                (n.to_owned(), labels)
            }
            None => (series.to_owned(), HashMap::new()),
        };
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "metric name {name}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(&name);
        assert!(typed.contains(family), "no TYPE for {name}");
        samples.push((name, labels, value));
    }
    samples
}

type MetricLabels = HashMap<String, Vec<HashMap<String, String>>>;

/// Every metric name exported so far, the resource, and each metric's point labels.
fn exported_metrics(receiver: &Receiver) -> (std::collections::BTreeSet<String>, HashMap<String, String>, MetricLabels) {
    let got = receiver.0.lock().expect("lock");
    let mut names = std::collections::BTreeSet::new();
    let mut labels: MetricLabels = HashMap::new();
    let mut resource = HashMap::new();
    for rm in got.metrics.iter().flat_map(|r| r.resource_metrics.iter()) {
        if let Some(res) = &rm.resource {
            resource = attrs(&res.attributes);
        }
        for m in rm.scope_metrics.iter().flat_map(|sm| sm.metrics.iter()) {
            names.insert(m.name.clone());
            let points: Vec<HashMap<String, String>> = match &m.data {
                Some(metric::Data::Sum(s)) => s.data_points.iter().map(|p| attrs(&p.attributes)).collect(),
                Some(metric::Data::Gauge(g)) => g.data_points.iter().map(|p| attrs(&p.attributes)).collect(),
                Some(metric::Data::Histogram(h)) => h.data_points.iter().map(|p| attrs(&p.attributes)).collect(),
                _ => Vec::new(),
            };
            labels.entry(m.name.clone()).or_default().extend(points);
        }
    }
    (names, resource, labels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_query_yields_its_spans_metrics_and_no_secret() {
    let server = PgServer::shared();
    server.create_database(DB);
    server.psql(DB, "CREATE TABLE people (id int, name text); INSERT INTO people VALUES (1, 'ann'), (2, 'bo');");

    // The receiver.
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let otlp = format!("http://{}", listener.local_addr().expect("addr"));
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .add_service(MetricsServiceServer::new(receiver.clone()))
            .serve_with_incoming(incoming),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("dmesh.toml");
    std::fs::write(
        &config,
        format!(
            "[connectors.pg]\ntype = \"postgres\"\nhost = \"127.0.0.1\"\nport = {}\ndatabase = \"{DB}\"\nuser = \"{SUPERUSER}\"\n\
             password = \"{SUPERUSER_PASSWORD}\"\ntls_mode = \"disable\"\n",
            server.port
        ),
    )
    .expect("config");
    let gw = start_gateway(&otlp, &config, &dir.path().join("state"));
    let ch = tonic::transport::Channel::from_shared(gw.endpoint.clone())
        .expect("uri")
        .connect()
        .await
        .expect("connects");

    // One query, with a bound value, as part of the client's own trace.
    let traceparent = format!("00-{TRACE_ID}-{CLIENT_SPAN}-01");
    let mut request = tonic::Request::new(pb::ExecuteRequest {
        connector: "pg".into(),
        sql: "SELECT id, name FROM people WHERE name <> $1 AND id > 0".into(),
        params: vec![pb::Param {
            name: String::new(),
            value: Some(pb::Value {
                kind: Some(pb::value::Kind::StringValue(BOUND.into())),
            }),
        }],
        ..Default::default()
    });
    request.metadata_mut().insert("traceparent", traceparent.parse().expect("ascii"));
    let reply = QueryServiceClient::new(ch.clone()).execute(request).await.expect("execute");
    let echoed = reply.metadata().get("x-dmesh-trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(echoed.as_deref(), Some(TRACE_ID), "the trace id comes back");
    let ticket = reply.into_inner().ticket.expect("ticket").ticket;
    let mut flight = FlightClient::new(ch.clone());
    flight.add_header("traceparent", &traceparent).expect("header");
    let mut stream = flight.do_get(Ticket::new(ticket)).await.expect("do_get");
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        rows += batch.expect("batch").num_rows();
    }
    assert_eq!(rows, 2);

    // The spans of that trace.
    let wanted = ["connector.execute", "pool.checkout", "db.statement"];
    let deadline = Instant::now() + Duration::from_secs(15);
    let spans: Vec<Span> = loop {
        let spans: Vec<Span> = receiver
            .0
            .lock()
            .expect("lock")
            .traces
            .iter()
            .flat_map(|r| r.resource_spans.iter())
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter().cloned())
            .filter(|s| hex(&s.trace_id) == TRACE_ID)
            .collect();
        let have_all = wanted.iter().all(|w| spans.iter().any(|s| s.name == *w))
            && spans.iter().filter(|s| hex(&s.parent_span_id) == CLIENT_SPAN).count() >= 2;
        if have_all || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let by_name = |n: &str| spans.iter().find(|s| s.name == n).unwrap_or_else(|| panic!("no `{n}` span in {names:?}"));
    let by_id = |id: &[u8]| spans.iter().find(|s| s.span_id == id);

    // RPC spans continue the client's span.
    let execute = by_name("dmesh.v1.QueryService/Execute");
    let do_get = by_name("arrow.flight.protocol.FlightService/DoGet");
    for rpc in [execute, do_get] {
        assert_eq!(hex(&rpc.parent_span_id), CLIENT_SPAN, "{}", rpc.name);
        let a = attrs(&rpc.attributes);
        assert_eq!(a.get("rpc.system").map(String::as_str), Some("grpc"));
        assert_eq!(a.get("rpc.grpc.status_code").map(String::as_str), Some("OK"), "{a:?}");
    }
    assert_eq!(attrs(&execute.attributes).get("rpc.method").map(String::as_str), Some("Execute"));
    // connector under the RPC, the statement under the connector, the pool under the statement.
    let connector = by_name("connector.execute");
    assert_eq!(connector.parent_span_id, do_get.span_id, "connector.execute under DoGet");
    let c = attrs(&connector.attributes);
    assert_eq!(c.get("connector").map(String::as_str), Some("pg"));
    assert_eq!(c.get("rows").map(String::as_str), Some("2"), "{c:?}");
    let statement = by_name("db.statement");
    assert_eq!(statement.parent_span_id, connector.span_id, "db.statement under connector.execute");
    let st = attrs(&statement.attributes);
    assert_eq!(st.get("db.system.name").map(String::as_str), Some("postgresql"));
    assert_eq!(st.get("db.namespace").map(String::as_str), Some(DB));
    let query_text = st.get("db.query.text").expect("the statement");
    assert!(query_text.contains("$1") && query_text.contains("id > ?"), "{query_text}");
    let pool = spans
        .iter()
        .filter(|s| s.name == "pool.checkout")
        .find(|s| {
            let mut parent = by_id(&s.parent_span_id);
            while let Some(p) = parent {
                if p.span_id == statement.span_id {
                    return true;
                }
                parent = by_id(&p.parent_span_id);
            }
            false
        })
        .unwrap_or_else(|| panic!("no pool.checkout under the statement: {names:?}"));
    assert!(!pool.span_id.is_empty());
    let plan = by_name("connector.plan");
    assert_eq!(plan.parent_span_id, execute.span_id, "connector.plan under Execute");

    // Metrics, with bounded labels and the resource from OTEL_* variables.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (metric_names, resource, labels) = loop {
        let (names, resource, labels) = exported_metrics(&receiver);
        let complete = ["dmesh.rpc.calls", "dmesh.rpc.duration", "dmesh.query.rows", "dmesh.pool.size"]
            .iter()
            .all(|n| names.contains(*n));
        if complete || Instant::now() > deadline {
            break (names, resource, labels);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for name in [
        "dmesh.rpc.calls",
        "dmesh.rpc.duration",
        "dmesh.query.rows",
        "dmesh.query.bytes",
        "dmesh.queries.in_flight",
        "dmesh.pool.size",
        "dmesh.pool.in_use",
        "dmesh.pool.waiters",
        "dmesh.retries",
    ] {
        assert!(metric_names.contains(name), "{name} in {metric_names:?}");
    }
    assert_eq!(resource.get("service.name").map(String::as_str), Some("dmesh-under-test"));
    assert_eq!(resource.get("deployment.environment").map(String::as_str), Some("test"));
    assert!(
        labels["dmesh.rpc.calls"].iter().any(|l| l.get("method").map(String::as_str)
            == Some("dmesh.v1.QueryService/Execute")
            && l.get("status").map(String::as_str) == Some("OK")),
        "{:?}",
        labels["dmesh.rpc.calls"]
    );
    assert!(labels["dmesh.pool.size"].iter().any(|l| l.get("connector").map(String::as_str) == Some("pg")
        && l.get("kind").map(String::as_str) == Some("postgres")));
    for (name, points) in &labels {
        for l in points {
            let mut keys: Vec<&str> = l.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert!(
                keys.iter().all(|k| ["connector", "kind", "method", "status"].contains(k)),
                "{name} has labels {keys:?}"
            );
        }
    }

    // Nothing exported holds the password or the bound value.
    let everything = {
        let got = receiver.0.lock().expect("lock");
        format!("{:?}{:?}", got.traces, got.metrics)
    };
    for secret in [SUPERUSER_PASSWORD, BOUND] {
        assert!(!everything.contains(secret), "`{secret}` was exported");
    }

    // The Prometheus endpoint parses and agrees.
    // (The text is refreshed every second.)
    let deadline = Instant::now() + Duration::from_secs(10);
    let (samples, rows_total) = loop {
        let samples = parse_prometheus(&scrape(&gw.metrics));
        let rows_total: f64 = samples
            .iter()
            .filter(|(n, l, _)| n == "dmesh_query_rows_total" && l.get("connector").map(String::as_str) == Some("pg"))
            .map(|(_, _, v)| *v)
            .sum();
        if rows_total >= 2.0 || Instant::now() > deadline {
            break (samples, rows_total);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(rows_total, 2.0);
    assert!(samples.iter().any(|(n, _, _)| n == "dmesh_rpc_duration_seconds_bucket"));
    assert!(samples.iter().any(|(n, l, _)| n == "dmesh_pool_size" && l.get("kind").map(String::as_str) == Some("postgres")));
    let body = scrape(&gw.metrics);
    assert!(!body.contains(SUPERUSER_PASSWORD) && !body.contains(BOUND));

    // Every series the shipped Grafana dashboard charts is one the gateway serves.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/dmesh-grafana.json"))
            .expect("the dashboard"),
    )
    .expect("the dashboard is JSON");
    let served: std::collections::HashSet<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let mut charted = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if let Some(name) = word.strip_prefix("dmesh_").map(|_| word) {
                    let family = name.strip_suffix("_bucket").unwrap_or(name);
                    assert!(served.contains(family), "the dashboard charts `{name}`, which /metrics does not serve");
                    charted += 1;
                }
            }
        }
    }
    assert!(charted >= 10, "{charted}");
    drop(gw);
}
