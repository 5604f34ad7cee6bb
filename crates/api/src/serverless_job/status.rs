//! The ServerlessJob status: the job's runs as Ferry observed them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::serverless_service::list_map_by_type;
use crate::{Provider, ResourceRef};

/// What Ferry observed, written only when it changes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerlessJobStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The provider the job runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,

    /// The provider's identifier of the job's definition (a Job or CronJob, an ECS task
    /// definition, a Cloud Run Job, a Container Apps job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_ref: Option<ResourceRef>,

    /// The newest run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<JobRun>,

    /// The last runs, newest first, at most [`ServerlessJobStatus::RUN_HISTORY`].
    #[schemars(length(max = 10))]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<JobRun>,

    /// `Ready`, `Synced`, `Complete`, `Failed`, and kstatus's `Reconciling` and `Stalled`.
    #[schemars(transform = list_map_by_type)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl ServerlessJobStatus {
    /// How many runs `status.runs` keeps.
    pub const RUN_HISTORY: usize = 10;
}

/// One run of the job: its tasks, started together.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JobRun {
    /// The provider's name of the run (a Job, an ECS `startedBy` value, a Cloud Run execution,
    /// a Container Apps job execution).
    pub name: String,

    /// The spec generation the run was started for (a scheduled run: the one in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,

    /// `Running`, `Succeeded`, `Failed` or `Stopped`.
    pub state: RunState,

    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,

    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// Tasks that succeeded.
    pub succeeded: i32,

    /// Tasks that failed (after their retries).
    pub failed: i32,

    /// Tasks still running.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub active: i32,

    /// Why it failed or stopped, one of the documented reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,

    /// What the provider said, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum RunState {
    /// Started, not ended.
    #[default]
    Running,
    /// Every task succeeded.
    Succeeded,
    /// A task failed after its retries, or the run could not start.
    Failed,
    /// Stopped before it ended (replaced, or the job was deleted).
    Stopped,
}

impl RunState {
    /// Whether the run has ended.
    pub fn is_finished(self) -> bool {
        self != RunState::Running
    }
}
