//! Read-only in layers: statements known to defeat naive read-only checks
//! are refused by the statement check; with the check switched off, the
//! READ ONLY transaction and a least-privileged role still leave the
//! database byte-for-byte unchanged.

use dmesh_connector_api::{Connector, ErrorKind, QueryRequest, SecretRef};
use dmesh_connector_postgres::{PostgresConfig, PostgresConnector, TlsMode};
use dmesh_testkit::PgServer;
use futures::StreamExt;

/// Each would write, escape the transaction, or reach outside the database.
const CORPUS: &[&str] = &[
    "COMMIT; DROP TABLE t",
    "SELECT 1; DELETE FROM t",
    "SeLeCt 1; dElEtE FROM t",
    "/* just a comment */ DELETE FROM t",
    "-- a comment\nDELETE FROM t",
    "  \n\tUPDATE t SET v = 'x'",
    "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
    "WITH u AS (UPDATE t SET v = 'x' RETURNING *) SELECT count(*) FROM u",
    "WITH i AS (INSERT INTO t VALUES (99, 'x') RETURNING *) SELECT 1",
    "INSERT INTO t VALUES (100, 'y')",
    "SET default_transaction_read_only = off",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "BEGIN READ WRITE",
    "START TRANSACTION READ WRITE",
    "COMMIT",
    "ROLLBACK",
    "COPY t TO PROGRAM 'touch /tmp/dmesh-canary-program'",
    "COPY (SELECT 1) TO '/tmp/dmesh-canary-file'",
    "COPY t FROM '/etc/hostname'",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT * FROM pg_ls_dir('.')",
    "SELECT pg_stat_file('postgresql.conf')",
    "SELECT lo_import('/etc/hostname')",
    "SELECT lo_from_bytea(0, 'x')",
    "SELECT lo_export(1, '/tmp/dmesh-canary-lo')",
    "SELECT dblink_exec('dbname=postgres', 'DROP TABLE t')",
    "SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS x(a int)",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_advisory_lock(1)",
    "SELECT pg_try_advisory_lock(1)",
    "SELECT pg_terminate_backend(pg_backend_pid())",
    "SELECT pg_cancel_backend(1)",
    "SELECT pg_reload_conf()",
    "SELECT pg_notify('channel', 'payload')",
    "SELECT nextval('s')",
    "SELECT setval('s', 1000)",
    "SELECT query_to_xml('DELETE FROM t', true, true, '')",
    "SELECT * FROM t FOR UPDATE",
    "SELECT * INTO t_copy FROM t",
    "CALL do_something()",
    "DO $$ BEGIN DELETE FROM t; END $$",
    "LOCK TABLE t",
    "EXPLAIN ANALYZE DELETE FROM t",
    "CREATE TABLE made_here (a int)",
    "DROP TABLE t",
    "TRUNCATE t",
    "ALTER TABLE t ADD COLUMN z int",
    "GRANT ALL ON t TO PUBLIC",
    "VACUUM t",
    "PREPARE wipe AS DELETE FROM t",
    "REFRESH MATERIALIZED VIEW mv",
    "DISCARD ALL",
    "RESET ALL",
];

/// Everything the corpus could change, as one digest.
const DIGEST: &str = "SELECT md5(
    coalesce((SELECT string_agg(t::text, ',' ORDER BY id) FROM t), '') || '|' ||
    (SELECT last_value FROM s)::text || '|' ||
    (SELECT count(*) FROM pg_largeobject_metadata)::text || '|' ||
    (SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class
       WHERE relnamespace = 'public'::regnamespace) || '|' ||
    (SELECT string_agg(attname, ',' ORDER BY attname) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0))";

async fn run(c: &PostgresConnector, sql: &str) -> dmesh_connector_api::Result<usize> {
    let mut stream = c.as_query().expect("query").execute(QueryRequest::read_only(sql)).await?;
    let mut rows = 0;
    while let Some(b) = stream.next().await {
        rows += b?.num_rows();
    }
    Ok(rows)
}

fn connector_config(server: &PgServer, check: bool) -> PostgresConfig {
    let mut c = PostgresConfig::new("127.0.0.1", server.port, "guard", "guard_reader");
    c.password = Some(SecretRef::new("guard-reader-password"));
    c.tls_mode = TlsMode::Disable;
    c.application_name = "guard-test".into();
    c.check_statements = check;
    c
}

#[tokio::test]
async fn the_bypass_corpus_is_refused_and_the_lower_layers_hold_alone() {
    assert!(CORPUS.len() >= 40);
    let server = PgServer::shared();
    server.create_database("guard");
    server.psql(
        "guard",
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT i, 'row ' || i FROM generate_series(1, 50) i;
         CREATE SEQUENCE s;
         CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM t;
         DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'guard_reader') THEN
           CREATE ROLE guard_reader LOGIN PASSWORD 'guard-reader-password'; END IF; END $$;
         GRANT SELECT ON t, mv TO guard_reader;
         GRANT USAGE ON SEQUENCE s TO guard_reader;
         -- PostgreSQL lets any role create large objects, even in a READ ONLY
         -- transaction (lo_from_bytea, lo_create): a least-privileged role
         -- must not have them.
         REVOKE EXECUTE ON FUNCTION lo_from_bytea(oid, bytea), lo_create(oid), lo_creat(integer) FROM PUBLIC;",
    );
    let before = server.psql("guard", DIGEST);

    // Layer 1: the statement check refuses every one, before the server sees it.
    let checked = PostgresConnector::open("guard", connector_config(server, true)).await.expect("opens");
    for sql in CORPUS {
        let e = run(&checked, sql).await.expect_err(sql);
        assert!(
            matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::InvalidArgument),
            "{sql}: {e}"
        );
        // The check's own reasons, not the server's.
        assert!(matches!(e.reason(), "READ_ONLY" | "ONE_STATEMENT"), "{sql}: {} {e}", e.reason());
    }
    // Reads still run.
    assert_eq!(run(&checked, "SELECT * FROM t WHERE id <= 10").await.expect("a read"), 10);

    // Layers 2 and 3 alone: READ ONLY transactions and a role that may only read.
    let unchecked = PostgresConnector::open("guard", connector_config(server, false)).await.expect("opens");
    let mut refused_by_server = 0;
    for sql in CORPUS {
        if run(&unchecked, sql).await.is_err() {
            refused_by_server += 1;
        }
    }
    // Most are refused; the rest (COMMIT, SET, advisory locks, ...) run but
    // change nothing stored.
    assert!(refused_by_server >= CORPUS.len() / 2, "the server refused only {refused_by_server}");
    assert_eq!(server.psql("guard", DIGEST), before, "the database changed");
    for canary in ["/tmp/dmesh-canary-program", "/tmp/dmesh-canary-file", "/tmp/dmesh-canary-lo"] {
        assert!(!std::path::Path::new(canary).exists(), "{canary} was written");
    }
}
