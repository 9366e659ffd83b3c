//! The embedded state store: what the gateway learns at run time and must
//! keep across restarts. A SQLite file under the state directory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{GatewayError, Result};

/// A connector instance added at run time.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorRecord {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its config as given (secret references stay references).
    pub config: serde_json::Value,
    /// When it was added.
    pub created_at: SystemTime,
}

/// The state store. Cloning shares the one connection.
#[derive(Clone)]
pub struct StateStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore").field("path", &self.path).finish_non_exhaustive()
    }
}

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE connectors (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        config TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
    );",
    "CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        principal TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        roles TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER,
        revoked_at_ms INTEGER
    );
    CREATE TABLE roles (
        name TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );",
];

/// An API token minted at run time, or the revocation of one from the
/// config file (then `sha256` is empty). The token itself is never kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// Its public id.
    pub id: String,
    /// Who it authenticates.
    pub principal: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    /// The roles it gives its principal.
    pub roles: Vec<String>,
    /// Milliseconds since the epoch.
    pub created_at_ms: i64,
    /// When it stops working, if ever.
    pub expires_at_ms: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<i64>,
}

/// The current time in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl StateStore {
    /// Opens (creating if needed) `state.db` in `dir`.
    ///
    /// # Errors
    /// [`GatewayError::State`] naming the directory when it cannot be used.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| GatewayError::State(format!("cannot create state directory `{}`: {e}", dir.display())))?;
        let path = dir.join("state.db");
        let conn = Connection::open(&path)
            .map_err(|e| GatewayError::State(format!("cannot open `{}`: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(state_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(state_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(state_err)?;
        migrate(&conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every connector added at run time, in name order.
    ///
    /// # Errors
    /// [`GatewayError::State`].
    pub async fn connectors(&self) -> Result<Vec<ConnectorRecord>> {
        self.with(|conn| {
            let mut stmt =
                conn.prepare("SELECT name, kind, config, created_at_ms FROM connectors ORDER BY name")?;
            let rows = stmt.query_map([], |row| {
                let config: String = row.get(2)?;
                let ms: i64 = row.get(3)?;
                Ok(ConnectorRecord {
                    name: row.get(0)?,
                    kind: row.get(1)?,
                    config: serde_json::from_str(&config).unwrap_or(serde_json::Value::Null),
                    created_at: UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64),
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Keeps a connector; fails if the name is taken.
    ///
    /// # Errors
    /// [`GatewayError::ConnectorExists`] or [`GatewayError::State`].
    pub async fn insert_connector(&self, record: ConnectorRecord) -> Result<()> {
        let name = record.name.clone();
        let inserted = self
            .with(move |conn| {
                let ms = record
                    .created_at
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                conn.execute(
                    "INSERT INTO connectors (name, kind, config, created_at_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name) DO NOTHING",
                    params![record.name, record.kind, record.config.to_string(), ms],
                )
            })
            .await?;
        if inserted == 0 {
            return Err(GatewayError::ConnectorExists(name));
        }
        Ok(())
    }

    /// Forgets a connector. Returns whether it was there.
    ///
    /// # Errors
    /// [`GatewayError::State`].
    pub async fn remove_connector(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        let n = self
            .with(move |conn| conn.execute("DELETE FROM connectors WHERE name = ?1", params![name]))
            .await?;
        Ok(n > 0)
    }

    /// Every token record, revoked ones included, oldest first.
    ///
    /// # Errors
    /// [`GatewayError::State`].
    pub fn tokens_now(&self) -> Result<Vec<TokenRecord>> {
        let conn = self.conn.lock().map_err(|_| GatewayError::State("state store lock poisoned".into()))?;
        let mut stmt = conn
            .prepare(
                "SELECT id, principal, sha256, roles, created_at_ms, expires_at_ms, revoked_at_ms
                 FROM tokens ORDER BY created_at_ms, id",
            )
            .map_err(state_err)?;
        let rows = stmt
            .query_map([], |row| {
                let roles: String = row.get(3)?;
                Ok(TokenRecord {
                    id: row.get(0)?,
                    principal: row.get(1)?,
                    sha256: row.get(2)?,
                    roles: serde_json::from_str(&roles).unwrap_or_default(),
                    created_at_ms: row.get(4)?,
                    expires_at_ms: row.get(5)?,
                    revoked_at_ms: row.get(6)?,
                })
            })
            .map_err(state_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(state_err)
    }

    /// Keeps a token record, replacing one with the same id.
    ///
    /// # Errors
    /// [`GatewayError::State`].
    pub async fn put_token(&self, t: TokenRecord) -> Result<()> {
        self.with(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO tokens (id, principal, sha256, roles, created_at_ms, expires_at_ms, revoked_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    t.id,
                    t.principal,
                    t.sha256,
                    serde_json::to_string(&t.roles).unwrap_or_else(|_| "[]".into()),
                    t.created_at_ms,
                    t.expires_at_ms,
                    t.revoked_at_ms
                ],
            )
        })
        .await
        .map(drop)
    }

    /// Every role defined at run time: name and JSON definition.
    ///
    /// # Errors
    /// [`GatewayError::State`].
    pub fn roles_now(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn.lock().map_err(|_| GatewayError::State("state store lock poisoned".into()))?;
        let mut stmt = conn.prepare("SELECT name, definition FROM roles ORDER BY name").map_err(state_err)?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).map_err(state_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(state_err)
    }

    /// Keeps (or replaces) a role's JSON definition; `None` removes it.
    /// Returns whether a role of that name was there before.
    ///
    /// # Errors
    /// [`GatewayError::State`].
    pub async fn put_role(&self, name: &str, definition: Option<String>) -> Result<bool> {
        let name = name.to_owned();
        self.with(move |conn| {
            let existed = conn
                .query_row("SELECT 1 FROM roles WHERE name = ?1", params![name], |_| Ok(()))
                .optional()?
                .is_some();
            match definition {
                Some(d) => conn.execute(
                    "INSERT OR REPLACE INTO roles (name, definition, updated_at_ms) VALUES (?1, ?2, ?3)",
                    params![name, d, now_ms()],
                )?,
                None => conn.execute("DELETE FROM roles WHERE name = ?1", params![name])?,
            };
            Ok(existed)
        })
        .await
    }

    async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let guard = conn.lock().map_err(|_| GatewayError::State("state store lock poisoned".into()))?;
            f(&guard).map_err(state_err)
        })
        .await
        .map_err(|e| GatewayError::State(format!("state store task failed: {e}")))?
    }
}

fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .optional()
        .map_err(state_err)?
        .unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        conn.execute_batch(sql).map_err(state_err)?;
        conn.pragma_update(None, "user_version", (i + 1) as i64).map_err(state_err)?;
    }
    Ok(())
}

fn state_err(e: rusqlite::Error) -> GatewayError {
    GatewayError::State(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> ConnectorRecord {
        ConnectorRecord {
            name: name.into(),
            kind: "files".into(),
            config: serde_json::json!({"path": "/data"}),
            created_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        }
    }

    #[tokio::test]
    async fn connectors_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = StateStore::open(dir.path()).expect("open");
            store.insert_connector(record("b")).await.expect("insert");
            store.insert_connector(record("a")).await.expect("insert");
            let dup = store.insert_connector(record("a")).await.expect_err("duplicate");
            assert!(matches!(dup, GatewayError::ConnectorExists(n) if n == "a"));
        }
        let store = StateStore::open(dir.path()).expect("reopen");
        let all = store.connectors().await.expect("list");
        assert_eq!(all, vec![record("a"), record("b")]);
        assert!(store.remove_connector("a").await.expect("remove"));
        assert!(!store.remove_connector("a").await.expect("remove again"));
        assert_eq!(store.connectors().await.expect("list").len(), 1);
    }

    #[test]
    fn an_unusable_directory_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("write");
        let e = StateStore::open(&file.join("sub")).expect_err("not a dir");
        assert!(e.to_string().contains("cannot create state directory"), "{e}");
    }
}
