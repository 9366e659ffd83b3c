//! Who may do what: rights, grants, roles and the limits that come with them.
//!
//! A principal holds roles; a role holds grants and limits. A grant gives
//! rights on one connector (or `*`), optionally narrowed to tables written as
//! `schema.table` patterns where `*` stands for any name. The rights:
//!
//! | right   | lets the principal                                                  |
//! |---------|---------------------------------------------------------------------|
//! | `read`  | query, list, describe and search                                    |
//! | `write` | run statements that change rows (the connector must allow writes)  |
//! | `ddl`   | run statements that change the schema or the session               |
//! | `jobs`  | submit and cancel jobs on processing connectors                     |
//! | `admin` | add and remove connectors, tokens and roles                         |
//!
//! `write`, `ddl` and `jobs` include `read` on what they cover, and `ddl`
//! includes `write`. Two roles are
//! built in: `reader` (read on every connector) and `admin` (every right).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One right a grant gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Query, list, describe, search.
    Read,
    /// Change rows.
    Write,
    /// Change the schema or the session.
    Ddl,
    /// Submit and cancel jobs.
    Jobs,
    /// Change the registry, tokens and roles.
    Admin,
}

impl Right {
    /// Every right, in order.
    pub const ALL: [Right; 5] = [Right::Read, Right::Write, Right::Ddl, Right::Jobs, Right::Admin];

    /// Its name as written in configs.
    pub fn name(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::Write => "write",
            Right::Ddl => "ddl",
            Right::Jobs => "jobs",
            Right::Admin => "admin",
        }
    }

    /// Parses a name as written in configs.
    pub fn parse(text: &str) -> Option<Right> {
        Right::ALL.into_iter().find(|r| r.name() == text.trim().to_ascii_lowercase())
    }
}

fn read_only() -> Vec<Right> {
    vec![Right::Read]
}

/// Rights on one connector, or on every connector (`*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// A connector name, or `*` for every connector.
    pub connector: String,
    /// Table patterns (`schema.table`, `schema.*`, `table`, `*`) the grant is
    /// narrowed to; empty for the whole connector. A one-part pattern names
    /// a table in any schema.
    #[serde(default)]
    pub tables: Vec<String>,
    /// The rights given: `read`, `write`, `ddl`, `jobs`, `admin`.
    #[serde(default = "read_only")]
    #[schemars(with = "Vec<String>")]
    pub rights: Vec<Right>,
}

impl Grant {
    /// Parses the CLI's form `CONNECTOR[:TABLES][=RIGHTS]`, e.g.
    /// `warehouse:public.*,sales.orders=read,write` or `*=read`.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse(text: &str) -> Result<Grant, String> {
        let (target, rights) = text.split_once('=').unwrap_or((text, "read"));
        let (connector, tables) = target.split_once(':').unwrap_or((target, ""));
        if connector.trim().is_empty() {
            return Err(format!("grant `{text}` names no connector; write CONNECTOR[:TABLES][=RIGHTS]"));
        }
        let rights = rights
            .split(',')
            .map(|r| Right::parse(r).ok_or_else(|| format!("`{r}` is not a right; use read, write, ddl, jobs or admin")))
            .collect::<Result<Vec<_>, _>>()?;
        let tables = tables.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
        Ok(Grant {
            connector: connector.trim().to_owned(),
            tables,
            rights,
        })
    }

    fn gives(&self, right: Right) -> bool {
        self.rights.iter().any(|r| {
            *r == right || (right == Right::Read && *r != Right::Admin) || (right == Right::Write && *r == Right::Ddl)
        })
    }

    fn covers_connector(&self, connector: &str) -> bool {
        self.connector == "*" || self.connector == connector
    }

    fn covers_table(&self, table: &Relation) -> bool {
        self.tables.is_empty() || self.tables.iter().any(|p| pattern_covers(p, table))
    }
}

/// Whether a `schema.table` pattern covers a table. A reference without a
/// schema is covered only by patterns that hold for every schema, since the
/// source decides where it resolves.
fn pattern_covers(pattern: &str, table: &Relation) -> bool {
    let glob = |p: &str, v: &str| p == "*" || p == v;
    match pattern.rsplit_once('.') {
        None => glob(pattern, &table.name),
        Some((schema, name)) => {
            glob(name, &table.name)
                && match &table.schema {
                    Some(s) => glob(schema, s),
                    None => schema == "*",
                }
        }
    }
}

/// A table a statement names, or one a listing shows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Relation {
    /// The schema, when written or known.
    pub schema: Option<String>,
    /// The table's name.
    pub name: String,
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Caps a role puts on each of its principal's requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleLimits {
    /// Rows a result may have before it is cut.
    pub max_rows: Option<u64>,
    /// Bytes of Arrow data a result may have before it is cut, e.g. `64MiB`.
    pub max_bytes: Option<String>,
    /// Time a statement may run, e.g. `30s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub statement_timeout: Option<Duration>,
    /// Queries the principal may run at once; more wait briefly, then are
    /// refused with RESOURCE_EXHAUSTED.
    pub max_concurrent: Option<u32>,
}

/// A named set of grants and limits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// What the role may do.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Caps on each request.
    #[serde(default)]
    pub limits: RoleLimits,
}

impl Role {
    /// Checks the role's sizes and names.
    ///
    /// # Errors
    /// A message naming the field.
    pub fn validate(&self, name: &str) -> Result<(), String> {
        if let Some(b) = &self.limits.max_bytes
            && dmesh_connector_api::parse_size(b).is_none()
        {
            return Err(format!("role `{name}`: max_bytes `{b}` is not a size (e.g. 64MiB)"));
        }
        if self.limits.max_concurrent == Some(0) {
            return Err(format!("role `{name}`: max_concurrent must be at least 1"));
        }
        for g in &self.grants {
            if g.connector.is_empty() {
                return Err(format!("role `{name}`: a grant names no connector"));
            }
        }
        Ok(())
    }
}

/// The roles every gateway knows, whatever its config says.
pub fn builtin_roles() -> BTreeMap<String, Role> {
    let all = |rights: Vec<Right>| Role {
        grants: vec![Grant {
            connector: "*".into(),
            tables: Vec::new(),
            rights,
        }],
        limits: RoleLimits::default(),
    };
    BTreeMap::from([
        ("reader".to_owned(), all(vec![Right::Read])),
        ("admin".to_owned(), all(Right::ALL.to_vec())),
    ])
}

/// What one principal may do: its roles' grants and the tightest of their
/// limits, resolved once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// The roles it was built from.
    pub roles: BTreeSet<String>,
    /// Every grant of every role.
    pub grants: Vec<Grant>,
    /// The tightest caps of its roles.
    pub limits: EffectiveLimits,
}

/// Limits resolved to numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EffectiveLimits {
    /// Rows per result.
    pub max_rows: Option<u64>,
    /// Bytes per result.
    pub max_bytes: Option<u64>,
    /// Time per statement.
    pub statement_timeout: Option<Duration>,
    /// Queries at once.
    pub max_concurrent: Option<u32>,
}

/// The smaller of two optional caps; a missing cap is no cap.
pub(crate) fn tighter<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Policy {
    /// Every right on everything, no limits: the policy of callers when the
    /// gateway does not authenticate.
    pub fn unrestricted() -> Self {
        Self {
            roles: BTreeSet::from(["admin".to_owned()]),
            grants: builtin_roles().remove("admin").map(|r| r.grants).unwrap_or_default(),
            limits: EffectiveLimits::default(),
        }
    }

    /// Joins roles into one policy.
    pub fn from_roles<'a>(roles: impl IntoIterator<Item = (&'a str, &'a Role)>) -> Self {
        let mut policy = Policy::default();
        let mut limited = false;
        for (name, role) in roles {
            policy.roles.insert(name.to_owned());
            policy.grants.extend(role.grants.iter().cloned());
            let l = &role.limits;
            let bytes = l.max_bytes.as_deref().and_then(dmesh_connector_api::parse_size);
            let e = &mut policy.limits;
            if limited {
                e.max_rows = tighter(e.max_rows, l.max_rows);
                e.max_bytes = tighter(e.max_bytes, bytes);
                e.statement_timeout = tighter(e.statement_timeout, l.statement_timeout);
                e.max_concurrent = tighter(e.max_concurrent, l.max_concurrent);
            } else {
                *e = EffectiveLimits {
                    max_rows: l.max_rows,
                    max_bytes: bytes,
                    statement_timeout: l.statement_timeout,
                    max_concurrent: l.max_concurrent,
                };
                limited = true;
            }
        }
        policy
    }

    /// Whether the principal holds `right` on some part of `connector`.
    pub fn may(&self, right: Right, connector: &str) -> bool {
        self.grants.iter().any(|g| g.covers_connector(connector) && g.gives(right))
    }

    /// Whether the principal holds `right` on the whole of `connector`, with
    /// no table narrowing.
    pub fn may_everywhere(&self, right: Right, connector: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.covers_connector(connector) && g.gives(right) && g.tables.is_empty())
    }

    /// Whether the principal holds `right` on `table` of `connector`.
    pub fn may_table(&self, right: Right, connector: &str, table: &Relation) -> bool {
        self.grants
            .iter()
            .any(|g| g.covers_connector(connector) && g.gives(right) && g.covers_table(table))
    }

    /// Whether the principal holds `right` on any connector at all.
    pub fn holds(&self, right: Right) -> bool {
        self.grants.iter().any(|g| g.gives(right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(schema: Option<&str>, name: &str) -> Relation {
        Relation {
            schema: schema.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    #[test]
    fn grants_parse_from_the_cli_form() {
        let g = Grant::parse("wh:public.*,sales.orders=read,write").expect("valid");
        assert_eq!(g.connector, "wh");
        assert_eq!(g.tables, vec!["public.*", "sales.orders"]);
        assert_eq!(g.rights, vec![Right::Read, Right::Write]);
        assert_eq!(Grant::parse("*").expect("valid").rights, vec![Right::Read]);
        assert!(Grant::parse("wh=rule").expect_err("bad right").contains("not a right"));
        assert!(Grant::parse(":t=read").is_err());
    }

    #[test]
    fn table_patterns_match_schema_and_name() {
        let role = Role {
            grants: vec![Grant::parse("wh:public.*,sales.orders,audit_log").expect("valid")],
            limits: RoleLimits::default(),
        };
        let p = Policy::from_roles([("r", &role)]);
        assert!(p.may_table(Right::Read, "wh", &rel(Some("public"), "anything")));
        assert!(p.may_table(Right::Read, "wh", &rel(Some("sales"), "orders")));
        assert!(!p.may_table(Right::Read, "wh", &rel(Some("sales"), "salaries")));
        assert!(p.may_table(Right::Read, "wh", &rel(Some("ops"), "audit_log")));
        // Unqualified: only the any-schema pattern holds, whatever search path the source uses.
        assert!(!p.may_table(Right::Read, "wh", &rel(None, "anything")));
        assert!(p.may_table(Right::Read, "wh", &rel(None, "audit_log")));
        assert!(!p.may_table(Right::Read, "other", &rel(Some("public"), "x")));
        assert!(!p.may_table(Right::Write, "wh", &rel(Some("public"), "x")));
        assert!(p.may(Right::Read, "wh") && !p.may_everywhere(Right::Read, "wh"));
    }

    #[test]
    fn rights_imply_read_but_not_each_other() {
        let role = Role {
            grants: vec![Grant::parse("wh=write").expect("valid"), Grant::parse("ops=admin").expect("valid")],
            limits: RoleLimits::default(),
        };
        let p = Policy::from_roles([("r", &role)]);
        assert!(p.may(Right::Read, "wh") && p.may(Right::Write, "wh"));
        assert!(!p.may(Right::Ddl, "wh") && !p.may(Right::Jobs, "wh"));
        assert!(p.may(Right::Admin, "ops") && !p.may(Right::Read, "ops"));
        assert!(Policy::unrestricted().may(Right::Ddl, "anything"));
    }

    #[test]
    fn the_tightest_limits_of_several_roles_apply() {
        let a = Role {
            grants: Vec::new(),
            limits: RoleLimits {
                max_rows: Some(100),
                max_bytes: Some("1MiB".into()),
                statement_timeout: None,
                max_concurrent: Some(4),
            },
        };
        let b = Role {
            grants: Vec::new(),
            limits: RoleLimits {
                max_rows: Some(1000),
                max_bytes: None,
                statement_timeout: Some(Duration::from_secs(5)),
                max_concurrent: Some(2),
            },
        };
        let p = Policy::from_roles([("a", &a), ("b", &b)]);
        assert_eq!(p.limits.max_rows, Some(100));
        assert_eq!(p.limits.max_bytes, Some(1 << 20));
        assert_eq!(p.limits.statement_timeout, Some(Duration::from_secs(5)));
        assert_eq!(p.limits.max_concurrent, Some(2));
        assert!(
            Role {
                grants: Vec::new(),
                limits: RoleLimits {
                    max_bytes: Some("lots".into()),
                    ..RoleLimits::default()
                }
            }
            .validate("x")
            .is_err()
        );
    }
}
