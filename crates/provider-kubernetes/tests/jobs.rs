//! The Kubernetes backend's jobs, pure: the Job of a run and the CronJob of a schedule, each
//! checked against the schema the API server serves it under (k8s-openapi's, as the kube
//! stand-in serves them), the mapping of every job field, and a live Job read as a run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use ferry_api::{JobRun, RunState};
use ferry_core::job::DesiredJob;
use ferry_provider_kubernetes::Kubernetes;
use ferry_provider_kubernetes::job::build::{
    GENERATION_LABEL, JOB_LABEL, cron_job, job, run_name, run_of,
};
use ferry_testkit::builders::{UID, desired_job};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube_standin::builtin::schema_of;
use serde_json::{Value, json};

fn desired(spec: &str) -> DesiredJob {
    desired_job(spec, &Kubernetes)
}

fn job_violations(object: &Value) -> Vec<String> {
    schema_of::<Job>()
        .unwrap()
        .check(object)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn cron_job_violations(object: &Value) -> Vec<String> {
    schema_of::<CronJob>()
        .unwrap()
        .check(object)
        .iter()
        .map(ToString::to_string)
        .collect()
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
