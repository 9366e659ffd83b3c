//! Flight tickets: opaque, signed, short-lived.
//!
//! A ticket carries everything a gateway needs to run the query (connector,
//! statement, parameters, limits, expiry), signed with HMAC-SHA256. Any
//! replica holding the same key can serve `DoGet`, and no state is kept per
//! ticket. The bytes are not meant to be read by clients.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dmesh_connector_api::{Limits, Param};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{GatewayError, Result};

const MAGIC: &[u8; 4] = b"dmt1";
const MAC_LEN: usize = 32;

/// What a ticket stands for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketClaims {
    /// The query's id, for logs.
    pub query_id: String,
    /// The connector instance to run it on.
    pub connector: String,
    /// The statement.
    pub sql: String,
    /// Its parameters.
    #[serde(default)]
    pub params: Vec<Param>,
    /// Row cap.
    pub max_rows: Option<u64>,
    /// Byte cap.
    pub max_bytes: Option<u64>,
    /// Statement time cap, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Expiry, in milliseconds since the epoch.
    pub expires_at_ms: u64,
    /// The authenticated principal the ticket was issued to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// What the statement may change.
    #[serde(default)]
    pub access: dmesh_connector_api::AccessMode,
    /// Queries the principal may run at once, when capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
}

impl TicketClaims {
    /// The caps as connector limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_rows: self.max_rows,
            max_bytes: self.max_bytes,
            timeout: self.timeout_ms.map(Duration::from_millis),
        }
    }
}

/// Issues and checks tickets with one key.
pub struct TicketIssuer {
    key: Vec<u8>,
    ttl: Duration,
}

impl std::fmt::Debug for TicketIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketIssuer").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl TicketIssuer {
    /// An issuer with `key` (any length; 32 random bytes or more is right).
    pub fn new(key: Vec<u8>, ttl: Duration) -> Self {
        Self { key, ttl }
    }

    /// An issuer with a fresh random key: tickets are valid on this process only.
    pub fn random(ttl: Duration) -> Self {
        let key: [u8; 32] = rand::random();
        Self::new(key.to_vec(), ttl)
    }

    /// How long a ticket stays valid.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The expiry a ticket issued now gets, in ms since the epoch.
    pub fn expiry_from_now(&self) -> u64 {
        millis(SystemTime::now() + self.ttl)
    }

    /// Signs `claims` into ticket bytes.
    pub fn issue(&self, claims: &TicketClaims) -> Vec<u8> {
        let body = serde_json::to_vec(claims).unwrap_or_default();
        let mut out = Vec::with_capacity(MAGIC.len() + body.len() + MAC_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&body);
        let tag = self.mac(&out);
        out.extend_from_slice(&tag);
        out
    }

    /// Checks a ticket's signature and expiry and returns what it stands for.
    ///
    /// # Errors
    /// [`GatewayError::UnknownTicket`] for bytes this issuer did not sign;
    /// [`GatewayError::ExpiredTicket`] once it expired.
    pub fn redeem(&self, ticket: &[u8]) -> Result<TicketClaims> {
        if ticket.len() < MAGIC.len() + MAC_LEN || !ticket.starts_with(MAGIC) {
            return Err(GatewayError::UnknownTicket);
        }
        let (signed, tag) = ticket.split_at(ticket.len() - MAC_LEN);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).map_err(|_| GatewayError::UnknownTicket)?;
        mac.update(signed);
        mac.verify_slice(tag).map_err(|_| GatewayError::UnknownTicket)?;
        let claims: TicketClaims =
            serde_json::from_slice(&signed[MAGIC.len()..]).map_err(|_| GatewayError::UnknownTicket)?;
        let now = millis(SystemTime::now());
        if now > claims.expires_at_ms {
            let ago = Duration::from_millis(now - claims.expires_at_ms);
            let ago = Duration::from_secs(ago.as_secs().max(1));
            return Err(GatewayError::ExpiredTicket(humantime::format_duration(ago).to_string()));
        }
        Ok(claims)
    }

    fn mac(&self, data: &[u8]) -> [u8; MAC_LEN] {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else {
            return [0; MAC_LEN];
        };
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

/// Milliseconds since the epoch.
pub fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_at_ms: u64) -> TicketClaims {
        TicketClaims {
            principal: None,
            query_id: "q1".into(),
            connector: "demo".into(),
            sql: "SELECT 1".into(),
            params: vec![],
            max_rows: Some(10),
            max_bytes: None,
            timeout_ms: None,
            expires_at_ms,
            access: dmesh_connector_api::AccessMode::ReadOnly,
            max_concurrent: None,
        }
    }

    #[test]
    fn issued_tickets_redeem() {
        let issuer = TicketIssuer::random(Duration::from_secs(60));
        let c = claims(issuer.expiry_from_now());
        let t = issuer.issue(&c);
        assert_eq!(issuer.redeem(&t).expect("valid"), c);
    }

    #[test]
    fn altered_foreign_and_garbage_tickets_are_unknown() {
        let issuer = TicketIssuer::random(Duration::from_secs(60));
        let mut t = issuer.issue(&claims(issuer.expiry_from_now()));
        let other = TicketIssuer::random(Duration::from_secs(60));
        assert!(matches!(other.redeem(&t), Err(GatewayError::UnknownTicket)));
        let i = t.len() / 2;
        t[i] ^= 1;
        assert!(matches!(issuer.redeem(&t), Err(GatewayError::UnknownTicket)));
        assert!(matches!(issuer.redeem(b"hello"), Err(GatewayError::UnknownTicket)));
        assert!(matches!(issuer.redeem(b""), Err(GatewayError::UnknownTicket)));
    }

    #[test]
    fn expired_tickets_say_so() {
        let issuer = TicketIssuer::random(Duration::from_secs(60));
        let t = issuer.issue(&claims(millis(SystemTime::now()) - 5_000));
        let e = issuer.redeem(&t).expect_err("expired");
        assert!(matches!(e, GatewayError::ExpiredTicket(_)));
        assert!(e.to_string().contains("expired 5s ago"), "{e}");
    }

    #[test]
    fn replicas_sharing_a_key_accept_each_others_tickets() {
        let a = TicketIssuer::new(b"shared-key".to_vec(), Duration::from_secs(60));
        let b = TicketIssuer::new(b"shared-key".to_vec(), Duration::from_secs(60));
        let t = a.issue(&claims(a.expiry_from_now()));
        assert!(b.redeem(&t).is_ok());
    }
}
