//! The `sqlite` connector against real SQLite files: every type with NULLs
//! compared with what SQLite itself returns, the read-only corpus refused
//! and, with the statement check off, the file left byte-for-byte
//! unchanged; time limits, writes by mode, and `:memory:`.

use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use dmesh_connector_api::{AccessMode, Connector, ErrorKind, Limits, Param, ParamValue, QueryConnector, QueryRequest};
use dmesh_connector_sqlite::{SqliteConfig, SqliteConnector};
use futures::StreamExt;

fn fixture(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("shop.db");
    let c = rusqlite::Connection::open(&path).expect("create");
    c.execute_batch(
        "CREATE TABLE items (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, note VARCHAR(20), price REAL, qty BIGINT,
            picture BLOB, active BOOLEAN, weight NUMERIC, added DATE, extra JSON);
         INSERT INTO items VALUES
            (1, 'lamp', 'bright', 19.5, 3, x'00ff', 1, 2.25, '2024-01-31', '{\"a\":1}'),
            (2, 'desk', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
            (3, 'chair', 'ünïcödé', -0.0, 9007199254740993, x'', 0, 7, '1999-12-31', '[]');
         CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 20;",
    )
    .expect("fixture");
    path
}

fn request(sql: &str) -> QueryRequest {
    QueryRequest {
        sql: sql.into(),
        ..Default::default()
    }
}

async fn rows(c: &SqliteConnector, r: QueryRequest) -> Result<Vec<RecordBatch>, dmesh_connector_api::Error> {
    let mut s = c.execute(r).await?;
    let mut out = Vec::new();
    while let Some(b) = s.next().await {
        out.push(b?);
    }
    Ok(out)
}

fn digest(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).expect("read the file")
}

#[tokio::test]
async fn every_type_round_trips_with_nulls_as_sqlite_returns_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fixture(dir.path());
    let c = SqliteConnector::open("shop", SqliteConfig::new(path.to_string_lossy())).expect("opens");
    let batches = rows(&c, request("SELECT *, id * 2 AS twice, 'x' || name AS tagged FROM items ORDER BY id"))
        .await
        .expect("query");
    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
    let types: Vec<(String, DataType)> = b.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    let expect = [
        ("id", DataType::Int64),
        ("name", DataType::Utf8),
        ("note", DataType::Utf8),
        ("price", DataType::Float64),
        ("qty", DataType::Int64),
        ("picture", DataType::Binary),
        ("active", DataType::Boolean),
        ("weight", DataType::Float64),
        ("added", DataType::Utf8),
        ("extra", DataType::Utf8),
        ("twice", DataType::Int64),
        ("tagged", DataType::Utf8),
    ];
    for ((n, t), (en, et)) in types.iter().zip(expect) {
        assert_eq!((n.as_str(), t), (en, &et));
    }
    // Compared with SQLite's own answer, value by value.
    let raw = rusqlite::Connection::open(&path).expect("open");
    let mut stmt = raw.prepare("SELECT * FROM items ORDER BY id").expect("prepare");
    let mut theirs = stmt.query([]).expect("query");
    let mut row = 0;
    while let Some(r) = theirs.next().expect("row") {
        let id: i64 = r.get(0).expect("id");
        assert_eq!(b.column(0).as_primitive::<Int64Type>().value(row), id);
        let name: String = r.get(1).expect("name");
        assert_eq!(b.column(1).as_string::<i32>().value(row), name);
        let note: Option<String> = r.get(2).expect("note");
        assert_eq!(b.column(2).is_null(row), note.is_none());
        if let Some(n) = note {
            assert_eq!(b.column(2).as_string::<i32>().value(row), n);
        }
        let price: Option<f64> = r.get(3).expect("price");
        assert_eq!(price.is_none(), b.column(3).is_null(row));
        if let Some(p) = price {
            assert_eq!(b.column(3).as_primitive::<Float64Type>().value(row).to_bits(), p.to_bits());
        }
        let qty: Option<i64> = r.get(4).expect("qty");
        assert_eq!(qty.is_none(), b.column(4).is_null(row));
        if let Some(q) = qty {
            assert_eq!(b.column(4).as_primitive::<Int64Type>().value(row), q);
        }
        let picture: Option<Vec<u8>> = r.get(5).expect("picture");
        assert_eq!(picture.is_none(), b.column(5).is_null(row));
        if let Some(p) = picture {
            assert_eq!(b.column(5).as_binary::<i32>().value(row), p.as_slice());
        }
        let active: Option<bool> = r.get(6).expect("active");
        assert_eq!(active.is_none(), b.column(6).is_null(row));
        if let Some(a) = active {
            assert_eq!(b.column(6).as_boolean().value(row), a);
        }
        let weight: Option<f64> = r.get(7).expect("weight");
        assert_eq!(weight.is_none(), b.column(7).is_null(row));
        if let Some(w) = weight {
            assert_eq!(b.column(7).as_primitive::<Float64Type>().value(row), w);
        }
        let added: Option<String> = r.get(8).expect("added");
        assert_eq!(added.is_none(), b.column(8).is_null(row));
        if let Some(a) = added {
            assert_eq!(b.column(8).as_string::<i32>().value(row), a);
        }
        row += 1;
    }
    assert_eq!(row, b.num_rows());
    // An integer no double holds exactly comes through exact.
    assert_eq!(b.column(4).as_primitive::<Int64Type>().value(2), 9_007_199_254_740_993);

    // Tables, views and declared schemas.
    let tables = c.list_tables(&Default::default()).await.expect("tables");
    let names: Vec<&str> = tables.iter().map(|t| t.table.name.as_str()).collect();
    assert_eq!(names, ["cheap", "items"]);
    let s = c.get_schema(&dmesh_connector_api::TableRef::parse("items")).await.expect("schema");
    assert_eq!(s.schema.field(1).data_type(), &DataType::Utf8);
    assert!(!s.schema.field(1).is_nullable(), "name is NOT NULL");
    assert_eq!(s.columns[2].source_type.as_deref(), Some("VARCHAR(20)"));
    let e = c.get_schema(&dmesh_connector_api::TableRef::parse("nope")).await.expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn parameters_bind_and_misfits_name_the_cast() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fixture(dir.path());
    let c = SqliteConnector::open("shop", SqliteConfig::new(path.to_string_lossy())).expect("opens");
    let mut r = request("SELECT name FROM items WHERE id > ?1 AND name <> ?2 ORDER BY id");
    r.params = vec![
        Param {
            name: None,
            value: ParamValue::Int64(1),
        },
        Param {
            name: None,
            value: ParamValue::Utf8("chair".into()),
        },
    ];
    let b = rows(&c, r).await.expect("bound");
    assert_eq!(b[0].column(0).as_string::<i32>().value(0), "desk");
    assert_eq!(b.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
    // Text in an INTEGER column cannot become an integer.
    let raw = rusqlite::Connection::open(&path).expect("open");
    raw.execute("INSERT INTO items (id, name, qty) VALUES (4, 'odd', 'many')", []).expect("insert");
    let e = rows(&c, request("SELECT qty FROM items ORDER BY id")).await.expect_err("misfit");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("column `qty`, row 4") && e.message().contains("CAST(qty AS TEXT)"), "{e}");
    let e = rows(&c, request("SELEC 1")).await.expect_err("syntax");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = rows(&c, request("SELECT * FROM nowhere")).await.expect_err("no table");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

/// Statements known to get past naive read-only checks, in SQLite's dialect.
const CORPUS: &[&str] = &[
    "INSERT INTO items (id, name) VALUES (10, 'x')",
    "insert into items (id, name) values (11, 'y')",
    "/* just a comment */ DELETE FROM items",
    "-- comment\nUPDATE items SET name = 'z'",
    "REPLACE INTO items (id, name) VALUES (1, 'r')",
    "INSERT OR REPLACE INTO items (id, name) VALUES (1, 'r')",
    "WITH x AS (SELECT 1) DELETE FROM items",
    "WITH x AS (SELECT 1) UPDATE items SET qty = 0",
    "DROP TABLE items",
    "DROP VIEW cheap",
    "CREATE TABLE t2 (a)",
    "CREATE TABLE t3 AS SELECT * FROM items",
    "CREATE INDEX i1 ON items (name)",
    "CREATE TRIGGER tr AFTER INSERT ON items BEGIN DELETE FROM items; END",
    "CREATE VIEW v2 AS SELECT 1",
    "CREATE TEMP TABLE tt (a)",
    "ALTER TABLE items ADD COLUMN z",
    "ALTER TABLE items RENAME TO goods",
    "ATTACH DATABASE 'other.db' AS other",
    "ATTACH 'file:other2.db?mode=rwc' AS o2",
    "DETACH DATABASE main",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT writefile('/tmp/dmesh-canary', 'x')",
    "SELECT readfile('/etc/passwd')",
    "PRAGMA query_only = 0",
    "PRAGMA query_only = OFF",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA writable_schema = 1",
    "PRAGMA user_version = 42",
    "PRAGMA foreign_keys = OFF",
    "VACUUM",
    "VACUUM INTO 'copy.db'",
    "REINDEX",
    "ANALYZE",
    "BEGIN",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "SAVEPOINT s",
    "SELECT 1; DELETE FROM items",
    "SELECT 1; PRAGMA query_only = 0; DELETE FROM items",
    "DELETE FROM items RETURNING *",
    "INSERT INTO items (id, name) SELECT id + 100, name FROM items",
];

#[tokio::test]
async fn the_read_only_corpus_is_refused_and_without_the_check_the_file_is_unchanged() {
    assert!(CORPUS.len() >= 40, "{}", CORPUS.len());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fixture(dir.path());
    let before = digest(&path);
    let c = SqliteConnector::open("shop", SqliteConfig::new(path.to_string_lossy())).expect("opens");
    for sql in CORPUS {
        let e = rows(&c, request(sql)).await.expect_err(sql);
        assert!(
            matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::InvalidArgument),
            "{sql}: {e}"
        );
    }
    assert_eq!(digest(&path), before);

    // With the statement check off, the connection itself holds.
    let mut config = SqliteConfig::new(path.to_string_lossy());
    config.check_statements = false;
    let unchecked = SqliteConnector::open("shop", config).expect("opens");
    let cwd_files = || std::fs::read_dir(dir.path()).expect("dir").count();
    let files_before = cwd_files();
    for sql in CORPUS {
        let _ = rows(&unchecked, request(sql)).await;
    }
    assert_eq!(digest(&path), before, "the database file changed");
    assert_eq!(cwd_files(), files_before, "a file appeared next to the database");
    assert!(!std::path::Path::new("/tmp/dmesh-canary").exists());
    let b = rows(&unchecked, request("SELECT count(*) FROM items")).await.expect("still readable");
    assert_eq!(b[0].column(0).as_primitive::<Int64Type>().value(0), 3);
}

#[tokio::test]
async fn a_statement_past_its_time_limit_is_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fixture(dir.path());
    let c = SqliteConnector::open("shop", SqliteConfig::new(path.to_string_lossy())).expect("opens");
    let mut r = request("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n");
    r.limits = Limits {
        timeout: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let started = Instant::now();
    let e = rows(&c, r).await.expect_err("endless");
    assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // Dropping a stream mid-way stops its reader (the next query runs at once).
    let s = c
        .execute(request("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n"))
        .await
        .expect("starts");
    drop(s);
    let b = rows(&c, request("SELECT 1")).await.expect("next");
    assert_eq!(b[0].num_rows(), 1);
}

#[tokio::test]
async fn writes_follow_the_access_mode_and_memory_databases_live_with_the_connector() {
    let mut config = SqliteConfig::new(":memory:");
    config.allow_writes = true;
    let c = SqliteConnector::open("mem", config).expect("opens");
    let with = |sql: &str, access: AccessMode| QueryRequest {
        sql: sql.into(),
        access,
        ..Default::default()
    };
    rows(&c, with("CREATE TABLE t (a INTEGER, b TEXT)", AccessMode::Ddl)).await.expect("ddl");
    let e = rows(&c, with("CREATE TABLE u (a)", AccessMode::ReadWrite)).await.expect_err("ddl needs the ddl mode");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    let b = rows(&c, with("INSERT INTO t VALUES (1, 'a'), (2, 'b')", AccessMode::ReadWrite)).await.expect("insert");
    assert_eq!(b[0].column(0).as_primitive::<Int64Type>().value(0), 2, "rows affected");
    let e = rows(&c, with("INSERT INTO t VALUES (3, 'c')", AccessMode::ReadOnly)).await.expect_err("read-only");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    let b = rows(&c, request("SELECT b FROM t ORDER BY a")).await.expect("read");
    assert_eq!(b[0].column(0).as_string::<i32>().value(1), "b");
    assert!(c.health_check().await.healthy());
    let e = SqliteConnector::open("x", SqliteConfig::new("/nonexistent/dir/file.db")).expect_err("missing file");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn the_compliance_checks_pass() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("compliance.db");
    let db = rusqlite::Connection::open(&path).expect("create");
    db.execute_batch(
        "CREATE TABLE compliance_items (id INTEGER PRIMARY KEY, name TEXT, amount DOUBLE);
         INSERT INTO compliance_items VALUES (1, 'alpha', 1.5), (2, 'beta', NULL), (3, NULL, -2.25);
         CREATE TABLE compliance_notes (id INTEGER PRIMARY KEY, item_id BIGINT REFERENCES compliance_items, body TEXT);",
    )
    .expect("fixture");
    drop(db);
    let c = SqliteConnector::open("compliance", SqliteConfig::new(path.display().to_string())).expect("opens");
    let fixture = dmesh_connector_api::compliance::Fixture {
        schema: "main".into(),
        delete: "DELETE FROM compliance_items".into(),
    };
    dmesh_connector_api::compliance::check_query_connector(&c, &fixture).await;
    dmesh_connector_api::compliance::check_catalog_connector(&c, &fixture).await;
    // SQLite's own catalog: keys from its pragmas.
    let meta = c
        .as_catalog()
        .expect("catalog")
        .get_table_metadata(&dmesh_connector_api::TableRef::bare("compliance_notes"))
        .await
        .expect("metadata");
    assert_eq!(meta.foreign_keys.len(), 1);
    assert_eq!(meta.foreign_keys[0].columns, ["item_id"]);
    assert_eq!(meta.foreign_keys[0].referenced_table.name, "compliance_items");
    assert_eq!(meta.foreign_keys[0].referenced_columns, ["id"]);
}
