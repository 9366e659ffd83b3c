//! Authentication with API tokens: gRPC and Flight SQL calls without,
//! with wrong, with expired and with good credentials.

mod common;

use std::time::Duration;

use arrow_flight::sql::client::FlightSqlServiceClient;
use dmesh_gateway::auth::TokenConfig;
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::query_service_client::QueryServiceClient;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;

const TOKEN: &str = "agent-token-0123456789abcdef";
const ADMIN_TOKEN: &str = "ops-token-fedcba9876543210";

async fn gateway(session_ttl: Duration) -> (dmesh_gateway::RunningGateway, Channel, tempfile::TempDir) {
    let state = tempfile::tempdir().expect("tempdir");
    let mut config = dmesh_gateway::config::GatewayConfig::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.state_dir = Some(state.path().to_owned());
    let hash = |t: &str| Sha256::digest(t.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>();
    config.auth.tokens = vec![
        TokenConfig {
            principal: "agent".into(),
            sha256: hash(TOKEN),
            roles: Vec::new(),
            connectors: Some(vec!["demo".into()]),
            admin: false,
        },
        TokenConfig {
            principal: "ops".into(),
            sha256: hash(ADMIN_TOKEN),
            roles: Vec::new(),
            connectors: Some(vec!["*".into()]),
            admin: true,
        },
    ];
    config.auth.session_ttl = Some(session_ttl);
    config.server.audit_log = Some(state.path().join("audit.jsonl"));
    let gw = dmesh_gateway::start(config, true).await.expect("starts");
    let ch = common::channel(&gw).await;
    (gw, ch, state)
}

async fn execute(ch: &Channel, authorization: Option<&str>) -> Result<(), tonic::Status> {
    execute_on(ch, "demo", authorization).await
}

async fn execute_on(ch: &Channel, connector: &str, authorization: Option<&str>) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(pb::ExecuteRequest {
        connector: connector.into(),
        sql: "SELECT 1".into(),
        ..Default::default()
    });
    if let Some(a) = authorization {
        request.metadata_mut().insert("authorization", a.parse().expect("ascii"));
    }
    QueryServiceClient::new(ch.clone()).execute(request).await.map(|_| ())
}

#[tokio::test]
async fn grpc_calls_need_a_valid_token() {
    let (gw, ch, _state) = gateway(Duration::from_secs(60)).await;
    let e = execute(&ch, None).await.expect_err("no token");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("Bearer"), "{}", e.message());
    let e = execute(&ch, Some("Bearer not-the-token")).await.expect_err("wrong token");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(!e.message().contains("not-the-token"));
    execute(&ch, Some(&format!("Bearer {TOKEN}"))).await.expect("the right token");
    gw.shutdown().await;
}

#[tokio::test]
async fn the_flight_sql_handshake_issues_a_session_token_that_expires() {
    let (gw, ch, _state) = gateway(Duration::from_secs(1)).await;
    let mut client = FlightSqlServiceClient::new(ch.clone());
    let e = client.handshake("agent", "wrong").await.expect_err("wrong password");
    assert!(e.to_string().contains("Unauthenticated") || e.to_string().contains("wrong principal"), "{e}");
    let e = client.handshake("someone-else", TOKEN).await.expect_err("wrong principal");
    assert!(e.to_string().contains("wrong principal"), "{e}");

    let mut client = FlightSqlServiceClient::new(ch.clone());
    client.handshake("agent", TOKEN).await.expect("handshake");
    let session = client.token().cloned().expect("a session token");
    assert!(session.starts_with("s2."));
    client.set_header("x-dmesh-connector", "demo");
    client.execute("SELECT 1".into(), None).await.expect("the session token works");
    execute(&ch, Some(&format!("Bearer {session}"))).await.expect("on gRPC too");

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let e = execute(&ch, Some(&format!("Bearer {session}"))).await.expect_err("expired");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("expired"), "{}", e.message());
    gw.shutdown().await;
}

#[tokio::test]
async fn principals_use_only_their_connectors_and_only_admins_change_the_registry() {
    use dmesh_proto::v1::connector_registry_client::ConnectorRegistryClient;
    let (gw, ch, state) = gateway(Duration::from_secs(60)).await;
    let add = |token: &'static str| {
        let ch = ch.clone();
        async move {
            let mut request = tonic::Request::new(pb::AddConnectorRequest {
                name: "more".into(),
                kind: "files".into(),
                config: Some(dmesh_gateway::convert::json_to_struct(
                    &serde_json::json!({"path": common::demo_dir().display().to_string()}),
                )),
                validate_only: false,
            });
            request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("ascii"));
            ConnectorRegistryClient::new(ch).add_connector(request).await.map(|_| ())
        }
    };
    let e = add(TOKEN).await.expect_err("not an admin");
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("admin"), "{}", e.message());
    add(ADMIN_TOKEN).await.expect("the admin adds a connector");

    let agent = format!("Bearer {TOKEN}");
    execute_on(&ch, "demo", Some(&agent)).await.expect("its own connector");
    let e = execute_on(&ch, "more", Some(&agent)).await.expect_err("another connector");
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("agent") && e.message().contains("more"), "{}", e.message());
    execute_on(&ch, "more", Some(&format!("Bearer {ADMIN_TOKEN}"))).await.expect("the admin may");
    // The registry lists only what the caller may use.
    let mut list = tonic::Request::new(pb::ListConnectorsRequest::default());
    list.metadata_mut().insert("authorization", agent.parse().expect("ascii"));
    let listed: Vec<String> = ConnectorRegistryClient::new(ch.clone())
        .list_connectors(list)
        .await
        .expect("lists")
        .into_inner()
        .connectors
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(listed, ["demo"]);
    let mut catalog = tonic::Request::new(pb::ListSchemasRequest {
        connector: "more".into(),
        ..Default::default()
    });
    catalog.metadata_mut().insert("authorization", agent.parse().expect("ascii"));
    let e = dmesh_proto::v1::catalog_service_client::CatalogServiceClient::new(ch.clone())
        .list_schemas(catalog)
        .await
        .expect_err("not its connector");
    assert_eq!(e.code(), Code::PermissionDenied);

    // Over Flight SQL: listings show only what the principal may use, and
    // a statement routed elsewhere is refused.
    let mut client = FlightSqlServiceClient::new(ch.clone());
    client.handshake("agent", TOKEN).await.expect("handshake");
    let info = client.get_catalogs().await.expect("catalogs");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let batches: Vec<arrow::record_batch::RecordBatch> =
        futures::TryStreamExt::try_collect(client.do_get(ticket).await.expect("do_get")).await.expect("batches");
    let names: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let c = arrow::array::AsArray::as_string::<i32>(b.column(0)).clone();
            (0..arrow::array::Array::len(&c)).map(move |i| c.value(i).to_owned())
        })
        .collect();
    assert_eq!(names, ["demo"]);
    client.set_header("x-dmesh-connector", "more");
    let e = client.execute("SELECT 1".into(), None).await.expect_err("not its connector");
    assert!(e.to_string().contains("lacks the `read` right on connector `more`"), "{e}");
    // A principal header sent by the client is ignored.
    let mut forged = tonic::Request::new(pb::ExecuteRequest {
        connector: "more".into(),
        sql: "SELECT 1".into(),
        ..Default::default()
    });
    forged.metadata_mut().insert("authorization", agent.parse().expect("ascii"));
    forged.metadata_mut().insert("x-dmesh-principal", "ops".parse().expect("ascii"));
    let e = QueryServiceClient::new(ch.clone()).execute(forged).await.expect_err("forged principal");
    assert_eq!(e.code(), Code::PermissionDenied);

    // The ticket remembers who asked, and so does the audit log.
    let mut request = tonic::Request::new(pb::ExecuteRequest {
        connector: "demo".into(),
        sql: "SELECT 42 AS answer".into(),
        ..Default::default()
    });
    request.metadata_mut().insert("authorization", agent.parse().expect("ascii"));
    let ticket = QueryServiceClient::new(ch.clone())
        .execute(request)
        .await
        .expect("plans")
        .into_inner()
        .ticket
        .expect("ticket")
        .ticket;
    // Another principal cannot redeem it.
    let mut other = arrow_flight::FlightClient::new(ch.clone());
    other.add_header("authorization", &format!("Bearer {ADMIN_TOKEN}")).expect("header");
    let stolen = async {
        let stream = other.do_get(arrow_flight::Ticket::new(ticket.clone())).await?;
        futures::TryStreamExt::try_collect::<Vec<_>>(stream).await
    }
    .await;
    let e = stolen.expect_err("another principal's ticket");
    assert!(e.to_string().contains("issued to another principal"), "{e}");
    let mut flight = arrow_flight::FlightClient::new(ch.clone());
    flight.add_header("authorization", &agent).expect("header");
    let _: Vec<_> = futures::TryStreamExt::try_collect(flight.do_get(arrow_flight::Ticket::new(ticket)).await.expect("runs"))
        .await
        .expect("rows");
    gw.shutdown().await;
    let audit = std::fs::read_to_string(state.path().join("audit.jsonl")).expect("audit log");
    assert!(
        audit.lines().any(|l| l.contains("\"principal\":\"agent\"") && l.contains("SELECT 42 AS answer") && l.contains("\"call\":\"Run\"")),
        "{audit}"
    );
}
