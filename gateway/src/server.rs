//! Assembling and running the gateway.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dmesh_connector_api::{ExposeSecret, Kind, KindRegistry};
use dmesh_proto::v1::access_service_server::AccessServiceServer;
use dmesh_proto::v1::catalog_service_server::CatalogServiceServer;
use dmesh_proto::v1::connector_registry_server::ConnectorRegistryServer;
use dmesh_proto::v1::processing_service_server::ProcessingServiceServer;
use dmesh_proto::v1::query_service_server::QueryServiceServer;
use dmesh_proto::v1::status_service_server::StatusServiceServer;
use dmesh_proto::v1::storage_service_server::StorageServiceServer;
use arrow_flight::flight_service_server::FlightServiceServer;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::codec::CompressionEncoding;

use crate::config::{GatewayConfig, default_state_dir};
use crate::engine::QueryEngine;
use crate::flight::FlightApi;
use crate::registry::{Origin, Registry};
use crate::service::{AccessApi, AppState, CatalogApi, ProcessingApi, QueryApi, RegistryApi, StatusApi, StorageApi};
use crate::state::StateStore;
use crate::ticket::TicketIssuer;

/// Every connector kind built into this binary.
pub fn builtin_kinds() -> KindRegistry {
    let mut kinds = KindRegistry::default();
    kinds.register(Kind::<dmesh_connector_files::FilesConfig>::new());
    kinds.register(Kind::<dmesh_connector_postgres::PostgresConfig>::new());
    kinds.register(Kind::<dmesh_connector_mysql::MySqlConfig>::new());
    kinds.register(Kind::<dmesh_connector_sqlite::SqliteConfig>::new());
    kinds
}

/// A gateway that is listening.
#[derive(Debug)]
pub struct RunningGateway {
    addr: SocketAddr,
    state_dir: PathBuf,
    registry: Arc<Registry>,
    grace: Duration,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningGateway {
    /// The address it is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its state directory.
    pub fn state_dir(&self) -> &std::path::Path {
        &self.state_dir
    }

    /// Stops accepting calls, lets running calls finish for the grace period,
    /// then ends the rest and closes the connectors.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let abort = self.task.abort_handle();
        match tokio::time::timeout(self.grace, &mut self.task).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server ended with an error"),
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(grace = %humantime::format_duration(self.grace), "calls still running after the grace period; ending them");
                abort.abort();
            }
        }
        self.registry.close_all().await;
        tracing::info!("gateway stopped");
    }
}

/// Builds the connectors and starts serving. With `serve_demo`, the built-in
/// `demo` connector is served too.
///
/// # Errors
/// A clear message for a bad config, an unusable state directory, or an
/// address that cannot be bound.
pub async fn start(config: GatewayConfig, serve_demo: bool) -> anyhow::Result<RunningGateway> {
    config.validate()?;
    let listen = config.server.listen;
    let state_dir = config.server.state_dir.clone().unwrap_or_else(default_state_dir);
    let state = StateStore::open(&state_dir)?;
    let auth = crate::auth::Authenticator::new(&config.auth, Some(state.clone()))?;
    if !auth.enabled() && !listen.ip().is_loopback() && !config.server.allow_unauthenticated_remote {
        anyhow::bail!(
            "refusing to listen on {listen}: calls are not authenticated, so anyone who can reach that address \
             could use every connector; listen on 127.0.0.1, or pass --allow-unauthenticated-remote \
             (server.allow_unauthenticated_remote) to accept that"
        );
    }
    let registry = Arc::new(Registry::new(builtin_kinds(), state, state_dir.clone()));

    if serve_demo {
        let root = crate::demo::materialize(&state_dir).map_err(anyhow::Error::msg)?;
        registry
            .load_static(crate::demo::DEMO_CONNECTOR, "files", crate::demo::config(&root), Origin::Builtin)
            .await?;
    }
    for (name, kind, cfg) in config.connector_configs() {
        registry.load_static(&name, &kind, cfg, Origin::ConfigFile).await?;
    }
    let runtime = registry.load_runtime().await?;
    crate::telemetry::observe_pools(registry.clone());

    let tickets = match &config.server.ticket_key {
        Some(key) => {
            let key = key.resolve().map_err(|e| anyhow::anyhow!("server.ticket_key: {e}"))?;
            if key.expose_secret().len() < 16 {
                anyhow::bail!("server.ticket_key must be at least 16 characters");
            }
            TicketIssuer::new(key.expose_secret().as_bytes().to_vec(), config.server.ticket_ttl)
        }
        None => TicketIssuer::random(config.server.ticket_ttl),
    };
    let audit = Arc::new(match &config.server.audit_log {
        Some(path) => crate::audit::AuditLog::to_file(path)
            .map_err(|e| anyhow::anyhow!("cannot open the audit log {}: {e}", path.display()))?,
        None => crate::audit::AuditLog::to_log(),
    });
    let app = Arc::new(AppState {
        engine: QueryEngine::new(registry.clone(), tickets)
            .with_audit(audit)
            .with_admission(crate::engine::Admission {
                running: config.server.max_running_per_connector,
                queued: config.server.max_queued_per_connector,
                wait: config.server.queue_timeout,
            }),
        inline_max_rows: config.server.inline_max_rows,
        auth: auth.clone(),
    });

    let listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.server.listen))?;
    let addr = listener.local_addr()?;

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<ConnectorRegistryServer<RegistryApi>>().await;
    health_reporter.set_serving::<QueryServiceServer<QueryApi>>().await;
    health_reporter.set_serving::<CatalogServiceServer<CatalogApi>>().await;
    health_reporter.set_serving::<ProcessingServiceServer<ProcessingApi>>().await;
    health_reporter.set_serving::<StorageServiceServer<StorageApi>>().await;
    health_reporter.set_serving::<AccessServiceServer<AccessApi>>().await;
    health_reporter.set_serving::<StatusServiceServer<StatusApi>>().await;
    health_reporter.set_serving::<FlightServiceServer<FlightApi>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(dmesh_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    let max = config.server.max_request_bytes;
    macro_rules! svc {
        ($server:ident, $api:expr) => {
            $server::new($api)
                .max_decoding_message_size(max)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
        };
    }
    let checker = auth.clone();
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &config.server.tls {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| anyhow::anyhow!("server.tls: cannot read {}: {e}", p.display()))
        };
        let mut server_tls = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(read(&tls.cert)?, read(&tls.key)?));
        if let Some(ca) = &tls.client_ca {
            server_tls = server_tls.client_ca_root(tonic::transport::Certificate::from_pem(read(ca)?));
        }
        builder = builder
            .tls_config(server_tls)
            .map_err(|e| anyhow::anyhow!("server.tls: {e}"))?;
    }
    let router = builder
        .layer(crate::telemetry::RpcLayer)
        .layer(tonic::service::InterceptorLayer::new(move |mut req: tonic::Request<()>| {
            // Only the gateway says who the caller is.
            req.metadata_mut().remove(crate::auth::PRINCIPAL_HEADER);
            let cn = req
                .peer_certs()
                .and_then(|certs| certs.first().and_then(|c| crate::auth::certificate_common_name(c)));
            if let Some((principal, token_id)) = checker.check(req.metadata(), cn.as_deref())? {
                if let Ok(value) = principal.0.parse() {
                    req.metadata_mut().insert(crate::auth::PRINCIPAL_HEADER, value);
                }
                req.extensions_mut().insert(principal);
                req.extensions_mut().insert(crate::auth::TokenId(token_id));
            }
            Ok(req)
        }))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(8 << 20))
        .add_service(health)
        .add_service(reflection)
        .add_service(svc!(ConnectorRegistryServer, RegistryApi(app.clone())))
        .add_service(svc!(QueryServiceServer, QueryApi(app.clone())))
        .add_service(svc!(CatalogServiceServer, CatalogApi(app.clone())))
        .add_service(svc!(ProcessingServiceServer, ProcessingApi(app.clone())))
        .add_service(svc!(StorageServiceServer, StorageApi(app.clone())))
        .add_service(svc!(AccessServiceServer, AccessApi(app.clone())))
        .add_service(svc!(StatusServiceServer, StatusApi::new(app.clone())))
        .add_service(
            FlightServiceServer::new(FlightApi::new(app.clone()))
                .max_decoding_message_size(max)
                .accept_compressed(CompressionEncoding::Gzip),
        );

    let (stop, stopped) = oneshot::channel::<()>();
    let incoming = tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)));
    let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = stopped.await;
    }));
    let connectors = registry.list().len();
    tracing::info!(%addr, state_dir = %state_dir.display(), connectors, restored = runtime, "dmesh gateway listening");
    if auth.enabled() {
        tracing::info!(tokens = auth.tokens().len(), "calls are authenticated with API tokens");
    } else if addr.ip().is_loopback() {
        tracing::info!("calls are not authenticated: only clients on this machine can reach the gateway");
    } else {
        tracing::warn!(%addr, "calls are not authenticated and the gateway is reachable from other machines");
    }
    Ok(RunningGateway {
        addr,
        state_dir,
        registry,
        grace: config.server.shutdown_grace,
        stop: Some(stop),
        task,
    })
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
