//! The Kubernetes backend's jobs, pure: the Job of a run and the CronJob of a schedule, each
//! checked against the schema the API server serves it under (k8s-openapi's, as the kube
//! stand-in serves them), the mapping of every job field, a live Job read as a run (with its
//! pods while it runs, as the kubelet writes their status), and the patch that ends a run whose
//! pods cannot start.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use ferry_api::conditions::reasons;
use ferry_api::{JobRun, RunState};
use ferry_core::job::DesiredJob;
use ferry_provider_kubernetes::Kubernetes;
use ferry_provider_kubernetes::job::build::{
    COMPLETION_INDEX_ANNOTATION, END_DEADLINE_SECONDS, END_MESSAGE_ANNOTATION,
    END_REASON_ANNOTATION, END_TIME_ANNOTATION, GENERATION_LABEL, JOB_LABEL, JOB_NAME_LABEL,
    STUCK_GRACE_SECONDS, cron_job, end_patch, job, pod_selector, run_name, run_of, run_with_pods,
};
use ferry_testkit::builders::{UID, desired_job};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube_standin::builtin::violations_of;
use serde_json::{Value, json};

fn desired(spec: &str) -> DesiredJob {
    desired_job(spec, &Kubernetes)
}

fn job_violations(object: &Value) -> Vec<String> {
    violations_of::<Job>(object)
}

fn cron_job_violations(object: &Value) -> Vec<String> {
    violations_of::<CronJob>(object)
}

const RICH: &str = "{provider: kubernetes, \
    containers: [{name: report, image: 'ghcr.io/acme/report:1.2', command: [/report], \
                  args: [--since, 24h], \
                  env: [{name: MODE, value: full}, {name: TOKEN, secret: {name: api, key: token}}], \
                  resources: {cpu: 500m, memory: 256Mi}}, \
                 {name: log, image: 'ghcr.io/acme/log:1', resources: {cpu: 100m, memory: 32Mi}}], \
    taskCount: 4, parallelism: 2, maxRetries: 2, timeoutSeconds: 900, \
    kubernetes: {serviceAccountName: reporter, nodeSelector: {pool: batch}, \
                 fargateProfile: {labels: {compute: fargate}}}}";

#[test]
fn a_run_is_an_indexed_job_named_after_the_generation_that_passes_its_schema() {
    let want = desired(RICH);
    let built = job(&want, 7);
    assert_eq!(job_violations(&built), Vec::<String>::new(), "{built:#}");
    assert_eq!(run_name(&want, 7), "report-7");
    assert_eq!(built["metadata"]["name"], "report-7");
    assert_eq!(built["metadata"]["namespace"], "shop");
    let labels = &built["metadata"]["labels"];
    assert_eq!(labels[JOB_LABEL], "report");
    assert_eq!(labels[GENERATION_LABEL], "7");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "ferry");
    let owner = &built["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "ServerlessJob");
    assert_eq!(owner["uid"], UID);
    assert_eq!(owner["controller"], true);
    let spec = &built["spec"];
    assert_eq!(spec["completions"], 4);
    assert_eq!(spec["parallelism"], 2);
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["backoffLimitPerIndex"], 2);
    assert_eq!(spec["ttlSecondsAfterFinished"], 604_800);
    assert!(
        spec.get("selector").is_none(),
        "the API server makes the selector"
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["activeDeadlineSeconds"], 900);
    assert_eq!(pod["serviceAccountName"], "reporter");
    assert_eq!(pod["nodeSelector"], json!({"pool": "batch"}));
    assert_eq!(spec["template"]["metadata"]["labels"]["compute"], "fargate");
    let container = &pod["containers"][0];
    assert_eq!(container["command"], json!(["/report"]));
    assert_eq!(container["args"], json!(["--since", "24h"]));
    assert_eq!(
        container["env"][1]["valueFrom"]["secretKeyRef"],
        json!({"name": "api", "key": "token"})
    );
    assert!(container.get("ports").is_none());
    assert_eq!(pod["containers"][1]["name"], "log");
    assert!(
        built["metadata"]["annotations"]["ferry.dev/applied-fingerprint"].is_string(),
        "{built:#}"
    );
}

#[test]
fn defaults_give_one_task_three_retries_and_ten_minutes() {
    let built = job(
        &desired("{provider: kubernetes, containers: [{name: app, image: busybox}]}"),
        1,
    );
    assert_eq!(job_violations(&built), Vec::<String>::new());
    assert_eq!(built["spec"]["completions"], 1);
    assert_eq!(built["spec"]["parallelism"], 1);
    assert_eq!(built["spec"]["backoffLimitPerIndex"], 3);
    assert_eq!(
        built["spec"]["template"]["spec"]["activeDeadlineSeconds"],
        600
    );
}

#[test]
fn a_schedule_is_a_cron_job_whose_jobs_carry_the_labels() {
    let want = desired(
        "{provider: kubernetes, containers: [{name: app, image: busybox}], \
          schedule: '0 3 * * *', timeZone: Europe/Berlin, concurrencyPolicy: Replace, \
          suspend: true, taskCount: 2}",
    );
    let built = cron_job(&want).unwrap();
    assert_eq!(
        cron_job_violations(&built),
        Vec::<String>::new(),
        "{built:#}"
    );
    assert_eq!(built["metadata"]["name"], "report");
    let spec = &built["spec"];
    assert_eq!(spec["schedule"], "0 3 * * *");
    assert_eq!(spec["timeZone"], "Europe/Berlin");
    assert_eq!(spec["concurrencyPolicy"], "Replace");
    assert_eq!(spec["suspend"], true);
    let template = &spec["jobTemplate"];
    assert_eq!(template["metadata"]["labels"][JOB_LABEL], "report");
    assert_eq!(template["metadata"]["labels"][GENERATION_LABEL], "1");
    assert_eq!(template["spec"]["completions"], 2);
    // The CronJob's own history bounds its Jobs; a run Job's TTL would fight it.
    assert!(template["spec"].get("ttlSecondsAfterFinished").is_none());
    assert!(
        cron_job(&desired(
            "{provider: kubernetes, containers: [{name: app, image: busybox}]}"
        ))
        .is_none()
    );
}

#[test]
fn a_misspelt_field_fails_the_schema_so_the_check_can_fail() {
    let mut built = job(&desired(RICH), 1);
    built["spec"]["completionz"] = json!(1);
    built["spec"]["parallelism"] = json!("two");
    let violations = job_violations(&built);
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("spec.completionz: unknown field")),
        "{violations:?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("spec.parallelism: Invalid value")),
        "{violations:?}"
    );
}

fn live(status: &Value) -> Value {
    json!({
        "metadata": {"name": "report-3", "labels": {GENERATION_LABEL: "3"}},
        "status": status,
    })
}

#[test]
fn a_live_job_reads_as_its_run() {
    let cases: Vec<(&str, Value, JobRun)> = vec![
        (
            "running",
            json!({"startTime": "2026-12-07T10:00:00Z", "active": 2, "succeeded": 1}),
            JobRun {
                state: RunState::Running,
                succeeded: 1,
                active: 2,
                ..JobRun::default()
            },
        ),
        (
            "complete",
            json!({"startTime": "2026-12-07T10:00:00Z", "completionTime": "2026-12-07T10:05:00Z",
                   "succeeded": 4,
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                  {"type": "Complete", "status": "True"}]}),
            JobRun {
                state: RunState::Succeeded,
                succeeded: 4,
                ..JobRun::default()
            },
        ),
        (
            "failed indexes",
            json!({"startTime": "2026-12-07T10:00:00Z", "failed": 9, "succeeded": 1,
                   "failedIndexes": "0,2-3",
                   "conditions": [{"type": "Failed", "status": "True", "reason": "FailedIndexes",
                                   "message": "Job has failed indexes",
                                   "lastTransitionTime": "2026-12-07T10:07:00Z"}]}),
            JobRun {
                state: RunState::Failed,
                succeeded: 1,
                failed: 3,
                reason: Some("ContainerFailed".into()),
                message: Some("Job has failed indexes".into()),
                ..JobRun::default()
            },
        ),
        (
            "deadline",
            json!({"startTime": "2026-12-07T10:00:00Z", "failed": 1, "active": 1,
                   "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                                   "message": "Job was active longer than specified deadline",
                                   "lastTransitionTime": "2026-12-07T10:07:00Z"}]}),
            JobRun {
                state: RunState::Failed,
                failed: 1,
                reason: Some("DeadlineExceeded".into()),
                message: Some("Job was active longer than specified deadline".into()),
                ..JobRun::default()
            },
        ),
        (
            "suspended",
            json!({"startTime": "2026-12-07T10:00:00Z",
                   "conditions": [{"type": "Suspended", "status": "True", "reason": "JobSuspended",
                                   "message": "Job suspended",
                                   "lastTransitionTime": "2026-12-07T10:02:00Z"}]}),
            JobRun {
                state: RunState::Stopped,
                reason: Some("Stopped".into()),
                message: Some("Job suspended".into()),
                ..JobRun::default()
            },
        ),
    ];
    for (case, status, expected) in cases {
        let run = run_of(&live(&status));
        assert_eq!(run.name, "report-3", "{case}");
        assert_eq!(run.generation, Some(3), "{case}");
        assert_eq!(run.state, expected.state, "{case}");
        assert_eq!(run.succeeded, expected.succeeded, "{case}");
        assert_eq!(run.failed, expected.failed, "{case}");
        assert_eq!(run.active, expected.active, "{case}");
        assert_eq!(run.reason, expected.reason, "{case}");
        assert_eq!(run.message, expected.message, "{case}");
        assert!(run.start_time.is_some(), "{case}");
        assert_eq!(
            run.completion_time.is_some(),
            run.state.is_finished(),
            "{case}"
        );
    }
}

/// The findings of validating `spec` as a job on Kubernetes: `(field, message)` of each error.
fn refusals(spec: &str) -> Vec<(String, String)> {
    let job = ferry_testkit::builders::serverless_job(spec);
    match ferry_core::job::validate_job(&job, &Kubernetes) {
        Ok(_) => Vec::new(),
        Err(invalid) => invalid
            .errors
            .into_iter()
            .map(|f| (f.field, f.message))
            .collect(),
    }
}

#[test]
fn job_specs_are_refused_naming_the_field_and_what_would_do() {
    let cases = [
        (
            "containers: [{name: app, image: busybox, port: 8080}]",
            "spec.containers[0].port",
            "no port",
        ),
        (
            "containers: [{name: app, image: busybox, probes: {liveness: {tcpSocket: {}}}}]",
            "spec.containers[0].probes",
            "no probes",
        ),
        (
            "containers: [{name: app, image: busybox}], taskCount: 2, parallelism: 3",
            "spec.parallelism",
            "not be greater than taskCount (2)",
        ),
        (
            "containers: [{name: app, image: busybox}], maxRetries: 11",
            "spec.maxRetries",
            "0 to 10",
        ),
        (
            "containers: [{name: app, image: busybox}], schedule: '0 3 * *'",
            "spec.schedule",
            "five cron fields",
        ),
        (
            "containers: [{name: app, image: busybox}], schedule: '0 3 * * *', timeZone: Mars/Base",
            "spec.timeZone",
            "IANA",
        ),
        (
            "containers: [{name: app, image: busybox}], timeZone: Etc/UTC",
            "spec.timeZone",
            "set spec.schedule",
        ),
        (
            "containers: [{name: app, image: busybox, resources: {cpu: lots}}]",
            "spec.containers[0].resources.cpu",
            "",
        ),
        (
            "containers: [{name: app, image: busybox}], \
             kubernetes: {nodeSelector: {'bad key!': x}}",
            "spec.kubernetes.nodeSelector",
            "",
        ),
        (
            "containers: [{name: app, image: busybox, resources: {cpu: '17', memory: 1Gi}}], \
             kubernetes: {fargateProfile: {labels: {}}}",
            "spec.containers",
            "EKS Fargate pod",
        ),
    ];
    for (spec, field, fragment) in cases {
        let found = refusals(&format!("{{provider: kubernetes, {spec}}}"));
        assert!(
            found
                .iter()
                .any(|(f, m)| f.starts_with(field) && m.contains(fragment)),
            "{spec}: expected {field} ({fragment}); got {found:?}"
        );
    }
    assert_eq!(
        refusals(
            "{provider: kubernetes, containers: [{name: app, image: busybox}], schedule: '@daily'}"
        ),
        Vec::<(String, String)>::new()
    );
}

/// A job whose runs are on Fargate, its spec now naming Kubernetes: refused, never started
/// twice on two providers; with nothing made yet, the change is only a change.
#[test]
fn a_job_whose_runs_are_on_another_provider_is_refused_until_set_back() {
    let mut job = ferry_testkit::builders::serverless_job(
        "{provider: kubernetes, containers: [{name: app, image: busybox}]}",
    );
    job.status = Some(ferry_api::ServerlessJobStatus {
        provider: Some(ferry_api::Provider::Fargate),
        runs: vec![JobRun {
            name: "ferry-abc-1".into(),
            generation: Some(1),
            state: RunState::Succeeded,
            ..JobRun::default()
        }],
        ..ferry_api::ServerlessJobStatus::default()
    });
    let refused = ferry_core::job::validate_job(&job, &Kubernetes).unwrap_err();
    assert_eq!(refused.errors.len(), 1, "{refused}");
    assert_eq!(refused.errors[0].field, "spec.provider");
    assert!(
        refused.errors[0]
            .message
            .contains("cannot change from fargate to kubernetes"),
        "{refused}"
    );
    assert!(
        refused.errors[0]
            .message
            .contains("delete the ServerlessJob"),
        "{refused}"
    );
    // Nothing made on Fargate yet (a first reconcile that failed): the new provider is taken.
    if let Some(status) = job.status.as_mut() {
        status.runs.clear();
    }
    assert!(ferry_core::job::validate_job(&job, &Kubernetes).is_ok());
}

#[test]
fn a_job_name_leaves_room_for_its_runs() {
    let mut job = ferry_testkit::builders::serverless_job(
        "{provider: kubernetes, containers: [{name: app, image: busybox}]}",
    );
    job.metadata.name = Some("a".repeat(53));
    let invalid = ferry_core::job::validate_job(&job, &Kubernetes).unwrap_err();
    assert_eq!(invalid.errors[0].field, "metadata.name");
    assert!(
        invalid.errors[0].message.contains("at most 52"),
        "{invalid}"
    );
}

const JOB_UID: &str = "9c1f6a52-0d3e-4c1b-a7e4-2b5d8f0e6a13";
/// The time the tests read pods at: 10:10, ten minutes after the run started.
const NOW: &str = "2026-12-07T10:10:00Z";

fn now() -> Time {
    Time(NOW.parse().unwrap())
}

/// The Job `report-3` as the Job controller has it while it runs (two tasks).
fn running_job() -> Value {
    json!({
        "metadata": {"name": "report-3", "uid": JOB_UID, "labels": {GENERATION_LABEL: "3"}},
        "spec": {"completions": 2},
        "status": {"startTime": "2026-12-07T10:00:00Z", "active": 2},
    })
}

/// A pod of `report-3` (task `index`) as the Job controller makes it, taken by the kubelet at
/// `started`, whose container `app` is in `state`.
fn pod(name: &str, index: u32, started: Option<&str>, state: Value) -> Value {
    let mut status = json!({
        "phase": "Pending",
        "containerStatuses": [{"name": "app", "image": "ghcr.io/acme/nope:1", "imageID": "",
                               "ready": false, "restartCount": 0}],
    });
    status["containerStatuses"][0]["state"] = state;
    if let Some(started) = started {
        status["startTime"] = json!(started);
    }
    json!({
        "metadata": {
            "name": name,
            "creationTimestamp": started.unwrap_or("2026-12-07T10:09:59Z"),
            "labels": {JOB_NAME_LABEL: "report-3", JOB_LABEL: "report"},
            "annotations": {COMPLETION_INDEX_ANNOTATION: index.to_string()},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "report-3",
                                 "uid": JOB_UID, "controller": true}],
        },
        "status": status,
    })
}

fn waiting(reason: &str, message: &str) -> Value {
    json!({"waiting": {"reason": reason, "message": message}})
}

const PULL_MESSAGE: &str = "Back-off pulling image \"ghcr.io/acme/nope:1\"";
const TEN_MINUTES_AGO: Option<&str> = Some("2026-12-07T10:00:00Z");

/// What a case is, its pods, and the reason and message the run gets.
type Case = (
    &'static str,
    Vec<Value>,
    Option<&'static str>,
    Option<String>,
);

#[test]
fn a_running_run_whose_pod_cannot_start_carries_the_kubelets_reason_and_message() {
    let stuck_pull = pod(
        "report-3-0-x7k2p",
        0,
        TEN_MINUTES_AGO,
        waiting("ImagePullBackOff", PULL_MESSAGE),
    );
    let young_pull = pod(
        "report-3-1-q9w4z",
        1,
        Some("2026-12-07T10:09:30Z"),
        waiting("ImagePullBackOff", PULL_MESSAGE),
    );
    let mut other_job = stuck_pull.clone();
    other_job["metadata"]["ownerReferences"][0]["uid"] = json!("an-earlier-report-3");
    let mut terminating = stuck_pull.clone();
    terminating["metadata"]["deletionTimestamp"] = json!("2026-12-07T10:09:00Z");
    let mut no_start_time = stuck_pull.clone();
    no_start_time["status"]
        .as_object_mut()
        .unwrap()
        .remove("startTime");
    let fine = pod(
        "report-3-0-x7k2p",
        0,
        TEN_MINUTES_AGO,
        json!({"running": {"startedAt": "2026-12-07T10:00:05Z"}}),
    );
    let pull_text = format!("container app is waiting (ImagePullBackOff): {PULL_MESSAGE}");
    let cases: Vec<Case> = vec![
        (
            "a pull failing for ten minutes ends the run",
            vec![stuck_pull.clone()],
            Some(reasons::IMAGE_NOT_FOUND),
            Some(format!("task 0 (pod report-3-0-x7k2p): {pull_text}")),
        ),
        (
            "a pull failing for 30 s is only told",
            vec![young_pull.clone()],
            None,
            Some(format!("task 1 (pod report-3-1-q9w4z): {pull_text}")),
        ),
        (
            "the pod whose trouble ends the run is the one told",
            vec![young_pull, stuck_pull.clone()],
            Some(reasons::IMAGE_NOT_FOUND),
            Some(format!("task 0 (pod report-3-0-x7k2p): {pull_text}")),
        ),
        (
            "an image name that cannot parse never clears: at once",
            vec![pod(
                "report-3-0-x7k2p",
                0,
                Some("2026-12-07T10:09:50Z"),
                waiting(
                    "InvalidImageName",
                    "Failed to apply default image tag \"ghcr.io/acme/Nope:1\": couldn't parse \
                     image name",
                ),
            )],
            Some(reasons::IMAGE_NOT_FOUND),
            Some(
                "task 0 (pod report-3-0-x7k2p): container app is waiting (InvalidImageName): \
                 Failed to apply default image tag \"ghcr.io/acme/Nope:1\": couldn't parse image \
                 name"
                    .into(),
            ),
        ),
        (
            "a missing Secret key: the task failed to start",
            vec![pod(
                "report-3-0-x7k2p",
                0,
                TEN_MINUTES_AGO,
                waiting(
                    "CreateContainerConfigError",
                    "couldn't find key token in Secret shop/api",
                ),
            )],
            Some(reasons::TASK_FAILED_TO_START),
            Some(
                "task 0 (pod report-3-0-x7k2p): container app is waiting \
                 (CreateContainerConfigError): couldn't find key token in Secret shop/api"
                    .into(),
            ),
        ),
        (
            "no startTime: the pod's creation counts",
            vec![no_start_time],
            Some(reasons::IMAGE_NOT_FOUND),
            Some(format!("task 0 (pod report-3-0-x7k2p): {pull_text}")),
        ),
        (
            "a pod still creating its container is fine, however long",
            vec![pod(
                "report-3-0-x7k2p",
                0,
                TEN_MINUTES_AGO,
                waiting("ContainerCreating", ""),
            )],
            None,
            None,
        ),
        ("running pods are fine", vec![fine], None, None),
        (
            "a pod of an earlier Job of the same name is not this run's",
            vec![other_job],
            None,
            None,
        ),
        (
            "a terminating pod is not this run's",
            vec![terminating],
            None,
            None,
        ),
        ("no pods yet", vec![], None, None),
    ];
    for (what, pods, reason, message) in cases {
        let run = run_with_pods(&running_job(), &pods, &now());
        assert_eq!(run.state, RunState::Running, "{what}");
        assert_eq!(run.reason.as_deref(), reason, "{what}");
        assert_eq!(run.message, message, "{what}");
        assert_eq!((run.name.as_str(), run.active), ("report-3", 2), "{what}");
        if let Some(reason) = reason {
            assert!(ferry_api::conditions::is_documented(reason), "{what}");
        }
    }
    // A run that ended is as the Job says, whatever its pods still show.
    let mut complete = running_job();
    complete["status"] = json!({"startTime": "2026-12-07T10:00:00Z", "succeeded": 2,
        "completionTime": "2026-12-07T10:05:00Z",
        "conditions": [{"type": "Complete", "status": "True"}]});
    let run = run_with_pods(&complete, &[stuck_pull], &now());
    assert_eq!(
        (run.state, run.reason, run.message),
        (RunState::Succeeded, None, None)
    );
}

#[test]
fn the_grace_before_a_retried_reason_ends_a_run_is_two_minutes_from_the_pods_start() {
    let at = |started: &str| {
        let pods = [pod(
            "report-3-0-x7k2p",
            0,
            Some(started),
            waiting("ErrImagePull", "rpc error: code = NotFound"),
        )];
        run_with_pods(&running_job(), &pods, &now()).reason
    };
    assert_eq!(STUCK_GRACE_SECONDS, 120);
    assert_eq!(at("2026-12-07T10:08:01Z"), None);
    assert_eq!(
        at("2026-12-07T10:08:00Z").as_deref(),
        Some(reasons::IMAGE_NOT_FOUND)
    );
}

#[test]
fn the_pods_of_a_run_are_selected_by_the_job_controllers_label_and_ferrys() {
    assert_eq!(
        pod_selector("report", "report-3"),
        "app.kubernetes.io/managed-by=ferry,ferry.dev/job=report,\
         batch.kubernetes.io/job-name=report-3"
    );
    // Ferry's labels are on the pod template, so on every pod the Job controller makes.
    let built = job(
        &desired("{provider: kubernetes, containers: [{name: app, image: busybox}]}"),
        3,
    );
    let labels = &built["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels[JOB_LABEL], "report");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "ferry");
}

/// `patch` merged into `target` as the API server merges a JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (_, _) => *target = patch.clone(),
    }
}

#[test]
fn only_a_run_found_stuck_is_ended_and_the_ended_job_passes_its_schema() {
    let stuck = run_with_pods(
        &running_job(),
        &[pod(
            "report-3-0-x7k2p",
            0,
            TEN_MINUTES_AGO,
            waiting("ImagePullBackOff", PULL_MESSAGE),
        )],
        &now(),
    );
    let patch = end_patch(&stuck, &now()).unwrap();
    assert_eq!(
        patch,
        json!({
            "metadata": {"annotations": {
                END_REASON_ANNOTATION: "ImageNotFound",
                END_MESSAGE_ANNOTATION: stuck.message.clone().unwrap(),
                END_TIME_ANNOTATION: NOW,
            }},
            "spec": {"activeDeadlineSeconds": END_DEADLINE_SECONDS},
        })
    );
    let mut ended = job(&desired(RICH), 3);
    merge(&mut ended, &patch);
    assert_eq!(job_violations(&ended), Vec::<String>::new(), "{ended:#}");
    assert_eq!(ended["spec"]["activeDeadlineSeconds"], 1);

    let waiting_only = run_with_pods(
        &running_job(),
        &[pod(
            "report-3-0-x7k2p",
            0,
            Some("2026-12-07T10:09:30Z"),
            waiting("ImagePullBackOff", PULL_MESSAGE),
        )],
        &now(),
    );
    assert_eq!(end_patch(&waiting_only, &now()), None, "still within grace");
    assert_eq!(end_patch(&run_of(&running_job()), &now()), None, "fine");
    let failed = JobRun {
        state: RunState::Failed,
        reason: Some("ContainerFailed".into()),
        ..JobRun::default()
    };
    assert_eq!(end_patch(&failed, &now()), None, "already ended");
}

#[test]
fn a_job_ferry_ended_reads_as_failed_with_ferrys_reason_until_it_completed() {
    let ended = |status: Value, reason: &str| {
        let mut job = running_job();
        job["metadata"]["annotations"] = json!({
            END_REASON_ANNOTATION: reason,
            END_MESSAGE_ANNOTATION: "task 0 (pod report-3-0-x7k2p): container app is waiting",
            END_TIME_ANNOTATION: "2026-12-07T10:10:00Z",
        });
        job["status"] = status;
        run_of(&job)
    };
    // Before the Job controller acted, and after it failed the Job at its deadline.
    let deadline = json!({"startTime": "2026-12-07T10:00:00Z", "failed": 0,
        "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                        "message": "Job was active longer than specified deadline",
                        "lastTransitionTime": "2026-12-07T10:10:02Z"}]});
    for status in [
        json!({"startTime": "2026-12-07T10:00:00Z", "active": 2}),
        deadline,
    ] {
        let run = ended(status, "ImageNotFound");
        assert_eq!(run.state, RunState::Failed);
        assert_eq!(run.reason.as_deref(), Some("ImageNotFound"));
        assert_eq!(
            run.message.as_deref(),
            Some("task 0 (pod report-3-0-x7k2p): container app is waiting")
        );
        assert_eq!(run.completion_time, Some(now()));
        assert_eq!((run.failed, run.active), (2, 0), "neither task ran");
    }
    let run = ended(
        json!({"startTime": "2026-12-07T10:00:00Z", "active": 1, "succeeded": 1}),
        "TaskFailedToStart",
    );
    assert_eq!(run.reason.as_deref(), Some("TaskFailedToStart"));
    assert_eq!((run.succeeded, run.failed), (1, 1));
    // An annotation anyone may write says a documented reason or none.
    let run = ended(json!({"startTime": "2026-12-07T10:00:00Z"}), "Typo");
    assert_eq!(run.reason.as_deref(), Some("ContainerFailed"));
    // A Job that completed before the end reached it succeeded.
    let run = ended(
        json!({"startTime": "2026-12-07T10:00:00Z", "succeeded": 2,
               "completionTime": "2026-12-07T10:09:59Z",
               "conditions": [{"type": "Complete", "status": "True"}]}),
        "ImageNotFound",
    );
    assert_eq!((run.state, run.reason), (RunState::Succeeded, None));
}

const JOB_VOLUMES: &str = "{provider: kubernetes, \
    containers: [{name: reindex, image: 'ghcr.io/acme/search:4.2.0', \
                  resources: {cpu: '1', memory: 1Gi}, \
                  volumeMounts: [{name: index, mountPath: /data/index}, \
                                 {name: scratch, mountPath: /tmp/sort}, \
                                 {name: conf, mountPath: /etc/search}]}], \
    volumes: [{name: index, efs: {fileSystemId: fs-0123456789abcdef0, rootDirectory: /index, \
                                  transitEncryption: true}}, \
              {name: scratch, emptyDir: {sizeLimit: 10Gi}}, \
              {name: conf, secret: {name: search-conf, key: search.toml}}]}";

#[test]
fn a_runs_job_and_a_cron_job_mount_the_volumes_and_name_the_jobs_own_claim() {
    use ferry_provider_kubernetes::job::build::claims;
    let want = desired(JOB_VOLUMES);
    let claims = claims(&want);
    assert_eq!(claims.len(), 1, "the efs volume");
    let claim = &claims[0];
    assert!(
        claim.name.starts_with("shop-report-index-"),
        "{}",
        claim.name
    );
    assert_eq!(
        claim.persistent_volume_value()["metadata"]["annotations"]["ferry.dev/owner"],
        "ServerlessJob shop/report (kubernetes)"
    );
    assert_eq!(
        claim.persistent_volume_value()["spec"]["csi"]["volumeHandle"],
        "fs-0123456789abcdef0:/index"
    );
    let expected_volumes = json!([
        {"name": "index", "persistentVolumeClaim": {"claimName": claim.name}},
        {"name": "scratch", "emptyDir": {"sizeLimit": "10Gi"}},
        {"name": "conf", "secret": {"secretName": "search-conf",
                                     "items": [{"key": "search.toml", "path": "search.toml"}]}},
    ]);
    let expected_mounts = json!([
        {"name": "index", "mountPath": "/data/index"},
        {"name": "scratch", "mountPath": "/tmp/sort"},
        {"name": "conf", "mountPath": "/etc/search", "readOnly": true},
    ]);
    let run = job(&want, 1);
    assert_eq!(job_violations(&run), Vec::<String>::new(), "{run:#}");
    let pod = &run["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"], expected_volumes);
    assert_eq!(pod["containers"][0]["volumeMounts"], expected_mounts);

    let scheduled = desired(&JOB_VOLUMES.replace("volumes:", "schedule: '0 2 * * *', volumes:"));
    let cron = cron_job(&scheduled).unwrap();
    assert_eq!(cron_job_violations(&cron), Vec::<String>::new(), "{cron:#}");
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"], expected_volumes);
    assert_eq!(pod["containers"][0]["volumeMounts"], expected_mounts);

    // A service of the same name has claims of its own.
    let svc = ferry_testkit::builders::desired(
        &JOB_VOLUMES.replace("name: reindex,", "name: reindex, port: 8080,"),
        &Kubernetes,
    );
    let svc_claims = ferry_provider_kubernetes::build::claims(&svc);
    assert_ne!(svc_claims[0].name, claim.name);
}

#[test]
fn a_job_with_gcs_carries_the_fuse_annotation_on_its_pods() {
    let want = desired(
        "{provider: kubernetes, containers: [{name: a, image: busybox, \
          volumeMounts: [{name: b, mountPath: /b}]}], volumes: [{name: b, gcs: {bucket: acme-b}}]}",
    );
    let run = job(&want, 1);
    assert_eq!(job_violations(&run), Vec::<String>::new(), "{run:#}");
    assert_eq!(
        run["spec"]["template"]["metadata"]["annotations"]["gke-gcsfuse/volumes"],
        "true"
    );
}

#[test]
fn a_job_with_an_efs_volume_keeps_a_finalizer_and_renders_its_claim_first() {
    use ferry_provider::backend::Backend;
    let job_object = ferry_testkit::builders::serverless_job(JOB_VOLUMES);
    assert!(Kubernetes.needs_job_finalizer(&job_object.spec));
    let plain = ferry_testkit::builders::serverless_job(
        "{provider: kubernetes, containers: [{name: a, image: busybox}]}",
    );
    assert!(!Kubernetes.needs_job_finalizer(&plain.spec));
    let rendered = Kubernetes
        .render_job(&desired(JOB_VOLUMES), "default", None)
        .unwrap();
    let kinds: Vec<String> = serde_saphyr::from_multiple::<Value>(&rendered.body)
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["PersistentVolume", "PersistentVolumeClaim", "Job"]);
}

#[test]
fn a_jobs_volumes_are_refused_as_a_services_are() {
    let found = refusals(
        "{provider: kubernetes, containers: [{name: a, image: busybox, \
          volumeMounts: [{name: n, mountPath: /n}]}], \
          volumes: [{name: n, nfs: {server: 10.0.0.2, path: /x}}], \
          kubernetes: {fargateProfile: {labels: {compute: fargate}}}}",
    );
    assert!(
        found
            .iter()
            .any(|(f, m)| f == "spec.volumes[0].nfs" && m.contains("EKS Fargate")),
        "{found:#?}"
    );
}

/// deploy/examples/kubernetes-volumes-job.yaml renders its PersistentVolume, claim and CronJob,
/// each of which its schema accepts.
#[test]
fn the_volumes_job_example_renders_objects_their_schemas_accept() {
    use ferry_provider::backend::Backend;
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    let path = ferry_testkit::builders::examples_dir().join("kubernetes-volumes-job.yaml");
    let job: ferry_api::ServerlessJob =
        serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let want = ferry_core::job::validate_job(&job, &Kubernetes)
        .unwrap()
        .desired;
    let rendered = Kubernetes.render_job(&want, "default", None).unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&rendered.body).unwrap();
    let kinds: Vec<&str> = documents
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["PersistentVolume", "PersistentVolumeClaim", "CronJob"]
    );
    assert_eq!(
        violations_of::<PersistentVolume>(&documents[0]),
        Vec::<String>::new()
    );
    assert_eq!(
        violations_of::<PersistentVolumeClaim>(&documents[1]),
        Vec::<String>::new()
    );
    assert_eq!(cron_job_violations(&documents[2]), Vec::<String>::new());
    let pod = &documents[2]["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        documents[1]["metadata"]["name"]
    );
    assert_eq!(pod["volumes"][1]["emptyDir"]["sizeLimit"], "10Gi");
}
