//! AccessService: the caller's policy, API tokens and roles.

use std::sync::Arc;
use std::time::Duration;

use dmesh_proto::v1 as pb;
use dmesh_proto::v1::access_service_server::AccessService;
use tonic::{Request, Response, Status};

use super::AppState;
use crate::auth::TokenInfo;
use crate::convert;
use crate::policy::{Grant, Policy, Right, Role, RoleLimits};

/// The AccessService handlers.
#[derive(Debug, Clone)]
pub struct AccessApi(pub Arc<AppState>);

fn grant_to_pb(g: &Grant) -> pb::Grant {
    pb::Grant {
        connector: g.connector.clone(),
        tables: g.tables.clone(),
        rights: g.rights.iter().map(|r| r.name().to_owned()).collect(),
    }
}

fn grant_from_pb(g: &pb::Grant) -> Result<Grant, Status> {
    if g.connector.is_empty() {
        return Err(Status::invalid_argument("a grant names no connector (use `*` for every connector)"));
    }
    let rights = if g.rights.is_empty() {
        vec![Right::Read]
    } else {
        g.rights
            .iter()
            .map(|r| {
                Right::parse(r).ok_or_else(|| {
                    Status::invalid_argument(format!("`{r}` is not a right; use read, write, ddl, jobs or admin"))
                })
            })
            .collect::<Result<_, _>>()?
    };
    Ok(Grant {
        connector: g.connector.clone(),
        tables: g.tables.clone(),
        rights,
    })
}

fn limits_to_pb(l: &RoleLimits) -> pb::RoleLimits {
    pb::RoleLimits {
        max_rows: l.max_rows,
        max_bytes: l.max_bytes.as_deref().and_then(dmesh_connector_api::parse_size),
        statement_timeout_ms: l.statement_timeout.map(|d| d.as_millis() as u64),
        max_concurrent: l.max_concurrent,
    }
}

fn ms(t: Option<i64>) -> Option<prost_types::Timestamp> {
    t.map(|ms| convert::timestamp_ms(ms.max(0) as u64))
}

fn token_to_pb(t: &TokenInfo) -> pb::TokenInfo {
    pb::TokenInfo {
        id: t.id.clone(),
        principal: t.principal.clone(),
        roles: t.roles.clone(),
        source: t.source.name().to_owned(),
        created_at: ms(t.created_at_ms),
        expires_at: ms(t.expires_at_ms),
        revoked_at: ms(t.revoked_at_ms),
    }
}

fn policy_limits(p: &Policy) -> pb::RoleLimits {
    pb::RoleLimits {
        max_rows: p.limits.max_rows,
        max_bytes: p.limits.max_bytes,
        statement_timeout_ms: p.limits.statement_timeout.map(|d| d.as_millis() as u64),
        max_concurrent: p.limits.max_concurrent,
    }
}

#[tonic::async_trait]
impl AccessService for AccessApi {
    async fn who_am_i(&self, request: Request<pb::WhoAmIRequest>) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let caller = self.0.caller(request.metadata());
        Ok(Response::new(pb::WhoAmIResponse {
            principal: caller.name().to_owned(),
            authenticated: caller.principal.is_some(),
            roles: caller.policy.roles.iter().cloned().collect(),
            grants: caller.policy.grants.iter().map(grant_to_pb).collect(),
            limits: Some(policy_limits(&caller.policy)),
        }))
    }

    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        let caller = self.0.allow_access_admin(request.metadata())?;
        let r = request.into_inner();
        let ttl = (r.ttl_seconds > 0).then(|| Duration::from_secs(r.ttl_seconds));
        let (token, info) = self.0.auth.create_token(&r.principal, &r.roles, ttl).await?;
        tracing::info!(by = %caller.name(), id = %info.id, principal = %info.principal, "token minted");
        Ok(Response::new(pb::CreateTokenResponse {
            token,
            info: Some(token_to_pb(&info)),
        }))
    }

    async fn list_tokens(&self, request: Request<pb::ListTokensRequest>) -> Result<Response<pb::ListTokensResponse>, Status> {
        self.0.allow_access_admin(request.metadata())?;
        Ok(Response::new(pb::ListTokensResponse {
            tokens: self.0.auth.tokens().iter().map(token_to_pb).collect(),
        }))
    }

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        let caller = self.0.allow_access_admin(request.metadata())?;
        let info = self.0.auth.revoke(&request.into_inner().id).await?;
        tracing::warn!(by = %caller.name(), id = %info.id, principal = %info.principal, "token revoked");
        Ok(Response::new(pb::RevokeTokenResponse {
            info: Some(token_to_pb(&info)),
        }))
    }

    async fn list_roles(&self, request: Request<pb::ListRolesRequest>) -> Result<Response<pb::ListRolesResponse>, Status> {
        self.0.allow_access_admin(request.metadata())?;
        let roles = self
            .0
            .auth
            .roles()
            .into_iter()
            .map(|(name, role, source)| pb::Role {
                name,
                grants: role.grants.iter().map(grant_to_pb).collect(),
                limits: Some(limits_to_pb(&role.limits)),
                source: source.name().to_owned(),
            })
            .collect();
        Ok(Response::new(pb::ListRolesResponse { roles }))
    }

    async fn put_role(&self, request: Request<pb::PutRoleRequest>) -> Result<Response<pb::PutRoleResponse>, Status> {
        let caller = self.0.allow_access_admin(request.metadata())?;
        let r = request
            .into_inner()
            .role
            .ok_or_else(|| Status::invalid_argument("`role` is missing"))?;
        let l = r.limits.unwrap_or_default();
        let role = Role {
            grants: r.grants.iter().map(grant_from_pb).collect::<Result<_, _>>()?,
            limits: RoleLimits {
                max_rows: l.max_rows,
                max_bytes: l.max_bytes.map(|b| b.to_string()),
                statement_timeout: l.statement_timeout_ms.map(Duration::from_millis),
                max_concurrent: l.max_concurrent,
            },
        };
        self.0.auth.put_role(&r.name, &role).await?;
        tracing::info!(by = %caller.name(), role = %r.name, "role defined");
        Ok(Response::new(pb::PutRoleResponse {}))
    }

    async fn delete_role(&self, request: Request<pb::DeleteRoleRequest>) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        self.0.allow_access_admin(request.metadata())?;
        let name = request.into_inner().name;
        if !self.0.auth.delete_role(&name).await? {
            return Err(Status::not_found(format!("no run-time role `{name}`; `dmesh role list` shows them")));
        }
        Ok(Response::new(pb::DeleteRoleResponse {}))
    }
}
