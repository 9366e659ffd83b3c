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

async fn gateway(session_ttl: Duration) -> (dmesh_gateway::RunningGateway, Channel, tempfile::TempDir) {
    let state = tempfile::tempdir().expect("tempdir");
    let mut config = dmesh_gateway::config::GatewayConfig::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.state_dir = Some(state.path().to_owned());
    config.auth.tokens = vec![TokenConfig {
        principal: "agent".into(),
        sha256: Sha256::digest(TOKEN.as_bytes()).iter().map(|b| format!("{b:02x}")).collect(),
    }];
    config.auth.session_ttl = session_ttl;
    let gw = dmesh_gateway::start(config, true).await.expect("starts");
    let ch = common::channel(&gw).await;
    (gw, ch, state)
}

async fn execute(ch: &Channel, authorization: Option<&str>) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(pb::ExecuteRequest {
        connector: "demo".into(),
        sql: "SELECT count(*) FROM orders".into(),
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
    assert!(session.starts_with("s1."));
    client.set_header("x-dmesh-connector", "demo");
    client.execute("SELECT 1".into(), None).await.expect("the session token works");
    execute(&ch, Some(&format!("Bearer {session}"))).await.expect("on gRPC too");

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let e = execute(&ch, Some(&format!("Bearer {session}"))).await.expect_err("expired");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("expired"), "{}", e.message());
    gw.shutdown().await;
}
