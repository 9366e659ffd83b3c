//! Principals, roles and their policies against a real PostgreSQL: tables a
//! role may not read stay out of queries and listings, writes need their
//! rights, roles cap rows, time and concurrency, and tokens minted and
//! revoked at run time take effect at once.

mod common;

use std::time::{Duration, Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::{FlightClient, Ticket};
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::access_service_client::AccessServiceClient;
use dmesh_proto::v1::query_service_client::QueryServiceClient;
use dmesh_testkit::{PgServer, SUPERUSER, SUPERUSER_PASSWORD};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;

const ANALYST: &str = "analyst-token-000000000001";
const WRITER: &str = "writer-token-000000000002";
const BUILDER: &str = "builder-token-000000000003";
const OPS: &str = "ops-token-000000000000004";
const SLOW: &str = "slow-token-0000000000000005";

fn hash(t: &str) -> String {
    Sha256::digest(t.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

async fn gateway_on(server: &PgServer, state: &std::path::Path, db: &str) -> (dmesh_gateway::RunningGateway, Channel) {
    let text = format!(
        r#"
        [auth]
        tokens = [
          {{ principal = "ann", sha256 = "{analyst}", roles = ["analyst"] }},
          {{ principal = "wes", sha256 = "{writer}", roles = ["loader"] }},
          {{ principal = "bo", sha256 = "{builder}", roles = ["builder"] }},
          {{ principal = "ops", sha256 = "{ops}", roles = ["admin"] }},
          {{ principal = "sam", sha256 = "{slow}", roles = ["capped"] }},
        ]
        [auth.roles.analyst]
        grants = [{{ connector = "pg", tables = ["sales.*", "public.products"], rights = ["read"] }}]
        limits = {{ max_rows = 5 }}
        [auth.roles.loader]
        grants = [{{ connector = "pg", tables = ["sales.orders"], rights = ["write"] }}]
        [auth.roles.builder]
        grants = [{{ connector = "pg", rights = ["ddl"] }}]
        [auth.roles.capped]
        grants = [{{ connector = "pg", rights = ["read"] }}]
        limits = {{ statement_timeout = "700ms", max_concurrent = 1 }}

        [connectors.pg]
        type = "postgres"
        host = "127.0.0.1"
        port = {port}
        database = "{db}"
        user = "{SUPERUSER}"
        password = "{SUPERUSER_PASSWORD}"
        tls_mode = "disable"
        allow_writes = true
        application_name = "gw-policy"
        "#,
        analyst = hash(ANALYST),
        writer = hash(WRITER),
        builder = hash(BUILDER),
        ops = hash(OPS),
        slow = hash(SLOW),
        port = server.port,
    );
    let mut config: dmesh_gateway::config::GatewayConfig = toml::from_str(&text).expect("config");
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.state_dir = Some(state.to_owned());
    let gw = dmesh_gateway::start(config, false).await.expect("starts");
    let ch = common::channel(&gw).await;
    (gw, ch)
}

fn seed(server: &PgServer, db: &str) {
    server.create_database(db);
    server.psql(
        db,
        "CREATE SCHEMA sales;
         CREATE TABLE sales.orders (id int PRIMARY KEY, amount numeric(10,2));
         INSERT INTO sales.orders SELECT g, g * 1.5 FROM generate_series(1, 20) g;
         CREATE TABLE public.products (id int PRIMARY KEY, name text);
         INSERT INTO public.products VALUES (1, 'lamp'), (2, 'desk');
         CREATE TABLE public.salaries (who text, amount int);
         INSERT INTO public.salaries VALUES ('ceo', 1000000);",
    );
}

fn authed<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().expect("ascii"));
    r
}

async fn execute(ch: &Channel, token: &str, sql: &str, write: bool) -> Result<pb::ExecuteResponse, tonic::Status> {
    QueryServiceClient::new(ch.clone())
        .execute(authed(
            token,
            pb::ExecuteRequest {
                connector: "pg".into(),
                sql: sql.into(),
                write,
                inline: Some(pb::InlinePolicy {
                    max_rows: 1000,
                    max_bytes: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// Redeems an Execute reply's ticket; the rows it returned.
async fn redeem(ch: &Channel, token: &str, r: pb::ExecuteResponse) -> usize {
    let mut flight = FlightClient::new(ch.clone());
    flight.add_header("authorization", &format!("Bearer {token}")).expect("header");
    let ticket = r.ticket.expect("ticket").ticket;
    let mut stream = flight.do_get(Ticket::new(ticket)).await.expect("do_get");
    let mut rows = 0;
    while let Some(b) = stream.next().await {
        rows += b.expect("batch").num_rows();
    }
    rows
}

fn denied(r: Result<pb::ExecuteResponse, tonic::Status>, what: &str) -> String {
    let e = r.expect_err(what);
    assert_eq!(e.code(), Code::PermissionDenied, "{what}: {}", e.message());
    e.message().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_grants_hold_in_queries_and_listings() {
    let server = PgServer::shared();
    seed(server, "policy_tables");
    let state = tempfile::tempdir().expect("tempdir");
    let (gw, ch) = gateway_on(server, state.path(), "policy_tables").await;

    // Its tables are readable, and its role caps the rows at 5, saying so.
    let r = execute(&ch, ANALYST, "SELECT id FROM sales.orders ORDER BY id", false).await.expect("its schema");
    let inline = r.inline.expect("inline");
    assert_eq!(inline.rows, 5);
    let t = inline.truncation.expect("cut");
    assert_eq!((t.truncated, t.limit.as_str(), t.value), (true, "max_rows", 5));
    execute(&ch, ANALYST, "SELECT p.name FROM public.products p JOIN sales.orders o ON o.id = p.id", false)
        .await
        .expect("two granted tables");

    // Every way of reaching another table is refused before it runs.
    for sql in [
        "SELECT * FROM public.salaries",
        "SELECT * FROM salaries",
        "SELECT * FROM Public.Salaries",
        "SELECT * FROM sales.orders WHERE id IN (SELECT amount FROM public.salaries)",
        "WITH s AS (SELECT * FROM public.salaries) SELECT * FROM s",
        "SELECT (SELECT max(amount) FROM public.salaries)",
        "SELECT * FROM sales.orders o, LATERAL (SELECT * FROM public.salaries) x",
        "SELECT * FROM pg_catalog.pg_authid",
        "SELECT 1; SELECT * FROM public.salaries",
    ] {
        let m = denied(execute(&ch, ANALYST, sql, false).await, sql);
        assert!(m.contains("ann"), "{sql}: {m}");
    }
    let m = denied(execute(&ch, ANALYST, "SELECT * FROM products", false).await, "unqualified");
    assert!(m.contains("name its schema"), "{m}");
    // Writing is not reading.
    denied(execute(&ch, ANALYST, "INSERT INTO sales.orders VALUES (99, 1)", true).await, "no write right");

    // Listings show only what the role may read.
    let tables = QueryServiceClient::new(ch.clone())
        .list_tables(authed(
            ANALYST,
            pb::ListTablesRequest {
                connector: "pg".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner()
        .tables;
    let mut names: Vec<String> = tables
        .iter()
        .map(|t| {
            let r = t.table.as_ref().expect("ref");
            format!("{}.{}", r.schema, r.name)
        })
        .collect();
    names.sort();
    assert_eq!(names, ["public.products", "sales.orders"]);
    let e = QueryServiceClient::new(ch.clone())
        .get_schema(authed(
            ANALYST,
            pb::GetSchemaRequest {
                connector: "pg".into(),
                table: Some(pb::TableRef {
                    schema: "public".into(),
                    name: "salaries".into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect_err("describe another table");
    assert_eq!(e.code(), Code::PermissionDenied);

    // Flight SQL's table listing agrees.
    let mut sql = FlightSqlServiceClient::new(ch.clone());
    sql.set_token(ANALYST.to_owned());
    let info = sql
        .get_tables(arrow_flight::sql::CommandGetTables {
            catalog: Some("pg".into()),
            ..Default::default()
        })
        .await
        .expect("tables info");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let batches: Vec<_> = sql
        .do_get(ticket)
        .await
        .expect("tables")
        .map(|b| b.expect("batch"))
        .collect()
        .await;
    let mut listed: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let schema = arrow::array::AsArray::as_string::<i32>(b.column(1)).clone();
            let name = arrow::array::AsArray::as_string::<i32>(b.column(2)).clone();
            (0..b.num_rows()).map(move |i| format!("{}.{}", schema.value(i), name.value(i)))
        })
        .collect();
    listed.sort();
    assert_eq!(listed, ["public.products", "sales.orders"]);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_write_right_and_schema_changes_the_ddl_right() {
    let server = PgServer::shared();
    let state = tempfile::tempdir().expect("tempdir");
    let db = "policy_write_db";
    server.create_database(db);
    server.psql(
        db,
        "CREATE SCHEMA sales; CREATE TABLE sales.orders (id int PRIMARY KEY, amount int);
         CREATE TABLE public.audit (id int);",
    );
    let (gw, ch) = gateway_on(server, state.path(), db).await;

    // A row change by a principal with `write` on that table, asked for as a write.
    // It runs once, when its ticket is redeemed: never inline.
    let r = execute(&ch, WRITER, "INSERT INTO sales.orders VALUES (1, 10) RETURNING id", true)
        .await
        .expect("insert");
    assert!(r.inline.is_none(), "a write is not run inline");
    assert_eq!(server.psql(db, "SELECT count(*) FROM sales.orders"), "0");
    assert_eq!(redeem(&ch, WRITER, r).await, 1);
    assert_eq!(server.psql(db, "SELECT count(*) FROM sales.orders"), "1");
    // Not asked for as a write: read-only, whoever asks.
    let m = denied(execute(&ch, WRITER, "INSERT INTO sales.orders VALUES (2, 20)", false).await, "not a write request");
    assert!(m.contains("read-only") || m.contains("not allowed"), "{m}");
    // Another table, a schema change, a reader: refused.
    let m = denied(execute(&ch, WRITER, "INSERT INTO public.audit VALUES (1)", true).await, "other table");
    assert!(m.contains("public.audit"), "{m}");
    denied(execute(&ch, WRITER, "CREATE TABLE sales.more (id int)", true).await, "ddl without the right");
    denied(execute(&ch, ANALYST, "INSERT INTO sales.orders VALUES (3, 30)", true).await, "reader writes");
    assert_eq!(server.psql(db, "SELECT count(*) FROM sales.orders"), "1");
    assert_eq!(server.psql(db, "SELECT count(*) FROM public.audit"), "0");
    assert_eq!(server.psql(db, "SELECT to_regclass('sales.more') IS NULL"), "t");

    // `ddl` may change the schema.
    let r = execute(&ch, BUILDER, "CREATE TABLE sales.more (id int)", true).await.expect("ddl");
    redeem(&ch, BUILDER, r).await;
    assert_eq!(server.psql(db, "SELECT to_regclass('sales.more') IS NOT NULL"), "t");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_limits_cap_statement_time_and_concurrent_queries() {
    let server = PgServer::shared();
    seed(server, "policy_limits");
    let state = tempfile::tempdir().expect("tempdir");
    let (gw, ch) = gateway_on(server, state.path(), "policy_limits").await;

    // Statement time: the role's 700 ms beats the request's own 30 s.
    let started = Instant::now();
    let e = QueryServiceClient::new(ch.clone())
        .execute(authed(
            SLOW,
            pb::ExecuteRequest {
                connector: "pg".into(),
                sql: "SELECT pg_sleep(5)".into(),
                limits: Some(pb::Limits {
                    timeout: Some(prost_types::Duration { seconds: 30, nanos: 0 }),
                    ..Default::default()
                }),
                inline: Some(pb::InlinePolicy {
                    max_rows: 10,
                    max_bytes: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("cut by the role's statement timeout");
    assert_eq!(e.code(), Code::DeadlineExceeded, "{}", e.message());
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    // Concurrency: one running, one waiting, the third refused at once.
    let ticket = |sql: &'static str| {
        let ch = ch.clone();
        async move {
            execute(&ch, SLOW, sql, false)
                .await
                .expect("plans")
                .ticket
                .expect("ticket")
                .ticket
        }
    };
    let run = |t: Vec<u8>| {
        let ch = ch.clone();
        async move {
            let mut flight = FlightClient::new(ch);
            flight.add_header("authorization", &format!("Bearer {SLOW}")).expect("header");
            let started = Instant::now();
            let result = match flight.do_get(Ticket::new(t)).await {
                Ok(mut s) => {
                    let mut outcome = Ok(());
                    while let Some(item) = s.next().await {
                        if let Err(e) = item {
                            outcome = Err(e);
                            break;
                        }
                    }
                    outcome
                }
                Err(e) => Err(e),
            };
            (result.map_err(|e| e.to_string()), started.elapsed())
        }
    };
    let long = ticket("SELECT pg_sleep(0.6)").await;
    let first = tokio::spawn(run(long.clone()));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = tokio::spawn(run(long.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (third, took) = run(long).await;
    let third = third.expect_err("a third query beyond running and waiting");
    assert!(third.contains("PRINCIPAL_BUSY") || third.contains("principal `sam`"), "{third}");
    assert!(took < Duration::from_millis(300), "refused in {took:?}");
    let (first, _) = first.await.expect("join");
    first.expect("the first runs");
    let (second, _) = second.await.expect("join");
    second.expect("the second waited for the first and ran");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_roles_are_managed_at_run_time_and_revocation_is_immediate() {
    let server = PgServer::shared();
    seed(server, "policy_tokens");
    let state = tempfile::tempdir().expect("tempdir");
    let (gw, ch) = gateway_on(server, state.path(), "policy_tokens").await;
    let mut access = AccessServiceClient::new(ch.clone());

    // Only an admin may mint tokens and define roles.
    let e = access
        .create_token(authed(
            ANALYST,
            pb::CreateTokenRequest {
                principal: "bot".into(),
                roles: vec!["admin".into()],
                ttl_seconds: 0,
            },
        ))
        .await
        .expect_err("not an admin");
    assert_eq!(e.code(), Code::PermissionDenied);
    access
        .put_role(authed(
            OPS,
            pb::PutRoleRequest {
                role: Some(pb::Role {
                    name: "products-only".into(),
                    grants: vec![pb::Grant {
                        connector: "pg".into(),
                        tables: vec!["public.products".into()],
                        rights: vec!["read".into()],
                    }],
                    limits: Some(pb::RoleLimits {
                        max_rows: Some(1),
                        ..Default::default()
                    }),
                    source: String::new(),
                }),
            },
        ))
        .await
        .expect("role defined");
    let minted = access
        .create_token(authed(
            OPS,
            pb::CreateTokenRequest {
                principal: "bot".into(),
                roles: vec!["products-only".into()],
                ttl_seconds: 0,
            },
        ))
        .await
        .expect("minted")
        .into_inner();
    let token = minted.token.clone();
    let id = minted.info.expect("info").id;

    let me = access.who_am_i(authed(&token, pb::WhoAmIRequest {})).await.expect("whoami").into_inner();
    assert_eq!(me.principal, "bot");
    assert_eq!(me.roles, ["products-only"]);
    assert_eq!(me.limits.expect("limits").max_rows, Some(1));
    let r = execute(&ch, &token, "SELECT * FROM public.products", false).await.expect("granted table");
    assert_eq!(r.inline.expect("inline").rows, 1);
    denied(execute(&ch, &token, "SELECT * FROM sales.orders", false).await, "not granted");

    // The listing never shows a token, only ids.
    let listed = access.list_tokens(authed(OPS, pb::ListTokensRequest {})).await.expect("list").into_inner();
    assert!(listed.tokens.iter().any(|t| t.id == id && t.principal == "bot" && t.source == "runtime"));
    assert!(!format!("{listed:?}").contains(&token));

    // A Flight SQL session opened with the token dies with it.
    let mut sql = FlightSqlServiceClient::new(ch.clone());
    sql.handshake("bot", &token).await.expect("handshake");
    sql.set_header("x-dmesh-connector", "pg");
    sql.execute("SELECT * FROM public.products".into(), None).await.expect("session works");
    access
        .revoke_token(authed(OPS, pb::RevokeTokenRequest { id: id.clone() }))
        .await
        .expect("revoked");
    let e = execute(&ch, &token, "SELECT 1 FROM public.products", false).await.expect_err("revoked token");
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = sql
        .execute("SELECT * FROM public.products".into(), None)
        .await
        .expect_err("revoked session");
    assert!(e.to_string().contains("revoked"), "{e}");

    // Run-time roles and revocations survive a restart.
    gw.shutdown().await;
    let (gw, ch) = gateway_on(server, state.path(), "policy_tokens").await;
    let e = execute(&ch, &token, "SELECT 1 FROM public.products", false).await.expect_err("still revoked");
    assert_eq!(e.code(), Code::Unauthenticated);
    let roles = AccessServiceClient::new(ch.clone())
        .list_roles(authed(OPS, pb::ListRolesRequest {}))
        .await
        .expect("roles")
        .into_inner()
        .roles;
    assert!(roles.iter().any(|r| r.name == "products-only" && r.source == "runtime"));
    assert!(roles.iter().any(|r| r.name == "analyst" && r.source == "config"));
    assert!(roles.iter().any(|r| r.name == "reader" && r.source == "builtin"));
    gw.shutdown().await;
}
