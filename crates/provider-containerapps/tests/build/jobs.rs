//! Container Apps jobs, pure: the `Microsoft.App/jobs` PUT body and the `Jobs_Start` body for
//! each part of a job spec, every one checked against Microsoft's definitions (Jobs.json) by
//! the fake ARM; what validation refuses and warns of for a job; an execution read as a run;
//! `diff` against what Azure describes; and `ferry render` of a job.

use ferry_api::RunState;
use ferry_api::conditions::reasons;
use ferry_core::job::DesiredJob;
use ferry_provider::backend::Backend;
use ferry_provider_containerapps::ContainerApps;
use ferry_provider_containerapps::build::{BuildError, Change, SecretValues};
use ferry_provider_containerapps::job::build::{
    self, GENERATION_ENV, RUN_ENV, UID_ENV, find_run, run_key, run_of, start_body,
};
use ferry_testkit::builders::{desired_job, serverless_job};
use serde_json::{Value, json};

use crate::common::{UID, config, fake, refusal_lines, values_of};

const ENVIRONMENT: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod-rg/providers/Microsoft.App/managedEnvironments/prod";
const IMAGE: &str = "acmeprod.azurecr.io/report:1.2";

fn desired(spec: &str) -> DesiredJob {
    desired_job(spec, &ContainerApps)
}

/// A one-container job spec with `container` fields and `extra` spec fields added.
fn spec(container: &str, extra: &str) -> String {
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
        "{{provider: containerApps, containers: [{{name: report, image: '{IMAGE}'{container}}}]\
         {extra}}}"
    )
}

fn values_for(want: &DesiredJob) -> SecretValues {
    values_of(build::model(want).unwrap())
}

fn requests(want: &DesiredJob) -> build::JobRequests {
    build::requests(want, &config(), &values_for(want)).unwrap()
}

/// Fails unless Microsoft's definitions take `body` for `operation`.
async fn assert_fits(operation: &str, body: &Value) {
    if let Some(violation) = fake().await.check_request(operation, body).await.unwrap() {
        panic!(
            "the definitions refuse the {operation} body: {violation:?}\n{}",
            serde_json::to_string_pretty(body).unwrap()
        );
    }
}

fn refusals(spec: &str) -> Vec<String> {
    match ferry_core::job::validate_job(&serverless_job(spec), &ContainerApps) {
        Ok(_) => Vec::new(),
        Err(invalid) => refusal_lines(&invalid),
    }
}

fn warnings(spec: &str) -> Vec<String> {
    ferry_core::job::validate_job(&serverless_job(spec), &ContainerApps)
        .unwrap()
        .warnings
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect()
}

fn ours(generation: &str) -> Vec<Value> {
    vec![
        json!({"name": GENERATION_ENV, "value": generation}),
        json!({"name": UID_ENV, "value": UID}),
    ]
}

#[tokio::test]
async fn a_job_without_a_schedule_is_a_manual_job_that_fits_jobs_json() {
    let want = desired(&spec("", ""));
    let r = requests(&want);
    let name = ferry_provider_containerapps::names::job_name("shop", "report");
    assert_eq!(r.place.name, name);
    assert_eq!(
        r.path(),
        format!(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod-rg/providers/\
             Microsoft.App/jobs/{name}?api-version=2026-01-01"
        )
    );
    assert_eq!(
        r.body,
        json!({
            "location": "westeurope",
            "tags": {
                "managed-by": "ferry",
                "ferry-uid": UID,
                "ferry-object": "shop/report",
                "ferry-fingerprint": r.fingerprint,
            },
            "properties": {
                "environmentId": ENVIRONMENT,
                "configuration": {
                    "triggerType": "Manual",
                    "manualTriggerConfig": {"replicaCompletionCount": 1, "parallelism": 1},
                    "replicaTimeout": 600,
                    "replicaRetryLimit": 3,
                },
                "template": {"containers": [{
                    "name": "report",
                    "image": IMAGE,
                    "resources": {"cpu": 0.5, "memory": "1Gi"},
                    "env": ours("1"),
                }]},
            },
        })
    );
    assert_fits("Jobs_CreateOrUpdate", &r.body).await;
}

#[tokio::test]
async fn tasks_parallelism_retries_and_timeout_map_to_the_job_settings() {
    let want = desired(&spec(
        "command: [/report], args: [--since, 24h], env: [{name: MODE, value: full}], \
         resources: {cpu: '1', memory: 2Gi}",
        "taskCount: 6, parallelism: 2, maxRetries: 0, timeoutSeconds: 3600",
    ));
    let r = requests(&want);
    let p = &r.body["properties"];
    assert_eq!(
        p["configuration"],
        json!({
            "triggerType": "Manual",
            "manualTriggerConfig": {"replicaCompletionCount": 6, "parallelism": 2},
            "replicaTimeout": 3600,
            "replicaRetryLimit": 0,
        })
    );
    let mut env = vec![json!({"name": "MODE", "value": "full"})];
    env.extend(ours("1"));
    assert_eq!(
        p["template"]["containers"][0],
        json!({
            "name": "report",
            "image": IMAGE,
            "command": ["/report"],
            "args": ["--since", "24h"],
            "env": env,
            "resources": {"cpu": 1.0, "memory": "2Gi"},
        })
    );
    assert!(
        p["template"]["containers"][0].get("probes").is_none(),
        "a job's containers have no probes"
    );
    assert_fits("Jobs_CreateOrUpdate", &r.body).await;
}

#[tokio::test]
async fn a_schedule_is_a_schedule_trigger_with_five_fields() {
    let want = desired(&spec(
        "",
        "schedule: '@daily', timeZone: Etc/UTC, taskCount: 2",
    ));
    let r = requests(&want);
    assert_eq!(
        r.body["properties"]["configuration"],
        json!({
            "triggerType": "Schedule",
            "scheduleTriggerConfig": {
                "cronExpression": "0 0 * * *",
                "replicaCompletionCount": 2,
                "parallelism": 2,
            },
            "replicaTimeout": 600,
            "replicaRetryLimit": 3,
        })
    );
    assert_fits("Jobs_CreateOrUpdate", &r.body).await;
    let weekdays = requests(&desired(&spec("", "schedule: '*/15 9-17 * * MON-FRI'")));
    assert_eq!(
        weekdays.body["properties"]["configuration"]["scheduleTriggerConfig"]["cronExpression"],
        "*/15 9-17 * * MON-FRI"
    );
    assert_fits("Jobs_CreateOrUpdate", &weekdays.body).await;
}

#[tokio::test]
async fn a_suspended_schedule_is_a_manual_job_until_it_resumes() {
    let suspended = requests(&desired(&spec("", "schedule: '0 3 * * *', suspend: true")));
    let configuration = &suspended.body["properties"]["configuration"];
    assert_eq!(configuration["triggerType"], "Manual");
    assert!(configuration.get("scheduleTriggerConfig").is_none());
    assert_fits("Jobs_CreateOrUpdate", &suspended.body).await;
    let resumed = requests(&desired(&spec("", "schedule: '0 3 * * *', suspend: false")));
    assert_eq!(
        resumed.body["properties"]["configuration"]["triggerType"],
        "Schedule"
    );
    assert_ne!(suspended.fingerprint, resumed.fingerprint);
}

#[tokio::test]
async fn secrets_identity_registries_and_a_workload_profile_are_the_apps() {
    let want = desired(&spec(
        "env: [{name: TOKEN, secret: {name: api}}, {name: DB, secret: {name: db}}]",
        "containerApps: {identity: /subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/report, \
         workloadProfile: D4, resourceGroup: batch-rg, \
         secrets: [{name: api, fromSecret: {name: report-api, key: token}}, \
                   {name: db, keyVaultUrl: 'https://v.vault.azure.net/secrets/db'}]}",
    ));
    let r = requests(&want);
    let identity = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/report";
    assert_eq!(r.place.resource_group, "batch-rg");
    assert_eq!(
        r.body["identity"],
        json!({"type": "UserAssigned", "userAssignedIdentities": {identity: {}}})
    );
    let p = &r.body["properties"];
    assert_eq!(p["workloadProfileName"], "D4");
    assert_eq!(
        p["configuration"]["secrets"],
        json!([
            {"name": "api", "value": "value of api"},
            {"name": "db", "keyVaultUrl": "https://v.vault.azure.net/secrets/db", "identity": identity},
        ])
    );
    assert_eq!(
        p["configuration"]["registries"],
        json!([{"server": "acmeprod.azurecr.io", "identity": identity}])
    );
    assert_eq!(
        p["template"]["containers"][0]["env"][0],
        json!({"name": "TOKEN", "secretRef": "api"})
    );
    assert_fits("Jobs_CreateOrUpdate", &r.body).await;
    // The fingerprint holds the copied secret's version, never its value.
    let mut other = values_for(&want);
    other.get_mut("api").unwrap().value = "another value".into();
    let same = build::requests(&want, &config(), &other).unwrap();
    assert_eq!(same.fingerprint, r.fingerprint);
    assert_eq!(
        build::requests(&want, &config(), &SecretValues::new()).unwrap_err(),
        BuildError::SecretNotRead("api".into())
    );
}

#[tokio::test]
async fn a_run_starts_with_its_key_in_every_container_and_fits_jobs_start() {
    let want = desired(
        "{provider: containerApps, taskCount: 2, containers: [\
          {name: report, image: 'acmeprod.azurecr.io/report:1.2', resources: {cpu: '0.5', memory: 1Gi}, \
           env: [{name: MODE, value: full}]}, \
          {name: log, image: 'acmeprod.azurecr.io/log:1', resources: {cpu: '0.5', memory: 1Gi}}]}",
    );
    let key = run_key(UID, 1);
    assert_eq!(key, format!("{UID}-1"));
    let body = start_body(&want, &key).unwrap().unwrap();
    let containers = body["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2);
    for c in containers {
        let env = c["env"].as_array().unwrap();
        assert!(
            env.contains(&json!({"name": RUN_ENV, "value": key})),
            "{c:#}"
        );
        assert!(env.contains(&json!({"name": GENERATION_ENV, "value": "1"})));
        assert!(c.get("probes").is_none());
    }
    assert_eq!(
        containers[0]["env"][0],
        json!({"name": "MODE", "value": "full"})
    );
    assert_eq!(containers[1]["image"], "acmeprod.azurecr.io/log:1");
    assert_fits("Jobs_Start", &body).await;
    // The job's own template carries no run key: a scheduled execution is no run of Ferry's.
    let r = requests(&want);
    assert!(!r.body.to_string().contains(RUN_ENV));
}

#[test]
fn a_time_zone_other_than_utc_is_refused_naming_what_is_accepted() {
    let refused = refusals(&spec("", "schedule: '0 3 * * *', timeZone: Europe/Berlin"));
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].starts_with("spec.timeZone: "), "{refused:?}");
    assert!(refused[0].contains("UTC only"), "{refused:?}");
    assert!(refused[0].contains("Etc/UTC"), "{refused:?}");
    assert!(refused[0].ends_with("got Europe/Berlin"), "{refused:?}");
    for zone in ["Etc/UTC", "UTC"] {
        assert_eq!(
            refusals(&spec(
                "",
                &format!("schedule: '0 3 * * *', timeZone: {zone}")
            )),
            Vec::<String>::new()
        );
    }
    assert_eq!(
        refusals(&spec("", "schedule: '0 3 * * *'")),
        Vec::<String>::new()
    );
}

#[test]
fn what_a_job_cannot_hold_is_refused_naming_the_field() {
    let refused = refusals(&spec("env: [{name: FERRY_RUN, value: x}]", ""));
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].starts_with("spec.containers[0].env[0].name: FERRY_RUN is set by Ferry"),
        "{refused:?}"
    );
    let refused = refusals(&spec("", "containerApps: {transport: http}"));
    assert!(
        refused
            .iter()
            .any(|r| r
                .starts_with("spec.containerApps.transport: a Container Apps job has no ingress")),
        "{refused:?}"
    );
    let refused = refusals(&spec("resources: {cpu: '1', memory: 1Gi}", ""));
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].starts_with(
            "spec.containers[0].resources: on the Consumption profile a Container Apps job's \
             CPU and memory must be one of 0.25 vCPU/0.5Gi"
        ),
        "{refused:?}"
    );
    let refused = refusals(&spec("env: [{name: TOKEN, secret: {name: api}}]", ""));
    assert!(
        refused
            .iter()
            .any(|r| r.starts_with("spec.containers[0].env[0].secret.name: Container Apps reads secrets through spec.containerApps.secrets")),
        "{refused:?}"
    );
}

#[test]
fn the_job_settings_fit_what_the_api_takes() {
    // Ferry's own ranges lie within the int32 the API carries; their extremes are accepted.
    assert_eq!(
        refusals(&spec(
            "",
            "taskCount: 10000, parallelism: 1, maxRetries: 10, timeoutSeconds: 604800"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        refusals(&spec("", "maxRetries: 0, timeoutSeconds: 1")),
        Vec::<String>::new()
    );
}

#[test]
fn warnings_tell_what_container_apps_does_differently() {
    let w = warnings(&spec("", "schedule: '0 3 * * *', suspend: true"));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("spec.suspend: Container Apps cannot pause a schedule"),
        "{w:?}"
    );
    // Without a schedule there is nothing to pause: the controller starts nothing.
    assert!(warnings(&spec("", "suspend: true")).is_empty());
    let w = warnings(&spec("", "taskCount: 3"));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("spec.taskCount: Container Apps runs 3 replicas"),
        "{w:?}"
    );
    let w = warnings(&spec(
        "resources: {cpu: '4', memory: 8Gi}",
        "taskCount: 30, parallelism: 30",
    ));
    assert!(
        w.iter().any(|w| w.starts_with(
            "spec.parallelism: 30 replicas of 4 vCPU ask for 120 vCPU at once, more than the 100"
        )),
        "{w:?}"
    );
    assert!(warnings(&spec("", "")).is_empty());
}

fn execution(name: &str, status: &str, env: &[(&str, &str)], times: (&str, Option<&str>)) -> Value {
    let env: Vec<Value> = env
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let mut properties = json!({
        "status": status,
        "startTime": times.0,
        "template": {"containers": [{"name": "report", "image": IMAGE, "env": env}]},
    });
    if let Some(end) = times.1 {
        properties["endTime"] = end.into();
    }
    json!({"name": name, "id": format!("/x/executions/{name}"), "properties": properties})
}

#[tokio::test]
async fn an_execution_reads_as_a_run_of_its_generation() {
    let want = desired(&spec(
        "",
        "taskCount: 3, maxRetries: 2, timeoutSeconds: 600",
    ));
    let key = run_key(UID, 4);
    let started = [
        (RUN_ENV, key.as_str()),
        (GENERATION_ENV, "4"),
        (UID_ENV, UID),
    ];
    let t0 = "2027-01-01T03:00:00Z";
    let running = execution("r-abc1234", "Running", &started, (t0, None));
    assert_eq!(
        fake()
            .await
            .check_response("JobExecution", 200, &running)
            .await
            .unwrap(),
        None,
        "the test's execution is one ARM could answer"
    );
    let run = run_of(&running, &want);
    assert_eq!(run.name, "r-abc1234");
    assert_eq!(run.generation, Some(4));
    assert_eq!(run.state, RunState::Running);
    assert_eq!(run.start_time.as_ref().unwrap().0.to_string(), t0);
    assert_eq!((run.succeeded, run.failed), (0, 0));

    let ok = run_of(
        &execution(
            "r",
            "Succeeded",
            &started,
            (t0, Some("2027-01-01T03:05:00Z")),
        ),
        &want,
    );
    assert_eq!(ok.state, RunState::Succeeded);
    assert_eq!((ok.succeeded, ok.failed), (3, 0));
    assert!(ok.completion_time.is_some());

    let failed = run_of(
        &execution("r", "Failed", &started, (t0, Some("2027-01-01T03:01:00Z"))),
        &want,
    );
    assert_eq!(failed.state, RunState::Failed);
    assert_eq!(failed.reason.as_deref(), Some(reasons::CONTAINER_FAILED));
    assert_eq!((failed.succeeded, failed.failed), (0, 1));
    let message = failed.message.unwrap();
    assert!(message.contains("on each of its 3 tries"), "{message}");

    let late = run_of(
        &execution("r", "Failed", &started, (t0, Some("2027-01-01T03:10:00Z"))),
        &want,
    );
    assert_eq!(late.reason.as_deref(), Some(reasons::DEADLINE_EXCEEDED));
    assert!(late.message.unwrap().contains("after 600 s"));

    let stopped = run_of(
        &execution("r", "Stopped", &started, (t0, Some("2027-01-01T03:01:00Z"))),
        &want,
    );
    assert_eq!(stopped.state, RunState::Stopped);
    assert_eq!(stopped.reason.as_deref(), Some(reasons::STOPPED));

    for status in ["Processing", "Degraded", "Unknown"] {
        let run = run_of(&execution("r", status, &started, (t0, None)), &want);
        assert_eq!(run.state, RunState::Running, "{status}");
    }
    assert!(
        run_of(&execution("r", "Degraded", &started, (t0, None)), &want)
            .message
            .unwrap()
            .contains("Degraded")
    );

    // A scheduled execution runs the template's generation; another object's has none.
    let scheduled = execution(
        "r-29000000",
        "Running",
        &[(GENERATION_ENV, "2"), (UID_ENV, UID)],
        (t0, None),
    );
    assert_eq!(run_of(&scheduled, &want).generation, Some(2));
    let foreign = execution("r", "Running", &[(RUN_ENV, "other-uid-4")], (t0, None));
    assert_eq!(run_of(&foreign, &want).generation, None);
    let executions = [scheduled, foreign, running.clone()];
    assert_eq!(find_run(&executions, &key), Some(&running));
}

#[test]
fn diff_tells_a_spec_change_drift_and_a_move_of_environment() {
    let want = desired(&spec("", ""));
    let r = requests(&want);
    // As ARM answers: what was sent, with its defaults and read-only fields.
    let mut have = r.body.clone();
    have["id"] = "/x".into();
    have["properties"]["provisioningState"] = "Succeeded".into();
    assert_eq!(build::diff(&r, &have), Vec::<Change>::new());
    let mut drifted = have.clone();
    drifted["properties"]["template"]["containers"][0]["image"] = "other:1".into();
    assert_eq!(
        build::diff(&r, &drifted),
        [Change::Drift("template.containers[].image")]
    );
    let mut retriggered = have.clone();
    retriggered["properties"]["configuration"]["triggerType"] = "Event".into();
    assert_eq!(
        build::diff(&r, &retriggered),
        [Change::Drift("configuration.triggerType")]
    );
    let changed = requests(&desired(&spec("", "maxRetries: 1")));
    assert_eq!(build::diff(&changed, &have), [Change::Spec]);
    let mut moved = have.clone();
    moved["properties"]["environmentId"] =
        "/subscriptions/x/resourceGroups/y/providers/Microsoft.App/managedEnvironments/z".into();
    assert!(build::diff(&r, &moved).contains(&Change::Environment));
}

#[test]
fn render_shows_the_job_and_the_start_of_its_run() {
    let want = desired(&spec("", ""));
    let rendered = ContainerApps
        .render_job(&want, "azure-prod", Some(&crate::common::example().1.spec))
        .unwrap();
    assert!(
        rendered
            .comment
            .contains("the start of its run for generation 1"),
        "{}",
        rendered.comment
    );
    let calls: Vec<Value> = serde_json::from_str(&rendered.body).unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["method"], "PUT");
    assert_eq!(calls[0]["body"], requests(&want).body);
    assert_eq!(calls[1]["method"], "POST");
    assert!(
        calls[1]["path"]
            .as_str()
            .unwrap()
            .ends_with("/start?api-version=2026-01-01")
    );
    assert_eq!(
        calls[1]["body"],
        start_body(&want, &run_key(UID, 1)).unwrap().unwrap()
    );

    let scheduled = desired(&spec("", "schedule: '0 3 * * *'"));
    let rendered = ContainerApps
        .render_job(&scheduled, "azure-prod", None)
        .unwrap();
    let calls: Vec<Value> = serde_json::from_str(&rendered.body).unwrap();
    assert_eq!(calls.len(), 1, "the schedule starts the runs");
    assert!(
        rendered.comment.contains("read in UTC"),
        "{}",
        rendered.comment
    );
    assert!(
        rendered
            .comment
            .contains("azure-prod is not in the files given"),
        "{}",
        rendered.comment
    );
}

#[test]
fn the_job_column_is_partial_exactly_where_container_apps_limits_a_field() {
    use ferry_core::backend::Rules as _;
    use ferry_core::capabilities::{JobFeature, Level};
    let cell = |f| ContainerApps.job_support(f);
    // Every field has a use Container Apps takes: none is refused outright.
    for feature in JobFeature::ALL {
        let support = cell(feature);
        assert_ne!(support.level, Level::No, "{feature:?}: {}", support.note);
        assert!(!support.note.is_empty(), "{feature:?}");
    }
    let partial: Vec<JobFeature> = JobFeature::ALL
        .into_iter()
        .filter(|&f| cell(f).level == Level::Partial)
        .collect();
    assert_eq!(
        partial,
        [
            JobFeature::TaskCount,
            JobFeature::TimeoutSeconds,
            JobFeature::TimeZone,
            JobFeature::ConcurrencyPolicy,
            JobFeature::Suspend,
        ]
    );
    // Each limit the cells name is what the rules do: a time zone but UTC is refused ...
    assert!(cell(JobFeature::TimeZone).note.contains("UTC only"));
    assert!(!refusals(&spec("", "schedule: '0 3 * * *', timeZone: Europe/Berlin")).is_empty());
    assert!(refusals(&spec("", "schedule: '0 3 * * *', timeZone: Etc/UTC")).is_empty());
    // ... tasks get no index, and a suspended schedule is a Manual job (both warned).
    assert!(cell(JobFeature::TaskCount).note.contains("no task index"));
    let tasks = warnings(&spec("", "taskCount: 3"));
    assert!(tasks.iter().any(|w| w.contains("no index")), "{tasks:?}");
    assert!(cell(JobFeature::Suspend).note.contains("made Manual"));
    let suspended = warnings(&spec("", "schedule: '0 3 * * *', suspend: true"));
    assert!(
        suspended
            .iter()
            .any(|w| w.contains("makes the Container Apps job Manual")),
        "{suspended:?}"
    );
    assert!(cell(JobFeature::Run).note.contains(RUN_ENV));
}
