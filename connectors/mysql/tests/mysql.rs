//! The `mysql` connector against a real MariaDB server started by the test
//! (see `dmesh-testkit`).

use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use dmesh_connector_api::{
    AccessMode, Connector, ErrorKind, Limits, Param, ParamValue, QueryRequest, SecretRef, TableFilter,
    TableRef,
};
use dmesh_connector_mysql::{MySqlConfig, MySqlConnector, TlsMode};
use dmesh_testkit::{MARIADB_PASSWORD, MARIADB_USER, MariaDbServer};
use futures::StreamExt;

fn config(server: &MariaDbServer, database: &str) -> MySqlConfig {
    let mut c = MySqlConfig::new("127.0.0.1", server.port, database, MARIADB_USER);
    c.password = Some(SecretRef::new(MARIADB_PASSWORD));
    c.tls_mode = TlsMode::Disable;
    c
}

async fn connector(server: &MariaDbServer, database: &str) -> MySqlConnector {
    MySqlConnector::open(database, config(server, database)).await.expect("opens")
}

async fn collect(c: &MySqlConnector, request: QueryRequest) -> dmesh_connector_api::Result<Vec<RecordBatch>> {
    let mut stream = c.as_query().expect("query").execute(request).await?;
    let mut out = Vec::new();
    while let Some(b) = stream.next().await {
        out.push(b?);
    }
    Ok(out)
}

async fn query(c: &MySqlConnector, sql: &str) -> RecordBatch {
    let batches = collect(c, QueryRequest::read_only(sql)).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let schema = batches.first().map(RecordBatch::schema).expect("a batch");
    arrow::compute::concat_batches(&schema, &batches).expect("concat")
}

const TYPES_DDL: &str = r#"
CREATE TABLE every_type (
  id int PRIMARY KEY,
  c_tinyint tinyint, c_utinyint tinyint unsigned, c_smallint smallint, c_usmallint smallint unsigned,
  c_mediumint mediumint, c_int int, c_uint int unsigned, c_bigint bigint, c_ubigint bigint unsigned,
  c_float float, c_double double, c_decimal decimal(12,2), c_wide_decimal decimal(60,10),
  c_char char(5), c_varchar varchar(20), c_text text, c_blob blob, c_binary binary(4), c_varbinary varbinary(8),
  c_date date, c_time time(6), c_datetime datetime(6), c_timestamp timestamp(6) NULL, c_year year,
  c_json json, c_enum enum('sad','ok','happy'), c_set set('a','b','c'), c_bit bit(10), c_bool boolean
) COMMENT 'one row of each type, one of NULLs';
INSERT INTO every_type VALUES
 (1, -128, 255, -32768, 65535, -8388608, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
  1.5, -2.25, -1234567890.12, 12345678901234567890123456789012345678901234567890.0123456789,
  'ab', 'vár ✓', 'héllo text', x'00ff10', x'01020304', x'0a0b',
  '1999-12-31', '-838:59:59.500000', '2024-02-29 12:34:56.789012', '2024-06-01 10:00:00.250000', 2024,
  '{"a": [1, 2]}', 'happy', 'a,c', b'1010101010', true),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"#;

/// One value of our result, written the way the `mariadb` client writes it
/// (with binary columns as HEX() and BIT as a number).
fn as_mariadb_text(array: &dyn Array, i: usize) -> String {
    if array.is_null(i) {
        return "NULL".into();
    }
    match array.data_type() {
        DataType::Binary => array.as_binary::<i32>().value(i).iter().map(|b| format!("{b:02X}")).collect(),
        DataType::Date32 => array.as_primitive::<arrow::datatypes::Date32Type>().value_as_date(i).expect("date").to_string(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => array
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
            .value_as_datetime(i)
            .expect("timestamp")
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string(),
        DataType::Duration(TimeUnit::Microsecond) => {
            let us = array.as_primitive::<arrow::datatypes::DurationMicrosecondType>().value(i);
            let sign = if us < 0 { "-" } else { "" };
            let us = us.unsigned_abs();
            let s = us / 1_000_000;
            format!("{sign}{:02}:{:02}:{:02}.{:06}", s / 3600, s % 3600 / 60, s % 60, us % 1_000_000)
        }
        _ => arrow::util::display::array_value_to_string(array, i).expect("display"),
    }
}

#[tokio::test]
async fn every_type_round_trips_as_mariadb_returns_it() {
    let server = MariaDbServer::shared();
    server.create_database("types");
    server.sql("types", TYPES_DDL);
    let c = connector(server, "types").await;
    let batch = query(&c, "SELECT * FROM every_type ORDER BY id").await;
    assert_eq!(batch.num_rows(), 2);
    let expected_types = [
        ("c_tinyint", DataType::Int8),
        ("c_utinyint", DataType::UInt8),
        ("c_smallint", DataType::Int16),
        ("c_usmallint", DataType::UInt16),
        ("c_mediumint", DataType::Int32),
        ("c_int", DataType::Int32),
        ("c_uint", DataType::UInt32),
        ("c_bigint", DataType::Int64),
        ("c_ubigint", DataType::UInt64),
        ("c_float", DataType::Float32),
        ("c_double", DataType::Float64),
        ("c_decimal", DataType::Decimal128(12, 2)),
        ("c_wide_decimal", DataType::Utf8),
        ("c_char", DataType::Utf8),
        ("c_text", DataType::Utf8),
        ("c_blob", DataType::Binary),
        ("c_binary", DataType::Binary),
        ("c_date", DataType::Date32),
        ("c_time", DataType::Duration(TimeUnit::Microsecond)),
        ("c_datetime", DataType::Timestamp(TimeUnit::Microsecond, None)),
        ("c_timestamp", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
        ("c_year", DataType::UInt16),
        ("c_json", DataType::Utf8),
        ("c_enum", DataType::Utf8),
        ("c_set", DataType::Utf8),
        ("c_bit", DataType::UInt64),
        ("c_bool", DataType::Int8),
    ];
    for (name, ty) in &expected_types {
        let field = batch.schema().field_with_name(name).cloned().expect("field");
        assert_eq!(field.data_type(), ty, "{name}");
    }
    // What MariaDB itself returns, column by column, in the same session
    // time zone (UTC).
    let schema = batch.schema();
    let select: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Binary => format!("HEX({})", f.name()),
            _ if f.name() == "c_bit" => format!("{} + 0", f.name()),
            _ => f.name().clone(),
        })
        .collect();
    let text = server.sql(
        "types",
        &format!("SET time_zone = '+00:00'; SELECT {} FROM every_type ORDER BY id", select.join(", ")),
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    for (row, line) in text.lines().enumerate() {
        for (i, theirs) in line.split('\t').enumerate() {
            let ours = as_mariadb_text(batch.column(i).as_ref(), row);
            let name = schema.field(i).name();
            match schema.field(i).data_type() {
                DataType::Float32 | DataType::Float64 if theirs != "NULL" => {
                    let (a, b): (f64, f64) = (ours.parse().expect("ours"), theirs.parse().expect("theirs"));
                    assert!((a - b).abs() < 1e-6, "{name} row {row}: {ours} vs {theirs}");
                }
                _ => assert_eq!(ours, theirs, "{name} row {row}"),
            }
        }
    }
}

#[tokio::test]
async fn parameters_plan_and_writes() {
    let server = MariaDbServer::shared();
    server.create_database("params");
    server.sql("params", "CREATE TABLE t (id int PRIMARY KEY, name varchar(20), at datetime(6), day date)");
    server.sql("params", "INSERT INTO t VALUES (1, 'one', '2024-05-01 12:00:00.25', '2024-05-01'), (2, 'two', NULL, NULL)");
    let mut cfg = config(server, "params");
    cfg.allow_writes = true;
    let c = MySqlConnector::open("params", cfg).await.expect("opens");
    let q = c.as_query().expect("query");
    let request = QueryRequest {
        sql: "SELECT name FROM t WHERE id = ? AND at = ? AND day = ?".into(),
        params: vec![
            Param { name: None, value: ParamValue::Int64(1) },
            Param { name: None, value: ParamValue::TimestampMicros(1_714_564_800_250_000) },
            Param { name: None, value: ParamValue::Date32(19_844) },
        ],
        ..Default::default()
    };
    let batches = collect(&c, request.clone()).await.expect("runs");
    assert_eq!(batches[0].column(0).as_string::<i32>().value(0), "one");
    let schema = q.plan(&request).await.expect("plans");
    assert_eq!(schema.field(0).name(), "name");
    // Too few values.
    let mut short = request.clone();
    short.params.pop();
    let e = collect(&c, short).await.expect_err("two of three");
    assert_eq!(e.reason(), "BAD_PARAMETER", "{e}");
    // A write runs only when the request asks to write.
    let insert = QueryRequest {
        sql: "INSERT INTO t VALUES (?, 'three', NULL, NULL)".into(),
        params: vec![Param { name: None, value: ParamValue::Int64(3) }],
        access: AccessMode::ReadWrite,
        ..Default::default()
    };
    let out = collect(&c, insert.clone()).await.expect("writes");
    assert_eq!(out[0].column(0).as_primitive::<arrow::datatypes::UInt64Type>().value(0), 1);
    assert_eq!(server.sql("params", "SELECT COUNT(*) FROM t"), "3");
    let e = collect(&c, QueryRequest { access: AccessMode::ReadOnly, ..insert }).await.expect_err("read-only");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    let ddl = QueryRequest {
        sql: "CREATE TABLE u (id int)".into(),
        access: AccessMode::ReadWrite,
        ..Default::default()
    };
    assert_eq!(collect(&c, ddl.clone()).await.expect_err("rows only").reason(), "DDL_NOT_ALLOWED");
    collect(&c, QueryRequest { access: AccessMode::Ddl, ..ddl }).await.expect("ddl with the right");
    assert_eq!(server.sql("params", "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'params'"), "2");
}

/// Statements a read-only request must never run, in MySQL's dialect.
const CORPUS: &[&str] = &[
    "INSERT INTO t VALUES (9)",
    "INSERT INTO t SELECT id + 100 FROM t",
    "REPLACE INTO t VALUES (1)",
    "UPDATE t SET id = id + 1",
    "DELETE FROM t",
    "TRUNCATE TABLE t",
    "DROP TABLE t",
    "DROP DATABASE ro",
    "CREATE TABLE x (id int)",
    "CREATE TEMPORARY TABLE x (id int)",
    "CREATE TABLE x AS SELECT * FROM t",
    "CREATE VIEW v AS SELECT * FROM t",
    "CREATE INDEX i ON t (id)",
    "CREATE DATABASE other",
    "CREATE USER evil IDENTIFIED BY 'x'",
    "ALTER TABLE t ADD COLUMN y int",
    "RENAME TABLE t TO t2",
    "GRANT ALL ON *.* TO 'dmesh'@'%'",
    "SET GLOBAL read_only = 0",
    "SET SESSION sql_mode = ''",
    "SET @a = 1",
    "SELECT @a := 1",
    "SELECT id, @s := id FROM t",
    "SELECT * FROM t INTO OUTFILE '/tmp/dmesh-outfile'",
    "SELECT * FROM t INTO DUMPFILE '/tmp/dmesh-dumpfile'",
    "LOAD DATA INFILE '/etc/hostname' INTO TABLE t",
    "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE t",
    "SELECT LOAD_FILE('/etc/passwd')",
    "SELECT * FROM t FOR UPDATE",
    "SELECT * FROM t LOCK IN SHARE MODE",
    "SELECT GET_LOCK('dmesh', 1)",
    "SELECT SLEEP(30)",
    "SELECT BENCHMARK(100000000, MD5('x'))",
    "LOCK TABLES t WRITE",
    "UNLOCK TABLES",
    "START TRANSACTION",
    "COMMIT",
    "FLUSH TABLES",
    "KILL 1",
    "CALL p()",
    "DO SLEEP(1)",
    "HANDLER t OPEN",
    "OPTIMIZE TABLE t",
    "ANALYZE TABLE t",
    "INSTALL PLUGIN x SONAME 'x.so'",
    "SELECT 1; DROP TABLE t",
    "PREPARE s FROM 'DROP TABLE t'",
];

#[tokio::test]
async fn the_read_only_corpus_is_refused_and_changes_nothing() {
    let server = MariaDbServer::shared();
    server.create_database("ro");
    server.sql("ro", "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3)");
    let state = || {
        server.sql(
            "ro",
            "SELECT CONCAT((SELECT GROUP_CONCAT(id ORDER BY id) FROM ro.t), '|', \
             (SELECT GROUP_CONCAT(table_name ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'ro'), '|', \
             (SELECT COUNT(*) FROM information_schema.schemata), '|', (SELECT COUNT(*) FROM mysql.user), '|', \
             @@global.read_only)",
        )
    };
    let before = state();
    let c = connector(server, "ro").await;
    assert!(CORPUS.len() >= 40);
    for sql in CORPUS {
        let e = collect(&c, QueryRequest::read_only(*sql)).await.expect_err(sql);
        assert!(
            matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::InvalidArgument),
            "{sql}: {e}"
        );
    }
    assert_eq!(state(), before);
    assert!(!std::path::Path::new("/tmp/dmesh-outfile").exists());

    // With the parser layer off, the READ ONLY transaction still refuses
    // row changes and locking reads of the same corpus.
    let mut cfg = config(server, "ro");
    cfg.check_statements = false;
    let unchecked = MySqlConnector::open("ro-unchecked", cfg).await.expect("opens");
    for sql in ["INSERT INTO t VALUES (9)", "UPDATE t SET id = id + 1", "DELETE FROM t", "REPLACE INTO t VALUES (1)"] {
        let e = collect(&unchecked, QueryRequest::read_only(sql)).await.expect_err(sql);
        assert_eq!(e.reason(), "READ_ONLY", "{sql}: {e}");
    }
    assert_eq!(state(), before);
    // Reads run.
    let b = query(&c, "SELECT COUNT(*) AS n FROM t").await;
    assert_eq!(b.column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0), 3);
    let b = query(&c, "SHOW TABLES").await;
    assert_eq!(b.num_rows(), 1);
}

#[tokio::test]
async fn time_limits_and_cancellation_reach_the_server() {
    let server = MariaDbServer::shared();
    server.create_database("slow");
    let c = connector(server, "slow").await;
    // A statement that would run for minutes stops at the request's limit.
    let slow = "SELECT COUNT(*) FROM seq_1_to_100000 a, seq_1_to_100000 b";
    let started = Instant::now();
    let request = QueryRequest {
        sql: slow.into(),
        limits: Limits {
            timeout: Some(Duration::from_millis(500)),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = collect(&c, request).await.expect_err("too slow");
    assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    // A client that leaves gets its statement killed on the server.
    let big = "SELECT a.seq, b.seq FROM seq_1_to_100000 a, seq_1_to_100000 b";
    let mut stream = c.as_query().expect("query").execute(QueryRequest::read_only(big)).await.expect("starts");
    let first = stream.next().await.expect("a batch").expect("rows");
    assert!(first.num_rows() > 0);
    drop(stream);
    let running = || {
        server.sql(
            "",
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT a.seq, b.seq%'",
        )
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    while running() != "0" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(running(), "0", "the statement still runs a second after the client left");
    // The pool still serves.
    let b = query(&c, "SELECT 1 AS one").await;
    assert_eq!(b.num_rows(), 1);
}

#[tokio::test]
async fn catalog_lists_keys_comments_and_search() {
    let server = MariaDbServer::shared();
    server.create_database("shop");
    server.sql(
        "shop",
        "CREATE TABLE customers (id int PRIMARY KEY, email varchar(80) NOT NULL COMMENT 'where receipts go') \
         COMMENT 'people who buy'; \
         CREATE TABLE orders (id int, line int, customer_id int NOT NULL, total decimal(10,2) DEFAULT 0, \
         PRIMARY KEY (id, line), CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)); \
         CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100",
    );
    let c = connector(server, "shop").await;
    let q = c.as_query().expect("query");
    let tables = q
        .list_tables(&TableFilter {
            schema: Some("shop".into()),
        })
        .await
        .expect("lists");
    let names: Vec<&str> = tables.iter().map(|t| t.table.name.as_str()).collect();
    assert_eq!(names, ["big_orders", "customers", "orders"]);
    assert_eq!(tables[0].table_type, dmesh_connector_api::TableType::View);
    assert_eq!(tables[1].description.as_deref(), Some("people who buy"));

    let cat = c.as_catalog().expect("catalog");
    let meta = cat.get_table_metadata(&TableRef::bare("orders")).await.expect("metadata");
    assert_eq!(meta.primary_key, ["id", "line"]);
    assert_eq!(meta.foreign_keys.len(), 1);
    assert_eq!(meta.foreign_keys[0].columns, ["customer_id"]);
    assert_eq!(meta.foreign_keys[0].referenced_table.name, "customers");
    assert_eq!(meta.foreign_keys[0].referenced_columns, ["id"]);
    let total = meta.columns.iter().find(|c| c.name == "total").expect("total");
    assert_eq!(total.arrow_type, "Decimal128(10, 2)");
    assert_eq!(total.source_type.as_deref(), Some("decimal(10,2)"));
    let customers = cat.get_table_metadata(&TableRef::bare("customers")).await.expect("metadata");
    let email = customers.columns.iter().find(|c| c.name == "email").expect("email");
    assert_eq!(email.description.as_deref(), Some("where receipts go"));
    assert!(!email.nullable);

    let hits = cat.search_tables("receipts", 5).await.expect("search");
    assert_eq!(hits[0].table.table.name, "customers");
    assert_eq!(hits[0].matched_columns, ["email"]);
    let e = q.get_schema(&TableRef::bare("nope")).await.expect_err("missing");
    assert_eq!(e.reason(), "TABLE_NOT_FOUND");
    let schemas = cat.list_schemas(None).await.expect("schemas");
    assert!(schemas.iter().any(|s| s.name == "shop"));
    assert!(!schemas.iter().any(|s| s.name == "mysql"));
    let plan = q
        .explain(&QueryRequest::read_only("SELECT * FROM orders WHERE id = 1"), false)
        .await
        .expect("explains");
    assert!(plan.plan.contains("orders"), "{}", plan.plan);
}

#[tokio::test]
async fn errors_are_clear_and_keep_the_password_out() {
    let server = MariaDbServer::shared();
    server.create_database("errs");
    let c = connector(server, "errs").await;
    let e = collect(&c, QueryRequest::read_only("SELECT * FROM missing")).await.expect_err("no table");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = collect(&c, QueryRequest::read_only("SELEC 1")).await.expect_err("syntax");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let mut cfg = config(server, "errs");
    cfg.password = Some(SecretRef::new("wrong-dmesh-canary-mariadb"));
    let bad = MySqlConnector::open("bad", cfg).await.expect("opens lazily");
    let e = collect(&bad, QueryRequest::read_only("SELECT 1")).await.expect_err("bad password");
    assert_eq!(e.reason(), "SOURCE_AUTH_FAILED", "{e}");
    assert!(!e.to_string().contains("dmesh-canary"), "{e}");
    let report = bad.health_check().await;
    assert!(!report.checks.iter().all(|c| c.ok));
    let report = c.health_check().await;
    assert!(report.checks.iter().all(|c| c.ok), "{:?}", report.checks);
    let e = MySqlConnector::open("dead", MySqlConfig::new("127.0.0.1", dmesh_testkit::free_port(), "x", "u"))
        .await
        .expect("opens lazily");
    let e = collect(&e, QueryRequest::read_only("SELECT 1")).await.expect_err("nothing listens");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn tls_is_verified() {
    let server = MariaDbServer::start_tls();
    server.create_database("secure");
    let mut cfg = config(&server, "secure");
    cfg.tls_mode = TlsMode::VerifyFull;
    cfg.tls_root_cert = Some(server.ca_cert());
    let c = MySqlConnector::open("tls", cfg.clone()).await.expect("opens");
    let b = query(&c, "SELECT VARIABLE_VALUE AS cipher FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'").await;
    assert!(!b.column(0).as_string::<i32>().value(0).is_empty(), "the session is encrypted");
    // Without the test CA the server's certificate is not trusted.
    cfg.tls_root_cert = None;
    let untrusted = MySqlConnector::open("untrusted", cfg).await.expect("opens");
    let e = collect(&untrusted, QueryRequest::read_only("SELECT 1")).await.expect_err("unknown CA");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    // A server without TLS is refused when TLS is required.
    let plain = MariaDbServer::shared();
    let mut cfg = config(plain, "mysql");
    cfg.tls_mode = TlsMode::Require;
    let c = MySqlConnector::open("no-tls", cfg).await.expect("opens");
    let e = collect(&c, QueryRequest::read_only("SELECT 1")).await.expect_err("no TLS");
    assert_eq!(e.reason(), "SOURCE_TLS_FAILED", "{e}");
}

#[tokio::test]
async fn the_compliance_checks_pass() {
    let server = MariaDbServer::shared();
    server.create_database("compliance");
    server.sql(
        "compliance",
        "CREATE TABLE compliance_items (id bigint PRIMARY KEY, name text, amount double); \
         INSERT INTO compliance_items VALUES (1, 'alpha', 1.5), (2, 'beta', NULL), (3, NULL, -2.25)",
    );
    let c = connector(server, "compliance").await;
    let fixture = dmesh_connector_api::compliance::Fixture {
        schema: "compliance".into(),
        delete: "DELETE FROM compliance_items".into(),
    };
    dmesh_connector_api::compliance::check_query_connector(&c, &fixture).await;
    dmesh_connector_api::compliance::check_catalog_connector(&c, &fixture).await;
}

#[tokio::test]
async fn a_ddl_request_leaves_nothing_in_the_pooled_session() {
    let server = MariaDbServer::shared();
    server.create_database("sessions");
    let mut cfg = config(server, "sessions");
    cfg.allow_writes = true;
    cfg.pool_size = 1;
    let c = MySqlConnector::open("sessions", cfg).await.expect("opens");
    let ddl = |sql: &str| QueryRequest {
        sql: sql.into(),
        access: AccessMode::Ddl,
        ..Default::default()
    };
    collect(&c, ddl("SET @leak = 42")).await.expect("a session variable");
    collect(&c, ddl("SET SESSION TRANSACTION READ WRITE")).await.expect("a session mode");
    collect(&c, ddl("CREATE TEMPORARY TABLE scratch (id int)")).await.expect("a temporary table");
    // The next caller, on the same (only) connection, sees none of it and
    // reads in a read-only session in UTC.
    let b = query(&c, "SELECT @leak IS NULL AS clean, @@session.time_zone AS tz").await;
    assert_eq!(b.column(0).as_primitive::<arrow::datatypes::Int32Type>().value(0), 1);
    assert_eq!(b.column(1).as_string::<i32>().value(0), "+00:00");
    let e = collect(&c, QueryRequest::read_only("SELECT * FROM scratch")).await.expect_err("gone");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let mut unchecked_cfg = config(server, "sessions");
    unchecked_cfg.check_statements = false;
    unchecked_cfg.pool_size = 1;
    let unchecked = MySqlConnector::open("sessions-unchecked", unchecked_cfg).await.expect("opens");
    server.sql("sessions", "CREATE TABLE t (id int)");
    let e = collect(&unchecked, QueryRequest::read_only("INSERT INTO t VALUES (1)")).await.expect_err("read-only");
    assert_eq!(e.reason(), "READ_ONLY", "{e}");
    assert_eq!(server.sql("sessions", "SELECT COUNT(*) FROM t"), "0");
}
