//! The `dmesh` binary, run as a user runs it: `dmesh serve` in one process,
//! CLI commands in others, checked on their real output.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_dmesh");

/// A `dmesh serve` process on a free port.
struct Server {
    child: Child,
    endpoint: String,
    log: mpsc::Receiver<String>,
}

impl Server {
    fn start(state_dir: &Path) -> Self {
        Self::start_with_env(state_dir, &[])
    }

    fn start_with_env(state_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_with(state_dir, env, &[])
    }

    fn start_with(state_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(state_dir)
            .args(args)
            .env_remove("DMESH_CONFIG")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dmesh serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let mut sink = dmesh_testkit::log_file("cli-serve");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(f) = sink.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                if tx.send(line).is_err() && sink.is_none() {
                    break;
                }
            }
        });
        let endpoint = loop {
            let line = rx.recv_timeout(Duration::from_secs(30)).expect("the gateway logs its address");
            if line.contains("dmesh gateway listening") {
                let addr = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .expect("addr= in the log line");
                break format!("http://{addr}");
            }
        };
        Self { child, endpoint, log: rx }
    }

    /// Everything the server has logged since it said where it listens.
    fn drain_log(&self) -> String {
        self.log.try_iter().collect::<Vec<_>>().join("\n")
    }

    fn dmesh(&self, args: &[&str]) -> Output {
        self.dmesh_in(args, Path::new("."))
    }

    fn dmesh_in(&self, args: &[&str], cwd: &Path) -> Output {
        let out = Command::new(BIN)
            .args(args)
            .env("DMESH_ENDPOINT", &self.endpoint)
            .current_dir(cwd)
            .output()
            .expect("dmesh runs");
        // Replies and errors go to the canary sweep too.
        if let Some(mut f) = dmesh_testkit::log_file("cli-command") {
            let _ = f.write_all(&out.stdout);
            let _ = f.write_all(&out.stderr);
        }
        out
    }

    /// SIGTERM, then a clean exit with the shutdown logged.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("waits");
        assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
        let rest: Vec<String> = self.log.try_iter().collect();
        assert!(rest.iter().any(|l| l.contains("gateway stopped")), "{rest:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

/// A failure: non-zero exit and one clear line, never a panic or a Debug dump.
fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8(out.stderr.clone()).expect("utf-8");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for bad in ["panicked", "Status {", "RUST_BACKTRACE", "Error {"] {
        assert!(!err.contains(bad), "{bad} in {err}");
    }
    err
}

#[test]
fn the_tour_works_against_a_real_gateway() {
    let state = tempfile::tempdir().expect("tempdir");
    let server = Server::start(state.path());

    let tables = ok(&server.dmesh(&["tables", "demo"]));
    for t in ["customers", "order_items", "orders", "products", "reviews"] {
        assert!(tables.contains(t), "{t} in {tables}");
    }
    assert!(tables.contains("(5 tables)"), "{tables}");

    let csv = ok(&server.dmesh(&[
        "query",
        "demo",
        "SELECT c.country, count(DISTINCT o.order_id) AS orders, sum(i.quantity * i.unit_price) AS revenue \
         FROM orders o JOIN customers c ON c.customer_id = o.customer_id \
         JOIN order_items i ON i.order_id = o.order_id GROUP BY c.country ORDER BY c.country",
        "--format",
        "csv",
    ]));
    let expected = common::revenue_by_country();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("country,orders,revenue"));
    let got: Vec<(String, usize, f64)> = lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].to_owned(), c[1].parse().expect("int"), c[2].parse().expect("float"))
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    for (country, orders, revenue) in got {
        let (n, rev) = expected[&country];
        assert_eq!(orders, n, "{country}");
        assert!((revenue - rev).abs() < 1e-6 * rev, "{country}: {revenue} vs {rev}");
    }

    let table = ok(&server.dmesh(&["query", "demo", "SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY status"]));
    assert!(table.contains("| status") && table.contains("delivered"), "{table}");
    assert!(table.trim_end().ends_with("(5 rows)"), "{table}");

    let json = ok(&server.dmesh(&["query", "demo", "SELECT product_id, in_stock FROM products ORDER BY product_id LIMIT 2", "--format", "json"]));
    let first: serde_json::Value = serde_json::from_str(json.lines().next().expect("a line")).expect("json line");
    assert_eq!(first["product_id"], 1);

    let limited = server.dmesh(&["query", "demo", "SELECT * FROM orders", "--format", "csv", "--limit", "7"]);
    let out = ok(&limited);
    assert_eq!(out.lines().count(), 8, "header and 7 rows");
    let note = String::from_utf8_lossy(&limited.stderr);
    assert!(note.contains("cut at max_rows = 7"), "{note}");

    let describe = ok(&server.dmesh(&["describe", "demo", "orders"]));
    assert!(describe.contains("order_date") && describe.contains("Date32"), "{describe}");
    let plan = ok(&server.dmesh(&["explain", "demo", "SELECT count(*) FROM orders"]));
    assert!(plan.contains("logical_plan") && plan.contains("physical_plan"), "{plan}");
    let kinds = ok(&server.dmesh(&["connector", "kinds"]));
    assert!(kinds.contains("files") && kinds.contains("--path (required)"), "{kinds}");
    let test = ok(&server.dmesh(&["connector", "test", "demo"]));
    assert!(test.contains("connector `demo` is healthy"), "{test}");
    server.stop();
}

#[test]
fn results_written_as_arrow_and_parquet_read_back() {
    let state = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let server = Server::start(state.path());
    let arrow_file = out.path().join("orders.arrow");
    let parquet_file = out.path().join("orders.parquet");
    let sql = "SELECT * FROM orders ORDER BY order_id";
    let r = server.dmesh(&["query", "demo", sql, "--format", "arrow", "--output", arrow_file.to_str().expect("utf-8")]);
    ok(&r);
    assert!(String::from_utf8_lossy(&r.stderr).contains("wrote 5000 rows"));
    ok(&server.dmesh(&["query", "demo", sql, "--format", "parquet", "--output", parquet_file.to_str().expect("utf-8")]));

    let reader = arrow::ipc::reader::StreamReader::try_new(std::fs::File::open(&arrow_file).expect("open"), None).expect("ipc");
    let batches: Vec<_> = reader.collect::<Result<_, _>>().expect("batches");
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5000);
    assert_eq!(common::strings(&batches, 0)[4999], "5000");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&parquet_file).expect("open"))
        .expect("parquet")
        .build()
        .expect("reader");
    let batches: Vec<_> = reader.collect::<Result<_, _>>().expect("batches");
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5000);
    server.stop();
}

#[test]
fn an_added_connector_survives_a_restart() {
    let state = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(work.path().join("more")).expect("mkdir");
    std::fs::write(work.path().join("more/pets.csv"), "name,legs\ncat,4\nbird,2\nsnake,0\n").expect("csv");

    let server = Server::start(state.path());
    // A relative path is resolved where the CLI runs, not where the gateway runs.
    let added = ok(&server.dmesh_in(&["connector", "add", "files", "--name", "more", "--path", "more"], work.path()));
    assert!(added.contains("added connector `more` (files: query, catalog)"), "{added}");
    let show = ok(&server.dmesh(&["connector", "show", "more"]));
    assert!(show.contains(&work.path().join("more").display().to_string()), "{show}");
    server.stop();

    let server = Server::start(state.path());
    let list = ok(&server.dmesh(&["connector", "list"]));
    assert!(list.contains("more") && list.contains("added") && list.contains("built-in"), "{list}");
    let legs = ok(&server.dmesh(&["query", "more", "SELECT sum(legs) AS legs FROM pets", "--format", "csv"]));
    assert_eq!(legs, "legs\n6\n");
    let removed = ok(&server.dmesh(&["connector", "remove", "more"]));
    assert_eq!(removed.trim(), "removed connector `more`");
    fails(&server.dmesh(&["tables", "more"]));
    server.stop();
}

#[test]
fn failures_exit_non_zero_with_one_clear_line() {
    let state = tempfile::tempdir().expect("tempdir");
    let server = Server::start(state.path());
    let cases: &[(&[&str], &str)] = &[
        (&["query", "demo", "SELEC 1"], "SQL syntax error"),
        (&["query", "nope", "SELECT 1"], "connector `nope` not found; known connectors: demo [NOT_FOUND]"),
        (&["query", "demo", "DROP TABLE orders"], "[PERMISSION_DENIED]"),
        (&["query", "demo", "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'"], "not allowed"),
        (&["connector", "add", "warehouse9", "--name", "x", "--path", "/tmp"], "unknown connector kind `warehouse9`"),
        (&["connector", "add", "files", "--name", "x"], "missing required field --path"),
        (&["connector", "add", "files", "--name", "x", "--path", "/tmp", "--pth", "/x"], "unknown field --pth"),
        (
            &["connector", "add", "files", "--name", "x", "--path", "/tmp", "--csv-has-header", "maybe"],
            "--csv-has-header expects true or false",
        ),
        (&["connector", "add", "files", "--name", "x", "--path", "/no/such/dir"], "does not exist"),
        (&["connector", "remove", "demo"], "cannot be removed"),
        (&["describe", "demo", "nope"], "table `nope` not found"),
        (&["--endpoint", "http://127.0.0.1:1", "tables", "demo"], "cannot reach the gateway"),
    ];
    for (args, expect) in cases {
        let err = fails(&server.dmesh(args));
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    server.stop();
}

#[test]
fn without_authentication_it_listens_on_loopback_only() {
    let state = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--state-dir"])
        .arg(state.path())
        .env_remove("DMESH_CONFIG")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0:0") && err.contains("--allow-unauthenticated-remote"), "{err}");
}

#[test]
fn help_describes_every_command() {
    let out = Command::new(BIN).arg("--help").output().expect("runs");
    let help = ok(&out);
    for cmd in ["serve", "connector", "query", "tables", "describe", "explain", "token", "role", "whoami", "status"] {
        assert!(help.contains(cmd), "{cmd} in {help}");
    }
    let out = Command::new(BIN).args(["query", "--help"]).output().expect("runs");
    let help = ok(&out);
    assert!(help.contains("--format") && help.contains("parquet") && help.contains("--limit"), "{help}");
}

#[test]
fn a_postgres_connector_added_from_the_cli_queries_and_tells_failures_apart() {
    let pg = dmesh_testkit::PgServer::shared();
    pg.create_database("warehouse");
    pg.psql(
        "warehouse",
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wh_reader') THEN \
           CREATE ROLE wh_reader LOGIN PASSWORD 'wh-secret-canary'; END IF; END $$; \
         CREATE TABLE sales (id int PRIMARY KEY, region text NOT NULL, amount numeric(10,2)); \
         INSERT INTO sales SELECT i, CASE WHEN i % 2 = 0 THEN 'north' ELSE 'south' END, i * 1.25 \
           FROM generate_series(1, 1000) i; \
         GRANT SELECT ON sales TO wh_reader;",
    );
    let state = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_env(state.path(), &[("PGPASSWORD", "wh-secret-canary")]);
    let port = pg.port.to_string();
    let add = |name: &str, port: &str, database: &str, password: &str| {
        server.dmesh(&[
            "connector", "add", "postgres", "--name", name, "--host", "127.0.0.1", "--port", port, "--database",
            database, "--user", "wh_reader", "--password", password,
        ])
    };
    let added = ok(&add("wh", &port, "warehouse", "${env:PGPASSWORD}"));
    assert!(added.contains("added connector `wh` (postgres: query, catalog)"), "{added}");
    let tested = ok(&server.dmesh(&["connector", "test", "wh"]));
    for check in ["reach 127.0.0.1", "log in as role `wh_reader`", "open database `warehouse`", "PostgreSQL 1"] {
        assert!(tested.contains(check), "{check} in {tested}");
    }
    let totals = ok(&server.dmesh(&[
        "query", "wh", "SELECT region, sum(amount) AS total FROM sales GROUP BY region ORDER BY region", "--format",
        "csv",
    ]));
    let expected = pg.psql(
        "warehouse",
        "SELECT string_agg(region || ',' || total, E'\\n' ORDER BY region) FROM \
         (SELECT region, sum(amount) AS total FROM sales GROUP BY region) t",
    );
    assert_eq!(totals, format!("region,total\n{expected}\n"));
    let tables = ok(&server.dmesh(&["tables", "wh"]));
    assert!(tables.contains("sales"), "{tables}");
    let shown = ok(&server.dmesh(&["connector", "show", "wh"]));
    assert!(shown.contains("${env:PGPASSWORD}") && !shown.contains("wh-secret-canary"), "{shown}");
    let denied = fails(&server.dmesh(&["query", "wh", "DELETE FROM sales"]));
    assert!(denied.contains("read-only") && denied.contains("PERMISSION_DENIED"), "{denied}");

    // Each failure names its own cause, and never the password.
    let closed = dmesh_testkit::free_port().to_string();
    ok(&add("wrong_port", &closed, "warehouse", "${env:PGPASSWORD}"));
    ok(&add("wrong_password", &port, "warehouse", "not-the-password"));
    ok(&add("wrong_database", &port, "no_such_database", "${env:PGPASSWORD}"));
    let cases = [
        ("wrong_port", "reach 127.0.0.1"),
        ("wrong_password", "log in as role `wh_reader`"),
        ("wrong_database", "open database `no_such_database`"),
    ];
    for (name, cause) in cases {
        let err = fails(&server.dmesh(&["connector", "test", name]));
        assert!(err.contains(cause), "{name}: {err}");
        assert!(!err.contains("wh-secret-canary") && !err.contains("not-the-password"), "{err}");
    }
    let err = fails(&server.dmesh(&["connector", "test", "wrong_port"]));
    assert!(err.contains("refused"), "{err}");
    let err = fails(&server.dmesh(&["connector", "test", "wrong_password"]));
    assert!(err.contains("password authentication failed"), "{err}");
    let err = fails(&server.dmesh(&["connector", "test", "wrong_database"]));
    assert!(err.contains("does not exist"), "{err}");
    server.stop();
}

#[test]
fn a_canary_password_appears_in_no_log_line_error_or_reply() {
    use base64::Engine;
    let canary = format!("CANARY-{:016x}", rand::random::<u64>());
    let pg = dmesh_testkit::PgServer::shared();
    pg.psql(
        "postgres",
        &format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'canary_user') THEN \
               CREATE ROLE canary_user LOGIN; END IF; END $$; ALTER ROLE canary_user PASSWORD '{canary}';"
        ),
    );
    let state = tempfile::tempdir().expect("tempdir");
    let config = state.path().join("dmesh.toml");
    std::fs::write(
        &config,
        format!(
            "[connectors.canary]\ntype = \"postgres\"\nhost = \"127.0.0.1\"\nport = {port}\ndatabase = \"postgres\"\n\
             user = \"canary_user\"\npassword = \"{canary}\"\ntls_mode = \"disable\"\n\n\
             [connectors.canary_nodb]\ntype = \"postgres\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             database = \"nope_db\"\nuser = \"canary_user\"\npassword = \"{canary}x\"\ntls_mode = \"disable\"\n",
            port = pg.port
        ),
    )
    .expect("config");
    let server = Server::start_with(
        state.path(),
        &[],
        &["--config", config.to_str().expect("utf-8 path"), "--log", "trace"],
    );
    let mut seen = String::new();
    for args in [
        &["connector", "list"][..],
        &["connector", "show", "canary"],
        &["connector", "test", "canary"],
        &["connector", "test", "canary_nodb"],
        &["query", "canary", "SELECT current_user AS who"],
        &["query", "canary", "SELECT * FROM missing_table"],
        &["query", "canary", "DELETE FROM pg_class"],
        &["query", "canary_nodb", "SELECT 1"],
        &["tables", "canary"],
    ] {
        let out = server.dmesh(args);
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert!(seen.contains("canary_user"), "the queries ran: {seen}");
    std::thread::sleep(Duration::from_millis(300));
    seen.push_str(&server.drain_log());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&canary);
    let hex: String = canary.bytes().map(|b| format!("{b:02x}")).collect();
    for form in [canary.as_str(), b64.as_str(), hex.as_str()] {
        assert!(!seen.contains(form), "the canary leaked as {form}");
    }
    server.stop();
}

#[test]
fn tokens_and_roles_are_managed_from_the_cli() {
    let state = tempfile::tempdir().expect("tempdir");
    let server = Server::start(state.path());
    let status = ok(&server.dmesh(&["status"]));
    assert!(status.contains("queries in flight") && status.contains("calls not authenticated"), "{status}");
    assert!(status.lines().any(|l| l.contains("demo") && l.contains("files") && l.contains("ok")), "{status}");
    let me = ok(&server.dmesh(&["whoami"]));
    assert!(me.contains("anonymous") && me.contains("not authenticated"), "{me}");

    // The first token switches authentication on.
    let created = server.dmesh(&["token", "create", "--principal", "root", "--role", "admin"]);
    let root = ok(&created).trim().to_owned();
    assert!(root.starts_with("dmesh_"), "{root}");
    assert!(String::from_utf8_lossy(&created.stderr).contains("shown only now"));
    let e = fails(&server.dmesh(&["connector", "list"]));
    assert!(e.contains("UNAUTHENTICATED"), "{e}");
    let as_root = |args: &[&str]| {
        let mut all = vec!["--token", root.as_str()];
        all.extend_from_slice(args);
        server.dmesh(&all)
    };
    assert!(ok(&as_root(&["connector", "list"])).contains("demo"));

    // A role narrowed to one table, with a row cap, for a new principal.
    ok(&as_root(&["role", "set", "orders-reader", "--grant", "demo:public.orders=read", "--max-rows", "3"]));
    let roles = ok(&as_root(&["role", "list"]));
    assert!(roles.contains("orders-reader") && roles.contains("demo:public.orders=read") && roles.contains("rows 3"), "{roles}");
    let ann = ok(&as_root(&["token", "create", "--principal", "ann", "--role", "orders-reader"])).trim().to_owned();
    let as_ann = |args: &[&str]| {
        let mut all = vec!["--token", ann.as_str()];
        all.extend_from_slice(args);
        server.dmesh(&all)
    };
    let out = as_ann(&["query", "demo", "SELECT order_id FROM orders", "--format", "csv"]);
    let csv = ok(&out);
    assert_eq!(csv.lines().count(), 4, "a header and 3 rows: {csv}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_rows = 3"));
    let e = fails(&as_ann(&["query", "demo", "SELECT * FROM customers"]));
    assert!(e.contains("PERMISSION_DENIED") && e.contains("public.customers"), "{e}");
    let tables = ok(&as_ann(&["tables", "demo"]));
    assert!(tables.contains("orders") && !tables.contains("customers"), "{tables}");
    let e = fails(&as_ann(&["token", "create", "--principal", "ann", "--role", "admin"]));
    assert!(e.contains("PERMISSION_DENIED"), "{e}");

    // Listed by id, never by value; revoked at once.
    let list = ok(&as_root(&["token", "list"]));
    assert!(!list.contains(&ann) && !list.contains(&root), "{list}");
    let id = list
        .lines()
        .find(|l| l.contains(" ann "))
        .and_then(|l| l.split(['│', '┆']).map(str::trim).find(|c| c.starts_with('t')))
        .expect("ann's token id")
        .to_owned();
    assert!(ok(&as_root(&["token", "revoke", &id])).contains("revoked"));
    let e = fails(&as_ann(&["tables", "demo"]));
    assert!(e.contains("UNAUTHENTICATED"), "{e}");
    server.stop();
}

#[test]
fn a_sqlite_file_added_from_the_cli_is_queried_read_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("notes.db");
    let c = rusqlite::Connection::open(&db).expect("create");
    c.execute_batch(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, score REAL);
         INSERT INTO notes VALUES (1, 'first', 1.5), (2, NULL, 2.5), (3, 'third', NULL);",
    )
    .expect("fixture");
    drop(c);
    let before = std::fs::read(&db).expect("read");
    let state = tempfile::tempdir().expect("tempdir");
    let server = Server::start(state.path());
    let added = ok(&server.dmesh_in(&["connector", "add", "sqlite", "--name", "notes", "--path", "notes.db"], dir.path()));
    assert!(added.contains("added connector `notes` (sqlite"), "{added}");
    let tables = ok(&server.dmesh(&["tables", "notes"]));
    assert!(tables.contains("notes"), "{tables}");
    let csv = ok(&server.dmesh(&["query", "notes", "SELECT id, body, score FROM notes ORDER BY id", "--format", "csv"]));
    assert_eq!(csv.lines().collect::<Vec<_>>(), ["id,body,score", "1,first,1.5", "2,,2.5", "3,third,"]);
    let e = fails(&server.dmesh(&["query", "notes", "DELETE FROM notes"]));
    assert!(e.contains("PERMISSION_DENIED"), "{e}");
    let e = fails(&server.dmesh(&["query", "notes", "ATTACH DATABASE 'x.db' AS x"]));
    assert!(e.contains("PERMISSION_DENIED"), "{e}");
    let test = ok(&server.dmesh(&["connector", "test", "notes"]));
    assert!(test.contains("open the database") && test.contains("read-only"), "{test}");
    assert_eq!(std::fs::read(&db).expect("read"), before, "the file is unchanged");
    server.stop();
}
