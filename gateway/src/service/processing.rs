//! `dmesh.v1.ProcessingService`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use dmesh_connector_api as api;
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::processing_service_server::ProcessingService;
use futures::Stream;
use tonic::{Request, Response, Status};

use super::{AppState, paginate};
use crate::convert;
use crate::error::GatewayError;

/// How often WatchJob asks the engine for news.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// The processing service.
#[derive(Debug, Clone)]
pub struct ProcessingApi(pub Arc<AppState>);

fn state(s: api::JobState) -> i32 {
    (match s {
        api::JobState::Pending => pb::JobState::Pending,
        api::JobState::Running => pb::JobState::Running,
        api::JobState::Succeeded => pb::JobState::Succeeded,
        api::JobState::Failed => pb::JobState::Failed,
        api::JobState::Cancelled => pb::JobState::Cancelled,
    }) as i32
}

fn state_from(v: i32) -> Option<api::JobState> {
    match pb::JobState::try_from(v).ok()? {
        pb::JobState::Pending => Some(api::JobState::Pending),
        pb::JobState::Running => Some(api::JobState::Running),
        pb::JobState::Succeeded => Some(api::JobState::Succeeded),
        pb::JobState::Failed => Some(api::JobState::Failed),
        pb::JobState::Cancelled => Some(api::JobState::Cancelled),
        pb::JobState::Unspecified => None,
    }
}

fn job(connector: &str, s: api::JobStatus) -> pb::Job {
    pb::Job {
        id: s.id,
        connector: connector.to_owned(),
        job_type: s.job_type,
        state: state(s.state),
        message: s.message,
        progress: s.progress,
        submitted_at: s.submitted_at.map(convert::timestamp),
        started_at: s.started_at.map(convert::timestamp),
        finished_at: s.finished_at.map(convert::timestamp),
        labels: s.labels.into_iter().collect(),
        external_id: s.external_id.unwrap_or_default(),
        external_url: s.external_url.unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl ProcessingService for ProcessingApi {
    async fn submit_job(&self, request: Request<pb::SubmitJobRequest>) -> Result<Response<pb::Job>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        self.0.caller(&metadata).require(crate::policy::Right::Jobs, &r.connector)?;
        let spec = api::JobSpec {
            job_type: r.job_type,
            spec: r.spec.as_ref().map(convert::struct_to_json).unwrap_or_default(),
            idempotency_key: (!r.idempotency_key.is_empty()).then_some(r.idempotency_key),
            labels: r.labels.into_iter().collect(),
        };
        let s = instance.processing()?.submit_job(spec).await.map_err(GatewayError::from)?;
        Ok(Response::new(job(&r.connector, s)))
    }

    async fn get_job_status(&self, request: Request<pb::GetJobStatusRequest>) -> Result<Response<pb::Job>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let s = instance.processing()?.get_job_status(&r.job_id).await.map_err(GatewayError::from)?;
        Ok(Response::new(job(&r.connector, s)))
    }

    type WatchJobStream = Pin<Box<dyn Stream<Item = Result<pb::Job, Status>> + Send>>;

    async fn watch_job(&self, request: Request<pb::GetJobStatusRequest>) -> Result<Response<Self::WatchJobStream>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let first = instance.processing()?.get_job_status(&r.job_id).await.map_err(GatewayError::from)?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut last = first;
            if tx.send(Ok(job(&r.connector, last.clone()))).await.is_err() {
                return;
            }
            while !last.state.is_terminal() {
                tokio::time::sleep(WATCH_INTERVAL).await;
                let Ok(p) = instance.processing() else { return };
                match p.get_job_status(&r.job_id).await {
                    Ok(s) => {
                        let changed = s.state != last.state || s.progress != last.progress || s.message != last.message;
                        last = s;
                        if changed && tx.send(Ok(job(&r.connector, last.clone()))).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(GatewayError::from(e).into())).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn get_job_result(&self, request: Request<pb::GetJobResultRequest>) -> Result<Response<pb::JobResult>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let out = instance.processing()?.get_job_result(&r.job_id).await.map_err(GatewayError::from)?;
        let metrics = convert::json_to_struct(&out.metrics);
        Ok(Response::new(pb::JobResult {
            job: Some(job(&r.connector, out.status)),
            ticket: None,
            arrow_schema: match &out.table {
                Some(t) => crate::engine::ipc_stream(&t.schema(), &[])?,
                None => Vec::new(),
            },
            output: out.output,
            metrics: Some(metrics),
        }))
    }

    async fn cancel_job(&self, request: Request<pb::CancelJobRequest>) -> Result<Response<pb::Job>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        self.0.caller(&metadata).require(crate::policy::Right::Jobs, &r.connector)?;
        let s = instance.processing()?.cancel_job(&r.job_id).await.map_err(GatewayError::from)?;
        Ok(Response::new(job(&r.connector, s)))
    }

    async fn list_jobs(&self, request: Request<pb::ListJobsRequest>) -> Result<Response<pb::ListJobsResponse>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let states: Vec<api::JobState> = r.states.iter().filter_map(|s| state_from(*s)).collect();
        let jobs = instance.processing()?.list_jobs(&states, 10_000).await.map_err(GatewayError::from)?;
        let (page, next_page_token) = paginate(jobs, r.page.as_ref())?;
        Ok(Response::new(pb::ListJobsResponse {
            jobs: page.into_iter().map(|s| job(&r.connector, s)).collect(),
            next_page_token,
        }))
    }
}
