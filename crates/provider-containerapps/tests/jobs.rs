//! The Container Apps job client against the fake Azure Resource Manager (`tests/azure-fake`),
//! which checks every request against Microsoft's definitions (Jobs.json), runs the job's
//! long-running operations and its executions (`exit N` fails, `sleep infinity` runs until
//! stopped, anything else succeeds), fires Schedule jobs on demand and counts the calls. Each
//! test uses its own subscription on one shared fake, so they run in parallel; each checks what
//! the fake holds afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod support;

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Mutex;
use std::time::Duration;

use azure_fake::Fault;
use ferry_api::conditions::reasons;
use ferry_api::{JobRun, RunState, ServerlessJob};
use ferry_core::desired::ObjectRef;
use ferry_core::job::DesiredJob;
use ferry_core::job::status::has_run_for;
use ferry_provider::job::{Definition, JobObservation, Jobs};
use ferry_provider::{Deletion, ProviderError};
use ferry_provider_containerapps::build::{API_VERSION, SecretValue};
use ferry_provider_containerapps::job::build::{GENERATION_ENV, RUN_ENV};
use ferry_provider_containerapps::{ContainerApps, names};
use serde_json::{Value, json};
use support::{Azure, GROUP, writes};

/// One test's subscription, a connector, and the run history a controller keeps in status.
struct Harness {
    azure: Azure,
    history: Mutex<Vec<JobRun>>,
}

impl Deref for Harness {
    type Target = Azure;

    fn deref(&self) -> &Azure {
        &self.azure
    }
}

impl Harness {
    async fn start(name: &str) -> Self {
        Self {
            azure: Azure::start(name).await,
            history: Mutex::default(),
        }
    }

    /// A new client, as each reconcile (and an operator that restarted) connects anew.
    async fn client(&self, job: &ServerlessJob) -> Jobs {
        let values = self.values.lock().unwrap().clone();
        self.connector
            .connect_job_with(job, &self.config, None, Ok(values))
            .await
            .unwrap()
    }

    fn job_path(&self, job: &ServerlessJob, tail: &str) -> String {
        let name = names::job_name("shop", job.metadata.name.as_deref().unwrap());
        format!(
            "{}{tail}?api-version={API_VERSION}",
            self.subscription().job(GROUP, &name)
        )
    }

    /// The job as the fake holds it.
    async fn held(&self, job: &ServerlessJob) -> Option<Value> {
        let answer = self
            .fake
            .send_raw(http::Method::GET, &self.job_path(job, ""), None)
            .await
            .unwrap();
        (answer.status == 200).then_some(answer.body)
    }

    /// The job's executions as the fake holds them (each read moves them on, as any look).
    async fn executions(&self, job: &ServerlessJob) -> Option<Vec<Value>> {
        let answer = self
            .fake
            .send_raw(http::Method::GET, &self.job_path(job, "/executions"), None)
            .await
            .unwrap();
        (answer.status == 200).then(|| answer.body["value"].as_array().unwrap().clone())
    }

    async fn fire(&self, job: &ServerlessJob) -> String {
        let name = names::job_name("shop", job.metadata.name.as_deref().unwrap());
        self.subscription()
            .fire_job(GROUP, &name)
            .await
            .unwrap()
            .name
    }

    /// One reconcile's calls, as the job controller makes them: observe; apply when the
    /// definition is absent or stale; advance each running run; start the generation's run
    /// when there is no schedule and neither the provider nor the history holds one. A start
    /// the provider refuses for now is left to the next reconcile. Keeps the history.
    async fn reconcile(&self, job: &ServerlessJob) -> JobObservation {
        let want = desired(job);
        let client = self.client(job).await;
        let mut observed = client.observe(&want).await.unwrap();
        if !matches!(
            observed.definition,
            Definition::Present {
                up_to_date: true,
                ..
            }
        ) {
            client.apply(&want).await.unwrap();
        }
        for run in observed
            .runs
            .iter()
            .filter(|r| r.state == RunState::Running)
        {
            client.advance(&want, run).await.unwrap();
        }
        let generation = job.metadata.generation.unwrap();
        let history = self.history.lock().unwrap().clone();
        if want.schedule.is_none()
            && !want.suspend
            && !has_run_for(&history, &observed.runs, generation)
        {
            match client.start(&want, generation).await {
                Ok(run) => {
                    observed.runs.retain(|r| r.name != run.name);
                    observed.runs.insert(0, run);
                }
                Err(ProviderError::Transient { message, .. }) => {
                    assert!(message.contains("still applying"), "{message}");
                }
                Err(e) => panic!("{e}"),
            }
        }
        let mut history = self.history.lock().unwrap();
        for run in &observed.runs {
            history.retain(|r| r.name != run.name);
            history.push(run.clone());
        }
        observed
    }

    /// Reconciles until `done` holds of what one observes.
    async fn until(
        &self,
        job: &ServerlessJob,
        done: impl Fn(&JobObservation) -> bool,
    ) -> JobObservation {
        for _ in 0..30 {
            let observed = self.reconcile(job).await;
            if done(&observed) {
                return observed;
            }
        }
        panic!("never reached\n{}", self.fake.log());
    }

    /// Reconciles until the run of `generation` has ended, and answers it.
    async fn until_ended(&self, job: &ServerlessJob, generation: i64) -> JobRun {
        let observed = self
            .until(job, |o| {
                o.runs
                    .iter()
                    .any(|r| r.generation == Some(generation) && r.state.is_finished())
            })
            .await;
        observed
            .runs
            .into_iter()
            .find(|r| r.generation == Some(generation))
            .unwrap()
    }

    /// Applies the job (as a reconcile would, without starting anything) and waits until it
    /// is provisioned.
    async fn until_applied(&self, job: &ServerlessJob) {
        self.client(job).await.apply(&desired(job)).await.unwrap();
        for _ in 0..10 {
            let held = self.held(job).await.unwrap();
            if held["properties"]["provisioningState"] == "Succeeded" {
                return;
            }
        }
        panic!("the job never provisioned\n{}", self.fake.log());
    }
}

fn serverless_job(name: &str, generation: i64, spec: &str) -> ServerlessJob {
    serde_saphyr::from_str(&format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessJob\n\
         metadata: {{name: {name}, namespace: shop, uid: 7d3c6a52-{name}, generation: {generation}}}\n\
         spec: {spec}\n"
    ))
    .unwrap()
}

/// A job whose one container runs `command` (as `sh -c`), with `extra` spec fields.
fn job(name: &str, generation: i64, command: &str, extra: &str) -> ServerlessJob {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    serverless_job(
        name,
        generation,
        &format!(
            "{{provider: containerApps, containers: [{{name: task, image: 'ghcr.io/acme/task:1', \
             command: [sh, -c], args: ['{command}']}}]{extra}}}"
        ),
    )
}

fn desired(job: &ServerlessJob) -> DesiredJob {
    ferry_core::job::validate_job(job, &ContainerApps)
        .unwrap_or_else(|e| panic!("the test's spec is invalid: {e}"))
        .desired
}

fn object(job: &ServerlessJob) -> ObjectRef {
    desired(job).object
}

fn env_value<'a>(execution: &'a Value, name: &str) -> Option<&'a str> {
    execution["properties"]["template"]["containers"][0]["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)?["value"]
        .as_str()
}

#[tokio::test]
async fn a_one_off_run_starts_once_when_the_job_is_applied_and_succeeds() {
    let h = Harness::start("caj-once").await;
    let j = job("nightly", 1, "echo done", "");
    // The first look creates the job; its run waits for the job's operation to end.
    let first = h.reconcile(&j).await;
    assert_eq!(first.definition, Definition::Absent);
    assert_eq!(h.writes().await, writes(&[("Jobs_CreateOrUpdate", 1)]));
    let run = h.until_ended(&j, 1).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert_eq!((run.succeeded, run.failed), (1, 0));
    assert!(run.start_time.is_some() && run.completion_time.is_some());

    let held = h.held(&j).await.unwrap();
    assert_eq!(held["tags"]["ferry-uid"], "7d3c6a52-nightly");
    assert_eq!(held["tags"]["managed-by"], "ferry");
    let configuration = &held["properties"]["configuration"];
    assert_eq!(configuration["triggerType"], "Manual");
    assert_eq!(configuration["replicaRetryLimit"], 3);
    assert_eq!(configuration["replicaTimeout"], 600);
    let executions = h.executions(&j).await.unwrap();
    assert_eq!(executions.len(), 1, "{executions:#?}");
    assert_eq!(executions[0]["properties"]["status"], "Succeeded");
    assert_eq!(
        env_value(&executions[0], RUN_ENV),
        Some("7d3c6a52-nightly-1")
    );
    assert_eq!(
        h.writes().await,
        writes(&[("Jobs_CreateOrUpdate", 1), ("Jobs_Start", 1)])
    );

    // Up to date and run: reads only.
    h.subscription().clear().await.unwrap();
    for _ in 0..3 {
        let observed = h.reconcile(&j).await;
        assert!(matches!(
            observed.definition,
            Definition::Present {
                up_to_date: true,
                ..
            }
        ));
        assert_eq!(observed.runs.len(), 1);
    }
    assert_eq!(h.writes().await, BTreeMap::new(), "no write when idle");
}

#[tokio::test]
async fn an_exit_1_run_fails_with_container_failed_after_its_retries() {
    let h = Harness::start("caj-exit").await;
    let j = job("broken", 1, "exit 1", "maxRetries: 2");
    let run = h.until_ended(&j, 1).await;
    assert_eq!(run.state, RunState::Failed, "{run:?}");
    assert_eq!(run.reason.as_deref(), Some(reasons::CONTAINER_FAILED));
    assert_eq!((run.succeeded, run.failed), (0, 1));
    assert!(
        run.message.as_deref().unwrap().contains("3 tries"),
        "{run:?}"
    );
    let held = h.held(&j).await.unwrap();
    assert_eq!(held["properties"]["configuration"]["replicaRetryLimit"], 2);
    let executions = h.executions(&j).await.unwrap();
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0]["properties"]["status"], "Failed");
    // A failed run is the generation's run: it is not started again.
    h.reconcile(&j).await;
    assert_eq!(h.executions(&j).await.unwrap().len(), 1);
}

#[tokio::test]
async fn starting_twice_and_after_a_crash_leaves_exactly_one_execution() {
    let h = Harness::start("caj-crash").await;
    let j = job("report", 1, "sleep infinity", "");
    let want = desired(&j);
    h.until_applied(&j).await;
    h.subscription().clear().await.unwrap();
    let client = h.client(&j).await;

    // Start, then "crash" before the run is recorded: the client is gone, nothing remembers.
    let started = client.start(&want, 1).await.unwrap();
    assert_eq!(started.generation, Some(1));
    drop(client);
    // The operator's next life finds the run by its key, for the generation.
    let fresh = h.client(&j).await;
    let observed = fresh.observe(&want).await.unwrap();
    assert_eq!(observed.runs.len(), 1);
    assert_eq!(observed.runs[0].name, started.name);
    assert_eq!(observed.runs[0].generation, Some(1));
    assert!(has_run_for(&[], &observed.runs, 1));
    // A start for the same generation anyway (a lost answer, a controller that did not see
    // the run) answers the same run and sends nothing.
    let again = fresh.start(&want, 1).await.unwrap();
    assert_eq!(again.name, started.name);
    let again = h.client(&j).await.start(&want, 1).await.unwrap();
    assert_eq!(again.name, started.name);
    assert_eq!(h.executions(&j).await.unwrap().len(), 1);
    assert_eq!(h.writes().await, writes(&[("Jobs_Start", 1)]));
}

#[tokio::test]
async fn a_start_whose_answer_is_lost_is_found_and_never_sent_again() {
    let h = Harness::start("caj-lost").await;
    let j = job("lost", 1, "sleep infinity", "");
    let want = desired(&j);
    h.until_applied(&j).await;
    h.subscription().clear().await.unwrap();
    let client = h.client(&j).await;
    // The start takes effect and its answer never comes: sending it again would make a
    // second execution.
    h.subscription()
        .fail("Jobs_Start", Fault::Lost, 1)
        .await
        .unwrap();
    let error = client.start(&want, 1).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
    assert_eq!(h.executions(&j).await.unwrap().len(), 1);
    let observed = h.client(&j).await.observe(&want).await.unwrap();
    assert_eq!(observed.runs.len(), 1);
    assert_eq!(observed.runs[0].generation, Some(1));
    let run = h.client(&j).await.start(&want, 1).await.unwrap();
    assert_eq!(run.name, observed.runs[0].name);
    assert_eq!(h.executions(&j).await.unwrap().len(), 1);
    assert_eq!(h.writes().await, writes(&[("Jobs_Start", 1)]));
}

#[tokio::test]
async fn a_stopped_run_reads_stopped_and_stopping_again_is_harmless() {
    let h = Harness::start("caj-stop").await;
    let j = job("forever", 1, "sleep infinity", "");
    let observed = h
        .until(&j, |o| o.runs.iter().any(|r| r.generation == Some(1)))
        .await;
    let run = observed.runs[0].clone();
    assert_eq!(run.state, RunState::Running);
    let want = desired(&j);
    let client = h.client(&j).await;
    client.stop(&want, &run.name).await.unwrap();
    let stopped = h.until_ended(&j, 1).await;
    assert_eq!(stopped.state, RunState::Stopped);
    assert_eq!(stopped.reason.as_deref(), Some(reasons::STOPPED));
    assert_eq!(
        h.executions(&j).await.unwrap()[0]["properties"]["status"],
        "Stopped"
    );
    client.stop(&want, &run.name).await.unwrap();
    client.stop(&want, "forever-nosuchx").await.unwrap();
    assert_eq!(h.executions(&j).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_spec_change_updates_the_job_and_runs_the_new_generation_once() {
    let h = Harness::start("caj-change").await;
    let first = job("etl", 1, "echo one", "");
    assert_eq!(h.until_ended(&first, 1).await.state, RunState::Succeeded);
    let second = job("etl", 2, "echo two", "timeoutSeconds: 120");
    let run = h.until_ended(&second, 2).await;
    assert_eq!(run.state, RunState::Succeeded);
    let held = h.held(&second).await.unwrap();
    assert_eq!(held["properties"]["configuration"]["replicaTimeout"], 120);
    let executions = h.executions(&second).await.unwrap();
    let mut generations: Vec<&str> = executions
        .iter()
        .map(|e| env_value(e, GENERATION_ENV).unwrap())
        .collect();
    generations.sort_unstable();
    assert_eq!(generations, ["1", "2"]);
    assert_eq!(
        h.writes().await,
        writes(&[("Jobs_CreateOrUpdate", 2), ("Jobs_Start", 2)])
    );
}

#[tokio::test]
async fn a_schedule_is_created_and_a_fired_run_shows_with_the_generation_in_force() {
    let h = Harness::start("caj-schedule").await;
    let j = job("hourly", 3, "echo tick", "schedule: '@hourly'");
    h.until_applied(&j).await;
    let held = h.held(&j).await.unwrap();
    let configuration = &held["properties"]["configuration"];
    assert_eq!(configuration["triggerType"], "Schedule");
    assert_eq!(
        configuration["scheduleTriggerConfig"]["cronExpression"],
        "0 * * * *"
    );
    // Ferry starts nothing on a schedule: the platform does.
    let observed = h.reconcile(&j).await;
    assert!(observed.runs.is_empty());
    let fired = h.fire(&j).await;
    let observed = h
        .until(&j, |o| o.runs.iter().any(|r| r.state.is_finished()))
        .await;
    assert_eq!(observed.runs.len(), 1);
    let run = &observed.runs[0];
    assert_eq!(run.name, fired);
    assert_eq!(run.generation, Some(3));
    assert_eq!(run.state, RunState::Succeeded);
    assert_eq!(h.writes().await, writes(&[("Jobs_CreateOrUpdate", 1)]));
}

/// The state of each execution of `job`, by name.
async fn states(h: &Harness, job: &ServerlessJob) -> BTreeMap<String, String> {
    h.executions(job)
        .await
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["properties"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn forbid_stops_a_scheduled_run_that_starts_while_one_runs() {
    let h = Harness::start("caj-forbid").await;
    let j = job("sync", 1, "sleep infinity", "schedule: '*/5 * * * *'");
    h.until_applied(&j).await;
    let older = h.fire(&j).await;
    h.reconcile(&j).await;
    let newer = h.fire(&j).await;
    h.until(&j, |o| {
        o.runs
            .iter()
            .any(|r| r.name == newer && r.state == RunState::Stopped)
    })
    .await;
    let held = states(&h, &j).await;
    assert_eq!(held[&older], "Running");
    assert_eq!(held[&newer], "Stopped");
    // One stop, waited for while it takes effect, and never a start.
    assert_eq!(
        h.writes().await,
        writes(&[("Jobs_CreateOrUpdate", 1), ("Jobs_StopExecution", 1)])
    );
}

#[tokio::test]
async fn replace_stops_the_earlier_scheduled_run() {
    let h = Harness::start("caj-replace").await;
    let j = job(
        "sync",
        1,
        "sleep infinity",
        "schedule: '*/5 * * * *', concurrencyPolicy: Replace",
    );
    h.until_applied(&j).await;
    let older = h.fire(&j).await;
    h.reconcile(&j).await;
    let newer = h.fire(&j).await;
    h.until(&j, |o| {
        o.runs
            .iter()
            .any(|r| r.name == older && r.state == RunState::Stopped)
    })
    .await;
    let held = states(&h, &j).await;
    assert_eq!(held[&older], "Stopped");
    assert_eq!(held[&newer], "Running");
    // Allow lets both run.
    let both = job(
        "both",
        1,
        "sleep infinity",
        "schedule: '*/5 * * * *', concurrencyPolicy: Allow",
    );
    h.until_applied(&both).await;
    h.fire(&both).await;
    h.fire(&both).await;
    for _ in 0..3 {
        h.reconcile(&both).await;
    }
    assert!(states(&h, &both).await.values().all(|s| s == "Running"));
}

#[tokio::test]
async fn suspend_makes_a_scheduled_job_manual_until_it_resumes() {
    let h = Harness::start("caj-suspend").await;
    let suspended = job(
        "pause",
        2,
        "echo tick",
        "schedule: '0 3 * * *', suspend: true",
    );
    h.until_applied(&suspended).await;
    let held = h.held(&suspended).await.unwrap();
    assert_eq!(held["properties"]["configuration"]["triggerType"], "Manual");
    // Nothing fires a Manual job: the schedule is paused.
    let name = names::job_name("shop", "pause");
    assert!(h.subscription().fire_job(GROUP, &name).await.is_err());
    assert!(
        h.reconcile(&suspended).await.runs.is_empty(),
        "and Ferry starts nothing"
    );
    let resumed = job("pause", 3, "echo tick", "schedule: '0 3 * * *'");
    h.until_applied(&resumed).await;
    let held = h.held(&resumed).await.unwrap();
    assert_eq!(
        held["properties"]["configuration"]["triggerType"],
        "Schedule"
    );
    h.fire(&resumed).await;
    assert_eq!(h.executions(&resumed).await.unwrap().len(), 1);
}

#[tokio::test]
async fn delete_removes_the_job_its_schedule_and_its_runs() {
    let h = Harness::start("caj-delete").await;
    let j = job("gone", 1, "sleep infinity", "schedule: '0 * * * *'");
    h.until_applied(&j).await;
    h.fire(&j).await;
    assert_eq!(h.executions(&j).await.unwrap().len(), 1);
    let client = h.client(&j).await;
    let object = object(&j);
    assert_eq!(client.delete(&object).await.unwrap(), Deletion::InProgress);
    let mut gone = false;
    for _ in 0..10 {
        if client.delete(&object).await.unwrap() == Deletion::Gone {
            gone = true;
            break;
        }
    }
    assert!(gone, "{}", h.fake.log());
    assert!(h.held(&j).await.is_none());
    assert!(
        h.executions(&j).await.is_none(),
        "the executions went with the job"
    );
    assert_eq!(h.writes().await.get("Jobs_Delete"), Some(&1));
    assert_eq!(client.delete(&object).await.unwrap(), Deletion::Gone);
    let observed = h.client(&j).await.observe(&desired(&j)).await.unwrap();
    assert_eq!(observed, JobObservation::default());
}

#[tokio::test]
async fn orphan_untags_the_job_and_a_new_object_adopts_it() {
    let h = Harness::start("caj-orphan").await;
    let j = job("kept", 1, "echo one", "schedule: '0 * * * *'");
    h.until_applied(&j).await;
    let client = h.client(&j).await;
    client.release(&object(&j)).await.unwrap();
    let held = h.held(&j).await.unwrap();
    assert!(held["tags"].get("ferry-uid").is_none(), "{held:#}");
    assert_eq!(held["tags"]["managed-by"], "ferry");
    assert_eq!(
        held["properties"]["configuration"]["triggerType"], "Schedule",
        "the schedule lives on"
    );
    // Released again: nothing to do.
    client.release(&object(&j)).await.unwrap();
    // A new object of the same name adopts it: its tags are written.
    let mut adopter = serverless_job(
        "kept",
        1,
        "{provider: containerApps, schedule: '0 * * * *', containers: [{name: task, \
         image: 'ghcr.io/acme/task:1', command: [sh, -c], args: ['echo one']}]}",
    );
    adopter.metadata.uid = Some("another-uid".into());
    let observed = h
        .client(&adopter)
        .await
        .observe(&desired(&adopter))
        .await
        .unwrap();
    assert!(matches!(
        observed.definition,
        Definition::Present {
            up_to_date: false,
            ..
        }
    ));
    h.until_applied(&adopter).await;
    assert_eq!(
        h.held(&j).await.unwrap()["tags"]["ferry-uid"],
        "another-uid"
    );
}

#[tokio::test]
async fn orphan_puts_back_a_copied_secret_whose_secret_is_gone() {
    let h = Harness::start("caj-orphan-secret").await;
    let j = serverless_job(
        "secret",
        1,
        "{provider: containerApps, schedule: '0 * * * *', containers: [{name: task, \
         image: 'ghcr.io/acme/task:1', env: [{name: TOKEN, secret: {name: api}}]}], \
         containerApps: {secrets: [{name: api, fromSecret: {name: report-api, key: token}}]}}",
    );
    h.values.lock().unwrap().insert(
        "api".into(),
        SecretValue {
            value: "s3cret".into(),
            version: "report-api/token@1".into(),
        },
    );
    h.until_applied(&j).await;
    // Being deleted, the namespace's Secrets may be gone: the connector reads none.
    h.values.lock().unwrap().clear();
    h.client(&j).await.release(&object(&j)).await.unwrap();
    let held = h.held(&j).await.unwrap();
    assert!(held["tags"].get("ferry-uid").is_none(), "{held:#}");
    let listed = h
        .fake
        .send_raw(http::Method::POST, &h.job_path(&j, "/listSecrets"), None)
        .await
        .unwrap();
    assert_eq!(
        listed.body["value"],
        json!([{"name": "api", "value": "s3cret"}]),
        "the secret keeps its value"
    );
}

#[tokio::test]
async fn a_job_of_the_name_that_is_not_ours_is_name_taken() {
    let h = Harness::start("caj-taken").await;
    let j = job("taken", 1, "echo", "");
    let body = json!({
        "location": "westeurope",
        "tags": {"team": "data"},
        "properties": {
            "environmentId": format!("/subscriptions/{}/resourceGroups/{GROUP}/providers/Microsoft.App/managedEnvironments/env", h.subscription().id()),
            "configuration": {"triggerType": "Manual", "replicaTimeout": 60},
            "template": {"containers": [{"name": "x", "image": "nginx"}]},
        },
    });
    let created = h
        .fake
        .send_raw(http::Method::PUT, &h.job_path(&j, ""), Some(&body))
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    let error = h.client(&j).await.observe(&desired(&j)).await.unwrap_err();
    assert_eq!(error.reason(), reasons::NAME_TAKEN, "{error}");
    // Deleting the ServerlessJob leaves someone else's job alone.
    assert_eq!(
        h.client(&j).await.delete(&object(&j)).await.unwrap(),
        Deletion::Gone
    );
    assert!(h.held(&j).await.is_some());
}

#[tokio::test]
async fn arm_errors_are_classified_as_the_services_are() {
    let h = Harness::start("caj-errors").await;
    let j = job("flaky", 1, "echo", "");
    h.until_applied(&j).await;
    h.subscription()
        .fail(
            "JobsExecutions_List",
            Fault::Throttled { retry_after: 30 },
            1,
        )
        .await
        .unwrap();
    let error = h.client(&j).await.observe(&desired(&j)).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::Throttled { retry_after: Some(after), .. } if after == Duration::from_secs(30)),
        "{error:?}"
    );
    h.subscription().clear().await.unwrap();
    h.subscription()
        .fail("Jobs_Start", Fault::Status(500), 1)
        .await
        .unwrap();
    let error = h.client(&j).await.start(&desired(&j), 1).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
    // Not retried inside the call: the next look decides.
    assert_eq!(h.subscription().calls().await.unwrap()["Jobs_Start"], 1);
}

#[tokio::test]
async fn a_job_mounting_volumes_checks_its_storage_and_runs_its_own_template_once() {
    let h = Harness::start("caj-volumes").await;
    let j = serverless_job(
        "archive",
        1,
        "{provider: containerApps, containers: [{name: task, image: 'ghcr.io/acme/task:1', \
         command: [sh, -c], args: ['echo done'], volumeMounts: [\
         {name: archive, mountPath: /archive, subPath: daily}, {name: scratch, mountPath: /tmp/w}]}], \
         volumes: [{name: archive, azureFile: {shareName: archive, storageAccount: acmefiles}}, \
                   {name: scratch, emptyDir: {}}]}",
    );
    let want = desired(&j);
    // No storage in the environment: nothing is written, the reason says what to create.
    match h.client(&j).await.apply(&want).await {
        Err(ProviderError::Terminal {
            reason, message, ..
        }) => {
            assert_eq!(reason, reasons::INVALID_SPEC);
            assert!(message.contains("has no storage archive"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.writes().await, BTreeMap::new());
    let storage = json!({"properties": {"azureFile": {"accountName": "acmefiles",
        "accountKey": "a2V5", "shareName": "archive", "accessMode": "ReadWrite"}}});
    let url = h
        .subscription()
        .environment_storage_url(GROUP, "env", "archive");
    let put = h
        .fake
        .send_raw(http::Method::PUT, &url, Some(&storage))
        .await
        .unwrap();
    assert!(put.status.is_success(), "{put:?}");

    let run = h.until_ended(&j, 1).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    let held = h.held(&j).await.unwrap();
    let template = &held["properties"]["template"];
    assert_eq!(
        template["volumes"],
        json!([
            {"name": "archive", "storageType": "AzureFile", "storageName": "archive"},
            {"name": "scratch", "storageType": "EmptyDir"},
        ])
    );
    assert_eq!(
        template["containers"][0]["volumeMounts"],
        json!([
            {"volumeName": "archive", "mountPath": "/archive", "subPath": "daily"},
            {"volumeName": "scratch", "mountPath": "/tmp/w"},
        ])
    );
    // The start carried no containers (they would have lost their mounts): the execution is
    // the job's template, which names the generation.
    let starts: Vec<Value> = h
        .subscription()
        .requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "Jobs_Start")
        .map(|r| r.body)
        .collect();
    assert_eq!(starts, [Value::Null]);
    let executions = h.executions(&j).await.unwrap();
    assert_eq!(executions.len(), 1, "{executions:#?}");
    assert_eq!(env_value(&executions[0], GENERATION_ENV), Some("1"));
    assert_eq!(env_value(&executions[0], RUN_ENV), None);
    // Started again for the generation (a lost answer, a fresh operator): the same run.
    let again = h.client(&j).await.start(&want, 1).await.unwrap();
    assert_eq!(again.name, run.name);
    assert_eq!(h.executions(&j).await.unwrap().len(), 1);
    assert_eq!(
        h.writes().await,
        writes(&[
            ("ManagedEnvironmentsStorages_CreateOrUpdate", 1), // the test's, as the owner
            ("Jobs_CreateOrUpdate", 1),
            ("Jobs_Start", 1),
        ])
    );
}
