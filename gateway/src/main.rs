//! `dmesh`: run the gateway, or talk to one.

use clap::Parser;
use dmesh_gateway::cli::{Cli, Command, LogFormat, ServeArgs, run_client};
use dmesh_gateway::config::GatewayConfig;

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
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .map_err(|e| anyhow::anyhow!("--log `{}` is not a log filter: {e}", args.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
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
    let gateway = dmesh_gateway::start(config, serve_demo).await?;
    dmesh_gateway::server::shutdown_signal().await;
    tracing::info!("shutting down");
    gateway.shutdown().await;
    Ok(())
}
