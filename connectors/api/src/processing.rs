//! The Processing family: jobs that run elsewhere and are followed by id.

use std::collections::BTreeMap;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::{BatchStream, Error, Result};

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Accepted, not started.
    #[default]
    Pending,
    /// Running.
    Running,
    /// Ended well.
    Succeeded,
    /// Ended badly; the message says why.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl JobState {
    /// Whether the job has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// A job to submit.
#[derive(Clone, Debug, Default)]
pub struct JobSpec {
    /// What to run, in the connector's terms.
    pub job_type: String,
    /// Its parameters.
    pub spec: serde_json::Value,
    /// Submitting twice with the same key returns the first job.
    pub idempotency_key: Option<String>,
    /// Free labels.
    pub labels: BTreeMap<String, String>,
}

/// A job's state as last seen.
#[derive(Clone, Debug, Default)]
pub struct JobStatus {
    /// The job's id.
    pub id: String,
    /// What it runs.
    pub job_type: String,
    /// Its state.
    pub state: JobState,
    /// A human summary; when failed, why.
    pub message: String,
    /// 0..1 where the engine reports progress.
    pub progress: Option<f64>,
    /// When it was submitted.
    pub submitted_at: Option<SystemTime>,
    /// When it started.
    pub started_at: Option<SystemTime>,
    /// When it ended.
    pub finished_at: Option<SystemTime>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The engine's own id.
    pub external_id: Option<String>,
    /// A link for operators.
    pub external_url: Option<String>,
}

/// What a finished job produced.
#[derive(Debug, Default)]
pub struct JobOutput {
    /// The final status.
    pub status: JobStatus,
    /// A table, when the job produced one.
    pub table: Option<BatchStream>,
    /// Output meant for people.
    pub output: String,
    /// Engine metrics.
    pub metrics: serde_json::Value,
}

/// An engine that runs jobs. Every ability defaults to [`Error::unsupported`].
#[async_trait]
pub trait ProcessingConnector: Send + Sync {
    /// Submits a job and returns its first status.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for a bad spec.
    async fn submit_job(&self, spec: JobSpec) -> Result<JobStatus> {
        let _ = spec;
        Err(Error::unsupported("submitting jobs"))
    }

    /// The job's current status.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown id.
    async fn get_job_status(&self, job_id: &str) -> Result<JobStatus> {
        let _ = job_id;
        Err(Error::unsupported("job status"))
    }

    /// What the job produced.
    ///
    /// # Errors
    /// [`ErrorKind::FailedPrecondition`](crate::ErrorKind::FailedPrecondition) while it runs.
    async fn get_job_result(&self, job_id: &str) -> Result<JobOutput> {
        let _ = job_id;
        Err(Error::unsupported("job results"))
    }

    /// Asks the engine to stop the job.
    ///
    /// # Errors
    /// [`ErrorKind::FailedPrecondition`](crate::ErrorKind::FailedPrecondition) once it ended.
    async fn cancel_job(&self, job_id: &str) -> Result<JobStatus> {
        let _ = job_id;
        Err(Error::unsupported("cancelling jobs"))
    }

    /// Jobs, newest first.
    ///
    /// # Errors
    /// [`Error::unsupported`] unless the engine lists jobs.
    async fn list_jobs(&self, states: &[JobState], limit: usize) -> Result<Vec<JobStatus>> {
        let _ = (states, limit);
        Err(Error::unsupported("listing jobs"))
    }
}
