//! The `dmesh` command line: `serve`, and the client commands that talk to a
//! running gateway.

mod fields;
mod output;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use arrow_flight::decode::DecodedPayload;
use arrow_flight::{FlightClient, Ticket};
use clap::{Args, Parser, Subcommand, ValueEnum};
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::access_service_client::AccessServiceClient;
use dmesh_proto::v1::connector_registry_client::ConnectorRegistryClient;
use dmesh_proto::v1::query_service_client::QueryServiceClient;
use dmesh_proto::v1::status_service_client::StatusServiceClient;
use futures::StreamExt;
use tonic::transport::{Channel, Endpoint};

pub use output::Format;

/// dmesh: one gateway to query, explore, process and store data, for AI
/// agents and data tools. Results stream as Apache Arrow over Arrow Flight.
#[derive(Debug, Parser)]
#[command(name = "dmesh", version, propagate_version = true)]
pub struct Cli {
    /// The gateway to talk to.
    #[arg(long, global = true, env = "DMESH_ENDPOINT", default_value = "http://127.0.0.1:50051")]
    pub endpoint: String,

    /// The API token to call the gateway with, when it authenticates calls.
    #[arg(long, global = true, env = "DMESH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway. With no config file it serves the sample dataset as `demo`.
    Serve(ServeArgs),
    /// Manage connector instances: kinds, add, list, show, test, remove.
    #[command(subcommand)]
    Connector(ConnectorCommand),
    /// Run a SQL query on a connector and print or save the result.
    Query(QueryArgs),
    /// List a connector's tables.
    Tables {
        /// The connector instance.
        connector: String,
        /// Only tables in this schema.
        #[arg(long)]
        schema: Option<String>,
    },
    /// Show a table's columns and types.
    Describe {
        /// The connector instance.
        connector: String,
        /// The table: `name` or `schema.name`.
        table: String,
    },
    /// Manage API tokens: create, list, revoke (needs the `admin` right).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage roles: list, set, remove (needs the `admin` right).
    #[command(subcommand)]
    Role(RoleCommand),
    /// Show who the gateway takes you for, with your roles, grants and limits.
    Whoami,
    /// Show the gateway at a glance: uptime, queries in flight, each
    /// connector's state and connection pool.
    Status,
    /// Show how a query would run, without running it.
    Explain {
        /// The connector instance.
        connector: String,
        /// The query.
        sql: String,
        /// Show every planning stage.
        #[arg(long)]
        verbose: bool,
    },
}

/// Options of `dmesh serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML config file. Without one, the built-in `demo` connector is served.
    #[arg(long, short, env = "DMESH_CONFIG")]
    pub config: Option<PathBuf>,
    /// The address to listen on (overrides the config file). Port 0 picks a free port.
    #[arg(long, env = "DMESH_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Where connectors added at run time are kept (overrides the config file).
    #[arg(long, env = "DMESH_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Listen on a non-loopback address although calls are not authenticated.
    #[arg(long, env = "DMESH_ALLOW_UNAUTHENTICATED_REMOTE")]
    pub allow_unauthenticated_remote: bool,
    /// Serve Prometheus metrics at http://ADDRESS/metrics (overrides the config file).
    #[arg(long, env = "DMESH_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log filter, e.g. `info` or `dmesh_gateway=debug,info`.
    #[arg(long, env = "DMESH_LOG", default_value = "info")]
    pub log: String,
    /// Log line format.
    #[arg(long, value_enum, env = "DMESH_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `dmesh connector ...`.
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// List the kinds of connector this gateway can build, with their fields.
    Kinds {
        /// Print each kind's full config JSON Schema.
        #[arg(long)]
        json: bool,
    },
    /// Add a connector instance: `dmesh connector add files --name sales --path /data/sales`.
    ///
    /// Fields come from the kind's config schema (`dmesh connector kinds`), written
    /// `--field value` or `--field=value`; `-` and `_` are the same in field names.
    Add(AddArgs),
    /// List connector instances.
    List,
    /// Show one connector instance and its config (secrets stay references).
    Show {
        /// The connector instance.
        name: String,
    },
    /// Check that a connector can reach its source, and how fast.
    Test {
        /// The connector instance.
        name: String,
    },
    /// Remove a connector instance added at run time.
    Remove {
        /// The connector instance.
        name: String,
    },
}

/// `dmesh token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint an API token for a principal; it is printed once and kept only
    /// as a hash. Once a token exists, every call must authenticate.
    Create {
        /// Who the token authenticates (letters, digits, `_ . @ -`).
        #[arg(long)]
        principal: String,
        /// A role the principal holds (repeatable): `reader`, `admin`, or one of `dmesh role list`.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// How long the token works, e.g. `30d`; without it, until revoked.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token, and every session opened with it, at once.
    Revoke {
        /// The token's id, from `dmesh token list`.
        id: String,
    },
}

/// `dmesh role ...`.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// List roles with their grants and limits.
    List,
    /// Define or replace a role kept by the gateway.
    ///
    /// A grant is `CONNECTOR[:TABLES][=RIGHTS]`: `warehouse=read`,
    /// `warehouse:public.*,sales.orders=read,write`, `*=read`. Rights: read,
    /// write, ddl, jobs, admin.
    Set {
        /// The role's name.
        name: String,
        /// A grant (repeatable).
        #[arg(long = "grant", required = true)]
        grants: Vec<String>,
        /// Rows per result.
        #[arg(long)]
        max_rows: Option<u64>,
        /// Bytes of Arrow data per result, e.g. `64MiB`.
        #[arg(long)]
        max_bytes: Option<String>,
        /// Time per statement, e.g. `30s`.
        #[arg(long, value_parser = humantime::parse_duration)]
        statement_timeout: Option<Duration>,
        /// Queries at once.
        #[arg(long)]
        max_concurrent: Option<u32>,
    },
    /// Remove a role kept by the gateway.
    Remove {
        /// The role's name.
        name: String,
    },
}

/// Options of `dmesh connector add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The kind, e.g. `files`.
    pub kind: String,
    /// The new instance's name.
    #[arg(long)]
    pub name: String,
    /// Check the config and build the instance, but keep nothing.
    #[arg(long)]
    pub validate_only: bool,
    /// The whole config as a JSON object (fields given as flags are added to it).
    #[arg(long, value_name = "JSON")]
    pub config_json: Option<String>,
    /// The kind's fields: --FIELD VALUE ...
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "--FIELD VALUE")]
    pub fields: Vec<String>,
}

/// Options of `dmesh query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The connector instance.
    pub connector: String,
    /// The SQL query.
    pub sql: String,
    /// Output format. `arrow` writes an Arrow IPC stream (pyarrow, DuckDB and Polars read it).
    #[arg(long, short, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the result to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Return at most this many rows (`table` shows at most 10000 unless set).
    #[arg(long)]
    pub limit: Option<u64>,
    /// Time allowed for the query, e.g. `30s` or `2m`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// Run the statement as a change (needs the `write` or `ddl` right and a
    /// connector that allows writes); without it every statement is read-only.
    #[arg(long)]
    pub write: bool,
}

/// Rows the `table` format shows when no `--limit` is given.
const TABLE_DEFAULT_LIMIT: u64 = 10_000;

/// Runs a client command (anything but `serve`).
///
/// # Errors
/// One clear line for the user; the caller prints it and exits non-zero.
pub async fn run_client(endpoint: &str, token: Option<&str>, command: Command) -> anyhow::Result<()> {
    let channel = connect(endpoint).await?;
    let auth = AuthHeader::new(token)?;
    let mut registry = ConnectorRegistryClient::with_interceptor(channel.clone(), auth.clone());
    let mut query = QueryServiceClient::with_interceptor(channel.clone(), auth.clone());
    let mut access = AccessServiceClient::with_interceptor(channel.clone(), auth.clone());
    let mut out = std::io::stdout().lock();
    match command {
        Command::Serve(_) => bail!("`serve` is not a client command"),
        Command::Connector(ConnectorCommand::Kinds { json }) => {
            let kinds = registry.list_kinds(pb::ListKindsRequest {}).await.map_err(status)?.into_inner();
            output::kinds(&mut out, &kinds.kinds, json)?;
        }
        Command::Connector(ConnectorCommand::Add(args)) => {
            let kinds = registry.list_kinds(pb::ListKindsRequest {}).await.map_err(status)?.into_inner();
            let kind = kinds.kinds.iter().find(|k| k.kind == args.kind).ok_or_else(|| {
                let names: Vec<&str> = kinds.kinds.iter().map(|k| k.kind.as_str()).collect();
                anyhow!("unknown connector kind `{}`; this gateway can build: {}", args.kind, names.join(", "))
            })?;
            let schema: serde_json::Value =
                serde_json::from_str(&kind.config_schema_json).context("the gateway sent a broken config schema")?;
            let base = match &args.config_json {
                Some(text) => serde_json::from_str(text).map_err(|e| anyhow!("--config-json is not valid JSON: {e}"))?,
                None => serde_json::json!({}),
            };
            let config = fields::parse(&args.kind, &schema, base, &args.fields)?;
            let reply = registry
                .add_connector(pb::AddConnectorRequest {
                    name: args.name.clone(),
                    kind: args.kind.clone(),
                    config: Some(crate::convert::json_to_struct(&config)),
                    validate_only: args.validate_only,
                })
                .await
                .map_err(status)?
                .into_inner();
            let c = reply.connector.unwrap_or_default();
            let verb = if args.validate_only { "config is valid for" } else { "added" };
            writeln!(out, "{verb} connector `{}` ({}: {})", c.name, c.kind, output::families(&c.families))?;
        }
        Command::Connector(ConnectorCommand::List) => {
            let list = registry
                .list_connectors(pb::ListConnectorsRequest::default())
                .await
                .map_err(status)?
                .into_inner();
            output::connectors(&mut out, &list.connectors)?;
        }
        Command::Connector(ConnectorCommand::Show { name }) => {
            let c = registry.get_connector(pb::GetConnectorRequest { name }).await.map_err(status)?.into_inner();
            output::connector(&mut out, &c)?;
        }
        Command::Connector(ConnectorCommand::Test { name }) => {
            let r = registry
                .test_connector(pb::TestConnectorRequest { name: name.clone() })
                .await
                .map_err(status)?
                .into_inner();
            output::test(&mut out, &name, &r)?;
            if !r.healthy {
                bail!("connector `{name}` is unhealthy: {}", r.message);
            }
        }
        Command::Connector(ConnectorCommand::Remove { name }) => {
            registry
                .remove_connector(pb::RemoveConnectorRequest { name: name.clone() })
                .await
                .map_err(status)?;
            writeln!(out, "removed connector `{name}`")?;
        }
        Command::Tables { connector, schema } => {
            let mut tables = Vec::new();
            let mut token = String::new();
            loop {
                let page = query
                    .list_tables(pb::ListTablesRequest {
                        connector: connector.clone(),
                        schema: schema.clone().unwrap_or_default(),
                        page: Some(pb::PageRequest {
                            page_size: 1000,
                            page_token: token,
                        }),
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                tables.extend(page.tables);
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            output::tables(&mut out, &tables)?;
        }
        Command::Describe { connector, table } => {
            let t = dmesh_connector_api::TableRef::parse(&table);
            let r = query
                .get_schema(pb::GetSchemaRequest {
                    connector,
                    table: Some(crate::convert::table_ref(&t)),
                })
                .await
                .map_err(status)?
                .into_inner();
            output::describe(&mut out, &r)?;
        }
        Command::Explain { connector, sql, verbose } => {
            let r = query
                .explain(pb::ExplainRequest {
                    connector,
                    sql,
                    params: vec![],
                    verbose,
                })
                .await
                .map_err(status)?
                .into_inner();
            output::explain(&mut out, &r)?;
        }
        Command::Query(args) => run_query(channel, &auth, args).await?,
        Command::Status => {
            let mut client = StatusServiceClient::with_interceptor(channel.clone(), auth.clone());
            let st = client.get_status(pb::GetStatusRequest {}).await.map_err(status)?.into_inner();
            output::status(&mut out, &st)?;
        }
        Command::Whoami => {
            let me = access.who_am_i(pb::WhoAmIRequest {}).await.map_err(status)?.into_inner();
            output::whoami(&mut out, &me)?;
        }
        Command::Token(TokenCommand::Create {
            principal,
            roles,
            expires_in,
        }) => {
            let r = access
                .create_token(pb::CreateTokenRequest {
                    principal,
                    roles,
                    ttl_seconds: expires_in.map_or(0, |d| d.as_secs().max(1)),
                })
                .await
                .map_err(status)?
                .into_inner();
            let info = r.info.unwrap_or_default();
            writeln!(out, "{}", r.token)?;
            eprintln!(
                "token `{}` for `{}` created; it is shown only now: keep it in a secret store",
                info.id, info.principal
            );
        }
        Command::Token(TokenCommand::List) => {
            let r = access.list_tokens(pb::ListTokensRequest {}).await.map_err(status)?.into_inner();
            output::tokens(&mut out, &r.tokens)?;
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            let r = access.revoke_token(pb::RevokeTokenRequest { id }).await.map_err(status)?.into_inner();
            let info = r.info.unwrap_or_default();
            writeln!(out, "revoked token `{}` of `{}`", info.id, info.principal)?;
        }
        Command::Role(RoleCommand::List) => {
            let r = access.list_roles(pb::ListRolesRequest {}).await.map_err(status)?.into_inner();
            output::roles(&mut out, &r.roles)?;
        }
        Command::Role(RoleCommand::Set {
            name,
            grants,
            max_rows,
            max_bytes,
            statement_timeout,
            max_concurrent,
        }) => {
            let grants = grants
                .iter()
                .map(|g| crate::policy::Grant::parse(g).map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let max_bytes = max_bytes
                .map(|b| dmesh_connector_api::parse_size(&b).ok_or_else(|| anyhow!("--max-bytes `{b}` is not a size (e.g. 64MiB)")))
                .transpose()?;
            access
                .put_role(pb::PutRoleRequest {
                    role: Some(pb::Role {
                        name: name.clone(),
                        grants: grants
                            .iter()
                            .map(|g| pb::Grant {
                                connector: g.connector.clone(),
                                tables: g.tables.clone(),
                                rights: g.rights.iter().map(|r| r.name().to_owned()).collect(),
                            })
                            .collect(),
                        limits: Some(pb::RoleLimits {
                            max_rows,
                            max_bytes,
                            statement_timeout_ms: statement_timeout.map(|d| d.as_millis() as u64),
                            max_concurrent,
                        }),
                        source: String::new(),
                    }),
                })
                .await
                .map_err(status)?;
            writeln!(out, "role `{name}` set")?;
        }
        Command::Role(RoleCommand::Remove { name }) => {
            access
                .delete_role(pb::DeleteRoleRequest { name: name.clone() })
                .await
                .map_err(status)?;
            writeln!(out, "removed role `{name}`")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Adds the API token to every call.
#[derive(Clone, Debug)]
struct AuthHeader(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl AuthHeader {
    fn new(token: Option<&str>) -> anyhow::Result<Self> {
        token
            .filter(|t| !t.is_empty())
            .map(|t| {
                format!("Bearer {}", t.trim())
                    .parse()
                    .map_err(|_| anyhow!("the token holds characters a header cannot carry"))
            })
            .transpose()
            .map(Self)
    }
}

impl tonic::service::Interceptor for AuthHeader {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

async fn run_query(channel: Channel, auth: &AuthHeader, args: QueryArgs) -> anyhow::Result<()> {
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    if to_terminal && matches!(args.format, Format::Arrow | Format::Parquet) {
        bail!(
            "{} output is binary; write it to a file with --output FILE or redirect standard output",
            args.format.name()
        );
    }
    let max_rows = args.limit.or((args.format == Format::Table).then_some(TABLE_DEFAULT_LIMIT));
    let mut query = QueryServiceClient::with_interceptor(channel.clone(), auth.clone());
    let reply = query
        .execute(pb::ExecuteRequest {
            connector: args.connector.clone(),
            sql: args.sql.clone(),
            params: vec![],
            limits: Some(pb::Limits {
                max_rows: max_rows.unwrap_or(0),
                max_bytes: 0,
                timeout: args.timeout.map(crate::convert::duration),
            }),
            inline: None,
            write: args.write,
        })
        .await
        .map_err(status)?
        .into_inner();
    let schema = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(&reply.arrow_schema), None)
        .context("the gateway sent a schema that is not Arrow IPC")?
        .schema();
    let ticket = reply.ticket.map(|t| t.ticket).unwrap_or_default();

    let sink: Box<dyn Write + Send> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create `{}`", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut writer = output::ResultWriter::new(args.format, sink, schema)?;
    let progress = args.output.is_some() && std::io::stderr().is_terminal();

    let mut flight = FlightClient::new(channel);
    if let Some(v) = auth.0.as_ref().and_then(|v| v.to_str().ok()) {
        flight.add_header("authorization", v).map_err(flight_error)?;
    }
    let mut stream = flight
        .do_get(Ticket::new(ticket))
        .await
        .map_err(flight_error)?
        .into_inner();
    let mut rows = 0u64;
    let mut truncation: Option<serde_json::Value> = None;
    while let Some(item) = stream.next().await {
        let data = item.map_err(flight_error)?;
        if !data.inner.app_metadata.is_empty()
            && let Ok(meta) = serde_json::from_slice::<serde_json::Value>(&data.inner.app_metadata)
            && meta.get("truncated").and_then(|t| t.as_bool()) == Some(true)
        {
            truncation = Some(meta);
        }
        if let DecodedPayload::RecordBatch(batch) = data.payload {
            rows += batch.num_rows() as u64;
            writer.write(&batch)?;
            if progress {
                eprint!("\r{rows} rows");
            }
        }
    }
    writer.finish()?;
    if progress {
        eprint!("\r");
    }
    if let Some(path) = &args.output {
        eprintln!("wrote {rows} rows to {}", path.display());
    }
    if let Some(t) = truncation {
        let limit = t.get("limit").and_then(|l| l.as_str()).unwrap_or("a limit");
        let value = t.get("value").and_then(|v| v.as_u64()).unwrap_or_default();
        eprintln!("note: the result was cut at {limit} = {value}; raise it with --limit");
    }
    Ok(())
}

/// Opens a channel to the gateway.
///
/// # Errors
/// A message naming the endpoint and suggesting `dmesh serve`.
pub async fn connect(endpoint: &str) -> anyhow::Result<Channel> {
    let uri = if endpoint.contains("://") {
        endpoint.replacen("grpc+tls://", "https://", 1).replacen("grpc://", "http://", 1)
    } else {
        format!("http://{endpoint}")
    };
    let ep = Endpoint::from_shared(uri.clone())
        .map_err(|_| anyhow!("`{endpoint}` is not an endpoint; write it like http://127.0.0.1:50051"))?
        .connect_timeout(Duration::from_secs(5))
        .http2_adaptive_window(true)
        .tcp_nodelay(true);
    ep.connect()
        .await
        .map_err(|_| anyhow!("cannot reach the gateway at {uri}: is `dmesh serve` running there? (set --endpoint or DMESH_ENDPOINT)"))
}

/// One line for a failed call: the gateway's message, its status, and
/// whether retrying may help.
fn status(s: tonic::Status) -> anyhow::Error {
    let retry = s
        .metadata()
        .get(crate::error::RETRYABLE_HEADER)
        .and_then(|v| v.to_str().ok())
        == Some("true");
    let hint = if retry { "; retrying may help" } else { "" };
    let code = crate::error::code_name(s.code());
    match s.code() {
        tonic::Code::Unavailable if s.message().contains("transport") || s.message().contains("connect") => {
            anyhow!("the gateway is unreachable: {} [{code}]", s.message())
        }
        _ => anyhow!("{} [{code}{hint}]", s.message()),
    }
}

fn flight_error(e: arrow_flight::error::FlightError) -> anyhow::Error {
    match e {
        arrow_flight::error::FlightError::Tonic(s) => status(*s),
        other => anyhow!("reading the result failed: {other}"),
    }
}
