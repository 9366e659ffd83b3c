//! Flight SQL key commands and message sizes, with arrow-flight's own Flight
//! SQL client against a postgres connector.

mod common;

use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::record_batch::RecordBatch;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{
    CommandGetCrossReference, CommandGetExportedKeys, CommandGetImportedKeys, CommandGetPrimaryKeys,
};
use arrow_flight::{FlightInfo, Ticket};
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::connector_registry_client::ConnectorRegistryClient;
use dmesh_testkit::{PgServer, SUPERUSER, SUPERUSER_PASSWORD};
use futures::TryStreamExt;
use tonic::transport::Channel;

async fn add_postgres(ch: &Channel, database: &str, server: &PgServer) {
    let config = serde_json::json!({
        "host": "127.0.0.1", "port": server.port, "database": database, "user": SUPERUSER,
        "password": SUPERUSER_PASSWORD, "tls_mode": "disable",
    });
    ConnectorRegistryClient::new(ch.clone())
        .add_connector(pb::AddConnectorRequest {
            name: "pg".into(),
            kind: "postgres".into(),
            config: Some(dmesh_gateway::convert::json_to_struct(&config)),
            validate_only: false,
        })
        .await
        .expect("adds the postgres connector");
}

async fn rows(client: &mut FlightSqlServiceClient<Channel>, info: FlightInfo) -> Vec<RecordBatch> {
    let ticket = info.endpoint[0].ticket.clone().expect("a ticket");
    client.do_get(ticket).await.expect("do_get").try_collect().await.expect("batches")
}

fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name(column).expect("column").as_string::<i32>().clone();
            (0..c.len()).map(move |i| c.value(i).to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_listed_from_the_source_catalog() {
    let server = PgServer::shared();
    server.create_database("keys");
    server.psql(
        "keys",
        "CREATE TABLE customers (id int PRIMARY KEY, name text);
         CREATE TABLE orders (id bigint, line int, customer int REFERENCES customers (id), PRIMARY KEY (id, line));",
    );
    let state = tempfile::tempdir().expect("tempdir");
    let gw = common::start(state.path(), Duration::from_secs(60)).await;
    let ch = common::channel(&gw).await;
    add_postgres(&ch, "keys", server).await;
    let mut client = FlightSqlServiceClient::new(ch.clone());
    let token = client.handshake("analyst", "secret").await.expect("handshake");
    assert!(!token.is_empty());

    let info = client
        .get_primary_keys(CommandGetPrimaryKeys {
            catalog: Some("pg".into()),
            db_schema: Some("public".into()),
            table: "orders".into(),
        })
        .await
        .expect("primary keys");
    let pk = rows(&mut client, info).await;
    assert_eq!(strings(&pk, "column_name"), ["id", "line"]);

    let info = client
        .get_imported_keys(CommandGetImportedKeys {
            catalog: Some("pg".into()),
            db_schema: Some("public".into()),
            table: "orders".into(),
        })
        .await
        .expect("imported keys");
    let imported = rows(&mut client, info).await;
    assert_eq!(strings(&imported, "pk_table_name"), ["customers"]);
    assert_eq!(strings(&imported, "fk_column_name"), ["customer"]);

    let info = client
        .get_exported_keys(CommandGetExportedKeys {
            catalog: Some("pg".into()),
            db_schema: Some("public".into()),
            table: "customers".into(),
        })
        .await
        .expect("exported keys");
    let exported = rows(&mut client, info).await;
    assert_eq!(strings(&exported, "fk_table_name"), ["orders"]);

    let info = client
        .get_cross_reference(CommandGetCrossReference {
            pk_catalog: Some("pg".into()),
            pk_db_schema: Some("public".into()),
            pk_table: "customers".into(),
            fk_catalog: Some("pg".into()),
            fk_db_schema: Some("public".into()),
            fk_table: "orders".into(),
        })
        .await
        .expect("cross reference");
    let cross = rows(&mut client, info).await;
    assert_eq!(strings(&cross, "pk_column_name"), ["id"]);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_flight_data_message_exceeds_2_mib_unless_one_value_does() {
    let server = PgServer::shared();
    let state = tempfile::tempdir().expect("tempdir");
    let gw = common::start(state.path(), Duration::from_secs(60)).await;
    let ch = common::channel(&gw).await;
    add_postgres(&ch, "postgres", server).await;
    let mut client = FlightSqlServiceClient::new(ch.clone());
    client.set_header("x-dmesh-connector", "pg");
    let sizes = |query: &'static str| {
        let mut client = client.clone();
        let ch = ch.clone();
        async move {
            let info = client.execute(query.to_owned(), None).await.expect("plans");
            let ticket: Ticket = info.endpoint[0].ticket.clone().expect("ticket");
            let mut raw = FlightServiceClient::new(ch);
            let mut request = tonic::Request::new(ticket);
            request.metadata_mut().insert("x-dmesh-connector", "pg".parse().expect("value"));
            let messages: Vec<_> = raw.do_get(request).await.expect("do_get").into_inner().try_collect().await.expect("all");
            messages.iter().map(|m| m.data_body.len() + m.data_header.len()).collect::<Vec<_>>()
        }
    };
    let big = sizes("SELECT g AS id, md5(g::text) AS v, g * 0.5 AS x FROM generate_series(1, 1000000) g").await;
    let total: usize = big.iter().sum();
    assert!(total > 40 << 20, "a large result ({total} bytes)");
    assert!(big.iter().all(|&n| n <= 2 << 20), "largest message {} bytes", big.iter().max().copied().unwrap_or(0));

    let one_big_value = sizes("SELECT repeat('x', 3 * 1024 * 1024) AS body").await;
    let largest = one_big_value.iter().max().copied().unwrap_or(0);
    assert!((3 << 20..(4 << 20)).contains(&largest), "the 3 MiB value travels alone: {largest} bytes");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_flight_info_stops_the_query_at_the_source() {
    let server = PgServer::shared();
    let state = tempfile::tempdir().expect("tempdir");
    let gw = common::start(state.path(), Duration::from_secs(60)).await;
    let ch = common::channel(&gw).await;
    add_postgres(&ch, "postgres", server).await;
    let mut sql = FlightSqlServiceClient::new(ch.clone());
    sql.set_header("x-dmesh-connector", "pg");
    let info = sql
        .execute("SELECT pg_sleep(10), 'cancel-me' AS tag".to_owned(), None)
        .await
        .expect("plans");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let started = std::time::Instant::now();
    let reader = tokio::spawn({
        let mut sql = sql.clone();
        async move {
            let stream = sql.do_get(ticket).await?;
            stream.try_collect::<Vec<_>>().await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let result = arrow_flight::FlightClient::new(ch.clone())
        .cancel_flight_info(arrow_flight::CancelFlightInfoRequest::new(info))
        .await
        .expect("cancel answers");
    assert_eq!(result.status(), arrow_flight::CancelStatus::Cancelled);
    let outcome = reader.await.expect("task");
    let e = outcome.expect_err("the read ends with an error");
    assert!(e.to_string().contains("cancelled"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let until = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        let active = server.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%cancel-me%' AND state = 'active' \
             AND pid <> pg_backend_pid()",
        );
        if active == "0" {
            break;
        }
        assert!(std::time::Instant::now() < until, "the source still runs the cancelled query");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_info_and_type_info_describe_the_server() {
    let state = tempfile::tempdir().expect("tempdir");
    let gw = common::start(state.path(), Duration::from_secs(60)).await;
    let ch = common::channel(&gw).await;
    let mut sql = FlightSqlServiceClient::new(ch.clone());
    let info = sql
        .get_xdbc_type_info(arrow_flight::sql::CommandGetXdbcTypeInfo { data_type: None })
        .await
        .expect("type info");
    let types = rows(&mut sql, info).await;
    let names = strings(&types, "type_name");
    for t in ["BIGINT", "VARCHAR", "TIMESTAMP", "DECIMAL"] {
        assert!(names.iter().any(|n| n == t), "{t} in {names:?}");
    }
    let info = sql
        .get_sql_info(vec![arrow_flight::sql::SqlInfo::FlightSqlServerName])
        .await
        .expect("sql info");
    let facts = rows(&mut sql, info).await;
    assert_eq!(facts.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
    gw.shutdown().await;
}
