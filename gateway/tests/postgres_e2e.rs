//! The gateway in front of a real PostgreSQL: client deadlines reach the
//! server, and a restart mid-stream reaches the client as a retryable
//! UNAVAILABLE, through gRPC and Arrow Flight.

mod common;

use std::time::{Duration, Instant};

use arrow_flight::{FlightClient, Ticket};
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::connector_registry_client::ConnectorRegistryClient;
use dmesh_proto::v1::query_service_client::QueryServiceClient;
use dmesh_testkit::{PgServer, SUPERUSER, SUPERUSER_PASSWORD};
use futures::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

async fn add_postgres(ch: &Channel, name: &str, server: &PgServer, app: &str) {
    let config = serde_json::json!({
        "host": "127.0.0.1",
        "port": server.port,
        "database": "postgres",
        "user": SUPERUSER,
        "password": SUPERUSER_PASSWORD,
        "tls_mode": "disable",
        "application_name": app,
    });
    ConnectorRegistryClient::new(ch.clone())
        .add_connector(pb::AddConnectorRequest {
            name: name.into(),
            kind: "postgres".into(),
            config: Some(dmesh_gateway::convert::json_to_struct(&config)),
            validate_only: false,
        })
        .await
        .expect("adds the postgres connector");
}

async fn ticket(ch: &Channel, connector: &str, sql: &str) -> Vec<u8> {
    QueryServiceClient::new(ch.clone())
        .execute(pb::ExecuteRequest {
            connector: connector.into(),
            sql: sql.into(),
            ..Default::default()
        })
        .await
        .expect("plans")
        .into_inner()
        .ticket
        .expect("a ticket")
        .ticket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_deadline_becomes_deadline_exceeded_and_frees_the_backend() {
    let server = PgServer::shared();
    let state = tempfile::tempdir().expect("tempdir");
    let gw = common::start(state.path(), Duration::from_secs(60)).await;
    let ch = common::channel(&gw).await;
    add_postgres(&ch, "pg", server, "gw-deadline").await;

    let t = ticket(&ch, "pg", "SELECT pg_sleep(10)").await;
    let mut flight = FlightClient::new(ch.clone());
    flight
        .add_header("grpc-timeout", "500m")
        .expect("header");
    let started = Instant::now();
    let outcome = match flight.do_get(Ticket::new(t)).await {
        Err(e) => Err(e),
        Ok(mut stream) => loop {
            match stream.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            }
        },
    };
    let elapsed = started.elapsed();
    let e = outcome.expect_err("the deadline passes");
    let arrow_flight::error::FlightError::Tonic(status) = e else {
        panic!("expected a gRPC status, got {e}");
    };
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");

    let until = Instant::now() + Duration::from_secs(1);
    loop {
        let busy = server.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gw-deadline' AND state <> 'idle'",
        );
        if busy == "0" {
            break;
        }
        assert!(Instant::now() < until, "the backend is still busy a second later");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_stream_reaches_the_client_as_retryable_unavailable() {
    let server = std::sync::Arc::new(PgServer::start());
    server.psql(
        "postgres",
        "CREATE TABLE t AS SELECT i AS id, repeat(md5(i::text), 4) AS v FROM generate_series(1, 1000000) i",
    );
    let state = tempfile::tempdir().expect("tempdir");
    let gw = common::start(state.path(), Duration::from_secs(60)).await;
    let ch = common::channel(&gw).await;
    add_postgres(&ch, "pg", &server, "gw-restart").await;

    let t = ticket(&ch, "pg", "SELECT id, v FROM t").await;
    let mut stream = FlightClient::new(ch.clone()).do_get(Ticket::new(t)).await.expect("starts");
    assert!(stream.next().await.expect("a batch").is_ok());
    let s = server.clone();
    tokio::task::spawn_blocking(move || s.restart()).await.expect("restarts");
    let back = Instant::now();
    let status = loop {
        match stream.next().await {
            Some(Ok(_)) => {}
            Some(Err(arrow_flight::error::FlightError::Tonic(status))) => break *status,
            Some(Err(other)) => panic!("expected a gRPC status, got {other}"),
            None => panic!("the stream ended without an error after a restart: a silent partial result"),
        }
    };
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        status.metadata().get("dmesh-retryable").and_then(|v| v.to_str().ok()),
        Some("true"),
        "{status:?}"
    );

    // The next query succeeds within seconds of the restart.
    let t = ticket(&ch, "pg", "SELECT count(*) AS n FROM t").await;
    let batches: Vec<_> = FlightClient::new(ch.clone())
        .do_get(Ticket::new(t))
        .await
        .expect("runs")
        .collect()
        .await;
    let batch = batches.into_iter().next().expect("a batch").expect("ok");
    let n = batch.column(0).as_any().downcast_ref::<arrow::array::Int64Array>().expect("count").value(0);
    assert_eq!(n, 1_000_000);
    assert!(back.elapsed() < Duration::from_secs(5), "{:?}", back.elapsed());
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_vanish_mid_stream_have_their_queries_cancelled() {
    let server = PgServer::shared();
    let state = tempfile::tempdir().expect("tempdir");
    let gw = common::start(state.path(), Duration::from_secs(60)).await;
    let ch = common::channel(&gw).await;
    add_postgres(&ch, "pg", server, "gw-vanish").await;
    for sql in [
        // Blocked before its first row ...
        "SELECT pg_sleep(10) AS s",
        // ... and streaming a large result to a client that stops reading.
        "SELECT g, md5(g::text) FROM generate_series(1, 50000000) g",
    ] {
        let t = ticket(&ch, "pg", sql).await;
        let client_channel = common::channel(&gw).await;
        let mut stream = FlightClient::new(client_channel.clone()).do_get(Ticket::new(t)).await.expect("starts");
        let _ = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
        // The client goes away: its stream and its connection are dropped.
        drop(stream);
        drop(client_channel);
        let until = Instant::now() + Duration::from_secs(1);
        loop {
            let busy = server.psql(
                "postgres",
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gw-vanish' AND state <> 'idle'",
            );
            if busy == "0" {
                break;
            }
            assert!(Instant::now() < until, "`{sql}` still runs a second after its client left");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_costs_callers_their_deadline_and_recovers() {
    let server = std::sync::Arc::new(PgServer::start());
    let state = tempfile::tempdir().expect("tempdir");
    let gw = common::start(state.path(), Duration::from_secs(60)).await;
    let ch = common::channel(&gw).await;
    add_postgres(&ch, "pg", &server, "gw-frozen").await;
    let _ = ticket(&ch, "pg", "SELECT 1").await;

    server.signal_all("STOP");
    let frozen_at = Instant::now();
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut request = tonic::Request::new(pb::ExecuteRequest {
            connector: "pg".into(),
            sql: "SELECT 1".into(),
            ..Default::default()
        });
        request.set_timeout(Duration::from_secs(1));
        let r = QueryServiceClient::new(ch.clone()).execute(request).await;
        outcomes.push((r.map(|_| ()).map_err(|s| s.code()), started.elapsed()));
    }
    // Frozen for 10 s in all, then thawed.
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(frozen_at.elapsed())).await;
    server.signal_all("CONT");
    for (outcome, took) in &outcomes {
        assert!(
            matches!(outcome, Err(Code::DeadlineExceeded | Code::Cancelled | Code::Unavailable)),
            "{outcome:?}"
        );
        assert!(*took < Duration::from_millis(2500), "a call took {took:?} with a 1 s deadline");
    }

    // After the thaw the connector serves again within seconds.
    let thawed = Instant::now();
    loop {
        let r = QueryServiceClient::new(ch.clone())
            .execute(pb::ExecuteRequest {
                connector: "pg".into(),
                sql: "SELECT 1".into(),
                ..Default::default()
            })
            .await;
        if r.is_ok() {
            break;
        }
        assert!(thawed.elapsed() < Duration::from_secs(10), "no recovery: {r:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gw.shutdown().await;
}
