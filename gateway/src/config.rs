//! The gateway's config file.
//!
//! Precedence, lowest first: built-in defaults < the config file (TOML) <
//! environment variables (`DMESH_LISTEN`, `DMESH_STATE_DIR`) < command-line
//! flags; then [`GatewayConfig::validate`].
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:50051"
//! state_dir = "/var/lib/dmesh"
//! ticket_ttl = "5m"
//!
//! [connectors.sales]
//! type = "files"
//! path = "/data/sales"
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dmesh_connector_api::SecretRef;
use serde::Deserialize;

use crate::registry::validate_name;

/// The whole config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// How the server listens and where it keeps state.
    #[serde(default)]
    pub server: ServerConfig,

    /// Connector instances by name. Each table holds a `type` key naming
    /// the kind and that kind's fields.
    #[serde(default)]
    pub connectors: BTreeMap<String, toml::Table>,

    /// API tokens; with none, calls are not authenticated.
    #[serde(default)]
    pub auth: crate::auth::AuthConfig,
}

/// The `[server]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The address to listen on. Port 0 picks a free port (logged at start).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,

    /// Where connectors added at run time and other state are kept.
    /// Defaults to `$XDG_STATE_HOME/dmesh` (or `~/.local/state/dmesh`).
    #[serde(default)]
    pub state_dir: Option<PathBuf>,

    /// How long a Flight ticket stays valid, e.g. `5m` or `30s`.
    #[serde(default = "default_ticket_ttl", with = "humantime_serde")]
    pub ticket_ttl: Duration,

    /// The key tickets are signed with, as a secret reference such as
    /// `${env:DMESH_TICKET_KEY}`. Replicas behind one load balancer share it;
    /// without it each process makes a random key at start.
    #[serde(default)]
    pub ticket_key: Option<SecretRef>,

    /// How long shutdown waits for running calls before it ends them.
    #[serde(default = "default_shutdown_grace", with = "humantime_serde")]
    pub shutdown_grace: Duration,

    /// Largest request message accepted, in bytes.
    #[serde(default = "default_max_message")]
    pub max_request_bytes: usize,

    /// The most rows an Execute reply may carry inline, whatever the client
    /// asks for; bigger results are streamed with the ticket.
    #[serde(default = "default_inline_rows")]
    pub inline_max_rows: u64,

    /// Listen on an address other machines can reach although calls are
    /// not authenticated. Off by default: without authentication the
    /// gateway accepts calls from this machine only.
    #[serde(default)]
    pub allow_unauthenticated_remote: bool,
    /// Serve metrics in the Prometheus text format at
    /// `http://ADDRESS/metrics`, e.g. `127.0.0.1:9464`.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,

    /// A file the audit log (one JSON line per query) is appended to, as
    /// well as the `dmesh::audit` log target.
    #[serde(default)]
    pub audit_log: Option<PathBuf>,

    /// Queries one connector runs at once; more wait in a short queue.
    #[serde(default = "default_max_running")]
    pub max_running_per_connector: usize,

    /// Queries that may wait for one connector; beyond that a query is
    /// refused at once with RESOURCE_EXHAUSTED (and a retry hint).
    #[serde(default = "default_max_queued")]
    pub max_queued_per_connector: usize,

    /// How long a queued query waits before it is refused, e.g. `2s`.
    #[serde(default = "default_queue_timeout", with = "humantime_serde")]
    pub queue_timeout: Duration,

    /// TLS on the gateway's port.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// The `[server.tls]` table: the gateway's certificate and, for mutual TLS,
/// the CA whose client certificates it accepts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server certificate chain (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    /// A CA (PEM) whose client certificates are required; connections
    /// without one, or with one from another CA, are refused in the handshake.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

fn default_max_running() -> usize {
    32
}

fn default_max_queued() -> usize {
    64
}

fn default_queue_timeout() -> Duration {
    Duration::from_secs(2)
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50051))
}

fn default_ticket_ttl() -> Duration {
    Duration::from_secs(300)
}

fn default_shutdown_grace() -> Duration {
    Duration::from_secs(10)
}

fn default_max_message() -> usize {
    4 << 20
}

fn default_inline_rows() -> u64 {
    1000
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            allow_unauthenticated_remote: false,
            metrics_listen: None,
            audit_log: None,
            state_dir: None,
            ticket_ttl: default_ticket_ttl(),
            ticket_key: None,
            shutdown_grace: default_shutdown_grace(),
            max_request_bytes: default_max_message(),
            inline_max_rows: default_inline_rows(),
            max_running_per_connector: default_max_running(),
            max_queued_per_connector: default_max_queued(),
            queue_timeout: default_queue_timeout(),
            tls: None,
        }
    }
}

/// A config problem, with the file it is in.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a gateway config.
    #[error("config file `{path}` is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is wrong.
    #[error("config is invalid: {0}")]
    Invalid(String),
}

impl GatewayConfig {
    /// Reads and parses a TOML config file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Parse`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// The parser's message.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    /// Checks what the types alone cannot.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.ticket_ttl < Duration::from_secs(1) {
            return Err(ConfigError::Invalid("server.ticket_ttl must be at least 1s".into()));
        }
        if self.server.max_running_per_connector == 0 {
            return Err(ConfigError::Invalid("server.max_running_per_connector must be at least 1".into()));
        }
        if self.server.max_request_bytes < 1024 {
            return Err(ConfigError::Invalid("server.max_request_bytes must be at least 1024".into()));
        }
        for (name, table) in &self.connectors {
            validate_name(name).map_err(|e| ConfigError::Invalid(format!("[connectors.{name}]: {e}")))?;
            match table.get("type") {
                Some(toml::Value::String(_)) => {}
                Some(_) => {
                    return Err(ConfigError::Invalid(format!(
                        "[connectors.{name}]: `type` must be a string naming a connector kind"
                    )));
                }
                None => {
                    return Err(ConfigError::Invalid(format!(
                        "[connectors.{name}] has no `type`; add e.g. type = \"files\" (`dmesh connector kinds` lists the kinds)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Each connector's kind and config as JSON (without `type`).
    pub fn connector_configs(&self) -> Vec<(String, String, serde_json::Value)> {
        self.connectors
            .iter()
            .map(|(name, table)| {
                let mut table = table.clone();
                let kind = match table.remove("type") {
                    Some(toml::Value::String(s)) => s,
                    _ => String::new(),
                };
                let json = serde_json::to_value(&table).unwrap_or_default();
                (name.clone(), kind, json)
            })
            .collect()
    }
}

/// The default state directory: `$XDG_STATE_HOME/dmesh`, else
/// `~/.local/state/dmesh`, else `.dmesh` in the working directory.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("dmesh");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".local/state/dmesh");
    }
    PathBuf::from(".dmesh")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_loads_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmesh.example.toml");
        let config = GatewayConfig::load(&path).expect("example config parses");
        config.validate().expect("example config is valid");
        assert_eq!(config.server.ticket_ttl, Duration::from_secs(300));
        let connectors = config.connector_configs();
        assert!(connectors.iter().any(|(name, kind, cfg)| name == "shop"
            && kind == "files"
            && cfg["path"].as_str().is_some()));
    }

    #[test]
    fn the_example_postgres_block_is_a_valid_postgres_config() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmesh.example.toml");
        let text = std::fs::read_to_string(path).expect("example config");
        let block: String = text
            .lines()
            .skip_while(|l| !l.starts_with("# [connectors.warehouse]"))
            .take_while(|l| l.starts_with("# "))
            .map(|l| format!("{}\n", &l[2..]))
            .collect();
        let config = GatewayConfig::parse(&block).expect("the commented block parses");
        config.validate().expect("valid");
        let (name, kind, cfg) = config.connector_configs().into_iter().next().expect("one connector");
        assert_eq!((name.as_str(), kind.as_str()), ("warehouse", "postgres"));
        let pg: dmesh_connector_postgres::PostgresConfig =
            dmesh_connector_api::parse_config("postgres", cfg).expect("every field is a postgres field");
        assert_eq!(pg.pool_size, 8);
    }

    #[test]
    fn defaults_apply_to_an_empty_file() {
        let config = GatewayConfig::parse("").expect("empty is fine");
        assert_eq!(config.server.listen, default_listen());
        assert!(config.connectors.is_empty());
    }

    #[test]
    fn unknown_and_mistyped_fields_are_named() {
        let e = GatewayConfig::parse("[server]\nlisen = \"1.2.3.4:5\"\n").expect_err("unknown field");
        assert!(e.contains("unknown field `lisen`"), "{e}");
        let e = GatewayConfig::parse("[server]\nticket_ttl = \"soon\"\n").expect_err("bad duration");
        assert!(e.contains("ticket_ttl"), "{e}");
        let e = GatewayConfig::parse("[server]\nlisten = 5\n").expect_err("bad type");
        assert!(e.contains("listen"), "{e}");
    }

    #[test]
    fn connectors_need_a_type_and_a_good_name() {
        let c = GatewayConfig::parse("[connectors.a]\npath = \"/x\"\n").expect("parses");
        assert!(c.validate().expect_err("no type").to_string().contains("has no `type`"));
        let c = GatewayConfig::parse("[connectors.Bad]\ntype = \"files\"\n").expect("parses");
        assert!(c.validate().expect_err("bad name").to_string().contains("invalid connector name"));
    }
}
