//! The pure half of the Kubernetes backend's jobs: a `batch/v1` Job for each run of a job
//! without a schedule, a `batch/v1` CronJob for a scheduled one, and what a live Job says about
//! its run. No I/O.
//!
//! Every task is one index of an Indexed Job (`completions: taskCount`), so each task gets its
//! index in `JOB_COMPLETION_INDEX` and its own retries (`backoffLimitPerIndex: maxRetries`);
//! `timeoutSeconds` bounds each attempt as the pod's `activeDeadlineSeconds`.
//!
//! A run whose pods cannot start (an image that cannot be pulled, a Secret key that is missing)
//! would otherwise hang and then fail for the wrong reason: the kubelet retries until the pod's
//! `activeDeadlineSeconds` (counted from `status.startTime`, "before the Kubelet pulled the
//! container image(s)") fails the attempt, the Job controller tries each task `maxRetries` times
//! more, and the run ends `ContainerFailed` after `(maxRetries + 1) * timeoutSeconds`, saying
//! nothing of the image. So while a run is running its pods are read too ([`run_with_pods`]):
//! a container stuck past
//! [`STUCK_GRACE_SECONDS`] (at once for a reason that never clears) marks the run, still
//! running, with the documented reason and the kubelet's message; `advance` then ends the Job
//! ([`end_patch`]: an `activeDeadlineSeconds` already past, so the Job controller fails it and
//! removes its pods, plus Ferry's annotations saying why), and from then on the run reads as
//! failed with that reason ([`run_of`]).

use std::borrow::Cow;

use ferry_api::conditions::reasons;
use ferry_api::{JobRun, Provider, RunState};
use ferry_core::desired::ObjectRef;
use ferry_core::job::DesiredJob;
use ferry_core::kube_object::{container, owner_references_of, stamp_fingerprint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value, json};

use crate::model::KubernetesModel;
use crate::pods::{PodTrouble, Stuck, is_final, pod_troubles};
use ferry_provider::cluster_volumes::build::{
    self as volumes, Claim, GCS_FUSE_ANNOTATION, Nfs, Owner,
};

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

/// The label the Job controller puts on every pod of a Job, with the Job's name (Kubernetes'
/// `batch.kubernetes.io/job-name`, on every cluster Ferry supports: since 1.27).
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The annotation the Job controller puts on each pod of an Indexed Job: its task's index
/// (`completionMode: Indexed` in the Job API reference).
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// On a Job whose run Ferry ended because its pods could not start: the documented reason.
pub const END_REASON_ANNOTATION: &str = "ferry.dev/end-reason";
/// On a Job whose run Ferry ended: what the kubelet said.
pub const END_MESSAGE_ANNOTATION: &str = "ferry.dev/end-message";
/// On a Job whose run Ferry ended: when.
pub const END_TIME_ANNOTATION: &str = "ferry.dev/end-time";
/// How long a pod's container may wait for a reason the kubelet retries (an image pull, a
/// missing Secret key) before Ferry ends its run. The kubelet retries an image pull after 10 s
/// and doubles the wait up to 300 s (`imageBackOffPeriod`, `MaxImageBackOff` in
/// `pkg/kubelet/kubelet.go`): two minutes give a registry's passing failure, or a Secret that
/// an operator writes just after the job, four tries, and a misspelt image ends in minutes
/// rather than never.
pub const STUCK_GRACE_SECONDS: i64 = 120;
/// The `activeDeadlineSeconds` that ends a Job at once: the least the API accepts ("value must
/// be positive integer"), counted from a `startTime` that is already past. Unlike every other
/// way to end it, a Job past its deadline is `Failed`: its pods are removed, its TTL and a
/// CronJob's history count it, and a CronJob with `concurrencyPolicy: Forbid` runs again (a
/// suspended Job would stay active for ever and block it).
pub const END_DEADLINE_SECONDS: i64 = 1;

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

/// Whose claims a job's are: the ServerlessJob `object`'s, on this provider.
pub fn owner(object: &ObjectRef) -> Owner<'_> {
    Owner {
        provider: Provider::Kubernetes,
        kind: KIND,
        object,
    }
}

/// The PersistentVolume and claim of each volume the job's pods mount through a claim (efs),
/// which exist before a run's Job or the CronJob that mounts them.
pub fn claims(desired: &DesiredJob) -> Vec<Claim> {
    volumes::claims(&owner(&desired.object), &desired.volumes, Nfs::Inline)
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
        .map(|c| {
            let mut out = container(c, None, &|_, _| Value::Null);
            volumes::add_mounts(&mut out, &c.mounts);
            out
        })
        .collect();
    let mut pod = Map::new();
    pod.insert("containers".into(), containers.into());
    if !desired.volumes.is_empty() {
        let pod_volumes = volumes::pod_volumes(
            &desired.volumes,
            &desired.containers,
            &claims(desired),
            Nfs::Inline,
        );
        pod.insert("volumes".into(), pod_volumes.into());
    }
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
    if volumes::needs_gcs_fuse(&desired.volumes) {
        spec["template"]["metadata"]["annotations"] =
            json!({ GCS_FUSE_ANNOTATION.0: GCS_FUSE_ANNOTATION.1 });
    }
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
    let annotation = |key: &str| {
        job["metadata"]["annotations"][key]
            .as_str()
            .map(str::to_owned)
    };
    if condition("Complete").is_some() {
        run.state = RunState::Succeeded;
    } else if let Some(reason) = annotation(END_REASON_ANNOTATION) {
        // Ferry ended it ([`end_patch`]): its reason, not the Job controller's
        // `DeadlineExceeded`, says why. Every task that had not succeeded did not run.
        run.state = RunState::Failed;
        run.reason = Some(job_reason_named(&reason).to_owned());
        run.message = annotation(END_MESSAGE_ANNOTATION);
        run.completion_time = annotation(END_TIME_ANNOTATION)
            .and_then(|t| t.parse().ok())
            .map(Time)
            .or_else(|| condition("Failed").and_then(|f| time(&f["lastTransitionTime"])));
        let tasks = job["spec"]["completions"]
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(1);
        run.failed = (tasks - run.succeeded).max(1);
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

/// The run `job` is ([`run_of`]) once its pods (the items of a list by [`pod_selector`]) are
/// read as of `now`: a running run one of whose containers waits for a reason that does not
/// pass by itself gets the kubelet's message; and, when the reason never clears or the pod
/// has waited [`STUCK_GRACE_SECONDS`], the documented reason too, which is what tells
/// [`end_patch`] to end it. A run that is not running is as `run_of` reads it.
pub fn run_with_pods(job: &Value, pods: &[Value], now: &Time) -> JobRun {
    let mut run = run_of(job);
    if run.state != RunState::Running {
        return run;
    }
    let uid = job["metadata"]["uid"].as_str();
    let mut found: Option<(&Value, PodTrouble, bool)> = None;
    for pod in pods.iter().filter(|p| is_live_pod_of(p, uid)) {
        for trouble in pod_troubles(std::slice::from_ref(pod)) {
            let ends = is_final(&trouble.reason) || waited_past_grace(pod, now);
            // The first trouble that ends the run, else the first of all.
            if found.as_ref().is_none_or(|(_, _, e)| ends && !e) {
                found = Some((pod, trouble, ends));
            }
        }
    }
    let Some((pod, trouble, ends)) = found else {
        return run;
    };
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let task = match pod["metadata"]["annotations"][COMPLETION_INDEX_ANNOTATION].as_str() {
        Some(index) => format!("task {index} (pod {name})"),
        None => format!("pod {name}"),
    };
    run.message = Some(format!("{task}: {}", trouble.describe()));
    if ends && let Some(stuck) = trouble.stuck() {
        run.reason = Some(job_reason(stuck).to_owned());
    }
    run
}

/// Whether `pod` is one of the Job's (with the UID `uid`) and not going away: the pods of an
/// earlier Job of the same name may still be terminating.
fn is_live_pod_of(pod: &Value, uid: Option<&str>) -> bool {
    if !pod["metadata"]["deletionTimestamp"].is_null() {
        return false;
    }
    let controller = pod["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["controller"] == true);
    match (controller.and_then(|o| o["uid"].as_str()), uid) {
        (Some(owner), Some(uid)) => owner == uid,
        _ => true,
    }
}

/// Whether `pod` started (the kubelet took it: `status.startTime`, else its creation) at least
/// [`STUCK_GRACE_SECONDS`] before `now`.
fn waited_past_grace(pod: &Value, now: &Time) -> bool {
    let since = pod["status"]["startTime"]
        .as_str()
        .or_else(|| pod["metadata"]["creationTimestamp"].as_str())
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
    since.is_some_and(|since| now.0.as_second() - since.as_second() >= STUCK_GRACE_SECONDS)
}

/// A stuck container's class as one of Ferry's reasons for a job's run: `ImageNotFound` when
/// its image cannot be pulled, `TaskFailedToStart` when its container cannot be made (the
/// task never ran), `ContainerFailed` when it keeps exiting.
fn job_reason(stuck: Stuck) -> &'static str {
    match stuck {
        Stuck::Image => reasons::IMAGE_NOT_FOUND,
        Stuck::Start => reasons::TASK_FAILED_TO_START,
        Stuck::Crash => reasons::CONTAINER_FAILED,
    }
}

/// The documented reason named `reason` (what [`end_patch`] wrote), `ContainerFailed` for any
/// other: an annotation anyone may edit.
fn job_reason_named(reason: &str) -> &'static str {
    [
        reasons::IMAGE_NOT_FOUND,
        reasons::TASK_FAILED_TO_START,
        reasons::CONTAINER_FAILED,
    ]
    .into_iter()
    .find(|r| *r == reason)
    .unwrap_or(reasons::CONTAINER_FAILED)
}

/// The merge patch of the Job of `run` that ends it, when `run` is a running run that
/// [`run_with_pods`] found stuck for good (it carries a reason); `None` for any other run.
/// It records why (the reason, the message and `now` as annotations, which [`run_of`] reads
/// from then on) and sets the Job's `activeDeadlineSeconds` to [`END_DEADLINE_SECONDS`], a field
/// that may change on a live Job, so the Job controller fails the Job and removes its pods.
/// Patching again writes the same (a later `now` aside): nothing more happens.
pub fn end_patch(run: &JobRun, now: &Time) -> Option<Value> {
    if run.state != RunState::Running {
        return None;
    }
    let reason = run.reason.as_deref()?;
    Some(json!({
        "metadata": { "annotations": {
            END_REASON_ANNOTATION: reason,
            END_MESSAGE_ANNOTATION: run.message.as_deref().unwrap_or_default(),
            END_TIME_ANNOTATION: now,
        } },
        "spec": { "activeDeadlineSeconds": END_DEADLINE_SECONDS },
    }))
}

/// The labels that pick the pods of the run `run` of the ServerlessJob `name`: the Job
/// controller's label for its Job, and Ferry's labels, which the Job's pod template carries.
pub fn pod_selector(name: &str, run: &str) -> String {
    format!("{},{JOB_NAME_LABEL}={run}", selector(name))
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
