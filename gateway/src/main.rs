//! `dmesh`: run the gateway, or talk to one.

use clap::Parser;
use dmesh_gateway::cli::{Cli, Command, LogFormat, ServeArgs, run_client};
use dmesh_gateway::config::GatewayConfig;
use dmesh_gateway::telemetry::LogStyle;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            other => run_client(&cli.endpoint, cli.token.as_deref(), other).await,
        }
    });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (mut config, serve_demo) = match &args.config {
        Some(path) => (GatewayConfig::load(path)?, false),
        None => (GatewayConfig::default(), true),
    };
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    if let Some(dir) = args.state_dir {
        config.server.state_dir = Some(dir);
    }
    if args.allow_unauthenticated_remote {
        config.server.allow_unauthenticated_remote = true;
    }
    if let Some(addr) = args.metrics_listen {
        config.server.metrics_listen = Some(addr);
    }
    let style = match args.log_format {
        LogFormat::Text => LogStyle::Text,
        LogFormat::Json => LogStyle::Json,
    };
    let telemetry = dmesh_gateway::telemetry::init(&args.log, style, config.server.metrics_listen).await?;
    let gateway = dmesh_gateway::start(config, serve_demo).await?;
    dmesh_gateway::server::shutdown_signal().await;
    tracing::info!("shutting down");
    gateway.shutdown().await;
    telemetry.shutdown();
    Ok(())
}
