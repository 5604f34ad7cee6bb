//! The contract of a backend that runs `ServerlessJob`s: a job's definition (what the provider
//! keeps between runs: a CronJob, a task definition and schedule, a Cloud Run Job) and its runs.
//!
//! Crash safety rests on two rules every backend keeps. A run is started with a key derived
//! from the object's UID and the spec generation (a Job name, an ECS `clientToken` and
//! `startedBy`, a Cloud Run execution token), so starting it again starts nothing new. And
//! `observe` lists the runs the provider holds, so the run an interrupted reconcile started is
//! found before another is considered.

use std::sync::Arc;

use async_trait::async_trait;
use ferry_api::conditions::reasons;
use ferry_api::{JobRun, ServerlessJob, ServerlessJobSpec, ServerlessService};
use ferry_core::desired::ObjectRef;
use ferry_core::job::DesiredJob;

use crate::{Deletion, ProviderError};

/// The label every object a backend makes in the cluster for a job carries, with the job's
/// name: a change to one reconciles that job (a CronJob's Jobs are the CronJob's, not the
/// ServerlessJob's, so owner references cannot lead back).
pub const JOB_LABEL: &str = "ferry.dev/job";

/// What exists at the provider for one job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobObservation {
    /// The job's definition.
    pub definition: Definition,
    /// The runs the provider holds for the job, newest first.
    pub runs: Vec<JobRun>,
}

/// Where a job's definition stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Definition {
    /// Nothing yet: apply it.
    #[default]
    Absent,
    /// It exists.
    Present {
        /// Whether it matches the desired state; apply it again when not.
        up_to_date: bool,
        /// The provider's identifier of it, for `status.resourceRef`.
        id: Option<String>,
    },
}

/// One backend's runs of one job.
#[async_trait]
pub trait JobClient: Send + Sync {
    /// The definition and runs of `want`. Never changes anything at the provider.
    async fn observe(&self, want: &DesiredJob) -> Result<JobObservation, ProviderError>;

    /// Creates or updates the definition (and the schedule) to match `want`, and returns its
    /// identifier. Idempotent. Starts no run (the provider's scheduler starts scheduled ones on
    /// its own time).
    async fn apply(&self, want: &DesiredJob) -> Result<Option<String>, ProviderError>;

    /// Starts the run of `want` for spec generation `generation`, and returns it as started.
    /// Starting the same generation again (after a lost answer or a crash) must find the run
    /// already started, never start a second.
    async fn start(&self, want: &DesiredJob, generation: i64) -> Result<JobRun, ProviderError>;

    /// Moves the running run `run` on where the provider does not by itself (ECS has no
    /// retries, no parallelism limit and no task timeout): starts the tasks `parallelism` holds
    /// back as earlier ones end, a retry of a failed task while `maxRetries` allows, and stops
    /// an attempt past `timeoutSeconds`. Every task it starts is keyed (run, task index,
    /// attempt) so doing it twice starts nothing twice. Called after each observe, for each
    /// run the observation says is running. The default does nothing: most providers run a
    /// whole run on their own.
    async fn advance(&self, _want: &DesiredJob, _run: &JobRun) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Stops the run named `run` (a `Replace` of it). Idempotent.
    async fn stop(&self, want: &DesiredJob, run: &str) -> Result<(), ProviderError>;

    /// Deletes the definition, the schedule and the runs of `object` (runs under way are
    /// stopped). Idempotent: what is already gone is `Gone`.
    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError>;

    /// Lets what Ferry made for `object` live on without it (`deletionPolicy: Orphan`).
    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError>;
}

/// The refusal of a connector whose backend runs no jobs.
pub fn no_jobs(job: &ServerlessJob) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::UNSUPPORTED,
        message: format!(
            "{} does not run ServerlessJobs yet: use {}",
            job.spec.provider.display_name(),
            ServerlessJobSpec::providers_listed()
        ),
        recheck: None,
    }
}

/// `job` as the object a connector resolves its ProviderConfig and credentials for: the same
/// metadata (namespace, name, UID), and the job's containers and provider section as a
/// service's spec ([`ServerlessJobSpec::workload`]). A cloud connector's account lookups are
/// the same for both kinds.
///
/// [`ServerlessJobSpec::workload`]: ferry_api::ServerlessJobSpec::workload
pub fn workload_of(job: &ServerlessJob) -> ServerlessService {
    ServerlessService {
        metadata: job.metadata.clone(),
        spec: job.spec.workload(),
        status: None,
    }
}

/// A shared job client.
pub type Jobs = Arc<dyn JobClient>;
