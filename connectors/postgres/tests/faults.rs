//! What a production database does to its clients: restarts mid-read,
//! backends killed under load, an outage. Each test runs its own cluster,
//! since each one breaks it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arrow::array::{Int32Array, StringArray};
use arrow::record_batch::RecordBatch;
use dmesh_connector_api::{Connector, ErrorKind, Param, ParamValue, QueryRequest, SecretRef};
use dmesh_connector_postgres::{PostgresConfig, PostgresConnector, TlsMode};
use dmesh_testkit::{PgServer, SUPERUSER, SUPERUSER_PASSWORD};
use futures::StreamExt;

fn config(server: &PgServer, app: &str) -> PostgresConfig {
    let mut c = PostgresConfig::new("127.0.0.1", server.port, "postgres", SUPERUSER);
    c.password = Some(SecretRef::new(SUPERUSER_PASSWORD));
    c.tls_mode = TlsMode::Disable;
    c.application_name = app.to_owned();
    c
}

async fn rows(c: &PostgresConnector, request: QueryRequest) -> dmesh_connector_api::Result<Vec<RecordBatch>> {
    let mut stream = c.as_query().expect("query").execute(request).await?;
    let mut out = Vec::new();
    while let Some(b) = stream.next().await {
        out.push(b?);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_stream_ends_it_unavailable_and_the_next_query_succeeds() {
    let server = Arc::new(PgServer::start());
    server.psql(
        "postgres",
        "CREATE TABLE t AS SELECT i AS id, repeat(md5(i::text), 4) AS v FROM generate_series(1, 1000000) i",
    );
    let c = PostgresConnector::open("restart", config(&server, "restart-test")).await.expect("opens");
    let mut stream = c
        .as_query()
        .expect("query")
        .execute(QueryRequest::read_only("SELECT id, v FROM t"))
        .await
        .expect("starts");
    let first = stream.next().await.expect("a batch").expect("ok");
    assert!(first.num_rows() > 0);

    // The client is slow, so the server is blocked mid-result when it restarts.
    let restart_started = Instant::now();
    let s = server.clone();
    tokio::task::spawn_blocking(move || s.restart()).await.expect("restart");
    let restarted_at = Instant::now();
    let mut outcome = None;
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            outcome = Some(e);
            break;
        }
    }
    let e = outcome.expect("the stream ends with an error, not a silent partial result");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_retryable(), "{e}");
    assert!(restart_started.elapsed() < Duration::from_secs(30));

    let b = rows(&c, QueryRequest::read_only("SELECT count(*)::int4 AS n FROM t")).await.expect("recovered");
    let n = b[0].column(0).as_any().downcast_ref::<Int32Array>().expect("int").value(0);
    assert_eq!(n, 1_000_000);
    assert!(restarted_at.elapsed() < Duration::from_secs(5), "{:?}", restarted_at.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_backends_under_load_give_no_wrong_rows_and_the_pool_refills() {
    let server = Arc::new(PgServer::start());
    server.psql(
        "postgres",
        "CREATE TABLE t (id int PRIMARY KEY, v text); \
         INSERT INTO t SELECT i, 'row-' || i FROM generate_series(1, 10000) i;",
    );
    let app = "kill-test";
    let c = Arc::new(PostgresConnector::open("kill", config(&server, app)).await.expect("opens"));

    let stop = Arc::new(AtomicBool::new(false));
    let most_sessions = Arc::new(AtomicI64::new(0));
    let chaos = {
        let (stop, most, server) = (stop.clone(), most_sessions.clone(), server.clone());
        let kill = format!(
            "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity \
             WHERE application_name = '{app}' ORDER BY random() LIMIT 2) k"
        );
        std::thread::spawn(move || {
            let mut kills = 0;
            while !stop.load(Ordering::Relaxed) {
                if server.try_psql("postgres", &kill).is_ok() {
                    kills += 1;
                }
                most.fetch_max(server.sessions(app), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(150));
            }
            kills
        })
    };

    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let wrong = Arc::new(AtomicUsize::new(0));
    let load = async {
        let mut tasks = Vec::new();
        for client in 0..64i64 {
            let c = c.clone();
            let (ok, failed, wrong) = (ok.clone(), failed.clone(), wrong.clone());
            tasks.push(tokio::spawn(async move {
                for round in 0..15i64 {
                    let from = (client * 131 + round * 17) % 9_900 + 1;
                    let request = QueryRequest {
                        sql: "SELECT id, v FROM t WHERE id BETWEEN $1 AND $1 + 99 ORDER BY id".into(),
                        params: vec![Param {
                            name: None,
                            value: ParamValue::Int64(from),
                        }],
                        ..Default::default()
                    };
                    match rows(&c, request).await {
                        Ok(batches) => {
                            let mut expected = from as i32;
                            let mut good = true;
                            for b in &batches {
                                let ids = b.column(0).as_any().downcast_ref::<Int32Array>().expect("id");
                                let vs = b.column(1).as_any().downcast_ref::<StringArray>().expect("v");
                                for i in 0..b.num_rows() {
                                    good &= ids.value(i) == expected && vs.value(i) == format!("row-{expected}");
                                    expected += 1;
                                }
                            }
                            good &= expected == from as i32 + 100;
                            if good {
                                ok.fetch_add(1, Ordering::Relaxed);
                            } else {
                                wrong.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(e) => {
                            assert!(
                                matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Aborted),
                                "unexpected failure kind: {e}"
                            );
                            assert!(e.is_retryable(), "{e}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("client task");
        }
    };
    load.await;
    stop.store(true, Ordering::Relaxed);
    let kills = chaos.join().expect("chaos thread");
    assert!(kills > 3, "the faults ran ({kills} rounds)");

    let (ok, failed, wrong) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed), wrong.load(Ordering::Relaxed));
    assert_eq!(wrong, 0, "wrong or partial rows accepted");
    assert_eq!(ok + failed, 64 * 15);
    assert!(ok * 100 >= (ok + failed) * 90, "ok {ok}, failed {failed}");
    let most = most_sessions.load(Ordering::Relaxed);
    assert!((1..=8).contains(&most), "{most} sessions at once");

    // After the faults: every query succeeds and the pool is full again.
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            rows(&c, QueryRequest::read_only("SELECT pg_sleep(0.05), count(*) FROM t")).await.map(|_| ())
        }));
    }
    for t in tasks {
        if let Err(e) = t.await.expect("task") {
            panic!("a query failed after the faults stopped: {e}");
        }
    }
    assert_eq!(c.pool_status(), (8, 8));
    assert!(server.sessions(app) <= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_down_queries_fail_fast_and_recover_after() {
    let server = PgServer::start();
    let mut cfg = config(&server, "outage-test");
    cfg.checkout_timeout = Duration::from_secs(1);
    let c = PostgresConnector::open("outage", cfg).await.expect("opens");
    rows(&c, QueryRequest::read_only("SELECT 1")).await.expect("up");
    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let e = rows(&c, QueryRequest::read_only("SELECT 1")).await.expect_err("down");
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(e.is_retryable());
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    }
    server.resume();
    let started = Instant::now();
    rows(&c, QueryRequest::read_only("SELECT 1")).await.expect("back");
    assert!(started.elapsed() < Duration::from_secs(3));
}
