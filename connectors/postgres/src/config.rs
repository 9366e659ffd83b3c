//! The `postgres` kind's config.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dmesh_connector_api::{
    BuildContext, Connector, ConnectorConfig, Error, ExposeSecret, Family, Result, SecretRef, parse_size,
    resolve_references,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::PostgresConnector;

/// How the connection to PostgreSQL is encrypted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, plain TCP otherwise; certificates are
    /// verified when TLS is used.
    #[default]
    Prefer,
    /// TLS, refusing servers that do not offer it; the certificate and host
    /// name are verified.
    Require,
    /// As `require`.
    VerifyFull,
}

/// Config of the `postgres` kind: a PostgreSQL database.
///
/// Give either `url` or the separate fields (`host`, `port`, `database`,
/// `user`, `password`); separate fields override the URL's parts.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// A connection URL, `postgresql://user@host:port/database?sslmode=...`.
    /// Put no password in it: use `password` with a reference instead.
    #[serde(default)]
    pub url: Option<String>,

    /// The server's host name or IP address.
    #[serde(default)]
    pub host: Option<String>,

    /// The server's port.
    #[serde(default)]
    pub port: Option<u16>,

    /// The database to open.
    #[serde(default)]
    pub database: Option<String>,

    /// The role to log in as.
    #[serde(default)]
    pub user: Option<String>,

    /// The role's password, written as a reference such as `${env:PGPASSWORD}`
    /// or `${file:/run/secrets/pg}`.
    #[serde(default)]
    pub password: Option<SecretRef>,

    /// TLS: disable, prefer, require or verify-full.
    #[serde(default)]
    pub tls_mode: TlsMode,

    /// A PEM file of CA certificates to trust instead of the system's roots.
    #[serde(default)]
    #[schemars(extend("x-dmesh-path" = true))]
    pub tls_root_cert: Option<PathBuf>,

    /// Connections kept in the pool; the server never sees more from this
    /// connector.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,

    /// Time allowed to open one connection, e.g. `5s`.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub connect_timeout: Duration,

    /// Time a query may wait for a free pooled connection before it fails
    /// with UNAVAILABLE, e.g. `2s`.
    #[serde(default = "default_checkout_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub checkout_timeout: Duration,

    /// Time a statement may run on the server when the request sets no
    /// shorter limit, e.g. `5m`.
    #[serde(default = "default_statement_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub statement_timeout: Duration,

    /// The `application_name` the server shows for this connector's sessions.
    #[serde(default = "default_application_name")]
    pub application_name: String,

    /// Let callers allowed to write run statements that change data. Off by
    /// default: every statement then runs in a READ ONLY transaction.
    #[serde(default)]
    pub allow_writes: bool,

    /// Most connections one large read may use at once, each reading a range
    /// of the table's pages in the same snapshot. 1 turns parallel reads off.
    #[serde(default = "default_parallel_reads")]
    pub parallel_reads: usize,

    /// Tables smaller than this many bytes on disk are read by one
    /// connection, e.g. `64MiB`.
    #[serde(default = "default_parallel_threshold")]
    pub parallel_read_threshold: String,

    /// A description shown in listings.
    #[serde(default)]
    pub description: Option<String>,

    /// Check read-only statements before they reach the server (one query,
    /// no writes, no functions that touch files, programs, settings or
    /// locks). Always on outside tests that prove the layers below hold alone.
    #[serde(default = "default_true")]
    #[schemars(skip)]
    pub check_statements: bool,
}

fn default_true() -> bool {
    true
}

fn default_pool_size() -> usize {
    8
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_checkout_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_statement_timeout() -> Duration {
    Duration::from_secs(300)
}
fn default_application_name() -> String {
    "dmesh".to_owned()
}
fn default_parallel_reads() -> usize {
    2
}
fn default_parallel_threshold() -> String {
    "64MiB".to_owned()
}

impl PostgresConfig {
    /// A config for `host:port`, `database` and `user`, every other field at
    /// its default.
    pub fn new(host: &str, port: u16, database: &str, user: &str) -> Self {
        Self {
            url: None,
            host: Some(host.to_owned()),
            port: Some(port),
            database: Some(database.to_owned()),
            user: Some(user.to_owned()),
            password: None,
            tls_mode: TlsMode::default(),
            tls_root_cert: None,
            pool_size: default_pool_size(),
            connect_timeout: default_connect_timeout(),
            checkout_timeout: default_checkout_timeout(),
            statement_timeout: default_statement_timeout(),
            application_name: default_application_name(),
            allow_writes: false,
            parallel_reads: default_parallel_reads(),
            parallel_read_threshold: default_parallel_threshold(),
            description: None,
            check_statements: true,
        }
    }

    /// The driver config: URL first, then the separate fields over it.
    pub(crate) fn driver_config(&self) -> Result<tokio_postgres::Config> {
        let mut pg = tokio_postgres::Config::new();
        if let Some(url) = &self.url {
            let url = resolve_references(url)?;
            let parsed = url.parse::<tokio_postgres::Config>().map_err(|e| {
                // The driver's message names the bad part, never the URL.
                invalid(format!("`url` is not a PostgreSQL connection URL: {e}"))
            })?;
            if self.host.is_none() {
                for host in parsed.get_hosts() {
                    match host {
                        tokio_postgres::config::Host::Tcp(h) => pg.host(h),
                        tokio_postgres::config::Host::Unix(p) => pg.host_path(p),
                    };
                }
            }
            if self.port.is_none() {
                for port in parsed.get_ports() {
                    pg.port(*port);
                }
            }
            if let Some(user) = parsed.get_user() {
                pg.user(user);
            }
            if let Some(password) = parsed.get_password() {
                pg.password(password);
            }
            if let Some(db) = parsed.get_dbname() {
                pg.dbname(db);
            }
            if let Some(options) = parsed.get_options() {
                pg.options(options);
            }
        }
        if let Some(host) = &self.host {
            pg.host(host);
        }
        if let Some(port) = self.port {
            pg.port(port);
        }
        if let Some(db) = &self.database {
            pg.dbname(db);
        }
        if let Some(user) = &self.user {
            pg.user(user);
        }
        if let Some(password) = &self.password {
            pg.password(password.resolve()?.expose_secret().as_bytes());
        }
        if pg.get_hosts().is_empty() {
            return Err(invalid("set `host` (or `url`) to the PostgreSQL server's address"));
        }
        if pg.get_user().is_none() {
            return Err(invalid("set `user` (or `url`) to the role dmesh logs in as"));
        }
        if self.pool_size == 0 {
            return Err(invalid("`pool_size` must be at least 1"));
        }
        if self.parallel_reads == 0 {
            return Err(invalid("`parallel_reads` must be at least 1"));
        }
        self.parallel_threshold_bytes()?;
        pg.application_name(&self.application_name)
            .connect_timeout(self.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(30))
            .ssl_mode(match self.tls_mode {
                TlsMode::Disable => tokio_postgres::config::SslMode::Disable,
                TlsMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                TlsMode::Require | TlsMode::VerifyFull => tokio_postgres::config::SslMode::Require,
            });
        Ok(pg)
    }

    /// `parallel_read_threshold` in bytes.
    pub(crate) fn parallel_threshold_bytes(&self) -> Result<u64> {
        parse_size(&self.parallel_read_threshold).ok_or_else(|| {
            invalid(format!(
                "parallel_read_threshold {:?} is not a size; write e.g. 64MiB",
                self.parallel_read_threshold
            ))
        })
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_argument(message).with_reason("INVALID_CONFIG")
}

impl ConnectorConfig for PostgresConfig {
    const KIND: &'static str = "postgres";
    const DESCRIPTION: &'static str =
        "A PostgreSQL database: pooled, read-only by default, results decoded straight into Arrow.";
    const FAMILIES: &'static [Family] = &[Family::Query, Family::Catalog];

    async fn build(self, ctx: &BuildContext) -> Result<Arc<dyn Connector>> {
        let connector = PostgresConnector::open(&ctx.name, self).await?;
        Ok(Arc::new(connector))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_override_the_url() {
        let mut c = PostgresConfig::new("db.internal", 6543, "sales", "reader");
        c.url = Some("postgresql://other@elsewhere:5432/x".into());
        let pg = c.driver_config().expect("valid");
        assert_eq!(pg.get_user(), Some("reader"));
        assert_eq!(pg.get_dbname(), Some("sales"));
        assert_eq!(pg.get_ports(), &[6543]);
        assert_eq!(pg.get_application_name(), Some("dmesh"));
    }

    #[test]
    fn a_url_alone_is_enough() {
        let c: PostgresConfig =
            serde_json::from_value(serde_json::json!({"url": "postgresql://u@h:1/d"})).expect("parses");
        let pg = c.driver_config().expect("valid");
        assert_eq!(pg.get_user(), Some("u"));
        assert_eq!(pg.get_ports(), &[1]);
    }

    #[test]
    fn missing_host_and_bad_url_are_named() {
        let c: PostgresConfig = serde_json::from_value(serde_json::json!({"user": "u"})).expect("parses");
        let e = c.driver_config().expect_err("no host");
        assert!(e.message().contains("host"), "{e}");
        let c: PostgresConfig =
            serde_json::from_value(serde_json::json!({"url": "postgresql://u:hunter2@h:notaport/d"})).expect("parses");
        let e = c.driver_config().expect_err("bad url");
        assert!(e.message().contains("url"), "{e}");
        assert!(!e.message().contains("hunter2"), "{e}");
    }

    #[test]
    fn the_password_is_resolved_and_never_printed() {
        let mut c = PostgresConfig::new("h", 1, "d", "u");
        c.password = Some(SecretRef::new("${env:DMESH_PG_CONFIG_TEST_MISSING}"));
        let e = c.driver_config().expect_err("unset variable");
        assert!(e.message().contains("DMESH_PG_CONFIG_TEST_MISSING"), "{e}");
        c.password = Some(SecretRef::new("s3cret-canary"));
        let pg = c.driver_config().expect("literal");
        assert_eq!(pg.get_password(), Some(&b"s3cret-canary"[..]));
        assert!(!format!("{c:?}").contains("s3cret-canary"));
        assert!(!format!("{pg:?}").contains("s3cret-canary"));
    }

    #[test]
    fn sizes_and_pool_are_checked() {
        let mut c = PostgresConfig::new("h", 1, "d", "u");
        assert_eq!(c.parallel_threshold_bytes().expect("default"), 64 << 20);
        c.parallel_read_threshold = "lots".into();
        assert!(c.driver_config().is_err());
        let mut c = PostgresConfig::new("h", 1, "d", "u");
        c.pool_size = 0;
        assert!(c.driver_config().expect_err("zero").message().contains("pool_size"));
    }
}
