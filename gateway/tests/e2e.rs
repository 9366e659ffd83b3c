//! End to end: a real gateway on 127.0.0.1:0, driven by tonic clients of the
//! v1 API and by the arrow-flight client.

mod common;

use std::time::Duration;

use arrow::record_batch::RecordBatch;
use arrow_flight::decode::DecodedPayload;
use arrow_flight::{FlightClient, FlightDescriptor, Ticket};
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::catalog_service_client::CatalogServiceClient;
use dmesh_proto::v1::connector_registry_client::ConnectorRegistryClient;
use dmesh_proto::v1::processing_service_client::ProcessingServiceClient;
use dmesh_proto::v1::query_service_client::QueryServiceClient;
use futures::{StreamExt, TryStreamExt};
use tonic::Code;
use tonic::transport::Channel;

const TTL: Duration = Duration::from_secs(60);

fn struct_of(json: serde_json::Value) -> prost_types::Struct {
    dmesh_gateway::convert::json_to_struct(&json)
}

async fn execute(ch: &Channel, connector: &str, sql: &str, limits: Option<pb::Limits>) -> Result<pb::ExecuteResponse, tonic::Status> {
    QueryServiceClient::new(ch.clone())
        .execute(pb::ExecuteRequest {
            connector: connector.into(),
            sql: sql.into(),
            limits,
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

/// Redeems a ticket with DoGet; returns the batches and any app_metadata.
async fn do_get(ch: &Channel, ticket: Vec<u8>) -> Result<(Vec<RecordBatch>, Vec<serde_json::Value>), tonic::Status> {
    let mut flight = FlightClient::new(ch.clone());
    let mut stream = flight
        .do_get(Ticket::new(ticket))
        .await
        .map_err(to_status)?
        .into_inner();
    let mut batches = Vec::new();
    let mut meta = Vec::new();
    while let Some(item) = stream.next().await {
        let data = item.map_err(to_status)?;
        if !data.inner.app_metadata.is_empty() {
            meta.push(serde_json::from_slice(&data.inner.app_metadata).expect("metadata is JSON"));
        }
        if let DecodedPayload::RecordBatch(b) = data.payload {
            batches.push(b);
        }
    }
    Ok((batches, meta))
}

fn to_status(e: arrow_flight::error::FlightError) -> tonic::Status {
    match e {
        arrow_flight::error::FlightError::Tonic(s) => *s,
        other => tonic::Status::internal(other.to_string()),
    }
}

async fn query(ch: &Channel, connector: &str, sql: &str) -> Vec<RecordBatch> {
    let r = execute(ch, connector, sql, None).await.expect("execute");
    do_get(ch, r.ticket.expect("ticket").ticket).await.expect("do_get").0
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

#[tokio::test]
async fn a_join_with_an_aggregate_gives_the_right_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = common::start(dir.path(), TTL).await;
    let ch = common::channel(&gw).await;
    let batches = query(
        &ch,
        "demo",
        "SELECT c.country, count(DISTINCT o.order_id) AS orders, sum(i.quantity * i.unit_price) AS revenue
         FROM orders o JOIN customers c ON c.customer_id = o.customer_id
         JOIN order_items i ON i.order_id = o.order_id
         GROUP BY c.country ORDER BY c.country",
    )
    .await;
    let expected = common::revenue_by_country();
    let countries = common::strings(&batches, 0);
    let orders = common::strings(&batches, 1);
    let revenue = common::strings(&batches, 2);
    assert_eq!(countries, expected.keys().cloned().collect::<Vec<_>>());
    for (i, c) in countries.iter().enumerate() {
        let (n, rev) = expected[c];
        assert_eq!(orders[i].parse::<usize>().expect("int"), n, "{c}");
        let got: f64 = revenue[i].parse().expect("float");
        assert!((got - rev).abs() < 1e-6 * rev, "{c}: {got} vs {rev}");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn every_demo_table_reads_whole_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = common::start(dir.path(), TTL).await;
    let ch = common::channel(&gw).await;
    let tables = QueryServiceClient::new(ch.clone())
        .list_tables(pb::ListTablesRequest {
            connector: "demo".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .tables;
    let listed: Vec<(String, String)> = tables
        .iter()
        .map(|t| (t.table.clone().expect("ref").name, t.format.clone()))
        .collect();
    assert_eq!(
        listed,
        [
            ("customers", "csv"),
            ("order_items", "parquet"),
            ("orders", "parquet"),
            ("products", "json"),
            ("reviews", "avro")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    for (table, expected) in [
        ("customers", 1000),
        ("products", 120),
        ("orders", 5000),
        ("order_items", common::order_item_rows()),
        ("reviews", 2000),
    ] {
        let batches = query(&ch, "demo", &format!("SELECT * FROM {table}")).await;
        assert_eq!(rows(&batches), expected, "{table}");
    }
    // Avro NULLs survive: about a quarter of the reviews have no comment.
    let nulls = query(&ch, "demo", "SELECT count(*) FROM reviews WHERE comment IS NULL").await;
    let n: usize = common::strings(&nulls, 0)[0].parse().expect("count");
    assert!((300..700).contains(&n), "{n}");
    gw.shutdown().await;
}

#[tokio::test]
async fn connectors_added_at_run_time_survive_a_restart() {
    let state = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::write(data.path().join("scores.csv"), "player,score\nada,31\ngrace,11\nada,4\n").expect("csv");

    let gw = common::start(state.path(), TTL).await;
    let ch = common::channel(&gw).await;
    let mut reg = ConnectorRegistryClient::new(ch.clone());
    let kinds = reg.list_kinds(pb::ListKindsRequest {}).await.expect("kinds").into_inner().kinds;
    let files = kinds.iter().find(|k| k.kind == "files").expect("files kind");
    let schema: serde_json::Value = serde_json::from_str(&files.config_schema_json).expect("schema json");
    assert_eq!(schema["required"], serde_json::json!(["path"]));
    assert!(schema["properties"]["path"]["description"].as_str().is_some_and(|d| d.contains("folder")));
    assert_eq!(files.families, vec![pb::Family::Query as i32, pb::Family::Catalog as i32]);

    let added = reg
        .add_connector(pb::AddConnectorRequest {
            name: "more".into(),
            kind: "files".into(),
            config: Some(struct_of(serde_json::json!({"path": data.path().display().to_string()}))),
            validate_only: false,
        })
        .await
        .expect("add")
        .into_inner()
        .connector
        .expect("connector");
    assert_eq!(added.origin, pb::Origin::Runtime as i32);
    let test = reg
        .test_connector(pb::TestConnectorRequest { name: "more".into() })
        .await
        .expect("test")
        .into_inner();
    assert!(test.healthy, "{}", test.message);
    assert!(test.checks.iter().any(|c| c.name == "read scores"));
    gw.shutdown().await;

    let gw = common::start(state.path(), TTL).await;
    let ch = common::channel(&gw).await;
    let mut reg = ConnectorRegistryClient::new(ch.clone());
    let names: Vec<String> = reg
        .list_connectors(pb::ListConnectorsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .connectors
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["demo", "more"]);
    let got = reg.get_connector(pb::GetConnectorRequest { name: "more".into() }).await.expect("get").into_inner();
    assert_eq!(got.kind, "files");
    let b = query(&ch, "more", "SELECT player, sum(score) AS total FROM scores GROUP BY player ORDER BY player").await;
    assert_eq!(common::strings(&b, 0), ["ada", "grace"]);
    assert_eq!(common::strings(&b, 1), ["35", "11"]);

    reg.remove_connector(pb::RemoveConnectorRequest { name: "more".into() }).await.expect("remove");
    gw.shutdown().await;
    let gw = common::start(state.path(), TTL).await;
    let ch = common::channel(&gw).await;
    let e = execute(&ch, "more", "SELECT 1", None).await.expect_err("removed");
    assert_eq!(e.code(), Code::NotFound);
    gw.shutdown().await;
}

#[tokio::test]
async fn small_results_come_inline_and_limits_cut_with_a_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = common::start(dir.path(), TTL).await;
    let ch = common::channel(&gw).await;
    let mut q = QueryServiceClient::new(ch.clone());
    let small = q
        .execute(pb::ExecuteRequest {
            connector: "demo".into(),
            sql: "SELECT count(*) AS n FROM orders".into(),
            inline: Some(pb::InlinePolicy { max_rows: 10, max_bytes: 0 }),
            ..Default::default()
        })
        .await
        .expect("execute")
        .into_inner();
    let inline = small.inline.expect("inline result");
    assert_eq!(inline.rows, 1);
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(inline.arrow_ipc), None).expect("ipc");
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("batches");
    assert_eq!(common::strings(&batches, 0), ["5000"]);

    let big = q
        .execute(pb::ExecuteRequest {
            connector: "demo".into(),
            sql: "SELECT * FROM orders".into(),
            inline: Some(pb::InlinePolicy { max_rows: 10, max_bytes: 0 }),
            ..Default::default()
        })
        .await
        .expect("execute")
        .into_inner();
    assert!(big.inline.is_none(), "5000 rows must not come inline under a 10-row cap");
    let schema = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(big.arrow_schema), None)
        .expect("schema")
        .schema();
    assert_eq!(schema.field(0).name(), "order_id");

    let limited = execute(
        &ch,
        "demo",
        "SELECT * FROM orders",
        Some(pb::Limits {
            max_rows: 123,
            ..Default::default()
        }),
    )
    .await
    .expect("execute");
    let (batches, meta) = do_get(&ch, limited.ticket.expect("ticket").ticket).await.expect("do_get");
    assert_eq!(rows(&batches), 123);
    assert_eq!(meta, [serde_json::json!({"truncated": true, "limit": "max_rows", "value": 123})]);

    let whole = execute(
        &ch,
        "demo",
        "SELECT * FROM products",
        Some(pb::Limits {
            max_rows: 120,
            ..Default::default()
        }),
    )
    .await
    .expect("execute");
    let (batches, meta) = do_get(&ch, whole.ticket.expect("ticket").ticket).await.expect("do_get");
    assert_eq!(rows(&batches), 120);
    assert!(meta.is_empty(), "a cap equal to the size cuts nothing: {meta:?}");
    gw.shutdown().await;
}

#[tokio::test]
async fn parameters_are_bound_not_spliced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = common::start(dir.path(), TTL).await;
    let ch = common::channel(&gw).await;
    let r = QueryServiceClient::new(ch.clone())
        .execute(pb::ExecuteRequest {
            connector: "demo".into(),
            sql: "SELECT count(*) FROM customers WHERE country = $1 OR name = $2".into(),
            params: vec![
                pb::Param {
                    name: String::new(),
                    value: Some(pb::Value {
                        kind: Some(pb::value::Kind::StringValue("DE".into())),
                    }),
                },
                pb::Param {
                    name: String::new(),
                    value: Some(pb::Value {
                        kind: Some(pb::value::Kind::StringValue("x' OR '1'='1".into())),
                    }),
                },
            ],
            ..Default::default()
        })
        .await
        .expect("execute")
        .into_inner();
    let (b, _) = do_get(&ch, r.ticket.expect("ticket").ticket).await.expect("do_get");
    let n: usize = common::strings(&b, 0)[0].parse().expect("count");
    let csv = std::fs::read_to_string(common::demo_dir().join("customers.csv")).expect("csv");
    let expected = csv.lines().skip(1).filter(|l| l.ends_with(",DE,") || l.contains(",DE,")).count();
    assert_eq!(n, expected);
    assert!(n < 1000);
    gw.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = common::start(dir.path(), TTL).await;
    let ch = common::channel(&gw).await;
    let mut reg = ConnectorRegistryClient::new(ch.clone());

    let e = execute(&ch, "demo", "SELEC * FROM orders", None).await.expect_err("syntax");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("SQL syntax error") && e.message().contains("SELEC"), "{}", e.message());
    assert_eq!(e.metadata().get("dmesh-retryable").and_then(|v| v.to_str().ok()), Some("false"));

    let e = execute(&ch, "demo", "SELECT * FROM no_such_table", None).await.expect_err("table");
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("no_such_table"), "{}", e.message());

    let e = execute(&ch, "nope", "SELECT 1", None).await.expect_err("connector");
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("`nope`") && e.message().contains("demo"), "{}", e.message());

    for (sql, word) in [
        ("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'", "CREATE EXTERNAL TABLE"),
        ("COPY orders TO '/tmp/dmesh-should-not-exist.csv'", "COPY"),
        ("INSERT INTO orders VALUES (1, 1, '2024-01-01', 'x')", "INSERT"),
        ("DROP TABLE orders", "DROP"),
        ("CREATE TABLE t AS SELECT 1", "CREATE"),
        ("SET datafusion.execution.batch_size = 1", "SET"),
        ("SELECT 1; DROP TABLE orders", "one statement"),
    ] {
        let e = execute(&ch, "demo", sql, None).await.expect_err(sql);
        assert_eq!(e.code(), Code::PermissionDenied, "{sql}: {}", e.message());
        assert!(e.message().contains(word), "{sql}: {}", e.message());
    }
    assert!(!std::path::Path::new("/tmp/dmesh-should-not-exist.csv").exists());

    let add = |kind: &str, name: &str, config: serde_json::Value| pb::AddConnectorRequest {
        name: name.into(),
        kind: kind.into(),
        config: Some(struct_of(config)),
        validate_only: false,
    };
    let e = reg.add_connector(add("warehouse9", "x", serde_json::json!({}))).await.expect_err("kind");
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("unknown connector kind `warehouse9`") && e.message().contains("files"), "{}", e.message());
    let e = reg.add_connector(add("files", "x", serde_json::json!({}))).await.expect_err("missing");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("missing field `path`"), "{}", e.message());
    let e = reg
        .add_connector(add("files", "x", serde_json::json!({"path": "/tmp", "pth": 1})))
        .await
        .expect_err("unknown field");
    assert!(e.message().contains("unknown field `pth`"), "{}", e.message());
    let e = reg
        .add_connector(add("files", "x", serde_json::json!({"path": "/tmp", "csv_has_header": "maybe"})))
        .await
        .expect_err("mistyped");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("invalid type"), "{}", e.message());
    let e = reg
        .add_connector(add("files", "x", serde_json::json!({"path": "/definitely/not/here"})))
        .await
        .expect_err("path");
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("/definitely/not/here") && e.message().contains("does not exist"), "{}", e.message());
    let e = reg.add_connector(add("files", "Bad Name", serde_json::json!({"path": "/tmp"}))).await.expect_err("name");
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = reg.add_connector(add("files", "demo", serde_json::json!({"path": "/tmp"}))).await.expect_err("exists");
    assert_eq!(e.code(), Code::AlreadyExists);
    let e = reg.remove_connector(pb::RemoveConnectorRequest { name: "demo".into() }).await.expect_err("builtin");
    assert_eq!(e.code(), Code::FailedPrecondition);

    let e = do_get(&ch, b"not a ticket".to_vec()).await.expect_err("unknown ticket");
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("unknown ticket"), "{}", e.message());

    let e = ProcessingServiceClient::new(ch.clone())
        .list_jobs(pb::ListJobsRequest {
            connector: "demo".into(),
            ..Default::default()
        })
        .await
        .expect_err("no processing");
    assert_eq!(e.code(), Code::Unimplemented);
    assert!(e.message().contains("does not serve the processing family"), "{}", e.message());
    let e = CatalogServiceClient::new(ch.clone())
        .get_lineage(pb::GetLineageRequest {
            connector: "demo".into(),
            table: Some(pb::TableRef {
                name: "orders".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("no lineage");
    assert_eq!(e.code(), Code::Unimplemented);
    gw.shutdown().await;
}

#[tokio::test]
async fn expired_tickets_fail_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = common::start(dir.path(), Duration::from_secs(1)).await;
    let ch = common::channel(&gw).await;
    let r = execute(&ch, "demo", "SELECT 1", None).await.expect("execute");
    let ticket = r.ticket.expect("ticket").ticket;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let e = do_get(&ch, ticket).await.expect_err("expired");
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("expired"), "{}", e.message());
    gw.shutdown().await;
}

#[tokio::test]
async fn schemas_plans_catalog_and_plain_flight_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = common::start(dir.path(), TTL).await;
    let ch = common::channel(&gw).await;
    let mut q = QueryServiceClient::new(ch.clone());
    let s = q
        .get_schema(pb::GetSchemaRequest {
            connector: "demo".into(),
            table: Some(pb::TableRef {
                name: "reviews".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("schema")
        .into_inner();
    let cols: Vec<(String, String, bool)> = s.columns.iter().map(|c| (c.name.clone(), c.arrow_type.clone(), c.nullable)).collect();
    assert_eq!(cols[3], ("rating".to_owned(), "Int32".to_owned(), false));
    assert_eq!(cols[4], ("comment".to_owned(), "Utf8".to_owned(), true));
    // Parquet strings come as plain Utf8, which every Arrow client reads.
    let orders = query(&ch, "demo", "SELECT status FROM orders LIMIT 1").await;
    assert_eq!(orders[0].schema().field(0).data_type(), &arrow::datatypes::DataType::Utf8);
    let e = q
        .get_schema(pb::GetSchemaRequest {
            connector: "demo".into(),
            table: Some(pb::TableRef {
                name: "nope".into(),
                ..Default::default()
            }),
        })
        .await
        .expect_err("no table");
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("orders"), "lists the tables: {}", e.message());

    let plan = q
        .explain(pb::ExplainRequest {
            connector: "demo".into(),
            sql: "SELECT status, count(*) FROM orders GROUP BY status".into(),
            ..Default::default()
        })
        .await
        .expect("explain")
        .into_inner();
    assert!(plan.sections.iter().any(|s| s.name == "logical_plan"), "{plan:?}");
    assert!(plan.plan.contains("Aggregate"), "{}", plan.plan);

    let mut cat = CatalogServiceClient::new(ch.clone());
    let hits = cat
        .search_tables(pb::SearchTablesRequest {
            connector: "demo".into(),
            query: "rating".into(),
            page: None,
        })
        .await
        .expect("search")
        .into_inner()
        .hits;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].matched_columns, ["rating"]);

    // A plain Flight client: GetFlightInfo with a JSON command, then DoGet.
    let mut flight = FlightClient::new(ch.clone());
    let cmd = serde_json::json!({"connector": "demo", "sql": "SELECT category, count(*) AS n FROM products GROUP BY category"});
    let info = flight
        .get_flight_info(FlightDescriptor::new_cmd(cmd.to_string()))
        .await
        .expect("flight info");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let batches: Vec<RecordBatch> = flight.do_get(ticket).await.expect("do_get").try_collect().await.expect("batches");
    let total: usize = common::strings(&batches, 1).iter().map(|n| n.parse::<usize>().expect("n")).sum();
    assert_eq!(total, 120);
    let e = flight
        .get_flight_info(FlightDescriptor::new_cmd("SELECT 1"))
        .await
        .expect_err("not json");
    assert!(e.to_string().contains("JSON"), "{e}");
    gw.shutdown().await;
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = common::start(dir.path(), TTL).await;
    let ch = common::channel(&gw).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    for service in ["", "dmesh.v1.QueryService", "arrow.flight.protocol.FlightService"] {
        let r = health
            .check(tonic_health::pb::HealthCheckRequest { service: service.into() })
            .await
            .expect("health")
            .into_inner();
        assert_eq!(r.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32, "{service}");
    }
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut refl = ServerReflectionClient::new(ch.clone());
    let req = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = refl.server_reflection_info(futures::stream::iter([req])).await.expect("reflection").into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message().await.expect("msg").and_then(|m| m.message_response)
    else {
        panic!("no service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in ["dmesh.v1.ConnectorRegistry", "dmesh.v1.QueryService", "dmesh.v1.StorageService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == s), "{s} in {names:?}");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn every_query_leaves_one_audit_line_and_denials_are_marked() {
    let state = tempfile::tempdir().expect("tempdir");
    let audit = state.path().join("audit.jsonl");
    let mut config = dmesh_gateway::config::GatewayConfig::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.state_dir = Some(state.path().to_owned());
    config.server.audit_log = Some(audit.clone());
    let gw = dmesh_gateway::start(config, true).await.expect("starts");
    let ch = common::channel(&gw).await;

    let r = execute(&ch, "demo", "SELECT * FROM orders WHERE status = 'cancelled'", None).await.expect("plans");
    let (batches, _) = do_get(&ch, r.ticket.expect("ticket").ticket).await.expect("runs");
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let denied = execute(&ch, "demo", "DROP TABLE orders", None).await.expect_err("read-only");
    assert_eq!(denied.code(), Code::PermissionDenied);
    gw.shutdown().await;

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .expect("the audit log exists")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let run = lines.iter().find(|l| l["call"] == "Run").expect("the query's line");
    assert_eq!(run["connector"], "demo");
    assert_eq!(run["verdict"], "allowed");
    assert_eq!(run["status"], "OK");
    assert_eq!(run["rows"].as_u64(), Some(rows as u64));
    assert_eq!(run["statement_sha256"].as_str().map(str::len), Some(64));
    let deny = lines.iter().find(|l| l["statement"] == "DROP TABLE orders").expect("the denial's line");
    assert_eq!(deny["verdict"], "denied");
    assert_eq!(deny["status"], "PERMISSION_DENIED");
}
