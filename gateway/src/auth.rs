//! Authentication: API tokens, stored as SHA-256 hashes and compared in
//! constant time, and the short-lived session tokens the Flight SQL
//! handshake issues.
//!
//! When tokens are configured every call must carry `authorization: Bearer
//! <token>` (an API token or a session token) or, for the handshake,
//! `authorization: Basic base64(principal:api-token)`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tonic::Status;
use tonic::metadata::MetadataMap;

/// The `[auth]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// API tokens, each naming the principal it authenticates.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// How long a handshake's session token stays valid, e.g. `1h`.
    #[serde(default = "default_session_ttl", with = "humantime_serde")]
    pub session_ttl: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            session_ttl: default_session_ttl(),
        }
    }
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(3600)
}

/// One API token: its principal and the hex SHA-256 of the token
/// (`printf %s "$TOKEN" | sha256sum`). The token itself is never stored.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who the token authenticates (letters, digits, `_ . @ -`).
    pub principal: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    /// The connectors the principal may query and browse; `*` for all.
    #[serde(default = "all_connectors")]
    pub connectors: Vec<String>,
    /// Whether the principal may add and remove connectors.
    #[serde(default)]
    pub admin: bool,
}

fn all_connectors() -> Vec<String> {
    vec!["*".to_owned()]
}

/// The call header carrying the authenticated principal to the handlers;
/// set by the gateway only (a client's own value is removed).
pub const PRINCIPAL_HEADER: &str = "x-dmesh-principal";

/// What a principal may do.
#[derive(Clone, Debug)]
struct Policy {
    connectors: Vec<String>,
    admin: bool,
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal(pub String);

/// Checks credentials on every call.
#[derive(Clone)]
pub struct Authenticator {
    tokens: Vec<(String, [u8; 32])>,
    policies: std::collections::HashMap<String, Policy>,
    session_key: Vec<u8>,
    session_ttl: Duration,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("tokens", &self.tokens.len()).finish_non_exhaustive()
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

impl Authenticator {
    /// From the config; `None` when no tokens are configured (no-auth mode).
    ///
    /// # Errors
    /// A hash that is not 64 hex digits.
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<Option<Self>> {
        if config.tokens.is_empty() {
            return Ok(None);
        }
        let mut tokens = Vec::new();
        let mut policies = std::collections::HashMap::new();
        for t in &config.tokens {
            if t.principal.is_empty()
                || !t.principal.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.@-".contains(&b))
            {
                anyhow::bail!("auth.tokens: principal `{}` may hold letters, digits and _ . @ - only", t.principal);
            }
            policies.insert(
                t.principal.clone(),
                Policy {
                    connectors: t.connectors.clone(),
                    admin: t.admin,
                },
            );
            let hex = t.sha256.trim();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                anyhow::bail!("auth.tokens: the sha256 of principal `{}` must be 64 hex digits", t.principal);
            }
            let mut hash = [0u8; 32];
            for (i, byte) in hash.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
            }
            tokens.push((t.principal.clone(), hash));
        }
        Ok(Some(Self {
            tokens,
            policies,
            session_key: rand::random::<[u8; 32]>().to_vec(),
            session_ttl: config.session_ttl,
        }))
    }

    /// The principal an API token belongs to.
    fn api_token(&self, token: &str) -> Option<&str> {
        let hash = Sha256::digest(token.as_bytes());
        let mut found = None;
        for (principal, expected) in &self.tokens {
            if constant_time_eq(&hash, expected) {
                found = Some(principal.as_str());
            }
        }
        found
    }

    fn mac(&self, body: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.session_key).expect("HMAC takes keys of any length");
        mac.update(body.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A session token for `principal`, valid for the session TTL.
    pub fn session_token(&self, principal: &str) -> String {
        let expires = SystemTime::now()
            .checked_add(self.session_ttl)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis());
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = format!("{}.{expires}", b64.encode(principal));
        format!("s1.{body}.{}", b64.encode(self.mac(&body)))
    }

    fn session(&self, token: &str) -> Result<String, Status> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let rest = token.strip_prefix("s1.").ok_or_else(|| unauthenticated("unknown token"))?;
        let (body, mac) = rest.rsplit_once('.').ok_or_else(|| unauthenticated("unknown token"))?;
        let mac = b64.decode(mac).map_err(|_| unauthenticated("unknown token"))?;
        if !constant_time_eq(&mac, &self.mac(body)) {
            return Err(unauthenticated("unknown token"));
        }
        let (principal, expires) = body.split_once('.').ok_or_else(|| unauthenticated("unknown token"))?;
        let expires: u128 = expires.parse().map_err(|_| unauthenticated("unknown token"))?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        if now > expires {
            return Err(unauthenticated("the session token expired; authenticate again"));
        }
        let principal = b64.decode(principal).map_err(|_| unauthenticated("unknown token"))?;
        String::from_utf8(principal).map_err(|_| unauthenticated("unknown token"))
    }

    /// Whether `principal` may query and browse `connector`.
    pub fn may_use(&self, principal: &str, connector: &str) -> bool {
        self.policies
            .get(principal)
            .is_some_and(|p| p.connectors.iter().any(|c| c == "*" || c == connector))
    }

    /// Whether `principal` may change the registry.
    pub fn is_admin(&self, principal: &str) -> bool {
        self.policies.get(principal).is_some_and(|p| p.admin)
    }

    /// The caller a call's metadata authenticates.
    ///
    /// # Errors
    /// UNAUTHENTICATED saying what was missing or wrong; never echoing the token.
    pub fn check(&self, metadata: &MetadataMap) -> Result<Principal, Status> {
        let header = metadata
            .get("authorization")
            .ok_or_else(|| unauthenticated("this gateway requires authentication"))?
            .to_str()
            .map_err(|_| unauthenticated("the authorization header is not text"))?;
        if let Some(token) = header.strip_prefix("Bearer ").map(str::trim) {
            if token.starts_with("s1.") {
                return self.session(token).map(Principal);
            }
            return self
                .api_token(token)
                .map(|p| Principal(p.to_owned()))
                .ok_or_else(|| unauthenticated("unknown token"));
        }
        if let Some(basic) = header.strip_prefix("Basic ").map(str::trim) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(basic)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(basic))
                .map_err(|_| unauthenticated("malformed Basic credentials"))?;
            let text = String::from_utf8(decoded).map_err(|_| unauthenticated("malformed Basic credentials"))?;
            let (user, token) = text.split_once(':').ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
            return match self.api_token(token) {
                Some(p) if p == user => Ok(Principal(p.to_owned())),
                _ => Err(unauthenticated("wrong principal or token")),
            };
        }
        Err(unauthenticated("unsupported authorization scheme"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        let hash: String = Sha256::digest(b"secret-token").iter().map(|b| format!("{b:02x}")).collect();
        let config = AuthConfig {
            tokens: vec![TokenConfig {
                principal: "agent".into(),
                sha256: hash,
                connectors: vec!["demo".into()],
                admin: false,
            }],
            session_ttl: Duration::from_secs(60),
        };
        Authenticator::from_config(&config).expect("valid").expect("enabled")
    }

    fn with(header: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("authorization", header.parse().expect("ascii"));
        m
    }

    #[test]
    fn api_tokens_basic_credentials_and_sessions_authenticate() {
        let a = auth();
        assert_eq!(a.check(&with("Bearer secret-token")).expect("ok"), Principal("agent".into()));
        let basic = base64::engine::general_purpose::STANDARD.encode("agent:secret-token");
        assert_eq!(a.check(&with(&format!("Basic {basic}"))).expect("ok").0, "agent");
        let session = a.session_token("agent");
        assert_eq!(a.check(&with(&format!("Bearer {session}"))).expect("ok").0, "agent");
    }

    #[test]
    fn wrong_missing_forged_and_expired_tokens_are_refused() {
        let a = auth();
        for bad in ["Bearer wrong", "Bearer s1.YWdlbnQ.99999999999999.AAAA", "Token x"] {
            let e = a.check(&with(bad)).expect_err(bad);
            assert_eq!(e.code(), tonic::Code::Unauthenticated);
            assert!(!e.message().contains("secret-token"));
        }
        assert_eq!(a.check(&MetadataMap::new()).expect_err("none").code(), tonic::Code::Unauthenticated);
        let wrong_user = base64::engine::general_purpose::STANDARD.encode("someone:secret-token");
        assert!(a.check(&with(&format!("Basic {wrong_user}"))).is_err());
        let mut expired = a.clone();
        expired.session_ttl = Duration::ZERO;
        let token = expired.session_token("agent");
        std::thread::sleep(Duration::from_millis(5));
        let e = a.check(&with(&format!("Bearer {token}"))).expect_err("expired");
        assert!(e.message().contains("expired"), "{e}");
    }

    #[test]
    fn policies_name_connectors_and_admins() {
        let a = auth();
        assert!(a.may_use("agent", "demo"));
        assert!(!a.may_use("agent", "warehouse"));
        assert!(!a.may_use("stranger", "demo"));
        assert!(!a.is_admin("agent"));
    }

    #[test]
    fn hashes_must_be_hex() {
        let config = AuthConfig {
            tokens: vec![TokenConfig {
                principal: "a".into(),
                sha256: "nothex".into(),
                connectors: vec!["*".into()],
                admin: false,
            }],
            session_ttl: Duration::from_secs(1),
        };
        assert!(Authenticator::from_config(&config).is_err());
        assert!(Authenticator::from_config(&AuthConfig::default()).expect("ok").is_none());
    }
}
