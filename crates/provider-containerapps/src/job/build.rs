//! The pure half of Container Apps jobs: the `Microsoft.App/jobs` PUT body for a desired job,
//! the `JobExecutionTemplate` that starts one of its runs, whether the job Azure holds matches,
//! and what an execution means as a run. No I/O: `client.rs` sends what this module builds.
//!
//! The mapping (Jobs.json, api-version 2026-01-01):
//!
//! | ServerlessJob | Container Apps job |
//! |---|---|
//! | no schedule (or `suspend` with one) | `triggerType: Manual`, `manualTriggerConfig` |
//! | `schedule` | `triggerType: Schedule`, `scheduleTriggerConfig.cronExpression` (UTC) |
//! | `taskCount` | the trigger's `replicaCompletionCount` |
//! | `parallelism` | the trigger's `parallelism` |
//! | `timeoutSeconds` | `replicaTimeout` |
//! | `maxRetries` | `replicaRetryLimit` |
//! | `containers`, `containerApps.secrets`, `identity` | `template.containers`, `configuration.secrets`, `registries`, `identity`, as for an app |
//! | `volumes`, `containers[].volumeMounts` | `template.volumes`, `template.containers[].volumeMounts`, as for an app |
//!
//! A run of a job whose containers mount volumes is started without a `JobExecutionTemplate`:
//! its `JobExecutionContainer` has no `volumeMounts` (Jobs.json 2026-01-01), and whether an
//! execution given containers keeps the job's mounts is not documented (microsoft/
//! azure-container-apps#909 and #1044). Such a run is the job's own template, found by the
//! generation and UID that template carries ([`GENERATION_ENV`], [`UID_ENV`]).
//!
//! Change detection is the app's: a fingerprint of the body in a tag, plus the fields people
//! change behind Ferry's back (images, trigger, cron expression).

use ferry_api::conditions::reasons;
use ferry_api::{AzureProviderConfig, JobRun, RunState};
use ferry_core::job::DesiredJob;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use crate::build::{self as app, BuildError, Change, Kind, Place, Put, SecretValues};
use crate::model::ContainerAppsModel;

/// The resource type, as ARM ids spell it.
pub const RESOURCE_TYPE: &str = "Microsoft.App/jobs";
/// The variable that carries a run's key (`<uid>-<generation>`, [`run_key`]) in every
/// container of an execution Ferry starts: `Jobs_Start` takes no idempotency token, so the
/// key is how a start that was interrupted before its run was recorded is found again.
pub const RUN_ENV: &str = "FERRY_RUN";
/// The variable that carries the spec generation in every container of the job's template
/// (and so of every execution the schedule starts).
pub const GENERATION_ENV: &str = "FERRY_GENERATION";
/// The variable that carries the ServerlessJob's UID beside [`GENERATION_ENV`]: a job adopted
/// from an earlier object of the same name keeps that object's executions, whose generations
/// are not this object's.
pub const UID_ENV: &str = "FERRY_UID";
/// The variables Ferry sets in every replica, which a container may not set.
pub const RESERVED_ENV: [&str; 3] = [RUN_ENV, GENERATION_ENV, UID_ENV];

/// A Container Apps job (`Microsoft.App/jobs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job;

impl Kind for Job {
    const RESOURCE_TYPE: &'static str = RESOURCE_TYPE;

    fn name(namespace: &str, name: &str) -> String {
        crate::names::job_name(namespace, name)
    }
}

/// Where a job lives: its ARM coordinates.
pub type JobPlace = Place<Job>;

impl Place<Job> {
    /// What `Jobs_Start` is posted to.
    pub fn start_id(&self) -> String {
        format!("{}/start", self.id())
    }

    /// The job's executions (`JobsExecutions_List`).
    pub fn executions_id(&self) -> String {
        format!("{}/executions", self.id())
    }

    /// What `Jobs_StopExecution` of `execution` is posted to.
    pub fn stop_id(&self, execution: &str) -> String {
        format!("{}/executions/{execution}/stop", self.id())
    }
}

/// The job's PUT.
pub type JobRequests = Put<Job>;

/// The Container Apps settings of `want`.
pub fn model(want: &DesiredJob) -> Result<&ContainerAppsModel, BuildError> {
    app::model_in(&want.backend, BuildError::NotContainerAppsJob)
}

/// Where `want`'s job lives under `config`.
pub fn place(want: &DesiredJob, config: &AzureProviderConfig) -> Result<JobPlace, BuildError> {
    Ok(JobPlace::of_model(&want.object, config, model(want)?))
}

/// The job's PUT for `want` under `config`, with the copied secrets' `values`.
pub fn requests(
    want: &DesiredJob,
    config: &AzureProviderConfig,
    values: &SecretValues,
) -> Result<JobRequests, BuildError> {
    let model = model(want)?;
    app::check_volumes(&want.volumes)?;
    app::put(&want.object, model, config, values, |environment, value| {
        body(want, model, config, environment, value)
    })
}

/// The PUT body without tags; `value` gives a copied secret's value.
fn body(
    want: &DesiredJob,
    model: &ContainerAppsModel,
    config: &AzureProviderConfig,
    environment: &str,
    value: &dyn Fn(&str) -> Option<String>,
) -> Value {
    let mut template = json!({"containers": containers(want, model, None)});
    let volumes = app::volumes(&want.volumes);
    if !volumes.is_empty() {
        template["volumes"] = volumes.into();
    }
    app::resource_body(
        model,
        config,
        environment,
        configuration(want, model, value),
        template,
    )
}

/// Whether the job is `Schedule`: it has a schedule and is not suspended. Container Apps
/// cannot pause a schedule trigger (2026-01-01 has no such field), so a suspended job is
/// `Manual` until `suspend` is false again; a Manual job starts nothing by itself.
pub fn scheduled(want: &DesiredJob) -> bool {
    want.schedule.is_some() && !want.suspend
}

fn configuration(
    want: &DesiredJob,
    model: &ContainerAppsModel,
    value: &dyn Fn(&str) -> Option<String>,
) -> Value {
    let mut trigger = json!({
        "replicaCompletionCount": want.task_count,
        "parallelism": want.parallelism,
    });
    let (kind, key) = match &want.schedule {
        // Nicknames spelt out: Container Apps takes five fields.
        Some(schedule) if scheduled(want) => {
            trigger["cronExpression"] = schedule.fields().join(" ").into();
            ("Schedule", "scheduleTriggerConfig")
        }
        _ => ("Manual", "manualTriggerConfig"),
    };
    let mut configuration = json!({
        "triggerType": kind,
        key: trigger,
        "replicaTimeout": want.timeout_seconds,
        "replicaRetryLimit": want.max_retries,
    });
    if !model.secrets.is_empty() {
        configuration["secrets"] = app::secrets(model, value);
    }
    let registries = app::registries(&want.containers, model);
    if !registries.is_empty() {
        configuration["registries"] = registries.into();
    }
    configuration
}

/// The containers of the job's template (`run: None`) or of the start of the run `run`: as an
/// app's, and each with [`GENERATION_ENV`] and [`UID_ENV`], and [`RUN_ENV`] in a run's.
fn containers(want: &DesiredJob, model: &ContainerAppsModel, run: Option<&str>) -> Vec<Value> {
    let mut ours = Vec::new();
    if let Some(generation) = want.object.generation {
        ours.push(json!({"name": GENERATION_ENV, "value": generation.to_string()}));
    }
    if let Some(uid) = &want.object.uid {
        ours.push(json!({"name": UID_ENV, "value": uid}));
    }
    if let Some(key) = run {
        ours.push(json!({"name": RUN_ENV, "value": key}));
    }
    want.containers
        .iter()
        .zip(&model.sizes)
        .map(|(c, size)| {
            let mut out = app::container(c, *size);
            let mut env = out["env"].as_array().cloned().unwrap_or_default();
            env.extend(ours.iter().cloned());
            if !env.is_empty() {
                out["env"] = env.into();
            }
            out
        })
        .collect()
}

/// The key of the run of the object with `uid` for spec generation `generation`.
pub fn run_key(uid: &str, generation: i64) -> String {
    format!("{uid}-{generation}")
}

/// The `Jobs_Start` body of the run keyed `key` (a `JobExecutionTemplate`): the job's
/// containers, each carrying the key in [`RUN_ENV`]. They replace the template's for this
/// execution; the rest (timeouts, retries, counts, secrets) is the job's. `None` when the
/// containers mount volumes: the run is then started with the job's own template (see the
/// module's comment), and found with [`find_template_run`].
pub fn start_body(want: &DesiredJob, key: &str) -> Result<Option<Value>, BuildError> {
    let model = model(want)?;
    if want.containers.iter().any(|c| !c.mounts.is_empty()) {
        return Ok(None);
    }
    Ok(Some(
        json!({"containers": containers(want, model, Some(key))}),
    ))
}

/// The value of the variable `name` in the first container of `execution` that sets it.
fn env_of<'a>(execution: &'a Value, name: &str) -> Option<&'a str> {
    env_in(&execution["properties"]["template"], name)
}

/// The spec generation of the object with `uid` that the job's template carries, when it does:
/// a run started without a template runs that generation.
pub fn template_generation(job: &Value, uid: &str) -> Option<i64> {
    let template = &job["properties"]["template"];
    if env_in(template, UID_ENV) != Some(uid) {
        return None;
    }
    env_in(template, GENERATION_ENV)?.parse().ok()
}

/// The execution among `executions` that a start without a template made for generation
/// `generation` of the object with `uid`: the job's template, carrying that generation and no
/// run key.
pub fn find_template_run<'a>(
    executions: &'a [Value],
    uid: &str,
    generation: i64,
) -> Option<&'a Value> {
    executions
        .iter()
        .find(|e| env_of(e, RUN_ENV).is_none() && generation_of(e, Some(uid)) == Some(generation))
}

/// The value of the variable `name` in the first container of `template` that sets it.
fn env_in<'a>(template: &'a Value, name: &str) -> Option<&'a str> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|list| template[*list].as_array())
        .flatten()
        .filter_map(|c| c["env"].as_array())
        .flatten()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
}

/// The execution among `executions` that runs the run keyed `key`.
pub fn find_run<'a>(executions: &'a [Value], key: &str) -> Option<&'a Value> {
    executions.iter().find(|e| env_of(e, RUN_ENV) == Some(key))
}

/// The spec generation `execution` ran for the object with `uid`: its run key's, for a run
/// Ferry started; the template's, for one the schedule started; `None` for another object's.
pub fn generation_of(execution: &Value, uid: Option<&str>) -> Option<i64> {
    let uid = uid?;
    if let Some(key) = env_of(execution, RUN_ENV) {
        return key.strip_prefix(uid)?.strip_prefix('-')?.parse().ok();
    }
    if env_of(execution, UID_ENV) != Some(uid) {
        return None;
    }
    env_of(execution, GENERATION_ENV)?.parse().ok()
}

/// What an execution of `want`'s job means as a run. Container Apps reports an execution's
/// status, start and end, but no replica counts and no exit code (2026-01-01's `JobExecution`
/// has none): a succeeded run counts its `taskCount` tasks succeeded, a failed one one task
/// failed; how a failure came about is told from its duration.
pub fn run_of(execution: &Value, want: &DesiredJob) -> JobRun {
    let p = &execution["properties"];
    let time = |v: &Value| v.as_str().and_then(|t| t.parse().ok()).map(Time);
    let name = execution["name"].as_str().unwrap_or_default().to_owned();
    let status = p["status"].as_str().unwrap_or("Unknown");
    let mut run = JobRun {
        generation: generation_of(execution, want.object.uid.as_deref()),
        start_time: time(&p["startTime"]),
        completion_time: time(&p["endTime"]),
        ..JobRun::default()
    };
    match status {
        "Succeeded" => {
            run.state = RunState::Succeeded;
            run.succeeded = i32::try_from(want.task_count).unwrap_or(i32::MAX);
        }
        "Failed" => {
            run.state = RunState::Failed;
            run.failed = 1;
            let (reason, message) = failure(&name, &run, want);
            run.reason = Some(reason.to_owned());
            run.message = Some(message);
        }
        "Stopped" => {
            run.state = RunState::Stopped;
            run.reason = Some(reasons::STOPPED.to_owned());
            run.message = Some(format!("Container Apps stopped execution {name}"));
        }
        // Running, Processing (starting), Degraded (a replica failed, others or its retries
        // go on) and Unknown have not ended.
        "Running" | "Processing" => {}
        other => {
            run.message = Some(format!(
                "Container Apps reports execution {name} {other}; it has not ended"
            ));
        }
    }
    run.name = name;
    run
}

/// Why a failed execution failed, as far as its times tell: one that ran at least
/// `replicaTimeout` ran out of time (Container Apps ends it as a Kubernetes Job deadline,
/// reason DeadlineExceeded, "Job was active longer than specified deadline": see
/// microsoft/azure-container-apps#986); otherwise a replica exited non-zero on every try.
fn failure(name: &str, run: &JobRun, want: &DesiredJob) -> (&'static str, String) {
    let seconds = match (&run.start_time, &run.completion_time) {
        (Some(start), Some(end)) => Some(end.0.as_second() - start.0.as_second()),
        _ => None,
    };
    let logs = "Container Apps reports no exit code: see the execution's console logs \
                (ContainerAppConsoleLogs) in the environment's Log Analytics workspace";
    match seconds {
        Some(seconds) if seconds >= i64::from(want.timeout_seconds) => (
            reasons::DEADLINE_EXCEEDED,
            format!(
                "execution {name} failed after {seconds} s, at least its replicaTimeout \
                 (timeoutSeconds: {} s): a replica ran out of time; {logs}",
                want.timeout_seconds
            ),
        ),
        _ => (
            reasons::CONTAINER_FAILED,
            format!(
                "execution {name} failed: a replica exited with an error (or could not pull \
                 its image) on each of its {} tries (1 + maxRetries); {logs}",
                want.max_retries + 1
            ),
        ),
    }
}

/// What differs between the job Azure describes and `requests`; empty when nothing. Any change
/// but [`Change::Environment`] is made with one PUT of `requests.body`.
pub fn diff(requests: &JobRequests, job: &Value) -> Vec<Change> {
    app::changes(
        requests,
        job,
        &["environmentId"],
        drift(&requests.body, job),
    )
}

/// The fields Ferry sets that differ in `have`, among those `az containerapp job update`
/// changes: the images, the trigger and its cron expression.
fn drift(want: &Value, have: &Value) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let (want_p, have_p) = (&want["properties"], &have["properties"]);
    if app::images(want_p) != app::images(have_p) {
        fields.push("template.containers[].image");
    }
    let trigger = |p: &Value| {
        let c = &p["configuration"];
        (
            c["triggerType"].as_str().unwrap_or("Manual").to_owned(),
            c["scheduleTriggerConfig"]["cronExpression"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    if trigger(want_p) != trigger(have_p) {
        fields.push("configuration.triggerType");
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution(env: &[(&str, &str)]) -> Value {
        let env: Vec<Value> = env
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        json!({"name": "x", "properties": {"template": {"containers": [
            {"name": "a", "image": "i"},
            {"name": "b", "image": "i", "env": env},
        ]}}})
    }

    #[test]
    fn a_run_key_names_its_object_and_generation() {
        let started = execution(&[(RUN_ENV, "u-1-7"), (GENERATION_ENV, "6"), (UID_ENV, "u-1")]);
        assert_eq!(generation_of(&started, Some("u-1")), Some(7));
        // Another object's run (a job adopted after a release) is not this object's.
        assert_eq!(generation_of(&started, Some("u-2")), None);
        assert_eq!(generation_of(&started, Some("u")), None);
        let scheduled = execution(&[(GENERATION_ENV, "6"), (UID_ENV, "u-1")]);
        assert_eq!(generation_of(&scheduled, Some("u-1")), Some(6));
        assert_eq!(generation_of(&scheduled, Some("u-2")), None);
        assert_eq!(generation_of(&execution(&[]), Some("u-1")), None);
        let runs = [scheduled, started];
        assert_eq!(find_run(&runs, "u-1-7").unwrap(), &runs[1]);
        assert!(find_run(&runs, "u-1-6").is_none());
    }
}
