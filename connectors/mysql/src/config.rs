//! The `mysql` kind's config.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dmesh_connector_api::{BuildContext, Connector, ConnectorConfig, Error, ExposeSecret, Family, Result, SecretRef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::MySqlConnector;

/// How the connection to MySQL is encrypted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS, with the certificate's chain checked against `tls_root_cert`
    /// (or the system's roots) but not its host name.
    VerifyCa,
    /// TLS, with the chain and the host name checked; the default.
    #[default]
    VerifyFull,
    /// TLS without checking the certificate at all: encryption only, for
    /// servers with self-made certificates on trusted networks.
    Require,
}

/// Config of the `mysql` kind: a MySQL or MariaDB database.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MySqlConfig {
    /// The server's host name or address.
    pub host: String,
    /// Its TCP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The database (schema) queries run in; others are reachable by
    /// qualified names where the user's grants allow.
    pub database: String,
    /// The user to log in as.
    pub user: String,
    /// The user's password, written as a reference such as
    /// `${env:MYSQL_PASSWORD}` or `${file:/run/secrets/mysql}`.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// TLS: disable, require, verify-ca or verify-full.
    #[serde(default)]
    pub tls_mode: TlsMode,
    /// A PEM file of CA certificates to trust instead of the system's roots.
    #[serde(default)]
    #[schemars(extend("x-dmesh-path" = true))]
    pub tls_root_cert: Option<PathBuf>,
    /// The most connections the pool opens.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// The longest a connection attempt may take, e.g. `5s`.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub connect_timeout: Duration,
    /// The longest a request waits for a pooled connection, e.g. `10s`.
    #[serde(default = "default_checkout_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub checkout_timeout: Duration,
    /// The longest a statement may run, e.g. `30s`; a request may ask for less.
    #[serde(default = "default_statement_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub statement_timeout: Duration,
    /// Let callers holding the `write` or `ddl` right change the database.
    /// Off by default: every request runs in a read-only transaction.
    #[serde(default)]
    pub allow_writes: bool,
    /// What the database holds, for people and agents browsing connectors.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether statements are checked before the server sees them (the first
    /// of the read-only layers). Only tests turn it off, to prove the other
    /// layers hold on their own.
    #[serde(default = "checked")]
    #[schemars(skip)]
    pub check_statements: bool,
}

fn checked() -> bool {
    true
}
fn default_port() -> u16 {
    3306
}
fn default_pool_size() -> usize {
    8
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_checkout_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_statement_timeout() -> Duration {
    Duration::from_secs(300)
}

impl MySqlConfig {
    /// A config for `database` on `host:port` as `user`, with the defaults.
    pub fn new(host: &str, port: u16, database: &str, user: &str) -> Self {
        Self {
            host: host.to_owned(),
            port,
            database: database.to_owned(),
            user: user.to_owned(),
            password: None,
            tls_mode: TlsMode::default(),
            tls_root_cert: None,
            pool_size: default_pool_size(),
            connect_timeout: default_connect_timeout(),
            checkout_timeout: default_checkout_timeout(),
            statement_timeout: default_statement_timeout(),
            allow_writes: false,
            description: None,
            check_statements: true,
        }
    }

    /// The driver's options: the password resolved, TLS set up, every
    /// session in UTC (TIMESTAMP values read as instants).
    pub(crate) fn driver_opts(&self) -> Result<mysql_async::Opts> {
        let invalid = |m: String| Error::invalid_argument(m).with_reason("INVALID_CONFIG");
        if self.host.trim().is_empty() {
            return Err(invalid("`host` is empty; give the MySQL server's host name or address".into()));
        }
        if self.pool_size == 0 {
            return Err(invalid("`pool_size` must be at least 1".into()));
        }
        let password = match &self.password {
            Some(p) => Some(p.resolve()?.expose_secret().to_owned()),
            None => None,
        };
        let ssl = match self.tls_mode {
            TlsMode::Disable => None,
            mode => {
                let mut ssl = mysql_async::SslOpts::default();
                if let Some(root) = &self.tls_root_cert {
                    if !root.exists() {
                        return Err(invalid(format!("`tls_root_cert` {} does not exist", root.display())));
                    }
                    ssl = ssl.with_root_certs(vec![root.clone().into()]).with_disable_built_in_roots(true);
                }
                match mode {
                    TlsMode::Require => ssl.with_danger_accept_invalid_certs(true).with_danger_skip_domain_validation(true),
                    TlsMode::VerifyCa => ssl.with_danger_skip_domain_validation(true),
                    _ => ssl,
                }
                .into()
            }
        };
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .db_name(Some(self.database.clone()))
            .user(Some(self.user.clone()))
            .pass(password)
            .prefer_socket(false)
            .ssl_opts(ssl)
            .stmt_cache_size(64)
            // Run on every new connection and after every reset.
            .setup(vec!["SET time_zone = '+00:00'".to_owned()]);
        Ok(opts.into())
    }
}

impl ConnectorConfig for MySqlConfig {
    const KIND: &'static str = "mysql";
    const DESCRIPTION: &'static str =
        "A MySQL or MariaDB database: pooled, read-only by default, binary-protocol rows decoded into Arrow.";
    const FAMILIES: &'static [Family] = &[Family::Query, Family::Catalog];

    async fn build(self, ctx: &BuildContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(MySqlConnector::open(&ctx.name, self).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_resolved_and_never_printed() {
        let mut c = MySqlConfig::new("h", 1, "d", "u");
        c.password = Some(SecretRef::new("${env:DMESH_MYSQL_CONFIG_TEST_MISSING}"));
        let e = c.driver_opts().expect_err("unset variable");
        assert!(e.message().contains("DMESH_MYSQL_CONFIG_TEST_MISSING"), "{e}");
        c.password = Some(SecretRef::new("s3cret-canary"));
        let opts = c.driver_opts().expect("literal");
        assert_eq!(opts.pass(), Some("s3cret-canary"));
        assert!(!format!("{c:?}").contains("s3cret-canary"));
    }

    #[test]
    fn bad_values_are_named() {
        let mut c = MySqlConfig::new("h", 1, "d", "u");
        c.pool_size = 0;
        assert!(c.driver_opts().expect_err("zero").message().contains("pool_size"));
        let mut c = MySqlConfig::new("h", 1, "d", "u");
        c.tls_root_cert = Some("/nonexistent/ca.pem".into());
        assert!(c.driver_opts().expect_err("missing").message().contains("tls_root_cert"));
        let parsed: MySqlConfig = serde_json::from_value(serde_json::json!({
            "host": "h", "database": "d", "user": "u", "tls_mode": "verify-ca"
        }))
        .expect("parses");
        assert_eq!(parsed.port, 3306);
        assert_eq!(parsed.tls_mode, TlsMode::VerifyCa);
        assert!(serde_json::from_value::<MySqlConfig>(serde_json::json!({"host": "h", "database": "d", "user": "u", "bogus": 1})).is_err());
    }
}
