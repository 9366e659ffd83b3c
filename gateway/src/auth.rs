//! Authentication and the principals' policies.
//!
//! Callers prove who they are with an API token (`authorization: Bearer
//! <token>`), with a session token from the Flight SQL handshake (which takes
//! `authorization: Basic base64(principal:api-token)`), or with a client
//! certificate whose subject common name the config maps to a principal.
//!
//! API tokens come from the config file (as SHA-256 hashes) or are minted at
//! run time (`dmesh token create`, kept hashed in the state store); either
//! kind can be revoked at run time, which also ends the sessions opened with
//! it. Tokens are compared in constant time and never stored or echoed.
//!
//! A principal's policy joins the roles its tokens and certificate mappings
//! name (see [`crate::policy`]). Roles come from the config file, from the
//! state store (`dmesh role set`), and two are built in: `reader` and `admin`.
//!
//! Calls are authenticated once any token or certificate mapping exists,
//! revoked ones included; before that every caller is the anonymous
//! principal with every right, which is why such a gateway listens on
//! loopback only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::convert::hex;
use crate::policy::{Grant, Policy, Right, Role, builtin_roles};
use crate::state::{StateStore, TokenRecord, now_ms};

/// The `[auth]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// API tokens, each naming the principal it authenticates.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Roles by name: grants and limits (`[auth.roles.analyst]`).
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    /// Client certificates (mutual TLS) mapped to principals.
    #[serde(default)]
    pub certificates: Vec<CertificateConfig>,
    /// How long a handshake's session token stays valid, e.g. `1h`.
    #[serde(default, with = "humantime_serde")]
    pub session_ttl: Option<Duration>,
}

const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(3600);

/// One API token: its principal and the hex SHA-256 of the token
/// (`printf %s "$TOKEN" | sha256sum`). The token itself is never stored.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who the token authenticates (letters, digits, `_ . @ -`).
    pub principal: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    /// Roles the principal holds.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Connectors the principal may read, a shorthand for a grant of
    /// `read`; `*` for all. Without it and without roles: every connector.
    #[serde(default)]
    pub connectors: Option<Vec<String>>,
    /// Whether the principal may change the registry, tokens and roles.
    #[serde(default)]
    pub admin: bool,
}

/// A client certificate's subject mapped to a principal.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// The certificate subject's common name (CN).
    pub common_name: String,
    /// The principal it authenticates; the common name when not given.
    #[serde(default)]
    pub principal: Option<String>,
    /// Roles the principal holds.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The call header carrying the authenticated principal to the handlers;
/// set by the gateway only (a client's own value is removed).
pub const PRINCIPAL_HEADER: &str = "x-dmesh-principal";

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal(pub String);

/// The id of the API token a call was authenticated with (`certificate`
/// for a client certificate); a request extension next to [`Principal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenId(pub String);

/// Where a token or role comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Built into the gateway.
    Builtin,
    /// The config file.
    Config,
    /// Created at run time and kept in the state store.
    Runtime,
}

impl Source {
    /// Its name in listings.
    pub fn name(self) -> &'static str {
        match self {
            Source::Builtin => "builtin",
            Source::Config => "config",
            Source::Runtime => "runtime",
        }
    }
}

/// A token as listings show it.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    /// Its public id (`dmesh token revoke ID`).
    pub id: String,
    /// Who it authenticates.
    pub principal: String,
    /// Roles it gives.
    pub roles: Vec<String>,
    /// Where it comes from.
    pub source: Source,
    /// Milliseconds since the epoch, when known.
    pub created_at_ms: Option<i64>,
    /// When it stops working, if ever.
    pub expires_at_ms: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<i64>,
}

struct ActiveToken {
    id: String,
    principal: String,
    hash: [u8; 32],
    expires_at_ms: Option<i64>,
}

/// Everything calls are checked against, rebuilt on each change.
#[derive(Default)]
struct View {
    enabled: bool,
    tokens: Vec<ActiveToken>,
    listing: Vec<TokenInfo>,
    roles: BTreeMap<String, (Role, Source)>,
    policies: HashMap<String, Arc<Policy>>,
    certificates: HashMap<String, String>,
}

struct Inner {
    config: AuthConfig,
    store: Option<StateStore>,
    view: RwLock<Arc<View>>,
    reloading: std::sync::Mutex<()>,
    session_key: Vec<u8>,
    session_ttl: Duration,
}

/// Checks credentials on every call and holds every principal's policy.
/// Cloning shares it.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let view = self.view();
        f.debug_struct("Authenticator")
            .field("enabled", &view.enabled)
            .field("tokens", &view.tokens.len())
            .finish_non_exhaustive()
    }
}

fn unauthenticated(why: &str) -> Status {
    Status::unauthenticated(format!(
        "{why}; send `authorization: Bearer <api token>`, or Basic credentials (principal and API token) \
         to the Flight SQL handshake"
    ))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(hash)
}

/// Whether `name` is usable as a principal or role name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.@-".contains(&b))
}

/// The stable public id of a token from the config file: derived from its
/// hash, so it survives restarts and reveals nothing usable.
fn config_token_id(hash: &[u8; 32]) -> String {
    format!("c{}", &hex(&Sha256::digest(hash))[..10])
}

impl Authenticator {
    /// From the config and the state store's tokens and roles.
    ///
    /// # Errors
    /// A bad principal name, a hash that is not 64 hex digits, a role that
    /// does not exist, or an unreadable state store.
    pub fn new(config: &AuthConfig, store: Option<StateStore>) -> anyhow::Result<Self> {
        for t in &config.tokens {
            if !valid_name(&t.principal) {
                anyhow::bail!("auth.tokens: principal `{}` may hold letters, digits and _ . @ - only", t.principal);
            }
            if parse_hash(&t.sha256).is_none() {
                anyhow::bail!("auth.tokens: the sha256 of principal `{}` must be 64 hex digits", t.principal);
            }
        }
        for (name, role) in &config.roles {
            if !valid_name(name) {
                anyhow::bail!("auth.roles: `{name}` may hold letters, digits and _ . @ - only");
            }
            if builtin_roles().contains_key(name) {
                anyhow::bail!("auth.roles: `{name}` is a built-in role and cannot be redefined");
            }
            role.validate(name).map_err(anyhow::Error::msg)?;
        }
        for c in &config.certificates {
            let principal = c.principal.as_deref().unwrap_or(&c.common_name);
            if !valid_name(principal) {
                anyhow::bail!("auth.certificates: principal `{principal}` may hold letters, digits and _ . @ - only");
            }
        }
        let auth = Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                store,
                view: RwLock::default(),
                reloading: std::sync::Mutex::default(),
                session_key: rand::random::<[u8; 32]>().to_vec(),
                session_ttl: config.session_ttl.unwrap_or(DEFAULT_SESSION_TTL),
            }),
        };
        let unknown = auth.reload()?;
        if let Some(role) = unknown.first() {
            anyhow::bail!("auth: role `{role}` is named but not defined; define it under [auth.roles.{role}]");
        }
        Ok(auth)
    }

    fn view(&self) -> Arc<View> {
        self.inner.view.read().map(|v| v.clone()).unwrap_or_default()
    }

    /// Rebuilds the view from the config and the state store; returns the
    /// role names that are named but defined nowhere.
    fn reload(&self) -> anyhow::Result<Vec<String>> {
        // One reload at a time, so an older read never replaces a newer view.
        let _one = self.inner.reloading.lock().map_err(|_| anyhow::anyhow!("auth state poisoned"))?;
        let config = &self.inner.config;
        let (records, runtime_roles) = match &self.inner.store {
            Some(s) => (s.tokens_now()?, s.roles_now()?),
            None => (Vec::new(), Vec::new()),
        };
        let mut view = View::default();
        for (name, role) in builtin_roles() {
            view.roles.insert(name, (role, Source::Builtin));
        }
        for (name, role) in &config.roles {
            view.roles.insert(name.clone(), (role.clone(), Source::Config));
        }
        for (name, definition) in runtime_roles {
            match serde_json::from_str::<Role>(&definition) {
                Ok(role) if !view.roles.contains_key(&name) => {
                    view.roles.insert(name, (role, Source::Runtime));
                }
                Ok(_) => tracing::warn!(role = %name, "a role kept in the state store is shadowed by the config"),
                Err(e) => tracing::warn!(role = %name, error = %e, "a role kept in the state store is unreadable"),
            }
        }
        let revoked: HashMap<&str, i64> = records
            .iter()
            .filter_map(|r| r.revoked_at_ms.map(|at| (r.id.as_str(), at)))
            .collect();
        // Each principal's roles and the grants given outside roles.
        let mut holdings: BTreeMap<String, (BTreeSet<String>, Vec<Grant>)> = BTreeMap::new();
        let now = now_ms();
        for t in &config.tokens {
            let Some(hash) = parse_hash(&t.sha256) else { continue };
            let id = config_token_id(&hash);
            let revoked_at = revoked.get(id.as_str()).copied();
            view.listing.push(TokenInfo {
                id: id.clone(),
                principal: t.principal.clone(),
                roles: t.roles.clone(),
                source: Source::Config,
                created_at_ms: None,
                expires_at_ms: None,
                revoked_at_ms: revoked_at,
            });
            if revoked_at.is_some() {
                continue;
            }
            let entry = holdings.entry(t.principal.clone()).or_default();
            entry.0.extend(t.roles.iter().cloned());
            let connectors = match &t.connectors {
                Some(c) => c.clone(),
                None if t.roles.is_empty() => vec!["*".to_owned()],
                None => Vec::new(),
            };
            entry.1.extend(connectors.into_iter().map(|connector| Grant {
                connector,
                tables: Vec::new(),
                rights: vec![Right::Read],
            }));
            if t.admin {
                entry.1.push(Grant {
                    connector: "*".into(),
                    tables: Vec::new(),
                    rights: vec![Right::Admin],
                });
            }
            view.tokens.push(ActiveToken {
                id,
                principal: t.principal.clone(),
                hash,
                expires_at_ms: None,
            });
        }
        for r in records.iter().filter(|r| !r.sha256.is_empty()) {
            view.listing.push(TokenInfo {
                id: r.id.clone(),
                principal: r.principal.clone(),
                roles: r.roles.clone(),
                source: Source::Runtime,
                created_at_ms: Some(r.created_at_ms),
                expires_at_ms: r.expires_at_ms,
                revoked_at_ms: r.revoked_at_ms,
            });
            let Some(hash) = parse_hash(&r.sha256) else { continue };
            if r.revoked_at_ms.is_some() || r.expires_at_ms.is_some_and(|e| e <= now) {
                continue;
            }
            holdings.entry(r.principal.clone()).or_default().0.extend(r.roles.iter().cloned());
            view.tokens.push(ActiveToken {
                id: r.id.clone(),
                principal: r.principal.clone(),
                hash,
                expires_at_ms: r.expires_at_ms,
            });
        }
        for c in &config.certificates {
            let principal = c.principal.clone().unwrap_or_else(|| c.common_name.clone());
            holdings.entry(principal.clone()).or_default().0.extend(c.roles.iter().cloned());
            view.certificates.insert(c.common_name.clone(), principal);
        }
        let mut unknown = BTreeSet::new();
        for (principal, (roles, extra)) in holdings {
            let named: Vec<(&str, &Role)> = roles
                .iter()
                .filter_map(|r| match view.roles.get(r) {
                    Some((role, _)) => Some((r.as_str(), role)),
                    None => {
                        unknown.insert(r.clone());
                        None
                    }
                })
                .collect();
            let mut policy = Policy::from_roles(named);
            policy.grants.extend(extra);
            view.policies.insert(principal, Arc::new(policy));
        }
        view.enabled = !config.tokens.is_empty() || !config.certificates.is_empty() || !records.is_empty();
        if let Ok(mut v) = self.inner.view.write() {
            *v = Arc::new(view);
        }
        for role in &unknown {
            tracing::warn!(%role, "a token names a role that is not defined; it gives nothing");
        }
        Ok(unknown.into_iter().collect())
    }

    /// Whether calls must authenticate.
    pub fn enabled(&self) -> bool {
        self.view().enabled
    }

    /// What `principal` may do; `None` is the anonymous caller of a gateway
    /// that does not authenticate, who may do everything.
    pub fn policy(&self, principal: Option<&str>) -> Arc<Policy> {
        let view = self.view();
        match principal {
            None if !view.enabled => Arc::new(Policy::unrestricted()),
            None => Arc::new(Policy::default()),
            Some(p) => view.policies.get(p).cloned().unwrap_or_default(),
        }
    }

    /// The token id and principal an API token belongs to.
    fn api_token(&self, view: &View, token: &str) -> Option<(String, String)> {
        let hash = Sha256::digest(token.as_bytes());
        let now = now_ms();
        let mut found = None;
        for t in &view.tokens {
            if constant_time_eq(&hash, &t.hash) && t.expires_at_ms.is_none_or(|e| e > now) {
                found = Some((t.id.clone(), t.principal.clone()));
            }
        }
        found
    }

    fn mac(&self, body: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.inner.session_key).expect("HMAC takes keys of any length");
        mac.update(body.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A session token for `principal`, opened with the API token `token_id`,
    /// valid for the session TTL or until that token is revoked.
    pub fn session_token(&self, principal: &str, token_id: &str) -> String {
        let expires = now_ms().saturating_add(self.inner.session_ttl.as_millis() as i64);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = format!("{}.{token_id}.{expires}", b64.encode(principal));
        format!("s2.{body}.{}", b64.encode(self.mac(&body)))
    }

    fn session(&self, view: &View, token: &str) -> Result<(String, String), Status> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let bad = || unauthenticated("unknown token");
        let rest = token.strip_prefix("s2.").ok_or_else(bad)?;
        let (body, mac) = rest.rsplit_once('.').ok_or_else(bad)?;
        let mac = b64.decode(mac).map_err(|_| bad())?;
        if !constant_time_eq(&mac, &self.mac(body)) {
            return Err(bad());
        }
        let mut parts = body.splitn(3, '.');
        let (Some(principal), Some(token_id), Some(expires)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let expires: i64 = expires.parse().map_err(|_| bad())?;
        if now_ms() > expires {
            return Err(unauthenticated("the session token expired; authenticate again"));
        }
        let now = now_ms();
        if !view
            .tokens
            .iter()
            .any(|t| t.id == token_id && t.expires_at_ms.is_none_or(|e| e > now))
        {
            return Err(unauthenticated("the token this session was opened with has been revoked"));
        }
        let principal = String::from_utf8(b64.decode(principal).map_err(|_| bad())?).map_err(|_| bad())?;
        Ok((principal, token_id.to_owned()))
    }

    /// The caller a call's metadata (or client certificate) authenticates,
    /// with the id of the token used; `None` when calls are not
    /// authenticated.
    ///
    /// # Errors
    /// UNAUTHENTICATED saying what was missing or wrong; never echoing the token.
    pub fn check(&self, metadata: &MetadataMap, certificate_cn: Option<&str>) -> Result<Option<(Principal, String)>, Status> {
        let view = self.view();
        if !view.enabled {
            return Ok(None);
        }
        let Some(header) = metadata.get("authorization") else {
            if let Some(principal) = certificate_cn.and_then(|cn| view.certificates.get(cn)) {
                return Ok(Some((Principal(principal.clone()), "certificate".into())));
            }
            return Err(unauthenticated("this gateway requires authentication"));
        };
        let header = header.to_str().map_err(|_| unauthenticated("the authorization header is not text"))?;
        if let Some(token) = header.strip_prefix("Bearer ").map(str::trim) {
            if token.starts_with("s2.") {
                return self.session(&view, token).map(|(p, id)| Some((Principal(p), id)));
            }
            return self
                .api_token(&view, token)
                .map(|(id, p)| Some((Principal(p), id)))
                .ok_or_else(|| unauthenticated("unknown, expired or revoked token"));
        }
        if let Some(basic) = header.strip_prefix("Basic ").map(str::trim) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(basic)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(basic))
                .map_err(|_| unauthenticated("malformed Basic credentials"))?;
            let text = String::from_utf8(decoded).map_err(|_| unauthenticated("malformed Basic credentials"))?;
            let (user, token) = text.split_once(':').ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
            return match self.api_token(&view, token) {
                Some((id, p)) if p == user => Ok(Some((Principal(p), id))),
                _ => Err(unauthenticated("wrong principal or token")),
            };
        }
        Err(unauthenticated("unsupported authorization scheme"))
    }

    /// Every token, revoked ones included.
    pub fn tokens(&self) -> Vec<TokenInfo> {
        self.view().listing.clone()
    }

    /// Every role with where it comes from.
    pub fn roles(&self) -> Vec<(String, Role, Source)> {
        self.view()
            .roles
            .iter()
            .map(|(n, (r, s))| (n.clone(), r.clone(), *s))
            .collect()
    }

    fn store(&self) -> Result<&StateStore, Status> {
        self.inner
            .store
            .as_ref()
            .ok_or_else(|| Status::failed_precondition("this gateway has no state store to keep tokens and roles in"))
    }

    fn reloaded(&self) -> Result<(), Status> {
        self.reload()
            .map(drop)
            .map_err(|e| Status::internal(format!("reloading tokens and roles failed: {e}")))
    }

    /// Mints an API token for `principal` holding `roles`, valid for `ttl`
    /// (for ever when `None`). Returns the token, shown once, and its
    /// listing entry. From now on calls must authenticate.
    ///
    /// # Errors
    /// INVALID_ARGUMENT for a bad principal or an unknown role.
    pub async fn create_token(&self, principal: &str, roles: &[String], ttl: Option<Duration>) -> Result<(String, TokenInfo), Status> {
        if !valid_name(principal) {
            return Err(Status::invalid_argument(format!(
                "principal `{principal}` may hold letters, digits and _ . @ - only"
            )));
        }
        let view = self.view();
        if let Some(r) = roles.iter().find(|r| !view.roles.contains_key(*r)) {
            let known: Vec<&str> = view.roles.keys().map(String::as_str).collect();
            return Err(Status::invalid_argument(format!("no role `{r}`; roles: {}", known.join(", "))));
        }
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!("dmesh_{}", b64.encode(rand::random::<[u8; 32]>()));
        let record = TokenRecord {
            id: format!("t{}", &hex(&rand::random::<[u8; 8]>())[..10]),
            principal: principal.to_owned(),
            sha256: hex(&Sha256::digest(token.as_bytes())),
            roles: roles.to_vec(),
            created_at_ms: now_ms(),
            expires_at_ms: ttl.map(|t| now_ms().saturating_add(t.as_millis() as i64)),
            revoked_at_ms: None,
        };
        self.store()?.put_token(record.clone()).await.map_err(Status::from)?;
        self.reloaded()?;
        tracing::info!(id = %record.id, %principal, "API token created");
        let info = self
            .tokens()
            .into_iter()
            .find(|t| t.id == record.id)
            .ok_or_else(|| Status::internal("the new token was not kept"))?;
        Ok((token, info))
    }

    /// Revokes a token by id, with every session opened with it.
    ///
    /// # Errors
    /// NOT_FOUND for an unknown id.
    pub async fn revoke(&self, id: &str) -> Result<TokenInfo, Status> {
        let Some(info) = self.tokens().into_iter().find(|t| t.id == id) else {
            return Err(Status::not_found(format!("no token `{id}`; `dmesh token list` shows them")));
        };
        let record = TokenRecord {
            id: info.id.clone(),
            principal: info.principal.clone(),
            sha256: match info.source {
                Source::Runtime => self
                    .store()?
                    .tokens_now()
                    .map_err(Status::from)?
                    .into_iter()
                    .find(|r| r.id == id)
                    .map(|r| r.sha256)
                    .unwrap_or_default(),
                _ => String::new(),
            },
            roles: info.roles.clone(),
            created_at_ms: info.created_at_ms.unwrap_or_else(now_ms),
            expires_at_ms: info.expires_at_ms,
            revoked_at_ms: Some(info.revoked_at_ms.unwrap_or_else(now_ms)),
        };
        self.store()?.put_token(record).await.map_err(Status::from)?;
        self.reloaded()?;
        tracing::warn!(%id, principal = %info.principal, "API token revoked");
        self.tokens()
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Status::internal("the token vanished"))
    }

    /// Defines or replaces a run-time role.
    ///
    /// # Errors
    /// INVALID_ARGUMENT for a bad name or definition; FAILED_PRECONDITION
    /// for a built-in or config-file role.
    pub async fn put_role(&self, name: &str, role: &Role) -> Result<(), Status> {
        if !valid_name(name) {
            return Err(Status::invalid_argument(format!("role `{name}` may hold letters, digits and _ . @ - only")));
        }
        role.validate(name).map_err(Status::invalid_argument)?;
        self.runtime_role(name)?;
        let json = serde_json::to_string(role).map_err(|e| Status::internal(e.to_string()))?;
        self.store()?.put_role(name, Some(json)).await.map_err(Status::from)?;
        self.reloaded()
    }

    /// Removes a run-time role; whether it existed.
    ///
    /// # Errors
    /// FAILED_PRECONDITION for a built-in or config-file role.
    pub async fn delete_role(&self, name: &str) -> Result<bool, Status> {
        self.runtime_role(name)?;
        let existed = self.store()?.put_role(name, None).await.map_err(Status::from)?;
        self.reloaded()?;
        Ok(existed)
    }

    fn runtime_role(&self, name: &str) -> Result<(), Status> {
        match self.view().roles.get(name) {
            Some((_, Source::Builtin)) => Err(Status::failed_precondition(format!("`{name}` is a built-in role"))),
            Some((_, Source::Config)) => Err(Status::failed_precondition(format!(
                "role `{name}` is defined in the config file; change it there"
            ))),
            _ => Ok(()),
        }
    }
}

/// The subject common name of a DER-encoded X.509 certificate.
pub fn certificate_common_name(der: &[u8]) -> Option<String> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let cn = x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == cn {
                let value = &atv.value;
                if let Ok(s) = value.decode_as::<x509_cert::der::asn1::Utf8StringRef<'_>>() {
                    return Some(s.as_str().to_owned());
                }
                if let Ok(s) = value.decode_as::<x509_cert::der::asn1::PrintableStringRef<'_>>() {
                    return Some(s.as_str().to_owned());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_config(principal: &str, token: &str, connectors: Option<Vec<&str>>, roles: &[&str]) -> TokenConfig {
        TokenConfig {
            principal: principal.into(),
            sha256: hex(&Sha256::digest(token.as_bytes())),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            connectors: connectors.map(|c| c.into_iter().map(str::to_owned).collect()),
            admin: false,
        }
    }

    fn auth_with(store: Option<StateStore>) -> Authenticator {
        let config = AuthConfig {
            tokens: vec![token_config("agent", "secret-token", Some(vec!["demo"]), &[])],
            session_ttl: Some(Duration::from_secs(60)),
            ..AuthConfig::default()
        };
        Authenticator::new(&config, store).expect("valid")
    }

    fn with(header: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("authorization", header.parse().expect("ascii"));
        m
    }

    fn principal(a: &Authenticator, header: &str) -> Result<String, Status> {
        a.check(&with(header), None).map(|p| p.expect("enabled").0.0)
    }

    #[test]
    fn api_tokens_basic_credentials_and_sessions_authenticate() {
        let a = auth_with(None);
        assert_eq!(principal(&a, "Bearer secret-token").expect("ok"), "agent");
        let basic = base64::engine::general_purpose::STANDARD.encode("agent:secret-token");
        assert_eq!(principal(&a, &format!("Basic {basic}")).expect("ok"), "agent");
        let (_, id) = a.check(&with("Bearer secret-token"), None).expect("ok").expect("enabled");
        let session = a.session_token("agent", &id);
        assert_eq!(principal(&a, &format!("Bearer {session}")).expect("ok"), "agent");
    }

    #[test]
    fn wrong_missing_forged_and_expired_tokens_are_refused() {
        let a = auth_with(None);
        for bad in ["Bearer wrong", "Bearer s2.YWdlbnQ.c1.99999999999999.AAAA", "Token x"] {
            let e = principal(&a, bad).expect_err(bad);
            assert_eq!(e.code(), tonic::Code::Unauthenticated);
            assert!(!e.message().contains("secret-token"));
        }
        assert_eq!(a.check(&MetadataMap::new(), None).expect_err("none").code(), tonic::Code::Unauthenticated);
        let wrong_user = base64::engine::general_purpose::STANDARD.encode("someone:secret-token");
        assert!(principal(&a, &format!("Basic {wrong_user}")).is_err());
        let config = AuthConfig {
            tokens: vec![token_config("agent", "secret-token", None, &[])],
            session_ttl: Some(Duration::ZERO),
            ..AuthConfig::default()
        };
        let expired = Authenticator::new(&config, None).expect("valid");
        let token = expired.session_token("agent", "x");
        std::thread::sleep(Duration::from_millis(5));
        let e = expired.check(&with(&format!("Bearer {token}")), None).expect_err("expired");
        assert!(e.message().contains("expired"), "{e}");
    }

    #[test]
    fn policies_name_connectors_roles_and_admins() {
        let a = auth_with(None);
        assert!(a.policy(Some("agent")).may(Right::Read, "demo"));
        assert!(!a.policy(Some("agent")).may(Right::Read, "warehouse"));
        assert!(!a.policy(Some("stranger")).may(Right::Read, "demo"));
        assert!(!a.policy(Some("agent")).holds(Right::Admin));
        assert!(!a.policy(None).may(Right::Read, "demo"), "an anonymous caller of an authenticating gateway");
        let open = Authenticator::new(&AuthConfig::default(), None).expect("valid");
        assert!(!open.enabled());
        assert!(open.policy(None).may(Right::Ddl, "demo"));
        let config = AuthConfig {
            tokens: vec![token_config("agent", "t", None, &["nobody"])],
            ..AuthConfig::default()
        };
        let e = Authenticator::new(&config, None).expect_err("unknown role");
        assert!(e.to_string().contains("nobody"), "{e}");
    }

    #[test]
    fn hashes_must_be_hex() {
        let mut t = token_config("a", "x", None, &[]);
        t.sha256 = "nothex".into();
        let config = AuthConfig {
            tokens: vec![t],
            ..AuthConfig::default()
        };
        assert!(Authenticator::new(&config, None).is_err());
    }

    #[tokio::test]
    async fn minted_tokens_work_until_revoked_and_take_their_sessions_with_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(dir.path()).expect("open");
        let a = auth_with(Some(store.clone()));
        let (token, info) = a.create_token("bot", &["reader".into()], None).await.expect("create");
        assert!(token.starts_with("dmesh_") && info.id.starts_with('t'));
        assert_eq!(principal(&a, &format!("Bearer {token}")).expect("ok"), "bot");
        assert!(a.policy(Some("bot")).may(Right::Read, "anything"));
        let session = a.session_token("bot", &info.id);
        assert!(principal(&a, &format!("Bearer {session}")).is_ok());
        // Another gateway on the same state store sees the token.
        let b = auth_with(Some(store.clone()));
        assert_eq!(principal(&b, &format!("Bearer {token}")).expect("ok"), "bot");
        a.revoke(&info.id).await.expect("revoke");
        assert!(principal(&a, &format!("Bearer {token}")).is_err());
        let e = principal(&a, &format!("Bearer {session}")).expect_err("revoked session");
        assert!(e.message().contains("revoked"), "{e}");
        // Config tokens are revoked the same way, and stay revoked across restarts.
        let cfg_id = a.tokens().into_iter().find(|t| t.source == Source::Config).expect("config token").id;
        a.revoke(&cfg_id).await.expect("revoke config token");
        let c = auth_with(Some(store));
        assert!(principal(&c, "Bearer secret-token").is_err());
        assert!(a.create_token("bot", &["ghost".into()], None).await.is_err());
        let expiring = a.create_token("tmp", &[], Some(Duration::from_millis(1))).await.expect("create").0;
        std::thread::sleep(Duration::from_millis(5));
        assert!(principal(&a, &format!("Bearer {expiring}")).is_err());
    }

    #[tokio::test]
    async fn runtime_roles_are_kept_and_config_roles_are_not_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(dir.path()).expect("open");
        let mut config = AuthConfig::default();
        config.roles.insert("fixed".into(), Role::default());
        let a = Authenticator::new(&config, Some(store)).expect("valid");
        let role = Role {
            grants: vec![Grant::parse("wh:public.*=read").expect("grant")],
            ..Role::default()
        };
        a.put_role("analyst", &role).await.expect("put");
        assert!(a.roles().iter().any(|(n, r, s)| n == "analyst" && r == &role && *s == Source::Runtime));
        assert_eq!(a.put_role("fixed", &role).await.expect_err("config").code(), tonic::Code::FailedPrecondition);
        assert_eq!(a.put_role("admin", &role).await.expect_err("builtin").code(), tonic::Code::FailedPrecondition);
        let (_, _) = a.create_token("ann", &["analyst".into()], None).await.expect("create");
        assert!(a.policy(Some("ann")).may_table(
            Right::Read,
            "wh",
            &crate::policy::Relation {
                schema: Some("public".into()),
                name: "t".into()
            }
        ));
        assert!(a.delete_role("analyst").await.expect("delete"));
        assert!(!a.policy(Some("ann")).may(Right::Read, "wh"));
    }
}
