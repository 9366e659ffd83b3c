//! StatusService: uptime, work in flight, connectors and their pools.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use dmesh_proto::v1 as pb;
use dmesh_proto::v1::status_service_server::StatusService;
use tonic::{Request, Response, Status};

use super::AppState;
use crate::convert;

/// The StatusService handlers.
#[derive(Debug, Clone)]
pub struct StatusApi {
    state: Arc<AppState>,
    started: Instant,
    started_at: SystemTime,
}

impl StatusApi {
    /// Serves `state`, counting uptime from now.
    pub fn new(state: Arc<AppState>) -> Self {
        Self {
            state,
            started: Instant::now(),
            started_at: SystemTime::now(),
        }
    }
}

#[tonic::async_trait]
impl StatusService for StatusApi {
    async fn get_status(&self, request: Request<pb::GetStatusRequest>) -> Result<Response<pb::GetStatusResponse>, Status> {
        let flights: std::collections::HashMap<String, i64> = self.state.engine.in_flight().into_iter().collect();
        let mut connectors: Vec<pb::ConnectorStatus> = self
            .state
            .registry()
            .list()
            .iter()
            .filter(|i| self.state.visible(request.metadata(), &i.name))
            .map(|i| {
                let (available, problem, pool) = match i.connector() {
                    Ok(c) => (
                        true,
                        String::new(),
                        c.pool_stats().map(|p| pb::PoolStatus {
                            open: p.open as u64,
                            max: p.max as u64,
                            in_use: p.in_use as u64,
                            waiters: p.waiters as u64,
                            retries: p.retries,
                        }),
                    ),
                    Err(e) => (false, e.to_string(), None),
                };
                pb::ConnectorStatus {
                    name: i.name.clone(),
                    kind: i.kind.clone(),
                    available,
                    problem,
                    queries_in_flight: flights.get(&i.name).copied().unwrap_or(0),
                    pool,
                }
            })
            .collect();
        connectors.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Response::new(pb::GetStatusResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: Some(convert::timestamp(self.started_at)),
            uptime: Some(convert::duration(self.started.elapsed())),
            queries_in_flight: flights.values().sum(),
            authenticated: self.state.auth.enabled(),
            connectors,
        }))
    }
}
