//! The v1 gRPC services. Each handler resolves the connector instance, calls
//! the family trait, and converts the answer; errors pass through
//! [`GatewayError`](crate::error::GatewayError)'s one conversion to a status.

mod catalog;
mod processing;
mod query;
mod registry;
mod storage;

use std::sync::Arc;

pub use catalog::CatalogApi;
pub use processing::ProcessingApi;
pub use query::QueryApi;
pub use registry::RegistryApi;
pub use storage::StorageApi;

use crate::engine::QueryEngine;

/// What every service shares.
#[derive(Debug)]
pub struct AppState {
    /// Plans and runs queries; holds the registry.
    pub engine: QueryEngine,
    /// Inline results are capped at this many rows when the client gives no cap.
    pub inline_max_rows: u64,
    /// Checks credentials; `None` when calls are not authenticated.
    pub auth: Option<crate::auth::Authenticator>,
}

impl AppState {
    /// The principal a call was authenticated as, when calls are.
    pub fn principal(metadata: &tonic::metadata::MetadataMap) -> Option<String> {
        metadata
            .get(crate::auth::PRINCIPAL_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Refuses a caller that may not use `connector`.
    ///
    /// # Errors
    /// PERMISSION_DENIED naming the principal and the connector.
    pub fn allow(&self, metadata: &tonic::metadata::MetadataMap, connector: &str) -> Result<(), tonic::Status> {
        let Some(auth) = &self.auth else { return Ok(()) };
        let principal = Self::principal(metadata).unwrap_or_default();
        if auth.may_use(&principal, connector) {
            Ok(())
        } else {
            Err(tonic::Status::permission_denied(format!(
                "principal `{principal}` may not use connector `{connector}`"
            )))
        }
    }

    /// The connector instance `name`, when the caller may use it.
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

    /// Refuses a caller that may not change the registry.
    ///
    /// # Errors
    /// PERMISSION_DENIED.
    pub fn allow_admin(&self, metadata: &tonic::metadata::MetadataMap) -> Result<(), tonic::Status> {
        let Some(auth) = &self.auth else { return Ok(()) };
        let principal = Self::principal(metadata).unwrap_or_default();
        if auth.is_admin(&principal) {
            Ok(())
        } else {
            Err(tonic::Status::permission_denied(format!(
                "principal `{principal}` may not add or remove connectors (needs `admin = true`)"
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
