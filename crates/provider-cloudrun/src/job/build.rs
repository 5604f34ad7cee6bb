//! The pure half of Cloud Run jobs: the Admin API v2 `Job` Ferry creates or updates for a
//! `ServerlessJob`, the Cloud Scheduler job that starts it on a schedule, the job as it starts
//! the run of one spec generation, whether what Google holds matches, and what an `Execution`
//! says about a run. No I/O: `client.rs` sends what this module builds.
//!
//! A run is started by updating the job with a `startExecutionToken` derived from the object's
//! UID and the generation ([`run_token`]): Cloud Run names the execution `JOB-TOKEN`, so a
//! retried start looks for that execution and starts nothing new. Each execution carries the
//! labels of the job's execution template, among them the generation it was started for and
//! the object's UID, so the runs of a scheduled job (started by Cloud Scheduler, with random
//! names) are attributed too.
//!
//! As with services, Cloud Run echoes a job back with its defaults filled in, so the job is
//! stamped with a fingerprint of what Ferry built (job and schedule together) and compared by
//! it, plus the images and service account people change with `gcloud`.

use std::collections::BTreeMap;

use ferry_api::conditions::reasons;
use ferry_api::{CloudRunProviderConfig, JobRun, RunState};
use ferry_core::desired::ObjectRef;
use ferry_core::job::DesiredJob;
use ferry_core::names;
use google_cloud_run_v2::model::{self, condition};
use google_cloud_scheduler_v1::model as scheduler;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use crate::build::{
    Account, BuildError, CLIENT, Change, FINGERPRINT_ANNOTATION, LABEL_MANAGED_BY, LABEL_UID,
    MANAGED_BY_FERRY, PREVIEW, account_of, container, execution_environment, label_value, labels,
    owns, seconds, short_name, to_i32, volume_media, volumes, vpc_access,
};
use crate::limits::GA_TASK_TIMEOUT_SECONDS;
use crate::model::CloudRunModel;
use crate::names::{generation_of_token, job_name, run_token};

/// Label of an execution template (and so of every execution) with the spec generation the
/// job's definition was applied for: the generation of each run, scheduled ones included.
pub const LABEL_GENERATION: &str = "ferry-generation";
/// The Admin API endpoint Cloud Scheduler calls to start an execution (`jobs.run`).
pub const RUN_ENDPOINT: &str = "https://run.googleapis.com/v2";
/// Cloud Scheduler jobs have no labels: their description carries Ferry's mark ...
const SCHEDULER_MARK: &str = "managed-by=ferry";
/// ... and the owner's UID after this prefix.
const SCHEDULER_UID: &str = "ferry-uid=";

/// Everything Ferry sends for one job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRequests {
    /// Where it runs.
    pub account: Account,
    /// `projects/P/locations/R`.
    pub parent: String,
    /// The job ID ([`crate::names::job_name`]).
    pub job_id: String,
    /// `projects/P/locations/R/jobs/ID`.
    pub name: String,
    /// The job, as sent to `CreateJob` and `UpdateJob` (no execution token).
    pub job: model::Job,
    /// The fingerprint of the job and its schedule as built (the [`FINGERPRINT_ANNOTATION`]).
    pub fingerprint: String,
    /// `projects/P/locations/R/jobs/ID` at Cloud Scheduler (another API: the same ID).
    pub scheduler_name: String,
    /// The Cloud Scheduler job that starts runs on the schedule, when there is one.
    pub scheduler: Option<scheduler::Job>,
    /// Whether the Cloud Scheduler job is to be paused (`suspend`).
    pub paused: bool,
}

impl JobRequests {
    /// The requests as `ferry render` prints them, with enums by name: `CreateJob`'s
    /// parameters, the Cloud Scheduler job (and whether it is paused) of a schedule, and for a
    /// job without one the execution the run of `generation` starts.
    pub fn rendered(&self, object: &ObjectRef, generation: Option<i64>) -> Value {
        let mut out = json!({
            "createJob": {
                "parent": self.parent,
                "jobId": self.job_id,
                "job": readable_job(&self.job),
            },
        });
        match (&self.scheduler, generation) {
            (Some(job), _) => {
                out["createSchedulerJob"] = json!({
                    "parent": self.parent,
                    "job": readable_scheduler_job(job),
                });
                if self.paused {
                    out["pauseSchedulerJob"] = json!({ "name": self.scheduler_name });
                }
            }
            (None, Some(generation)) => {
                let token = run_token(object.uid.as_deref(), generation);
                out["startRun"] = json!({
                    "updateJob": { "name": self.name, "startExecutionToken": token },
                    "execution": format!(
                        "{}/executions/{}",
                        self.name,
                        execution_id(&self.job_id, &token)
                    ),
                });
            }
            (None, None) => {}
        }
        out
    }

    /// The job that starts the run of spec generation `generation` of `object`: the job as
    /// built, its executions labelled with `generation`, and the run's execution token.
    pub fn run_job(&self, object: &ObjectRef, generation: i64) -> model::Job {
        let mut job = self.job.clone();
        if let Some(template) = job.template.as_mut() {
            template
                .labels
                .insert(LABEL_GENERATION.to_owned(), generation.to_string());
        }
        job.set_start_execution_token(run_token(object.uid.as_deref(), generation))
    }

    /// The full name of the execution the run of `generation` of `object` is.
    pub fn run_execution(&self, object: &ObjectRef, generation: i64) -> String {
        let token = run_token(object.uid.as_deref(), generation);
        format!(
            "{}/executions/{}",
            self.name,
            execution_id(&self.job_id, &token)
        )
    }

    /// The full name of the execution `run` (a run's name, [`JobRun::name`]) of this job.
    pub fn execution(&self, run: &str) -> String {
        format!("{}/executions/{run}", self.name)
    }
}

/// The execution ID a token names: `JOB-TOKEN`.
pub fn execution_id(job_id: &str, token: &str) -> String {
    format!("{job_id}-{token}")
}

/// The Cloud Run settings of `want` (validation always gives this backend its model).
fn settings(want: &DesiredJob) -> Result<&CloudRunModel, BuildError> {
    want.backend
        .get::<CloudRunModel>()
        .ok_or(BuildError::NotCloudRun)
}

/// The job ID and `projects/P/locations/R` of `object` under `config` and its own settings,
/// for calls that need no desired state (delete, release).
pub fn names_of(object: &ObjectRef, location: &str) -> (String, String) {
    let job_id = job_name(&object.namespace, &object.name);
    let name = format!("{location}/jobs/{job_id}");
    (job_id, name)
}

/// Everything Ferry sends for `want`, in the project and region its own `spec.cloudRun` and
/// its ProviderConfig's give.
pub fn requests(
    want: &DesiredJob,
    config: &CloudRunProviderConfig,
) -> Result<JobRequests, BuildError> {
    let model = settings(want)?;
    let account = account_of(model, config);
    let parent = account.parent();
    let (job_id, name) = names_of(&want.object, &parent);
    let scheduler_name = name.clone();
    let scheduler = scheduler_job(want, model, &name, &job_id)?;
    let mut job = model::Job::new()
        .set_name(name.clone())
        .set_template(execution_template(want, model)?);
    if want.timeout_seconds > GA_TASK_TIMEOUT_SECONDS {
        // Task timeouts over 24 hours are in Preview ("Set task timeout for jobs"); Cloud Run
        // refuses a preview feature unless the request opts into its launch stage.
        job = job.set_launch_stage(PREVIEW);
    }
    // The owner's identity (compared on its own) and the client are not what the job does.
    let fingerprint = fingerprint_of(&job, scheduler.as_ref())?;
    let job = job
        .set_labels(labels(&want.object))
        .set_annotations([(FINGERPRINT_ANNOTATION, fingerprint.as_str())])
        .set_client(CLIENT)
        .set_client_version(env!("CARGO_PKG_VERSION"));
    Ok(JobRequests {
        account,
        parent,
        job_id,
        name,
        job,
        fingerprint,
        scheduler_name,
        scheduler,
        paused: want.suspend,
    })
}

/// The fingerprint of the job and its schedule as JSON with object keys sorted.
fn fingerprint_of(
    job: &model::Job,
    schedule: Option<&scheduler::Job>,
) -> Result<String, BuildError> {
    let mut json = json!({
        "job": serde_json::to_value(job).map_err(|e| BuildError::Encode(e.to_string()))?,
        "schedule": serde_json::to_value(schedule).map_err(|e| BuildError::Encode(e.to_string()))?,
    });
    json.sort_all_objects();
    Ok(names::fingerprint(&json.to_string()))
}

/// The labels of the job's executions: the owner's, and the spec generation.
fn run_labels(object: &ObjectRef) -> BTreeMap<&'static str, String> {
    let mut out = labels(object);
    if let Some(generation) = object.generation {
        out.insert(LABEL_GENERATION, generation.to_string());
    }
    out
}

fn execution_template(
    want: &DesiredJob,
    model: &CloudRunModel,
) -> Result<model::ExecutionTemplate, BuildError> {
    Ok(model::ExecutionTemplate::new()
        .set_labels(run_labels(&want.object))
        .set_task_count(to_i32(want.task_count))
        .set_parallelism(to_i32(want.parallelism))
        .set_template(task_template(want, model)?))
}

fn task_template(
    want: &DesiredJob,
    model: &CloudRunModel,
) -> Result<model::TaskTemplate, BuildError> {
    let containers = want
        .containers
        .iter()
        .map(|c| task_container(c, model))
        .collect::<Result<Vec<_>, _>>()?;
    let accelerator = want
        .containers
        .iter()
        .find_map(|c| c.resources.gpu.as_ref()?.gpu_type.clone());
    Ok(model::TaskTemplate::new()
        .set_containers(containers)
        .set_volumes(volumes(&want.volumes, &want.containers)?)
        .set_max_retries(to_i32(want.max_retries))
        .set_timeout(seconds(want.timeout_seconds))
        .set_service_account(model.service_account.clone().unwrap_or_default())
        .set_execution_environment(execution_environment(model.execution_environment))
        .set_or_clear_vpc_access(model.vpc_access.as_ref().map(vpc_access))
        .set_or_clear_node_selector(
            accelerator.map(|a| model::NodeSelector::new().set_accelerator(a)),
        ))
}

/// A container as a service's is built (a job's has no port and no probes: validation refuses
/// them), without what bills requests (`cpuIdle`, `startupCpuBoost`), which a task does not
/// have, and without `resources` when it sets no limit.
fn task_container(
    c: &ferry_core::desired::ContainerModel,
    model: &CloudRunModel,
) -> Result<model::Container, BuildError> {
    let mut built = container(c, model)?;
    let limits = built
        .resources
        .take()
        .map(|r| r.limits)
        .filter(|limits| !limits.is_empty());
    Ok(built.set_or_clear_resources(
        limits.map(|limits| model::ResourceRequirements::new().set_limits(limits)),
    ))
}

/// The Cloud Scheduler job of `want`'s schedule: an HTTP POST to the Admin API's `jobs.run` of
/// the job, with an OAuth token of the job's service account, as Google's "Execute jobs on a
/// schedule" sets it up. The fields are written upper-case (month and day names, which Cloud
/// Scheduler's docs write so) and nicknames spelt out (its docs name unix-cron only).
fn scheduler_job(
    want: &DesiredJob,
    model: &CloudRunModel,
    name: &str,
    job_id: &str,
) -> Result<Option<scheduler::Job>, BuildError> {
    let Some(schedule) = &want.schedule else {
        return Ok(None);
    };
    let account = model
        .service_account
        .clone()
        .ok_or(BuildError::ScheduleWithoutServiceAccount)?;
    let target = scheduler::HttpTarget::new()
        .set_uri(run_uri(name))
        .set_http_method(scheduler::HttpMethod::Post)
        .set_oauth_token(scheduler::OAuthToken::new().set_service_account_email(account));
    Ok(Some(
        scheduler::Job::new()
            .set_name(name)
            .set_description(scheduler_description(&want.object, job_id))
            .set_schedule(schedule.fields().join(" ").to_ascii_uppercase())
            .set_time_zone(schedule.time_zone.clone())
            .set_http_target(target),
    ))
}

/// The `jobs.run` URI of the job `name` (`projects/P/locations/R/jobs/ID`).
pub fn run_uri(name: &str) -> String {
    format!("{RUN_ENDPOINT}/{name}:run")
}

/// The description of the Cloud Scheduler job: what it is for, and Ferry's mark with the
/// owner's UID (Cloud Scheduler jobs have no labels).
pub fn scheduler_description(object: &ObjectRef, job_id: &str) -> String {
    let uid = object
        .uid
        .as_deref()
        .map(|uid| format!(" {SCHEDULER_UID}{}", label_value(uid)))
        .unwrap_or_default();
    format!(
        "Starts the Cloud Run job {job_id} on the schedule of ServerlessJob {}/{}. \
         {SCHEDULER_MARK}{uid}",
        object.namespace, object.name
    )
}

/// Whether Ferry may manage the Cloud Scheduler job `observed` for the object with `uid`: its
/// description carries that UID, or Ferry's mark without one (released by an earlier object of
/// the same name).
pub fn scheduler_is_ours(observed: &scheduler::Job, uid: Option<&str>) -> bool {
    let words: Vec<&str> = observed.description.split_whitespace().collect();
    match words.iter().find_map(|w| w.strip_prefix(SCHEDULER_UID)) {
        Some(owner) => uid.map(label_value).as_deref() == Some(owner),
        None => words.contains(&SCHEDULER_MARK),
    }
}

/// The description of a released Cloud Scheduler job: Ferry's mark without the UID.
pub fn released_description(description: &str) -> String {
    description
        .split(' ')
        .filter(|w| !w.starts_with(SCHEDULER_UID))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether Ferry may manage the Cloud Run job `observed` for the object with `uid` (its
/// labels, as a service's).
pub fn is_ours(observed: &model::Job, uid: Option<&str>) -> bool {
    owns(&observed.labels, uid)
}

/// What differs between Cloud Run's job and `requests`; empty when nothing. Any change is made
/// with one `UpdateJob` of `requests.job`.
pub fn diff(requests: &JobRequests, observed: &model::Job) -> Vec<Change> {
    let mut changes = Vec::new();
    if observed.annotations.get(FINGERPRINT_ANNOTATION) != Some(&requests.fingerprint) {
        changes.push(Change::Spec);
    }
    let task = |job: &model::Job| {
        job.template
            .as_ref()
            .and_then(|t| t.template.clone())
            .unwrap_or_default()
    };
    let (want, have) = (task(&requests.job), task(observed));
    let images = |t: &model::TaskTemplate| {
        t.containers
            .iter()
            .map(|c| (c.name.clone(), c.image.clone()))
            .collect::<Vec<_>>()
    };
    if images(&want) != images(&have) {
        changes.push(Change::Drift("template.template.containers[].image"));
    }
    if !want.service_account.is_empty() && want.service_account != have.service_account {
        changes.push(Change::Drift("template.template.serviceAccount"));
    }
    if requests
        .job
        .labels
        .iter()
        .any(|(key, value)| observed.labels.get(key) != Some(value))
    {
        changes.push(Change::Labels);
    }
    changes
}

/// The fields of the Cloud Scheduler job `observed` that differ from `want` (the ones Ferry
/// sets; Cloud Scheduler fills in a `User-Agent` header and the attempt deadline).
pub fn scheduler_diff(want: &scheduler::Job, observed: &scheduler::Job) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if want.schedule != observed.schedule {
        fields.push("schedule");
    }
    if want.time_zone != observed.time_zone {
        fields.push("timeZone");
    }
    if want.description != observed.description {
        fields.push("description");
    }
    let target = |job: &scheduler::Job| {
        job.http_target().map(|t| {
            (
                t.uri.clone(),
                t.http_method.clone(),
                t.body.clone(),
                t.oauth_token().map(|o| o.service_account_email.clone()),
            )
        })
    };
    if target(want) != target(observed) {
        fields.push("httpTarget");
    }
    fields
}

/// Whether the Cloud Scheduler job is paused.
pub fn is_paused(observed: &scheduler::Job) -> bool {
    observed.state == scheduler::job::State::Paused
}

/// Why Cloud Run could not bring the job to its latest generation, when it could not: a
/// reconciliation that failed without an execution token (a token's failed execution is that
/// run's failure, which the run reports).
pub fn definition_failure(observed: &model::Job) -> Option<(&'static str, String)> {
    let terminal = observed.terminal_condition.as_ref()?;
    let failed = !observed.reconciling
        && terminal.state == condition::State::ConditionFailed
        && observed.create_execution.is_none();
    if !failed {
        return None;
    }
    let reason = match &terminal.reasons {
        Some(condition::Reasons::Reason(
            condition::CommonReason::ContainerMissing
            | condition::CommonReason::ContainerPermissionDenied,
        )) => reasons::IMAGE_NOT_FOUND,
        _ => reasons::PROVIDER_ERROR,
    };
    let message = if terminal.message.is_empty() {
        "Cloud Run could not apply the job, without saying why".to_owned()
    } else {
        format!("Cloud Run could not apply the job: {}", terminal.message)
    };
    Some((reason, message))
}

/// What an execution says about its run.
pub fn run_of(execution: &model::Execution) -> JobRun {
    let name = short_name(&execution.name).unwrap_or_default();
    let completed = execution
        .conditions
        .iter()
        .find(|c| c.r#type == "Completed");
    let completed_state = completed.map(|c| c.state.clone());
    let finished = execution.completion_time.is_some()
        || (!execution.reconciling
            && matches!(
                completed_state,
                Some(condition::State::ConditionSucceeded | condition::State::ConditionFailed)
            ));
    let reason = completed.and_then(|c| match &c.reasons {
        Some(condition::Reasons::ExecutionReason(r)) => Some(r.clone()),
        _ => None,
    });
    let state = if !finished {
        RunState::Running
    } else if execution.cancelled_count > 0 || reason == Some(condition::ExecutionReason::Cancelled)
    {
        RunState::Stopped
    } else if execution.failed_count == 0
        && execution.succeeded_count >= execution.task_count
        && completed_state != Some(condition::State::ConditionFailed)
    {
        RunState::Succeeded
    } else {
        RunState::Failed
    };
    let message = completed
        .map(|c| c.message.clone())
        .filter(|m| !m.is_empty());
    let (reason, message) = match state {
        RunState::Stopped => (Some(reasons::STOPPED.to_owned()), message),
        RunState::Failed => (Some(run_failure(completed).to_owned()), message),
        _ => (None, None),
    };
    JobRun {
        generation: generation_of(execution, &name),
        name,
        state,
        start_time: time(
            execution
                .start_time
                .as_ref()
                .or(execution.create_time.as_ref()),
        ),
        completion_time: time(execution.completion_time.as_ref()).filter(|_| finished),
        succeeded: execution.succeeded_count,
        failed: execution.failed_count,
        active: if finished { 0 } else { execution.running_count },
        reason,
        message,
    }
}

/// The spec generation an execution ran for: its label, else its token.
fn generation_of(execution: &model::Execution, id: &str) -> Option<i64> {
    if let Some(generation) = execution
        .labels
        .get(LABEL_GENERATION)
        .and_then(|g| g.parse().ok())
    {
        return Some(generation);
    }
    let job_id = execution
        .name
        .split("/jobs/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())?;
    generation_of_token(id.strip_prefix(job_id)?.strip_prefix('-')?)
}

/// Whether the execution is the object's with `uid`: its labels (its job's execution template's
/// when it started) carry that UID.
pub fn execution_is_ours(execution: &model::Execution, uid: Option<&str>) -> bool {
    uid.map(label_value).as_ref() == execution.labels.get(LABEL_UID)
}

/// The documented reason of a failed execution: from Cloud Run's reason code where it gives a
/// specific one, else from its message.
fn run_failure(completed: Option<&model::Condition>) -> &'static str {
    let Some(c) = completed else {
        return reasons::CONTAINER_FAILED;
    };
    let message = c.message.to_ascii_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| message.contains(w));
    match &c.reasons {
        Some(condition::Reasons::Reason(
            condition::CommonReason::ContainerMissing
            | condition::CommonReason::ContainerPermissionDenied,
        )) => reasons::IMAGE_NOT_FOUND,
        _ if says(&["timeout", "timed out", "deadline"]) => reasons::DEADLINE_EXCEEDED,
        Some(condition::Reasons::ExecutionReason(condition::ExecutionReason::NonZeroExitCode)) => {
            reasons::CONTAINER_FAILED
        }
        _ if message.contains("image") && says(&["not found", "denied", "pull"]) => {
            reasons::IMAGE_NOT_FOUND
        }
        _ if says(&["failed to start", "could not start", "not start"]) => {
            reasons::TASK_FAILED_TO_START
        }
        _ => reasons::CONTAINER_FAILED,
    }
}

fn time(timestamp: Option<&google_cloud_wkt::Timestamp>) -> Option<Time> {
    let text = serde_json::to_value(timestamp?).ok()?;
    text.as_str()?.parse().ok().map(Time)
}

/// `job` as JSON with its enums by name.
fn readable_job(job: &model::Job) -> Value {
    // Cannot fail: `requests` serialised the same job for its fingerprint.
    let mut json = serde_json::to_value(job).unwrap_or(Value::Null);
    let mut name = |pointer: &str, text: Option<&str>| {
        if let (Some(slot), Some(text)) = (json.pointer_mut(pointer), text) {
            *slot = text.into();
        }
    };
    name("/launchStage", job.launch_stage.name());
    if let Some(task) = job.template.as_ref().and_then(|t| t.template.as_ref()) {
        name(
            "/template/template/executionEnvironment",
            task.execution_environment.name(),
        );
        if let Some(vpc) = &task.vpc_access {
            name("/template/template/vpcAccess/egress", vpc.egress.name());
        }
        for (pointer, medium) in volume_media("/template/template", &task.volumes) {
            name(&pointer, medium);
        }
    }
    json
}

/// A Cloud Scheduler job as JSON with its enums by name.
fn readable_scheduler_job(job: &scheduler::Job) -> Value {
    let mut json = serde_json::to_value(job).unwrap_or(Value::Null);
    if let (Some(slot), Some(method)) = (
        json.pointer_mut("/httpTarget/httpMethod"),
        job.http_target().and_then(|t| t.http_method.name()),
    ) {
        *slot = method.into();
    }
    json
}

/// `job` with the labels release leaves: Ferry's mark without an owner, so that the next
/// object of the same name may adopt it.
pub fn release(job: &mut model::Job) {
    job.labels.remove(LABEL_UID);
    job.labels
        .entry(LABEL_MANAGED_BY.to_owned())
        .or_insert_with(|| MANAGED_BY_FERRY.to_owned());
}
