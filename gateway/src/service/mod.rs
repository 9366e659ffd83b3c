//! The v1 gRPC services. Each handler resolves the connector instance, calls
//! the family trait, and converts the answer; errors pass through
//! [`GatewayError`](crate::error::GatewayError)'s one conversion to a status.

mod access;
mod catalog;
mod processing;
mod query;
mod registry;
mod status;
mod storage;

use std::sync::Arc;

pub use access::AccessApi;
pub use catalog::CatalogApi;
pub use processing::ProcessingApi;
pub use query::QueryApi;
pub use registry::RegistryApi;
pub use status::StatusApi;
pub use storage::StorageApi;

use crate::engine::QueryEngine;
use crate::policy::{Policy, Relation, Right};

/// What every service shares.
#[derive(Debug)]
pub struct AppState {
    /// Plans and runs queries; holds the registry.
    pub engine: QueryEngine,
    /// Inline results are capped at this many rows when the client gives no cap.
    pub inline_max_rows: u64,
    /// Checks credentials and holds the principals' policies.
    pub auth: crate::auth::Authenticator,
}

/// The caller of one call: who, and what they may do.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The authenticated principal; `None` when calls are not authenticated.
    pub principal: Option<String>,
    /// Their rights and limits.
    pub policy: Arc<Policy>,
}

impl Caller {
    /// The name to show in messages and audit lines.
    pub fn name(&self) -> &str {
        self.principal.as_deref().unwrap_or("anonymous")
    }

    /// Refuses a caller without `right` on `connector`.
    ///
    /// # Errors
    /// PERMISSION_DENIED naming the principal, the right and the connector.
    pub fn require(&self, right: Right, connector: &str) -> Result<(), tonic::Status> {
        if self.policy.may(right, connector) {
            Ok(())
        } else {
            Err(tonic::Status::permission_denied(format!(
                "principal `{}` lacks the `{}` right on connector `{connector}`",
                self.name(),
                right.name()
            )))
        }
    }

    /// Refuses a caller that may not read `table` of `connector`.
    ///
    /// # Errors
    /// PERMISSION_DENIED naming the table.
    pub fn require_table(&self, connector: &str, table: &dmesh_connector_api::TableRef) -> Result<(), tonic::Status> {
        if self.sees(connector, table) {
            Ok(())
        } else {
            Err(tonic::Status::permission_denied(format!(
                "principal `{}` may not read table `{table}` of connector `{connector}`",
                self.name()
            )))
        }
    }

    /// Whether the caller may see `table` of `connector` in listings.
    pub fn sees(&self, connector: &str, table: &dmesh_connector_api::TableRef) -> bool {
        self.policy.may_table(
            Right::Read,
            connector,
            &Relation {
                schema: table.schema.clone(),
                name: table.name.clone(),
            },
        )
    }
}

impl AppState {
    /// The principal a call was authenticated as, when calls are.
    pub fn principal(metadata: &tonic::metadata::MetadataMap) -> Option<String> {
        metadata
            .get(crate::auth::PRINCIPAL_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Who is calling, and what they may do.
    pub fn caller(&self, metadata: &tonic::metadata::MetadataMap) -> Caller {
        let principal = Self::principal(metadata);
        let policy = self.auth.policy(principal.as_deref());
        Caller { principal, policy }
    }

    /// Refuses a caller that may not read `connector`.
    ///
    /// # Errors
    /// PERMISSION_DENIED naming the principal and the connector.
    pub fn allow(&self, metadata: &tonic::metadata::MetadataMap, connector: &str) -> Result<(), tonic::Status> {
        self.caller(metadata).require(Right::Read, connector)
    }

    /// The connector instance `name`, when the caller may read it.
    ///
    /// # Errors
    /// PERMISSION_DENIED, or the registry's NOT_FOUND.
    pub fn instance_for(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        name: &str,
    ) -> Result<Arc<crate::registry::Instance>, tonic::Status> {
        self.allow(metadata, name)?;
        Ok(self.registry().get(name)?)
    }

    /// Whether the caller may see `connector` in listings.
    pub fn visible(&self, metadata: &tonic::metadata::MetadataMap, connector: &str) -> bool {
        self.allow(metadata, connector).is_ok()
    }

    /// Refuses a caller that may not add or remove `connector`.
    ///
    /// # Errors
    /// PERMISSION_DENIED.
    pub fn allow_admin(&self, metadata: &tonic::metadata::MetadataMap, connector: &str) -> Result<(), tonic::Status> {
        self.caller(metadata).require(Right::Admin, connector)
    }

    /// Refuses a caller that may not manage tokens and roles (the `admin`
    /// right on every connector).
    ///
    /// # Errors
    /// PERMISSION_DENIED.
    pub fn allow_access_admin(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Caller, tonic::Status> {
        let caller = self.caller(metadata);
        if caller.policy.may_everywhere(Right::Admin, "*") {
            Ok(caller)
        } else {
            Err(tonic::Status::permission_denied(format!(
                "principal `{}` may not manage tokens and roles (needs the `admin` right on `*`)",
                caller.name()
            )))
        }
    }

    /// The registry of connector instances.
    pub fn registry(&self) -> &Arc<crate::registry::Registry> {
        self.engine.registry()
    }
}

/// Page size when a request gives none.
const DEFAULT_PAGE: usize = 100;

/// Cuts `items` to the page the request asks for; returns the page and the
/// next page's token (empty on the last page). Tokens are offsets.
fn paginate<T>(items: Vec<T>, page: Option<&dmesh_proto::v1::PageRequest>) -> crate::error::Result<(Vec<T>, String)> {
    let (size, token) = page.map_or((0, ""), |p| (p.page_size as usize, p.page_token.as_str()));
    let size = if size == 0 { DEFAULT_PAGE } else { size.min(10_000) };
    let start: usize = if token.is_empty() {
        0
    } else {
        token
            .parse()
            .map_err(|_| crate::error::GatewayError::BadRequest(format!("page_token `{token}` is not one this server gave")))?
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let next = if start + page.len() < total {
        (start + page.len()).to_string()
    } else {
        String::new()
    };
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmesh_proto::v1::PageRequest;

    #[test]
    fn pages_walk_the_whole_list() {
        let items: Vec<u32> = (0..250).collect();
        let (p1, t1) = paginate(items.clone(), None).expect("page");
        assert_eq!((p1.len(), t1.as_str()), (100, "100"));
        let req = PageRequest {
            page_size: 200,
            page_token: t1,
        };
        let (p2, t2) = paginate(items.clone(), Some(&req)).expect("page");
        assert_eq!((p2.len(), p2[0], t2.as_str()), (150, 100, ""));
        let bad = PageRequest {
            page_size: 1,
            page_token: "x".into(),
        };
        assert!(paginate(items, Some(&bad)).is_err());
    }
}
