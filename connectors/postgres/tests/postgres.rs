//! The `postgres` connector against a real PostgreSQL cluster started by the
//! test (see `dmesh-testkit`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, IntervalMonthDayNanoArray, ListArray, StringArray, Time64MicrosecondArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use dmesh_connector_api::{
    AccessMode, Connector, ErrorKind, Limits, Param, ParamValue, QueryRequest,
    SecretRef, TableFilter, TableRef, TableType,
};
use dmesh_connector_postgres::{PostgresConfig, PostgresConnector, TlsMode};
use dmesh_testkit::{PgServer, SUPERUSER, SUPERUSER_PASSWORD};
use futures::StreamExt;

fn config(server: &PgServer, database: &str, app: &str) -> PostgresConfig {
    let mut c = PostgresConfig::new("127.0.0.1", server.port, database, SUPERUSER);
    c.password = Some(SecretRef::new(SUPERUSER_PASSWORD));
    c.tls_mode = TlsMode::Disable;
    c.application_name = app.to_owned();
    c
}

async fn connector(server: &PgServer, database: &str, app: &str) -> PostgresConnector {
    PostgresConnector::open(app, config(server, database, app)).await.expect("opens")
}

async fn collect(c: &PostgresConnector, request: QueryRequest) -> dmesh_connector_api::Result<Vec<RecordBatch>> {
    let mut stream = c.as_query().expect("query").execute(request).await?;
    let mut out = Vec::new();
    while let Some(b) = stream.next().await {
        out.push(b?);
    }
    Ok(out)
}

async fn query(c: &PostgresConnector, sql: &str) -> RecordBatch {
    let batches = collect(c, QueryRequest::read_only(sql)).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty()));
    arrow::compute::concat_batches(&schema, &batches).expect("concat")
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("column {name} has type {}", batch.column_by_name(name).map(|c| c.data_type().to_string()).unwrap_or_default()))
}

const TYPES_DDL: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE TABLE every_type (
  id int PRIMARY KEY,
  c_smallint smallint, c_integer integer, c_bigint bigint,
  c_real real, c_double double precision,
  c_numeric numeric(12,2), c_numeric_free numeric,
  c_text text, c_varchar varchar(20), c_char char(5), c_bool bool,
  c_date date, c_time time, c_timestamp timestamp, c_timestamptz timestamptz,
  c_interval interval, c_uuid uuid, c_json json, c_jsonb jsonb, c_bytea bytea,
  c_int_array int[], c_text_array text[], c_numeric_array numeric(6,1)[],
  c_enum mood, c_domain positive_int
);
INSERT INTO every_type VALUES
 (1, -32768, -2147483648, -9223372036854775808, 1.5, -2.25,
  -1234567890.12, 3.14159265358979323846264338327950288419716939937510,
  'héllo ✓', 'var', 'ab', true,
  '1999-12-31', '23:59:59.999999', '2024-02-29 12:34:56.789012', '2024-06-01 12:00:00+02',
  '1 year 2 months 3 days 04:05:06.000007', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"a": [1, 2]}', '{"b": null}', '\x00ff10',
  '{1,NULL,3}', '{"x","y z",NULL}', '{1.5,-2.0}',
  'happy', 42),
 (2, 32767, 2147483647, 9223372036854775807, 'NaN', 'Infinity',
  9999999999.99, 'NaN',
  '', 'v', 'abcde', false,
  '1970-01-01', '00:00:00', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00',
  '-1 days', '00000000-0000-0000-0000-000000000000',
  '[]', '[]', '\x',
  '{}', '{}', '{}',
  'sad', 1),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"#;

#[tokio::test]
async fn every_common_type_round_trips_with_nulls() {
    let server = PgServer::shared();
    server.create_database("types");
    server.psql("types", TYPES_DDL);
    let c = connector(server, "types", "types-test").await;
    let b = query(&c, "SELECT * FROM every_type ORDER BY id").await;
    assert_eq!(b.num_rows(), 3);

    // Every column of row 3 is NULL, and only there (row 2's values are all non-null).
    for (i, f) in b.schema().fields().iter().enumerate().skip(1) {
        let a = b.column(i);
        assert!(a.is_null(2), "{} row 3 should be NULL", f.name());
        assert!(!a.is_null(0) && !a.is_null(1), "{} rows 1-2 are not NULL", f.name());
    }

    assert_eq!(col::<Int16Array>(&b, "c_smallint").values()[..2], [-32768, 32767]);
    assert_eq!(col::<Int32Array>(&b, "c_integer").values()[..2], [i32::MIN, i32::MAX]);
    assert_eq!(col::<Int64Array>(&b, "c_bigint").values()[..2], [i64::MIN, i64::MAX]);
    assert_eq!(col::<Float32Array>(&b, "c_real").value(0), 1.5);
    assert!(col::<Float32Array>(&b, "c_real").value(1).is_nan());
    assert_eq!(col::<Float64Array>(&b, "c_double").value(0), -2.25);
    assert_eq!(col::<Float64Array>(&b, "c_double").value(1), f64::INFINITY);

    let num = col::<Decimal128Array>(&b, "c_numeric");
    assert_eq!(num.data_type(), &DataType::Decimal128(12, 2));
    assert_eq!(num.value(0), -123_456_789_012);
    assert_eq!(num.value(1), 999_999_999_999);
    let free = col::<StringArray>(&b, "c_numeric_free");
    assert_eq!(free.value(0), "3.14159265358979323846264338327950288419716939937510");
    assert_eq!(free.value(1), "NaN");

    let text = col::<StringArray>(&b, "c_text");
    assert_eq!(text.value(0), "héllo ✓");
    assert_eq!(text.value(1), "");
    assert_eq!(col::<StringArray>(&b, "c_varchar").value(0), "var");
    assert_eq!(col::<StringArray>(&b, "c_char").value(0), "ab   ", "char(n) keeps its padding");
    let bools = col::<BooleanArray>(&b, "c_bool");
    assert!(bools.value(0) && !bools.value(1));

    let dates = col::<Date32Array>(&b, "c_date");
    assert_eq!(dates.value(0), 10_956);
    assert_eq!(dates.value(1), 0);
    assert_eq!(col::<Time64MicrosecondArray>(&b, "c_time").value(0), 86_399_999_999);
    let ts = col::<TimestampMicrosecondArray>(&b, "c_timestamp");
    assert_eq!(ts.data_type(), &DataType::Timestamp(TimeUnit::Microsecond, None));
    assert_eq!(ts.value(0), 1_709_210_096_789_012);
    assert_eq!(ts.value(1), 0);
    let tstz = col::<TimestampMicrosecondArray>(&b, "c_timestamptz");
    assert_eq!(tstz.data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
    assert_eq!(tstz.value(0), 1_717_236_000_000_000, "12:00+02 is 10:00 UTC");

    let iv = col::<IntervalMonthDayNanoArray>(&b, "c_interval");
    assert_eq!(iv.value(0).months, 14);
    assert_eq!(iv.value(0).days, 3);
    assert_eq!(iv.value(0).nanoseconds, (4 * 3600 + 5 * 60 + 6) * 1_000_000_000 + 7_000);
    assert_eq!(iv.value(1).days, -1);

    let uuid = col::<FixedSizeBinaryArray>(&b, "c_uuid");
    assert_eq!(uuid.value(0)[..4], [0xa0, 0xee, 0xbc, 0x99]);
    assert_eq!(
        b.schema().field_with_name("c_uuid").expect("uuid").metadata().get("ARROW:extension:name").map(String::as_str),
        Some("arrow.uuid")
    );
    assert_eq!(col::<StringArray>(&b, "c_json").value(0), r#"{"a": [1, 2]}"#);
    assert_eq!(col::<StringArray>(&b, "c_jsonb").value(0), r#"{"b": null}"#);
    let bytes = col::<BinaryArray>(&b, "c_bytea");
    assert_eq!(bytes.value(0), [0x00, 0xff, 0x10]);
    assert!(bytes.value(1).is_empty());

    let ints = col::<ListArray>(&b, "c_int_array");
    let first = ints.value(0);
    let first = first.as_any().downcast_ref::<Int32Array>().expect("int list");
    assert_eq!(first.len(), 3);
    assert_eq!((first.value(0), first.is_null(1), first.value(2)), (1, true, 3));
    assert_eq!(ints.value(1).len(), 0, "empty array");
    let texts = col::<ListArray>(&b, "c_text_array").value(0);
    let texts = texts.as_any().downcast_ref::<StringArray>().expect("text list");
    assert_eq!((texts.value(1), texts.is_null(2)), ("y z", true));
    let nums = col::<ListArray>(&b, "c_numeric_array").value(0);
    let nums = nums.as_any().downcast_ref::<Decimal128Array>().expect("numeric list");
    assert_eq!((nums.value(0), nums.value(1)), (15, -20));

    assert_eq!(col::<StringArray>(&b, "c_enum").value(0), "happy");
    assert_eq!(col::<Int32Array>(&b, "c_domain").value(0), 42);
}

#[tokio::test]
async fn unmappable_types_and_values_fail_clearly() {
    let server = PgServer::shared();
    let c = connector(server, "postgres", "unmapped-test").await;
    let e = collect(&c, QueryRequest::read_only("SELECT '10.0.0.1'::inet AS addr")).await.expect_err("inet");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("addr") && e.message().contains("::text"), "{e}");
    // Cast as the error suggests, and it works.
    let b = query(&c, "SELECT '10.0.0.1'::inet::text AS addr").await;
    assert_eq!(col::<StringArray>(&b, "addr").value(0), "10.0.0.1/32");

    let e = collect(&c, QueryRequest::read_only("SELECT 'infinity'::date AS d")).await.expect_err("infinity");
    assert!(e.message().contains("infinity") && e.message().contains("`d`"), "{e}");
    let e = collect(&c, QueryRequest::read_only("SELECT '{{1,2},{3,4}}'::int[] AS m")).await.expect_err("2-D");
    assert!(e.message().contains("one-dimensional"), "{e}");
}

#[tokio::test]
async fn parameters_are_bound_by_the_server() {
    let server = PgServer::shared();
    server.create_database("params");
    server.psql(
        "params",
        "CREATE TABLE p (id int, name text, price numeric(8,2), day date, at timestamptz, ok bool);
         INSERT INTO p VALUES (1, 'a', 1.50, '2024-01-01', '2024-01-01 00:00:00+00', true),
                              (2, 'b''; DROP TABLE p; --', 2.25, '2024-01-02', '2024-01-02 00:00:00+00', false);",
    );
    let c = connector(server, "params", "params-test").await;
    let p = |v: ParamValue| Param { name: None, value: v };
    let request = QueryRequest {
        sql: "SELECT id, name FROM p WHERE id >= $1 AND name = $2 AND price < $3 AND day = $4 AND at >= $5 AND ok = $6".into(),
        params: vec![
            p(ParamValue::Int64(2)),
            p(ParamValue::Utf8("b'; DROP TABLE p; --".into())),
            p(ParamValue::Decimal("3.00".into())),
            p(ParamValue::Utf8("2024-01-02".into())),
            p(ParamValue::TimestampMicros(1_704_153_600_000_000)),
            p(ParamValue::Bool(false)),
        ],
        ..Default::default()
    };
    let batches = collect(&c, request).await.expect("runs");
    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
    assert_eq!(b.num_rows(), 1);
    assert_eq!(col::<Int32Array>(&b, "id").value(0), 2);
    assert_eq!(server.psql("params", "SELECT count(*) FROM p"), "2", "the quote in the value did nothing");

    let wrong_count = QueryRequest {
        sql: "SELECT * FROM p WHERE id = $1".into(),
        ..Default::default()
    };
    let e = collect(&c, wrong_count).await.expect_err("missing parameter");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("1 parameter"), "{e}");
    let overflow = QueryRequest {
        sql: "SELECT * FROM p WHERE id = $1".into(),
        params: vec![p(ParamValue::Int64(1 << 40))],
        ..Default::default()
    };
    let e = collect(&c, overflow).await.expect_err("too big for int4");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.message().contains("$1") && e.message().contains("out of range"), "{e}");
}

#[tokio::test]
async fn large_reads_split_into_ranges_and_match_postgres() {
    let server = PgServer::shared();
    server.create_database("big");
    server.psql(
        "big",
        "CREATE TABLE t (id bigint PRIMARY KEY, v text, x float8);
         INSERT INTO t SELECT i, md5(i::text), i * 0.5 FROM generate_series(1, 300000) i;
         ANALYZE t;",
    );
    let expected_sum: i64 = server.psql("big", "SELECT sum(id) FROM t").parse().expect("sum");
    let expected_md5 = server.psql("big", "SELECT md5(string_agg(v, '' ORDER BY id)) FROM t");
    for parallel in [1usize, 3] {
        let mut cfg = config(server, "big", &format!("big-{parallel}"));
        cfg.parallel_reads = parallel;
        cfg.parallel_read_threshold = "1MiB".into();
        let c = PostgresConnector::open("big", cfg).await.expect("opens");
        let batches = collect(&c, QueryRequest::read_only("SELECT id, v, x FROM t")).await.expect("reads");
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 300_000, "parallel_reads = {parallel}");
        assert_eq!(c.stats().parallel_reads, u64::from(parallel > 1), "{:?}", c.stats());
        let mut pairs: Vec<(i64, String)> = Vec::with_capacity(rows);
        for b in &batches {
            assert!(b.num_rows() <= 65_536);
            let ids = col::<Int64Array>(b, "id");
            let vs = col::<StringArray>(b, "v");
            for i in 0..b.num_rows() {
                pairs.push((ids.value(i), vs.value(i).to_owned()));
            }
        }
        assert_eq!(pairs.iter().map(|p| p.0).sum::<i64>(), expected_sum);
        pairs.sort();
        pairs.dedup_by_key(|p| p.0);
        assert_eq!(pairs.len(), 300_000, "no row twice");
        let all: String = pairs.into_iter().map(|p| p.1).collect();
        let digest = server.psql("postgres", &format!("SELECT md5('{all}')"));
        assert_eq!(digest, expected_md5, "parallel_reads = {parallel}");
    }
}

#[tokio::test]
async fn read_only_holds_at_the_parser_and_in_the_transaction() {
    let server = PgServer::shared();
    server.create_database("ro");
    server.psql("ro", "CREATE TABLE t (id int); INSERT INTO t VALUES (1); CREATE SEQUENCE s;");
    let c = connector(server, "ro", "ro-test").await;
    for sql in [
        "INSERT INTO t VALUES (2)",
        "DELETE FROM t",
        "DROP TABLE t",
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "SET default_transaction_read_only = off",
    ] {
        let e = collect(&c, QueryRequest::read_only(sql)).await.expect_err(sql);
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{sql}: {e}");
    }
    let e = collect(&c, QueryRequest::read_only("SELECT 1; DROP TABLE t")).await.expect_err("two");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // A query the parser accepts but that writes is stopped by READ ONLY.
    let e = collect(&c, QueryRequest::read_only("SELECT nextval('s')")).await.expect_err("nextval writes");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.message().contains("read-only"), "{e}");
    // A writer on a connector without allow_writes is still refused.
    let write = QueryRequest {
        sql: "INSERT INTO t VALUES (3)".into(),
        access: AccessMode::ReadWrite,
        ..Default::default()
    };
    assert_eq!(collect(&c, write.clone()).await.expect_err("not allowed").kind(), ErrorKind::PermissionDenied);
    assert_eq!(server.psql("ro", "SELECT count(*) FROM t"), "1");

    let mut cfg = config(server, "ro", "rw-test");
    cfg.allow_writes = true;
    let rw = PostgresConnector::open("rw", cfg).await.expect("opens");
    let b = collect(&rw, write).await.expect("writes");
    assert_eq!(col::<Int64Array>(&b[0], "rows_affected").value(0), 1);
    assert_eq!(server.psql("ro", "SELECT count(*) FROM t"), "2");
    // The same connector still reads read-only for read-only callers.
    let e = collect(&rw, QueryRequest::read_only("INSERT INTO t VALUES (4)")).await.expect_err("ro caller");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
}

#[tokio::test]
async fn bad_sql_gets_the_servers_message() {
    let server = PgServer::shared();
    let c = connector(server, "postgres", "badsql-test").await;
    let e = collect(&c, QueryRequest::read_only("SELECT * FROM no_such_table")).await.expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("no_such_table") && e.message().contains("42P01"), "{e}");
    let e = collect(&c, QueryRequest::read_only("SELEC 1")).await.expect_err("syntax");
    assert!(e.message().contains("syntax error"), "{e}");
    // The connection that saw the errors is healthy and reused.
    let b = query(&c, "SELECT 41 + 1 AS n").await;
    assert_eq!(col::<Int32Array>(&b, "n").value(0), 42);
}

#[tokio::test]
async fn the_catalog_describes_tables_keys_and_comments() {
    let server = PgServer::shared();
    server.create_database("cat");
    server.psql(
        "cat",
        "CREATE SCHEMA sales;
         COMMENT ON SCHEMA sales IS 'the sales schema';
         CREATE TABLE sales.customers (id int PRIMARY KEY, email text NOT NULL, created date DEFAULT current_date);
         CREATE TABLE sales.orders (id bigint, line int, customer int REFERENCES sales.customers (id),
                                    amount numeric(10,2), PRIMARY KEY (id, line));
         COMMENT ON TABLE sales.orders IS 'one row per order line';
         COMMENT ON COLUMN sales.orders.amount IS 'in euros';
         CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE amount > 100;
         INSERT INTO sales.customers SELECT i, 'c' || i || '@example.com' FROM generate_series(1, 50) i;
         ANALYZE sales.customers;",
    );
    let c = connector(server, "cat", "catalog-test").await;
    let q = c.as_query().expect("query");
    let tables = q
        .list_tables(&TableFilter {
            schema: Some("sales".into()),
        })
        .await
        .expect("lists");
    let names: Vec<&str> = tables.iter().map(|t| t.table.name.as_str()).collect();
    assert_eq!(names, ["big_orders", "customers", "orders"]);
    assert_eq!(tables[0].table_type, TableType::View);
    assert_eq!(tables[1].row_estimate, Some(50));
    assert_eq!(tables[2].description.as_deref(), Some("one row per order line"));

    let cat = c.as_catalog().expect("catalog");
    let schemas = cat.list_schemas(None).await.expect("schemas");
    assert!(schemas.iter().any(|s| s.name == "sales" && s.description.as_deref() == Some("the sales schema")));
    let m = cat
        .get_table_metadata(&TableRef::parse("sales.orders"))
        .await
        .expect("metadata");
    assert_eq!(m.primary_key, ["id", "line"]);
    assert_eq!(m.foreign_keys.len(), 1);
    assert_eq!(m.foreign_keys[0].columns, ["customer"]);
    assert_eq!(m.foreign_keys[0].referenced_table.name, "customers");
    assert_eq!(m.foreign_keys[0].referenced_columns, ["id"]);
    let amount = m.columns.iter().find(|c| c.name == "amount").expect("amount");
    assert_eq!(amount.source_type.as_deref(), Some("numeric(10,2)"));
    assert_eq!(amount.arrow_type, "Decimal128(10, 2)");
    assert_eq!(amount.description.as_deref(), Some("in euros"));
    let id = m.columns.iter().find(|c| c.name == "id").expect("id");
    assert!(!id.nullable);
    let customers = cat.get_table_metadata(&TableRef::parse("sales.customers")).await.expect("customers");
    let created = customers.columns.iter().find(|c| c.name == "created").expect("created");
    assert_eq!(created.default_expression.as_deref(), Some("CURRENT_DATE"));

    let schema = q.get_schema(&TableRef::parse("sales.customers")).await.expect("schema");
    assert!(!schema.schema.field_with_name("email").expect("email").is_nullable());
    let e = q.get_schema(&TableRef::parse("sales.nope")).await.expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::NotFound);

    let hits = cat.search_tables("euros", 10).await.expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].matched_columns, ["amount"]);
    // Search text is a value, not a pattern or SQL.
    assert!(cat.search_tables("%' OR 1=1 --", 10).await.expect("search").is_empty());
}

#[tokio::test]
async fn a_statement_past_its_deadline_is_cancelled_on_the_server() {
    let server = PgServer::shared();
    let c = connector(server, "postgres", "deadline-test").await;
    // The request's time limit becomes the statement timeout.
    let request = QueryRequest {
        sql: "SELECT pg_sleep(10)".into(),
        limits: Limits {
            timeout: Some(Duration::from_millis(500)),
            ..Default::default()
        },
        ..Default::default()
    };
    let started = Instant::now();
    let e = collect(&c, request).await.expect_err("times out");
    assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());

    // A client that stops reading and drops the stream cancels the query.
    let mut stream = c
        .as_query()
        .expect("query")
        .execute(QueryRequest::read_only("SELECT pg_sleep(10)"))
        .await
        .expect("starts");
    assert!(tokio::time::timeout(Duration::from_millis(300), stream.next()).await.is_err());
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let active = server.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'deadline-test' AND state = 'active'",
        );
        if active == "0" {
            break;
        }
        assert!(Instant::now() < deadline, "the backend still runs the abandoned query");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(c.stats().cancels >= 1, "{:?}", c.stats());
}

#[tokio::test]
async fn wrong_credentials_and_missing_databases_are_told_apart() {
    let server = PgServer::shared();
    server.psql(
        "postgres",
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reader') THEN \
         CREATE ROLE reader LOGIN PASSWORD 'right-password'; END IF; END $$;",
    );
    let mut cfg = config(server, "postgres", "auth-test");
    cfg.user = Some("reader".into());
    cfg.password = Some(SecretRef::new("wrong-canary-password"));
    let c = PostgresConnector::open("auth", cfg.clone()).await.expect("opens without connecting");
    let e = collect(&c, QueryRequest::read_only("SELECT 1")).await.expect_err("bad password");
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition, "{e}");
    assert!(e.message().contains("reader") && e.message().contains("password"), "{e}");
    assert!(!e.message().contains("wrong-canary-password"), "{e}");
    let report = c.health_check().await;
    assert!(!report.healthy());
    let failed = report.first_failure().expect("a failure");
    assert!(failed.name.contains("log in"), "{failed:?}");
    assert!(!failed.detail.contains("wrong-canary-password"));

    cfg.password = Some(SecretRef::new("right-password"));
    cfg.database = Some("no_such_db".into());
    let c = PostgresConnector::open("nodb", cfg.clone()).await.expect("opens");
    let report = c.health_check().await;
    let failed = report.first_failure().expect("a failure");
    assert!(failed.name.contains("open database"), "{failed:?}");
    assert!(failed.detail.contains("no_such_db"), "{failed:?}");

    cfg.database = Some("postgres".into());
    cfg.port = Some(dmesh_testkit::free_port());
    let c = PostgresConnector::open("noport", cfg.clone()).await.expect("opens");
    let report = c.health_check().await;
    let failed = report.first_failure().expect("a failure");
    assert!(failed.name.starts_with("reach"), "{failed:?}");
    assert!(failed.detail.contains("refused"), "{failed:?}");
    let e = collect(&c, QueryRequest::read_only("SELECT 1")).await.expect_err("no server");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.is_retryable());

    cfg.port = Some(server.port);
    let c = PostgresConnector::open("ok", cfg).await.expect("opens");
    let report = c.health_check().await;
    assert!(report.healthy(), "{report:?}");
    let role = report.checks.iter().find(|c| c.name == "role privileges").expect("a role check");
    // `reader` has no grants, but PUBLIC may create large objects by default.
    assert!(role.detail.contains("lo_from_bytea") && !role.detail.contains("superuser"), "{role:?}");

    // The superuser the other tests use is flagged.
    let su = connector(server, "postgres", "su-test").await;
    let report = su.health_check().await;
    let role = report.checks.iter().find(|c| c.name == "role privileges").expect("a role check");
    assert!(role.detail.starts_with("WARNING") && role.detail.contains("superuser"), "{role:?}");
}

#[tokio::test]
async fn a_slow_client_slows_the_read_instead_of_filling_memory() {
    let server = PgServer::shared();
    server.create_database("slow");
    server.psql(
        "slow",
        "CREATE TABLE t AS SELECT i AS id, repeat(md5(i::text), 8) AS v FROM generate_series(1, 400000) i",
    );
    let mut cfg = config(server, "slow", "slow-test");
    cfg.parallel_reads = 1;
    let c = PostgresConnector::open("slow", cfg).await.expect("opens");
    let mut stream = c
        .as_query()
        .expect("query")
        .execute(QueryRequest::read_only("SELECT id, v FROM t"))
        .await
        .expect("starts");
    let first = stream.next().await.expect("a batch").expect("ok");
    let mut rows = first.num_rows();
    // The client pauses: the server must be left waiting to write, not
    // finished with its ~110 MB result sitting in the gateway.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let waiting = server.psql(
        "postgres",
        "SELECT state || '/' || coalesce(wait_event, '') FROM pg_stat_activity WHERE application_name = 'slow-test'",
    );
    assert_eq!(waiting, "active/ClientWrite", "the backend should be blocked on the slow client");
    while let Some(b) = stream.next().await {
        rows += b.expect("ok").num_rows();
    }
    assert_eq!(rows, 400_000);
}

#[tokio::test]
async fn tls_is_used_and_the_server_certificate_is_verified() {
    let server = PgServer::start_tls();
    let ssl_in_use = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

    let mut cfg = config(&server, "postgres", "tls-test");
    cfg.tls_mode = TlsMode::VerifyFull;
    cfg.tls_root_cert = Some(server.ca_cert());
    let c = PostgresConnector::open("tls", cfg.clone()).await.expect("opens");
    let b = query(&c, ssl_in_use).await;
    assert!(col::<BooleanArray>(&b, "ssl").value(0), "the session is encrypted");

    // Without the test CA the certificate is not trusted, and the error says TLS.
    cfg.tls_root_cert = None;
    let c = PostgresConnector::open("untrusted", cfg.clone()).await.expect("opens");
    let e = collect(&c, QueryRequest::read_only("SELECT 1")).await.expect_err("untrusted certificate");
    assert!(e.message().contains("TLS") || e.message().contains("certificate"), "{e}");
    assert!(!e.is_retryable(), "a certificate problem does not go away by retrying: {e}");

    cfg.tls_mode = TlsMode::Disable;
    let c = PostgresConnector::open("plain", cfg).await.expect("opens");
    let b = query(&c, ssl_in_use).await;
    assert!(!col::<BooleanArray>(&b, "ssl").value(0));
}

#[tokio::test]
async fn the_compliance_checks_pass() {
    let server = PgServer::shared();
    server.create_database("compliance");
    server.psql(
        "compliance",
        "CREATE TABLE compliance_items (id bigint PRIMARY KEY, name text, amount double precision); \
         INSERT INTO compliance_items VALUES (1, 'alpha', 1.5), (2, 'beta', NULL), (3, NULL, -2.25)",
    );
    let c = connector(server, "compliance", "compliance").await;
    let fixture = dmesh_connector_api::compliance::Fixture {
        schema: "public".into(),
        delete: "DELETE FROM compliance_items".into(),
    };
    dmesh_connector_api::compliance::check_query_connector(&c, &fixture).await;
    dmesh_connector_api::compliance::check_catalog_connector(&c, &fixture).await;
}
