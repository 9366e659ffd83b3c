//! `dmesh.v1.ConnectorRegistry`.

use std::sync::Arc;
use std::time::Instant;

use dmesh_proto::v1 as pb;
use dmesh_proto::v1::connector_registry_server::ConnectorRegistry;
use tonic::{Request, Response, Status};

use super::AppState;
use crate::convert;
use crate::error::GatewayError;
use crate::registry::{Instance, Origin};

/// The registry service.
#[derive(Debug, Clone)]
pub struct RegistryApi(pub Arc<AppState>);

fn to_pb(i: &Instance) -> pb::Connector {
    let origin = match i.origin {
        Origin::Builtin => pb::Origin::Builtin,
        Origin::ConfigFile => pb::Origin::ConfigFile,
        Origin::Runtime => pb::Origin::Runtime,
    };
    let description = match &i.connector {
        Ok(_) => i.config.get("description").and_then(|d| d.as_str()).unwrap_or_default().to_owned(),
        Err(reason) => format!("unavailable: {reason}"),
    };
    pb::Connector {
        name: i.name.clone(),
        kind: i.kind.clone(),
        families: i.families().into_iter().map(convert::family).collect(),
        config: Some(convert::json_to_struct(&redact(&i.config))),
        origin: origin as i32,
        description,
        created_at: Some(convert::timestamp(i.created_at)),
    }
}

/// Hides literal values of fields that look like secrets; references such
/// as `${env:PGPASSWORD}` stay visible.
fn redact(config: &serde_json::Value) -> serde_json::Value {
    match config {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let key = k.to_ascii_lowercase();
                let secret = ["password", "secret", "token", "key", "credential"]
                    .iter()
                    .any(|s| key.contains(s));
                let v = match v {
                    serde_json::Value::String(s) if secret && !s.contains("${") => "[redacted]".into(),
                    other => redact(other),
                };
                (k.clone(), v)
            })
            .collect(),
        other => other.clone(),
    }
}

#[tonic::async_trait]
impl ConnectorRegistry for RegistryApi {
    async fn list_kinds(&self, _: Request<pb::ListKindsRequest>) -> Result<Response<pb::ListKindsResponse>, Status> {
        let kinds = self
            .0
            .registry()
            .kinds()
            .iter()
            .map(|k| pb::ConnectorKind {
                kind: k.kind().to_owned(),
                description: k.description().to_owned(),
                families: k.families().iter().copied().map(convert::family).collect(),
                config_schema_json: k.config_schema().to_string(),
            })
            .collect();
        Ok(Response::new(pb::ListKindsResponse { kinds }))
    }

    async fn add_connector(
        &self,
        request: Request<pb::AddConnectorRequest>,
    ) -> Result<Response<pb::AddConnectorResponse>, Status> {
        self.0.allow_admin(request.metadata(), &request.get_ref().name)?;
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        if r.kind.is_empty() {
            return Err(GatewayError::BadRequest("`kind` is empty; `dmesh connector kinds` lists the kinds".into()).into());
        }
        let config = r.config.as_ref().map(convert::struct_to_json).unwrap_or(serde_json::json!({}));
        // A secret reference reads the gateway's files or environment: only
        // an admin of the whole gateway may write one.
        if config.to_string().contains("${") {
            let caller = self.0.caller(&metadata);
            if !caller.policy.may_everywhere(crate::policy::Right::Admin, "*") {
                return Err(Status::permission_denied(format!(
                    "principal `{}` may not use secret references (`${{...}}`) in a connector config; that needs \
                     the `admin` right on `*`",
                    caller.name()
                )));
            }
        }
        let instance = self.0.registry().add(&r.name, &r.kind, config, r.validate_only).await?;
        Ok(Response::new(pb::AddConnectorResponse {
            connector: Some(to_pb(&instance)),
        }))
    }

    async fn list_connectors(
        &self,
        request: Request<pb::ListConnectorsRequest>,
    ) -> Result<Response<pb::ListConnectorsResponse>, Status> {
        let metadata = request.metadata().clone();
        let family = convert::family_from(request.into_inner().family);
        let connectors = self
            .0
            .registry()
            .list()
            .iter()
            .filter(|i| family.is_none_or(|f| i.families().contains(&f)) && self.0.visible(&metadata, &i.name))
            .map(|i| to_pb(i))
            .collect();
        Ok(Response::new(pb::ListConnectorsResponse { connectors }))
    }

    async fn get_connector(&self, request: Request<pb::GetConnectorRequest>) -> Result<Response<pb::Connector>, Status> {
        let instance = self.0.instance_for(request.metadata(), &request.get_ref().name)?;
        Ok(Response::new(to_pb(&instance)))
    }

    async fn test_connector(
        &self,
        request: Request<pb::TestConnectorRequest>,
    ) -> Result<Response<pb::TestConnectorResponse>, Status> {
        self.0.allow(request.metadata(), &request.get_ref().name)?;
        let name = request.into_inner().name;
        let started = Instant::now();
        let instance = self.0.registry().retry_unavailable(&name).await?;
        let connector = match instance.connector() {
            Ok(c) => c,
            Err(e) => {
                return Ok(Response::new(pb::TestConnectorResponse {
                    healthy: false,
                    latency: Some(convert::duration(started.elapsed())),
                    message: e.to_string(),
                    checks: vec![],
                }));
            }
        };
        let report = connector.health_check().await;
        let latency = started.elapsed();
        let message = match report.first_failure() {
            Some(c) => format!("{}: {}", c.name, c.detail),
            None if report.checks.is_empty() => "the connector ran no checks".to_owned(),
            None => format!("healthy ({} checks passed)", report.checks.len()),
        };
        let checks = report
            .checks
            .iter()
            .map(|c| pb::HealthCheck {
                name: c.name.clone(),
                ok: c.ok,
                detail: c.detail.clone(),
                latency: Some(convert::duration(c.latency)),
            })
            .collect();
        Ok(Response::new(pb::TestConnectorResponse {
            healthy: report.healthy(),
            latency: Some(convert::duration(latency)),
            message,
            checks,
        }))
    }

    async fn remove_connector(
        &self,
        request: Request<pb::RemoveConnectorRequest>,
    ) -> Result<Response<pb::RemoveConnectorResponse>, Status> {
        self.0.allow_admin(request.metadata(), &request.get_ref().name)?;
        self.0.registry().remove(&request.into_inner().name).await?;
        Ok(Response::new(pb::RemoveConnectorResponse {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_secrets_are_redacted_and_references_kept() {
        let c = serde_json::json!({"host": "db", "password": "hunter2", "api_token": "${env:TOKEN}", "nested": {"secret_key": "abc"}});
        let r = redact(&c);
        assert_eq!(r["host"], "db");
        assert_eq!(r["password"], "[redacted]");
        assert_eq!(r["api_token"], "${env:TOKEN}");
        assert_eq!(r["nested"]["secret_key"], "[redacted]");
    }
}
