//! The Cloud Run job Ferry builds for a ServerlessJob, field by field; the Cloud Scheduler job
//! of a schedule; the job that starts a run (its execution token); what Cloud Run's job,
//! scheduler job and executions mean; the job rules; and every built job and scheduler job
//! checked against Google's own protos.

use ferry_api::conditions::reasons;
use ferry_api::{JobRun, RunState};
use ferry_core::job::DesiredJob;
use ferry_provider::backend::Backend;
use ferry_provider_cloudrun::CloudRun;
use ferry_provider_cloudrun::build::{Change, FINGERPRINT_ANNOTATION, LABEL_UID};
use ferry_provider_cloudrun::job::build::{
    self, JobRequests, LABEL_GENERATION, definition_failure, diff, run_of, scheduler_diff,
    scheduler_is_ours,
};
use ferry_provider_cloudrun::names::{MAX_JOB_NAME, run_token};
use ferry_testkit::Checker;
use ferry_testkit::builders::{UID, desired_job, serverless_job};
use google_cloud_run_v2::model::{self, condition};
use google_cloud_scheduler_v1::model as scheduler;
use google_cloud_wkt::Timestamp;
use serde_json::{Value, json};

use crate::common::{crate_dir, example_provider_config, json};

const IMAGE: &str = "europe-docker.pkg.dev/acme-prod/jobs/report:2.1";
const ACCOUNT: &str = "reports@acme-prod.iam.gserviceaccount.com";

fn desired(spec: &str) -> DesiredJob {
    desired_job(spec, &CloudRun)
}

fn requests_of(want: &DesiredJob) -> JobRequests {
    build::requests(want, &example_provider_config()).unwrap()
}

fn requests(spec: &str) -> JobRequests {
    requests_of(&desired(spec))
}

/// A one-container job spec with `container` fields and `extra` spec fields (YAML, no braces).
fn simple(container: &str, extra: &str) -> String {
    let container = if container.is_empty() {
        String::new()
    } else {
        format!(", {container}")
    };
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    format!(
        "{{provider: cloudRun, containers: [{{name: report, image: '{IMAGE}'{container}}}]{extra}}}"
    )
}

/// A scheduled job spec Cloud Scheduler can run, with `extra` spec fields.
fn scheduled(extra: &str) -> String {
    simple(
        "",
        &format!(
            "schedule: '0 3 * * MON-FRI', timeZone: Europe/Berlin, concurrencyPolicy: Allow, \
             cloudRun: {{serviceAccount: {ACCOUNT}}}{extra}"
        ),
    )
}

const RICH: &str = "{provider: cloudRun, \
    containers: [{name: report, image: 'europe-docker.pkg.dev/acme-prod/jobs/report:2.1', \
                  command: [/report], args: [--since, 24h], \
                  env: [{name: MODE, value: full}, {name: TOKEN, secret: {name: api-token, key: '3'}}], \
                  resources: {cpu: '2', memory: 4Gi}}, \
                 {name: proxy, image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14', \
                  resources: {cpu: 500m, memory: 512Mi}}], \
    taskCount: 4, parallelism: 2, maxRetries: 2, timeoutSeconds: 900, \
    cloudRun: {project: acme-batch, region: us-central1, \
               serviceAccount: reports@acme-batch.iam.gserviceaccount.com, \
               executionEnvironment: gen2, \
               vpcAccess: {connector: projects/acme-batch/locations/us-central1/connectors/batch, \
                           egress: ALL_TRAFFIC}}}";

#[test]
fn a_job_maps_tasks_retries_timeout_and_each_task_setting() {
    let want = desired(RICH);
    let r = requests_of(&want);
    assert_eq!(r.parent, "projects/acme-batch/locations/us-central1");
    assert_eq!(
        r.job_id,
        ferry_provider_cloudrun::names::job_name("shop", "report")
    );
    assert_eq!(r.name, format!("{}/jobs/{}", r.parent, r.job_id));
    let rendered = r.rendered(&want.object, Some(1));
    let job = &rendered["createJob"]["job"];
    assert_eq!(rendered["createJob"]["jobId"], r.job_id.as_str());
    assert_eq!(job["name"], r.name.as_str());
    assert_eq!(
        job["labels"],
        json!({"managed-by": "ferry", "ferry-namespace": "shop", "ferry-name": "report", "ferry-uid": UID})
    );
    assert_eq!(
        job["annotations"][FINGERPRINT_ANNOTATION],
        r.fingerprint.as_str()
    );
    assert_eq!(job["client"], "ferry");
    assert!(
        job.get("launchStage").is_none(),
        "GA features only: {job:#}"
    );
    assert!(
        job.get("startExecutionToken").is_none(),
        "applying starts no run"
    );
    let execution = &job["template"];
    assert_eq!(execution["taskCount"], 4);
    assert_eq!(execution["parallelism"], 2);
    assert_eq!(
        execution["labels"],
        json!({"managed-by": "ferry", "ferry-namespace": "shop", "ferry-name": "report",
               "ferry-uid": UID, LABEL_GENERATION: "1"}),
        "every execution carries the owner and the generation"
    );
    let task = &execution["template"];
    assert_eq!(task["maxRetries"], 2);
    assert_eq!(task["timeout"], "900s");
    assert_eq!(
        task["serviceAccount"],
        "reports@acme-batch.iam.gserviceaccount.com"
    );
    assert_eq!(task["executionEnvironment"], "EXECUTION_ENVIRONMENT_GEN2");
    assert_eq!(
        task["vpcAccess"],
        json!({"connector": "projects/acme-batch/locations/us-central1/connectors/batch",
               "egress": "ALL_TRAFFIC"})
    );
    let report = &task["containers"][0];
    assert_eq!(report["command"], json!(["/report"]));
    assert_eq!(report["args"], json!(["--since", "24h"]));
    assert_eq!(report["env"][0], json!({"name": "MODE", "value": "full"}));
    assert_eq!(
        report["env"][1]["valueSource"]["secretKeyRef"],
        json!({"secret": "api-token", "version": "3"})
    );
    assert_eq!(
        report["resources"],
        json!({"limits": {"cpu": "2", "memory": "4Gi"}})
    );
    for forbidden in ["ports", "startupProbe", "livenessProbe", "readinessProbe"] {
        assert!(report.get(forbidden).is_none(), "{forbidden}: {report:#}");
    }
    assert_eq!(task["containers"][1]["resources"]["limits"]["cpu"], "500m");
    // As the client sends it: enums as numbers.
    let sent = json(&r.job);
    assert_eq!(sent["template"]["template"]["executionEnvironment"], 2);
}

#[test]
fn defaults_give_one_task_three_retries_ten_minutes_and_no_resources() {
    let r = requests(&simple("", ""));
    let task = &json(&r.job)["template"];
    assert_eq!(task["taskCount"], 1);
    assert_eq!(task["parallelism"], 1);
    assert_eq!(task["template"]["maxRetries"], 3);
    assert_eq!(task["template"]["timeout"], "600s");
    assert!(task["template"].get("serviceAccount").is_none());
    assert!(task["template"]["containers"][0].get("resources").is_none());
    assert!(r.scheduler.is_none());
}

#[test]
fn a_gpu_selects_its_accelerator_and_a_timeout_over_a_day_opts_into_preview() {
    let gpu = requests(&simple(
        "resources: {cpu: '4', memory: 16Gi, gpu: {count: 1, type: nvidia-l4}}",
        "timeoutSeconds: 3600",
    ));
    let task = &json(&gpu.job)["template"]["template"];
    assert_eq!(task["nodeSelector"], json!({"accelerator": "nvidia-l4"}));
    assert_eq!(
        task["containers"][0]["resources"]["limits"]["nvidia.com/gpu"],
        "1"
    );
    let want = desired(&simple("", "timeoutSeconds: 172800"));
    let long = requests_of(&want);
    assert_eq!(
        long.rendered(&want.object, None)["createJob"]["job"]["launchStage"],
        "BETA"
    );
    assert_eq!(
        json(&long.job)["template"]["template"]["timeout"],
        "172800s"
    );
}

#[test]
fn a_schedule_is_a_cloud_scheduler_job_posting_to_jobs_run_with_an_oauth_token() {
    let want = desired(&scheduled(""));
    let r = requests_of(&want);
    let job = r.scheduler.as_ref().unwrap();
    assert_eq!(r.scheduler_name, r.name, "the same ID in the other API");
    assert_eq!(job.name, r.name);
    assert_eq!(job.schedule, "0 3 * * MON-FRI");
    assert_eq!(job.time_zone, "Europe/Berlin");
    let target = job.http_target().unwrap();
    assert_eq!(
        target.uri,
        format!("https://run.googleapis.com/v2/{}:run", r.name)
    );
    assert_eq!(target.http_method, scheduler::HttpMethod::Post);
    assert_eq!(target.oauth_token().unwrap().service_account_email, ACCOUNT);
    assert!(
        target.oidc_token().is_none(),
        "Cloud Run's Admin API takes OAuth tokens"
    );
    assert!(
        job.description.contains(&format!("ferry-uid={UID}")),
        "{}",
        job.description
    );
    assert!(scheduler_is_ours(job, Some(UID)));
    assert!(!scheduler_is_ours(job, Some("someone-else")));
    assert!(!r.paused);
    let rendered = r.rendered(&want.object, Some(1));
    assert_eq!(
        rendered["createSchedulerJob"]["job"]["httpTarget"]["httpMethod"],
        "POST"
    );
    assert!(
        rendered.get("startRun").is_none(),
        "the scheduler starts the runs"
    );
    assert!(rendered.get("pauseSchedulerJob").is_none());

    let suspended = requests(&scheduled(", suspend: true"));
    assert!(suspended.paused);
    // Lower-case names and nicknames are written as Cloud Scheduler's docs write schedules.
    let daily = requests(&simple(
        "",
        &format!(
            "schedule: '@daily', concurrencyPolicy: Replace, cloudRun: {{serviceAccount: {ACCOUNT}}}"
        ),
    ));
    assert_eq!(daily.scheduler.unwrap().schedule, "0 0 * * *");
    let names = requests(&simple(
        "",
        &format!(
            "schedule: '0 3 * jan sun', concurrencyPolicy: Allow, cloudRun: {{serviceAccount: {ACCOUNT}}}"
        ),
    ));
    assert_eq!(names.scheduler.unwrap().schedule, "0 3 * JAN SUN");
}

#[test]
fn a_schedule_is_part_of_the_jobs_fingerprint() {
    let account = format!("concurrencyPolicy: Allow, cloudRun: {{serviceAccount: {ACCOUNT}}}");
    let plain = requests(&simple("", &account));
    let nightly = requests(&simple("", &format!("schedule: '0 3 * * *', {account}")));
    let hourly = requests(&simple("", &format!("schedule: '0 * * * *', {account}")));
    assert_eq!(json(&plain.job)["template"], json(&nightly.job)["template"]);
    assert_ne!(
        plain.fingerprint, nightly.fingerprint,
        "adding or removing a schedule is a change"
    );
    assert_ne!(nightly.fingerprint, hourly.fingerprint, "so is changing it");
    let paused = requests(&simple(
        "",
        &format!("schedule: '0 3 * * *', suspend: true, {account}"),
    ));
    assert_eq!(
        nightly.fingerprint, paused.fingerprint,
        "suspend pauses the scheduler job, which observe reads itself"
    );
    assert!(paused.paused && !nightly.paused);
}

#[test]
fn a_run_is_the_job_with_a_token_naming_its_execution_after_the_generation() {
    let want = desired(&simple("", ""));
    let r = requests_of(&want);
    let run = r.run_job(&want.object, 7);
    let token = run.start_execution_token().unwrap().clone();
    assert_eq!(token, run_token(Some(UID), 7));
    assert!(token.starts_with("g7-"), "{token}");
    assert!(
        r.job_id.len() + token.len() < 63,
        "Cloud Run's rule for the pair"
    );
    assert_eq!(
        run.template.as_ref().unwrap().labels[LABEL_GENERATION],
        "7",
        "the execution says which generation it ran"
    );
    assert_eq!(
        r.run_execution(&want.object, 7),
        format!("{}/executions/{}-{token}", r.name, r.job_id)
    );
    assert_ne!(
        r.run_execution(&want.object, 7),
        r.run_execution(&want.object, 8)
    );
    let rendered = r.rendered(&want.object, Some(7));
    assert_eq!(
        rendered["startRun"]["updateJob"]["startExecutionToken"],
        token.as_str()
    );
    // The longest job name leaves room for the longest token.
    let long = serverless_job(&simple("", ""));
    let mut long = long;
    long.metadata.name = Some("a".repeat(52));
    long.metadata.namespace = Some("n".repeat(63));
    let want = ferry_core::job::validate_job(&long, &CloudRun)
        .unwrap()
        .desired;
    let r = requests_of(&want);
    assert!(r.job_id.len() <= MAX_JOB_NAME);
    let token = r
        .run_job(&want.object, 999_999_999_999)
        .start_execution_token()
        .unwrap()
        .clone();
    assert!(r.job_id.len() + token.len() < 63, "{} + {token}", r.job_id);
}

/// What Cloud Run describes once it holds exactly `r.job`: output-only fields and its
/// defaults filled in.
fn mirror(r: &JobRequests) -> model::Job {
    let mut job = r.job.clone();
    job.uid = "0d3c5b4e-8a1f-4f7e-9c2b-6a5d4e3f2a1b".into();
    job.generation = 2;
    job.observed_generation = 2;
    job.etag = "\"etag-2\"".into();
    job.launch_stage = "GA".into();
    job.terminal_condition = Some(
        model::Condition::new()
            .set_type("Ready")
            .set_state(condition::State::ConditionSucceeded),
    );
    let task = job.template.as_mut().unwrap().template.as_mut().unwrap();
    task.service_account = "123456789012-compute@developer.gserviceaccount.com".into();
    for c in &mut task.containers {
        c.resources = Some(
            model::ResourceRequirements::new().set_limits([("cpu", "1000m"), ("memory", "512Mi")]),
        );
    }
    job
}

#[test]
fn a_job_as_cloud_run_echoes_it_is_up_to_date_and_changes_are_named() {
    let r = requests(&simple("", ""));
    assert_eq!(diff(&r, &mirror(&r)), Vec::<Change>::new());
    let changed = requests(&simple("", "maxRetries: 1"));
    assert_eq!(diff(&changed, &mirror(&r)), vec![Change::Spec]);
    let mut drifted = mirror(&r);
    drifted
        .template
        .as_mut()
        .unwrap()
        .template
        .as_mut()
        .unwrap()
        .containers[0]
        .image = "busybox".into();
    assert!(diff(&r, &drifted).contains(&Change::Drift("template.template.containers[].image")));
    let mut unlabelled = mirror(&r);
    unlabelled.labels.remove(LABEL_UID);
    assert!(diff(&r, &unlabelled).contains(&Change::Labels));
    assert!(
        build::is_ours(&unlabelled, Some(UID)),
        "released: adoptable"
    );
    let mut other = mirror(&r);
    other.labels.insert(LABEL_UID.into(), "someone-else".into());
    assert!(!build::is_ours(&other, Some(UID)));
}

#[test]
fn the_scheduler_job_as_cloud_scheduler_echoes_it_is_up_to_date() {
    let r = requests(&scheduled(""));
    let want = r.scheduler.clone().unwrap();
    let mut echoed = want.clone().set_state(scheduler::job::State::Enabled);
    if let Some(scheduler::job::Target::HttpTarget(target)) = &mut echoed.target {
        target
            .headers
            .insert("User-Agent".into(), "Google-Cloud-Scheduler".into());
    }
    assert_eq!(scheduler_diff(&want, &echoed), Vec::<&str>::new());
    let other = requests(&simple(
        "",
        "schedule: '0 4 * * *', concurrencyPolicy: Allow, cloudRun: {serviceAccount: other@acme-prod.iam.gserviceaccount.com}",
    ));
    assert_eq!(
        scheduler_diff(other.scheduler.as_ref().unwrap(), &echoed),
        vec!["schedule", "timeZone", "httpTarget"]
    );
    let released = echoed
        .clone()
        .set_description(build::released_description(&echoed.description));
    assert!(
        !released.description.contains("ferry-uid"),
        "{}",
        released.description
    );
    assert!(
        scheduler_is_ours(&released, Some("a-new-object")),
        "released: adoptable"
    );
    let foreign = echoed.set_description("nightly report");
    assert!(!scheduler_is_ours(&foreign, Some(UID)));
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::clamp(seconds, 0)
}

fn completed(state: condition::State, message: &str) -> model::Condition {
    model::Condition::new()
        .set_type("Completed")
        .set_state(state)
        .set_message(message)
}

/// An execution `JOB-ID` of 2 tasks, labelled for generation 3, created at t=100.
fn execution(id: &str) -> model::Execution {
    model::Execution::new()
        .set_name(format!(
            "projects/acme-prod/locations/europe-west1/jobs/shop-report-e7817ca8/executions/{id}"
        ))
        .set_labels([(LABEL_GENERATION, "3"), (LABEL_UID, UID)])
        .set_task_count(2)
        .set_create_time(at(100))
}

#[test]
fn executions_read_as_runs_with_their_counts_times_and_reasons() {
    let running = execution("shop-report-e7817ca8-abcde")
        .set_start_time(at(110))
        .set_running_count(2)
        .set_reconciling(true)
        .set_conditions([completed(condition::State::ConditionReconciling, "Waiting")]);
    let run = run_of(&running);
    assert_eq!(
        run,
        JobRun {
            name: "shop-report-e7817ca8-abcde".into(),
            generation: Some(3),
            state: RunState::Running,
            start_time: run.start_time.clone(),
            completion_time: None,
            succeeded: 0,
            failed: 0,
            active: 2,
            reason: None,
            message: None,
        }
    );
    assert_eq!(run.start_time.unwrap().0.as_second(), 110);
    let pending = execution("shop-report-e7817ca8-fghij").set_reconciling(true);
    let pending = run_of(&pending);
    assert_eq!(pending.state, RunState::Running);
    assert_eq!(
        pending.start_time.unwrap().0.as_second(),
        100,
        "not started yet: its creation"
    );

    let done = |e: model::Execution| e.set_start_time(at(110)).set_completion_time(at(170));
    let succeeded = run_of(
        &done(execution("a"))
            .set_succeeded_count(2)
            .set_conditions([completed(
                condition::State::ConditionSucceeded,
                "Execution completed successfully in 60s.",
            )]),
    );
    assert_eq!(
        (succeeded.state, succeeded.succeeded, succeeded.reason),
        (RunState::Succeeded, 2, None)
    );
    assert_eq!(succeeded.completion_time.unwrap().0.as_second(), 170);

    let exit = completed(
        condition::State::ConditionFailed,
        "Execution a has failed to complete, 0/2 tasks were a success.",
    )
    .set_execution_reason(condition::ExecutionReason::NonZeroExitCode);
    let failed = run_of(
        &done(execution("a"))
            .set_failed_count(2)
            .set_retried_count(2)
            .set_conditions([exit]),
    );
    assert_eq!(failed.state, RunState::Failed);
    assert_eq!(failed.failed, 2);
    assert_eq!(failed.reason.as_deref(), Some(reasons::CONTAINER_FAILED));
    assert!(failed.message.unwrap().contains("0/2 tasks"));

    let cancelled = completed(
        condition::State::ConditionFailed,
        "Execution a was cancelled.",
    )
    .set_execution_reason(condition::ExecutionReason::Cancelled);
    let stopped = run_of(
        &done(execution("a"))
            .set_cancelled_count(2)
            .set_conditions([cancelled]),
    );
    assert_eq!(stopped.state, RunState::Stopped);
    assert_eq!(stopped.reason.as_deref(), Some(reasons::STOPPED));

    let timed_out = completed(
        condition::State::ConditionFailed,
        "Task a-task0 attempt 3 failed: the configured timeout was reached.",
    );
    let deadline = run_of(
        &done(execution("a"))
            .set_failed_count(1)
            .set_succeeded_count(1)
            .set_conditions([timed_out]),
    );
    assert_eq!(deadline.reason.as_deref(), Some(reasons::DEADLINE_EXCEEDED));

    let missing = completed(condition::State::ConditionFailed, "Image 'x' not found.")
        .set_reason(condition::CommonReason::ContainerMissing);
    let missing = run_of(
        &done(execution("a"))
            .set_failed_count(2)
            .set_conditions([missing]),
    );
    assert_eq!(missing.reason.as_deref(), Some(reasons::IMAGE_NOT_FOUND));
}

#[test]
fn a_runs_generation_comes_from_its_label_else_from_its_token() {
    let token = run_token(Some(UID), 12);
    let unlabelled = model::Execution::new().set_name(format!(
        "projects/p/locations/l/jobs/shop-report-e7817ca8/executions/shop-report-e7817ca8-{token}"
    ));
    assert_eq!(run_of(&unlabelled).generation, Some(12));
    let scheduled = model::Execution::new().set_name(
        "projects/p/locations/l/jobs/shop-report-e7817ca8/executions/shop-report-e7817ca8-x7k2p",
    );
    assert_eq!(run_of(&scheduled).generation, None);
    assert!(build::execution_is_ours(&execution("a"), Some(UID)));
    assert!(!build::execution_is_ours(
        &execution("a"),
        Some("a-later-object")
    ));
}

#[test]
fn a_job_cloud_run_could_not_apply_is_a_failure_but_a_failed_run_is_the_runs() {
    let r = requests(&simple("", ""));
    let mut failed = mirror(&r);
    failed.terminal_condition = Some(
        model::Condition::new()
            .set_type("Ready")
            .set_state(condition::State::ConditionFailed)
            .set_message("Image 'x' not found.")
            .set_reason(condition::CommonReason::ContainerMissing),
    );
    let (reason, message) = definition_failure(&failed).unwrap();
    assert_eq!(reason, reasons::IMAGE_NOT_FOUND);
    assert!(message.contains("not found"), "{message}");
    let reconciling = failed.clone().set_reconciling(true);
    assert_eq!(definition_failure(&reconciling), None);
    let with_token = failed.set_start_execution_token("g1-abcdef01");
    assert_eq!(definition_failure(&with_token), None, "the run reports it");
    assert_eq!(definition_failure(&mirror(&r)), None);
}

/// Validation errors of a Cloud Run job spec, as `field: message`.
fn refusals(spec: &str) -> Vec<String> {
    match ferry_core::job::validate_job(&serverless_job(spec), &CloudRun) {
        Ok(_) => Vec::new(),
        Err(invalid) => invalid
            .errors
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect(),
    }
}

#[test]
fn what_cloud_run_or_cloud_scheduler_cannot_do_is_refused_naming_the_field() {
    for spec in [
        RICH.to_owned(),
        simple("", ""),
        scheduled(""),
        scheduled(", suspend: true"),
        simple(
            "",
            "taskCount: 10000, maxRetries: 10, timeoutSeconds: 604800",
        ),
        simple(
            "resources: {cpu: '4', memory: 16Gi, gpu: {count: 1, type: nvidia-l4}}",
            "timeoutSeconds: 3600",
        ),
    ] {
        assert_eq!(refusals(&spec), Vec::<String>::new(), "{spec}");
    }
    let cases = [
        (
            simple(
                "",
                "schedule: '0 3 * * *', cloudRun: {serviceAccount: a@p.iam.gserviceaccount.com}",
            ),
            "spec.concurrencyPolicy: Cloud Scheduler starts",
        ),
        (
            simple(
                "",
                "schedule: '0 3 * * *', concurrencyPolicy: Forbid, cloudRun: {serviceAccount: a@p.iam.gserviceaccount.com}",
            ),
            "Allow, or to Replace",
        ),
        (
            simple("", "schedule: '0 3 * * *', concurrencyPolicy: Allow"),
            "spec.cloudRun.serviceAccount: Cloud Scheduler starts a scheduled Cloud Run job with an OAuth token",
        ),
        (
            simple(
                "resources: {cpu: '4', memory: 16Gi, gpu: {count: 1, type: nvidia-l4}}",
                "timeoutSeconds: 3601",
            ),
            "spec.timeoutSeconds: a Cloud Run task with a GPU",
        ),
        (
            simple("resources: {cpu: 500m, memory: 512Mi}", ""),
            "spec.containers[0].resources.cpu: a Cloud Run job's instance has at least 1 vCPU",
        ),
        (
            simple("resources: {cpu: '1', memory: 8Gi}", ""),
            "spec.containers[0].resources.memory: Cloud Run pairs 1 vCPU with",
        ),
        (
            simple("", "cloudRun: {cpuIdle: true}"),
            "spec.cloudRun.cpuIdle: a Cloud Run job serves no requests",
        ),
        (
            simple(
                "",
                "cloudRun: {executionEnvironment: gen1, vpcAccess: {networkInterfaces: [{network: default}]}}",
            ),
            "spec.cloudRun.vpcAccess.networkInterfaces: Direct VPC egress needs the gen2",
        ),
    ];
    for (spec, expected) in cases {
        let found = refusals(&spec);
        assert!(
            found.iter().any(|r| r.contains(expected)),
            "{spec}\nexpected {expected:?} in {found:#?}"
        );
    }
    // A fraction of a vCPU beside a container of one is fine.
    assert_eq!(
        refusals(&format!(
            "{{provider: cloudRun, containers: [{{name: a, image: '{IMAGE}'}}, \
              {{name: b, image: '{IMAGE}', resources: {{cpu: 250m, memory: 256Mi}}}}]}}"
        )),
        Vec::<String>::new()
    );
}

#[test]
fn render_job_shows_the_job_and_how_its_run_starts() {
    let want = desired(&simple("", ""));
    let rendered = CloudRun.render_job(&want, "gcp-prod", None).unwrap();
    assert!(
        rendered.comment.contains("ServerlessJob report"),
        "{}",
        rendered.comment
    );
    let body: Value = serde_json::from_str(&rendered.body).unwrap();
    assert!(body["createJob"]["job"]["template"].is_object(), "{body:#}");
    assert!(
        body["startRun"]["execution"]
            .as_str()
            .unwrap()
            .contains("-g1-"),
        "{body:#}"
    );
    let want = desired(&scheduled(", suspend: true"));
    let body: Value =
        serde_json::from_str(&CloudRun.render_job(&want, "gcp-prod", None).unwrap().body).unwrap();
    assert_eq!(
        body["createSchedulerJob"]["job"]["schedule"],
        "0 3 * * MON-FRI"
    );
    assert!(body["pauseSchedulerJob"]["name"].is_string(), "{body:#}");
}

/// The proto checker.
fn checker() -> Checker {
    Checker {
        script: crate_dir().join("tests/proto_validate.py"),
        with: "Google's protos",
        install: cloudrun_fake::INSTALL_HINT,
        ok: " ok",
    }
}

fn cloud_run_job(value: &Value) -> Value {
    json!({"@message": "google.cloud.run.v2.Job", "@value": value})
}

fn scheduler_job(value: &Value) -> Value {
    json!({"@message": "google.cloud.scheduler.v1.Job", "@value": value})
}

#[test]
fn every_built_job_and_scheduler_job_matches_googles_protos() {
    let mut labelled = Vec::new();
    for spec in [
        RICH.to_owned(),
        simple("", ""),
        scheduled(", suspend: true"),
        simple(
            "resources: {cpu: '4', memory: 16Gi, gpu: {count: 1, type: nvidia-l4}}",
            "timeoutSeconds: 3600",
        ),
        simple(
            "",
            "timeoutSeconds: 604800, cloudRun: {vpcAccess: {networkInterfaces: [{network: default, subnetwork: jobs, tags: [batch]}]}}",
        ),
    ] {
        let want = desired(&spec);
        let r = requests_of(&want);
        labelled.push((format!("{spec}: as sent"), cloud_run_job(&json(&r.job))));
        labelled.push((
            format!("{spec}: as rendered"),
            cloud_run_job(&r.rendered(&want.object, Some(1))["createJob"]["job"]),
        ));
        labelled.push((
            format!("{spec}: a run"),
            cloud_run_job(&json(&r.run_job(&want.object, 4))),
        ));
        if let Some(job) = &r.scheduler {
            labelled.push((format!("{spec}: its schedule"), scheduler_job(&json(job))));
            labelled.push((
                format!("{spec}: its schedule, rendered"),
                scheduler_job(&r.rendered(&want.object, None)["createSchedulerJob"]["job"]),
            ));
        }
    }
    checker().assert_accepts(&labelled);
}

#[test]
fn the_checker_refuses_what_cloud_run_and_cloud_scheduler_refuse() {
    let r = requests(&scheduled(""));
    let job = json(&r.job);
    let schedule = json(r.scheduler.as_ref().unwrap());
    let edit = |doc: &Value, f: &dyn Fn(&mut Value)| {
        let mut doc = doc.clone();
        f(&mut doc);
        doc
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "a misspelled task count",
            cloud_run_job(&edit(&job, &|d| {
                let count = d["template"]
                    .as_object_mut()
                    .unwrap()
                    .remove("taskCount")
                    .unwrap();
                d["template"]["taskCnt"] = count;
            })),
            "has no field named \"taskCnt\"",
        ),
        (
            "a timeout without its unit",
            cloud_run_job(&edit(&job, &|d| {
                d["template"]["template"]["timeout"] = json!("900");
            })),
            "Duration",
        ),
        (
            "an output-only field of a job",
            cloud_run_job(&edit(&job, &|d| d["executionCount"] = json!(3))),
            "Job.executionCount: output only",
        ),
        (
            "an execution template label in a namespace v2 rejects",
            cloud_run_job(&edit(&job, &|d| {
                d["template"]["labels"]["run.googleapis.com/x"] = json!("y");
            })),
            "is in a namespace Cloud Run v2 rejects",
        ),
        (
            "a scheduler job's output-only state",
            scheduler_job(&edit(&schedule, &|d| d["state"] = json!("PAUSED"))),
            "Job.state: output only",
        ),
        (
            "an HTTP method that does not exist",
            scheduler_job(&edit(&schedule, &|d| {
                d["httpTarget"]["httpMethod"] = json!("FETCH");
            })),
            "Invalid enum value FETCH",
        ),
        (
            "a target without its URI",
            scheduler_job(&edit(&schedule, &|d| {
                d["httpTarget"].as_object_mut().unwrap().remove("uri");
            })),
            "Job.httpTarget.uri: required, missing",
        ),
    ];
    checker().assert_refuses(&[cloud_run_job(&job), scheduler_job(&schedule)], &cases);
}

#[test]
fn the_job_table_says_what_cloud_run_does_with_each_field() {
    use ferry_core::backend::Rules;
    use ferry_core::capabilities::{JobFeature, Level};
    for feature in JobFeature::ALL {
        let cell = CloudRun.job_support(feature);
        assert_ne!(cell.level, Level::No, "{feature:?}: {}", cell.note);
        assert!(
            !cell.note.contains("no ServerlessJobs"),
            "{feature:?}: {}",
            cell.note
        );
    }
    let schedule = CloudRun.job_support(JobFeature::Schedule).note;
    assert!(
        schedule.contains("spec.cloudRun.serviceAccount"),
        "{schedule}"
    );
    let policy = CloudRun.job_support(JobFeature::ConcurrencyPolicy).note;
    assert!(
        policy.contains("Forbid only without a schedule"),
        "{policy}"
    );
}
