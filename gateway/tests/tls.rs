//! TLS on the gateway's port, with client certificates required: a client
//! with a certificate from the gateway's CA gets in; one without a
//! certificate, or with one from another CA, is refused in the handshake.

mod common;

use dmesh_gateway::config::TlsConfig;
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::access_service_client::AccessServiceClient;
use dmesh_proto::v1::query_service_client::QueryServiceClient;
use dmesh_testkit::TestPki;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

async fn call(endpoint: &str, tls: ClientTlsConfig) -> Result<(), String> {
    let channel = Channel::from_shared(endpoint.to_owned())
        .map_err(|e| e.to_string())?
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    QueryServiceClient::new(channel)
        .execute(pb::ExecuteRequest {
            connector: "demo".into(),
            sql: "SELECT 1".into(),
            ..Default::default()
        })
        .await
        .map(|_| ())
        .map_err(|s| format!("call: {s:?}"))
}

#[tokio::test]
async fn mutual_tls_admits_only_certificates_from_the_gateways_ca() {
    let ours = tempfile::tempdir().expect("tempdir");
    let theirs = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::create(ours.path(), "analyst");
    let other = TestPki::create(theirs.path(), "intruder");

    let state = tempfile::tempdir().expect("tempdir");
    let mut config = dmesh_gateway::config::GatewayConfig::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.state_dir = Some(state.path().to_owned());
    config.server.tls = Some(TlsConfig {
        cert: pki.server_cert.clone(),
        key: pki.server_key.clone(),
        client_ca: Some(pki.ca_cert.clone()),
    });
    let gw = dmesh_gateway::start(config, true).await.expect("starts");
    let endpoint = format!("https://127.0.0.1:{}", gw.local_addr().port());
    let read = |p: &std::path::Path| std::fs::read(p).expect("pem");
    let trust = || ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(&pki.ca_cert))).domain_name("127.0.0.1");

    call(&endpoint, trust().identity(Identity::from_pem(read(&pki.client_cert), read(&pki.client_key))))
        .await
        .expect("a certificate from the gateway's CA gets in");
    let e = call(&endpoint, trust()).await.expect_err("no client certificate");
    assert!(!e.is_empty());
    call(&endpoint, trust().identity(Identity::from_pem(read(&other.client_cert), read(&other.client_key))))
        .await
        .expect_err("a certificate from another CA is refused");
    // Plain text to the TLS port does not get an answer either.
    let plain = Channel::from_shared(format!("http://127.0.0.1:{}", gw.local_addr().port())).expect("uri");
    let refused = match plain.connect().await {
        Err(_) => true,
        Ok(ch) => QueryServiceClient::new(ch)
            .execute(pb::ExecuteRequest {
                connector: "demo".into(),
                sql: "SELECT 1".into(),
                ..Default::default()
            })
            .await
            .is_err(),
    };
    assert!(refused, "plain text was served on the TLS port");
    gw.shutdown().await;
}

#[tokio::test]
async fn a_client_certificate_names_its_principal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::create(dir.path(), "analyst");
    let (stranger_cert, stranger_key) = pki.client("stranger");

    let state = tempfile::tempdir().expect("tempdir");
    let mut config: dmesh_gateway::config::GatewayConfig = toml::from_str(
        r#"
        [auth]
        certificates = [{ common_name = "analyst", principal = "ana", roles = ["demo-reader"] }]
        [auth.roles.demo-reader]
        grants = [{ connector = "demo", tables = ["public.orders"], rights = ["read"] }]
        "#,
    )
    .expect("config");
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.state_dir = Some(state.path().to_owned());
    config.server.tls = Some(TlsConfig {
        cert: pki.server_cert.clone(),
        key: pki.server_key.clone(),
        client_ca: Some(pki.ca_cert.clone()),
    });
    let gw = dmesh_gateway::start(config, true).await.expect("starts");
    let endpoint = format!("https://127.0.0.1:{}", gw.local_addr().port());
    let read = |p: &std::path::Path| std::fs::read(p).expect("pem");
    let with = |cert: &std::path::Path, key: &std::path::Path| {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&pki.ca_cert)))
            .domain_name("127.0.0.1")
            .identity(Identity::from_pem(read(cert), read(key)))
    };
    let connect = |tls: ClientTlsConfig| {
        let endpoint = endpoint.clone();
        async move {
            Channel::from_shared(endpoint)
                .expect("uri")
                .tls_config(tls)
                .expect("tls")
                .connect()
                .await
                .expect("connects")
        }
    };

    // The mapped certificate is the principal `ana`, with no token at all.
    let ch = connect(with(&pki.client_cert, &pki.client_key)).await;
    let me = AccessServiceClient::new(ch.clone())
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("whoami")
        .into_inner();
    assert_eq!((me.principal.as_str(), me.authenticated), ("ana", true));
    assert_eq!(me.roles, ["demo-reader"]);
    let query = |sql: &str| {
        let mut client = QueryServiceClient::new(ch.clone());
        let sql = sql.to_owned();
        async move {
            client
                .execute(pb::ExecuteRequest {
                    connector: "demo".into(),
                    sql,
                    ..Default::default()
                })
                .await
        }
    };
    query("SELECT count(*) FROM orders").await.expect("its table");
    let e = query("SELECT count(*) FROM customers").await.expect_err("another table");
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    assert!(e.message().contains("public.customers"), "{}", e.message());

    // A certificate from the same CA whose name is not mapped gets in at
    // the TLS level but is no principal.
    let ch = connect(with(&stranger_cert, &stranger_key)).await;
    let e = QueryServiceClient::new(ch)
        .execute(pb::ExecuteRequest {
            connector: "demo".into(),
            sql: "SELECT 1".into(),
            ..Default::default()
        })
        .await
        .expect_err("unmapped certificate");
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    gw.shutdown().await;
}
