//! The pure half of the Kubernetes backend's jobs: a `batch/v1` Job for each run of a job
//! without a schedule, a `batch/v1` CronJob for a scheduled one, and what a live Job says about
//! its run. No I/O.
//!
//! Every task is one index of an Indexed Job (`completions: taskCount`), so each task gets its
//! index in `JOB_COMPLETION_INDEX` and its own retries (`backoffLimitPerIndex: maxRetries`);
//! `timeoutSeconds` bounds each attempt as the pod's `activeDeadlineSeconds`.

use std::borrow::Cow;

use ferry_api::conditions::reasons;
use ferry_api::{JobRun, RunState};
use ferry_core::job::DesiredJob;
use ferry_core::kube_object::{container, owner_references_of, stamp_fingerprint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value, json};

use crate::model::KubernetesModel;

pub use ferry_core::kube_object::is_up_to_date;
pub use ferry_provider::in_cluster::{FIELD_MANAGER, MANAGED_BY};

/// The label on every Job and CronJob of a ServerlessJob, and on the Jobs a CronJob makes:
/// the ServerlessJob's name.
pub use ferry_provider::job::JOB_LABEL;
/// The label that says which spec generation a Job runs.
pub const GENERATION_LABEL: &str = "ferry.dev/generation";
/// How long a finished Job (and its pods, with their logs) stays: a week. `status.runs`
/// keeps its record longer.
pub const FINISHED_TTL_SECONDS: i64 = 7 * 24 * 3600;
/// Finished Jobs a CronJob keeps, succeeded and failed each.
pub const CRONJOB_HISTORY: i32 = 3;

const NAME_LABEL: &str = "app.kubernetes.io/name";
const KIND: &str = "ServerlessJob";

/// The name of the Job that runs `desired` for spec generation `generation`.
pub fn run_name(desired: &DesiredJob, generation: i64) -> String {
    format!("{}-{generation}", desired.object.name)
}

/// The Job that runs `desired` once, for spec generation `generation`, complete for a create
/// and carrying its fingerprint.
pub fn job(desired: &DesiredJob, generation: i64) -> Value {
    let mut job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(desired, &run_name(desired, generation), Some(generation)),
        "spec": job_spec(desired, &settings(desired), Some(FINISHED_TTL_SECONDS)),
    });
    stamp_fingerprint(&mut job);
    job
}

/// The CronJob that runs `desired` on its schedule (`None` without one), complete for
/// server-side apply and carrying its fingerprint.
pub fn cron_job(desired: &DesiredJob) -> Option<Value> {
    let schedule = desired.schedule.as_ref()?;
    let generation = desired.object.generation;
    let template_meta = json!({ "labels": labels(desired, generation) });
    let mut cron_job = json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(desired, &desired.object.name, None),
        "spec": {
            "schedule": schedule.cron,
            "timeZone": schedule.time_zone,
            "concurrencyPolicy": desired.concurrency_policy.as_str(),
            "suspend": desired.suspend,
            "successfulJobsHistoryLimit": CRONJOB_HISTORY,
            "failedJobsHistoryLimit": CRONJOB_HISTORY,
            "jobTemplate": {
                "metadata": template_meta,
                "spec": job_spec(desired, &settings(desired), None),
            },
        },
    });
    stamp_fingerprint(&mut cron_job);
    Some(cron_job)
}

/// The Kubernetes settings of `desired` (validation always gives this backend its model).
fn settings(desired: &DesiredJob) -> Cow<'_, KubernetesModel> {
    desired
        .backend
        .get::<KubernetesModel>()
        .map_or_else(|| Cow::Owned(KubernetesModel::default()), Cow::Borrowed)
}

fn labels(desired: &DesiredJob, generation: Option<i64>) -> Value {
    let name = &desired.object.name;
    let mut labels = json!({ MANAGED_BY.0: MANAGED_BY.1, NAME_LABEL: name, JOB_LABEL: name });
    if let Some(generation) = generation {
        labels[GENERATION_LABEL] = generation.to_string().into();
    }
    labels
}

fn metadata(desired: &DesiredJob, name: &str, generation: Option<i64>) -> Value {
    let mut meta = json!({
        "name": name,
        "namespace": desired.object.namespace,
        "labels": labels(desired, generation),
    });
    if let Some(owners) = owner_references_of(&desired.object, KIND) {
        meta["ownerReferences"] = owners;
    }
    meta
}

fn job_spec(desired: &DesiredJob, model: &KubernetesModel, ttl: Option<i64>) -> Value {
    let mut pod_labels: Map<String, Value> = model
        .fargate_labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    pod_labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    pod_labels.insert(JOB_LABEL.into(), desired.object.name.clone().into());
    let containers: Vec<Value> = desired
        .containers
        .iter()
        .map(|c| container(c, None, &|_, _| Value::Null))
        .collect();
    let mut pod = Map::new();
    pod.insert("containers".into(), containers.into());
    pod.insert("restartPolicy".into(), "Never".into());
    pod.insert(
        "activeDeadlineSeconds".into(),
        desired.timeout_seconds.into(),
    );
    if let Some(account) = &model.service_account_name {
        pod.insert("serviceAccountName".into(), account.clone().into());
    }
    if !model.node_selector.is_empty() {
        pod.insert("nodeSelector".into(), json!(model.node_selector));
    }
    let mut spec = json!({
        "completions": desired.task_count,
        "parallelism": desired.parallelism,
        "completionMode": "Indexed",
        "backoffLimitPerIndex": desired.max_retries,
        "template": { "metadata": { "labels": pod_labels }, "spec": pod },
    });
    if let Some(ttl) = ttl {
        spec["ttlSecondsAfterFinished"] = ttl.into();
    }
    spec
}

/// The run a live Job is, in Ferry's terms.
pub fn run_of(job: &Value) -> JobRun {
    let status = &job["status"];
    let condition = |type_: &str| {
        status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == type_ && c["status"] == "True")
    };
    let count = |field: &str| {
        status[field]
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0)
    };
    let time = |v: &Value| v.as_str().and_then(|t| t.parse().ok()).map(Time);
    let failed_indexes = status["failedIndexes"].as_str().map(count_indexes);
    let mut run = JobRun {
        name: job["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        generation: job["metadata"]["labels"][GENERATION_LABEL]
            .as_str()
            .and_then(|g| g.parse().ok()),
        state: RunState::Running,
        start_time: time(&status["startTime"]),
        completion_time: time(&status["completionTime"]),
        succeeded: count("succeeded"),
        failed: failed_indexes.unwrap_or(0),
        active: count("active"),
        reason: None,
        message: None,
    };
    if condition("Complete").is_some() {
        run.state = RunState::Succeeded;
    } else if let Some(failed) = condition("Failed") {
        run.state = RunState::Failed;
        let reason = failed["reason"].as_str().unwrap_or_default();
        run.reason = Some(failure_reason(reason).to_owned());
        run.message = failed["message"].as_str().map(str::to_owned);
        run.completion_time = run
            .completion_time
            .or_else(|| time(&failed["lastTransitionTime"]));
        if failed_indexes.is_none() && run.failed == 0 {
            run.failed = count("failed");
        }
    } else if let Some(suspended) = condition("Suspended") {
        run.state = RunState::Stopped;
        run.reason = Some(reasons::STOPPED.to_owned());
        run.message = suspended["message"].as_str().map(str::to_owned);
        run.completion_time = time(&suspended["lastTransitionTime"]);
    }
    if run.state.is_finished() {
        run.active = 0;
    }
    run
}

/// Ferry's reason for a Job's `Failed` condition reason.
fn failure_reason(reason: &str) -> &'static str {
    match reason {
        "DeadlineExceeded" => reasons::DEADLINE_EXCEEDED,
        _ => reasons::CONTAINER_FAILED,
    }
}

/// How many indexes `1,3-5` names.
fn count_indexes(indexes: &str) -> i32 {
    indexes
        .split(',')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.parse::<i32>(), b.parse::<i32>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 1,
            },
            None => 1,
        })
        .sum()
}

/// The labels that pick every Job and CronJob of the ServerlessJob `name`.
pub fn selector(name: &str) -> String {
    format!("{}={},{JOB_LABEL}={name}", MANAGED_BY.0, MANAGED_BY.1)
}
