//! The Cloud Run job client against the fake Cloud Run Admin API v2 and Cloud Scheduler
//! (`tests/cloudrun-fake`), which check every request against Google's own definitions, run
//! executions by the task-outcome convention (`exit N` fails, `sleep infinity` runs until
//! cancelled, anything else succeeds) and fire schedules on request. Each test uses its own
//! project on one shared fake, so they run in parallel, and describes what the fake holds
//! afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::collections::BTreeMap;
use std::time::Duration;

use cloudrun_fake::{CloudRunFake, Fault};
use ferry_api::conditions::reasons;
use ferry_api::{JobRun, ProviderConfig, RunState, ServerlessJob};
use ferry_core::job::DesiredJob;
use ferry_provider::job::{Definition, JobObservation, Jobs};
use ferry_provider::{Deletion, ProviderError};
use ferry_provider_cloudrun::names::{job_name, run_token};
use ferry_provider_cloudrun::{CloudRun, CloudRunConnector, Settings};
use http::{Method, StatusCode};
use serde_json::{Value, json};

const REGION: &str = "europe-west1";
const ACCOUNT: &str = "reports@ferry-jobs.iam.gserviceaccount.com";

/// One test's project and a connector to the shared fake.
struct Harness {
    fake: &'static CloudRunFake,
    project: String,
    connector: CloudRunConnector,
    config: ProviderConfig,
}

impl Harness {
    async fn start(project: &str) -> Self {
        let fake = CloudRunFake::shared().await.unwrap();
        let config: ProviderConfig = serde_saphyr::from_str(&format!(
            "apiVersion: ferry.dev/v1alpha1\nkind: ProviderConfig\n\
             metadata: {{name: gcp-{project}, resourceVersion: '1'}}\n\
             spec:\n  cloudRun:\n    project: {project}\n    region: {REGION}\n    \
             endpoint: {endpoint}\n    credentials: {{source: Anonymous}}\n",
            endpoint = fake.endpoint()
        ))
        .unwrap();
        // Nothing is read from Kubernetes here: `connect_job_with` is given the ProviderConfig.
        let kube = kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap()))
            .unwrap();
        let connector = CloudRunConnector::new(
            kube,
            Settings {
                call_timeout: Duration::from_secs(10),
                ..Settings::default()
            },
        );
        Self {
            fake,
            project: project.to_owned(),
            connector,
            config,
        }
    }

    fn project(&self) -> cloudrun_fake::Project<'_> {
        self.fake.project(&self.project)
    }

    async fn writes(&self) -> BTreeMap<String, usize> {
        self.project().writes().await.unwrap()
    }

    /// A fresh client, as each reconcile connects anew.
    async fn client(&self, job: &ServerlessJob) -> Jobs {
        self.connector
            .connect_job_with(job, &self.config, None)
            .await
            .unwrap()
    }

    /// `projects/P/locations/R/jobs/ID` of the job named `name` in namespace `shop`, at Cloud
    /// Run and at Cloud Scheduler alike.
    fn name(&self, name: &str) -> String {
        format!(
            "projects/{}/locations/{REGION}/jobs/{}",
            self.project,
            job_name("shop", name)
        )
    }

    /// One reconcile's calls as the job controller makes them: observe; apply when the
    /// definition is missing or stale; advance each running run; start the run of the current
    /// generation when a job without a schedule has none. Answers the observation.
    async fn reconcile(&self, job: &ServerlessJob) -> JobObservation {
        let want = desired(job);
        let client = self.client(job).await;
        let observed = client.observe(&want).await.unwrap();
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
        if want.schedule.is_none()
            && !want.suspend
            && !observed
                .runs
                .iter()
                .any(|r| r.generation == Some(generation))
        {
            client.start(&want, generation).await.unwrap();
        }
        observed
    }

    /// Observes (only) until `done` holds of the runs.
    async fn runs_until(
        &self,
        job: &ServerlessJob,
        done: impl Fn(&[JobRun]) -> bool,
    ) -> Vec<JobRun> {
        let want = desired(job);
        let client = self.client(job).await;
        for _ in 0..20 {
            let observed = client.observe(&want).await.unwrap();
            if done(&observed.runs) {
                return observed.runs;
            }
        }
        panic!("never reached\n{}", self.fake.log());
    }

    /// What the fake answers to a GET of `path` (`/v2/...` or `/v1/...`), and its status.
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let answer = self.fake.send_raw(Method::GET, path, None).await.unwrap();
        (answer.status, answer.body)
    }

    /// The names of the executions the fake holds for the job `name`, newest first.
    async fn executions(&self, name: &str) -> Vec<String> {
        let (status, body) = self
            .get(&format!("/v2/{}/executions", self.name(name)))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["executions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                e["name"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

/// A ServerlessJob `name` in namespace `shop` at `generation`, whose one container runs
/// `sh -c SCRIPT`, with `extra` spec fields (YAML, indented as spec fields).
fn job(name: &str, generation: i64, script: &str, extra: &str) -> ServerlessJob {
    serde_saphyr::from_str(&format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessJob\n\
         metadata: {{name: {name}, namespace: shop, uid: 5c1d2e3f-{name}, generation: {generation}}}\n\
         spec:\n  provider: cloudRun\n  containers:\n  - name: task\n    image: busybox:1.36\n    \
         command: [sh, -c]\n    args: ['{script}']\n{extra}"
    ))
    .unwrap()
}

/// The spec fields of a schedule Cloud Scheduler can run, with `policy`.
fn schedule(policy: &str) -> String {
    format!(
        "  schedule: '*/5 * * * *'\n  concurrencyPolicy: {policy}\n  \
         cloudRun: {{serviceAccount: {ACCOUNT}}}\n"
    )
}

fn desired(job: &ServerlessJob) -> DesiredJob {
    ferry_core::job::validate_job(job, &CloudRun)
        .unwrap_or_else(|e| panic!("the test's job spec is invalid: {e}"))
        .desired
}

fn finished(generation: i64) -> impl Fn(&[JobRun]) -> bool {
    move |runs| {
        runs.iter()
            .any(|r| r.generation == Some(generation) && r.state.is_finished())
    }
}

#[tokio::test]
async fn a_one_off_run_succeeds_and_the_job_holds_the_spec() {
    let h = Harness::start("ferry-job-once").await;
    let report = job(
        "report",
        1,
        "echo done",
        &format!(
            "  taskCount: 2\n  maxRetries: 1\n  timeoutSeconds: 300\n  \
             cloudRun: {{serviceAccount: {ACCOUNT}}}\n"
        ),
    );
    let first = h.reconcile(&report).await;
    assert_eq!(first, JobObservation::default(), "nothing at first");
    assert_eq!(
        h.writes().await,
        BTreeMap::from([("CreateJob".to_owned(), 1), ("UpdateJob".to_owned(), 1)]),
        "the job is created, then updated with the run's token"
    );
    let runs = h.runs_until(&report, finished(1)).await;
    let run = &runs[0];
    let execution = format!(
        "{}-{}",
        job_name("shop", "report"),
        run_token(Some("5c1d2e3f-report"), 1)
    );
    assert_eq!(run.name, execution);
    assert_eq!(
        (run.state, run.succeeded, run.failed, run.active),
        (RunState::Succeeded, 2, 0, 0)
    );
    assert!(
        run.start_time.is_some() && run.completion_time.is_some(),
        "{run:?}"
    );
    assert_eq!(run.reason, None);

    let (status, held) = h.get(&format!("/v2/{}", h.name("report"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(held["labels"]["ferry-uid"], "5c1d2e3f-report");
    assert_eq!(held["labels"]["managed-by"], "ferry");
    let template = &held["template"];
    assert_eq!(template["taskCount"], 2);
    assert_eq!(template["labels"]["ferry-generation"], "1");
    assert_eq!(template["template"]["maxRetries"], 1);
    assert_eq!(template["template"]["timeout"], "300s");
    assert_eq!(template["template"]["serviceAccount"], ACCOUNT);
    assert_eq!(
        template["template"]["containers"][0]["args"],
        json!(["echo done"])
    );
    assert_eq!(h.executions("report").await, [execution]);

    // Up to date and run: the next reconciles read only.
    h.project().clear().await.unwrap();
    for _ in 0..2 {
        let observed = h.reconcile(&report).await;
        assert!(matches!(
            observed.definition,
            Definition::Present {
                up_to_date: true,
                ..
            }
        ));
    }
    assert_eq!(
        h.writes().await,
        BTreeMap::new(),
        "no write when nothing changed"
    );
}

#[tokio::test]
async fn a_failing_run_fails_with_container_failed_after_its_retries() {
    let h = Harness::start("ferry-job-exit").await;
    let broken = job("broken", 1, "exit 1", "  maxRetries: 2\n");
    h.reconcile(&broken).await;
    let runs = h.runs_until(&broken, finished(1)).await;
    let run = &runs[0];
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(run.reason.as_deref(), Some(reasons::CONTAINER_FAILED));
    assert_eq!((run.succeeded, run.failed), (0, 1));
    assert!(
        run.message
            .as_deref()
            .is_some_and(|m| m.contains("0/1 tasks")),
        "Cloud Run's message: {run:?}"
    );
    let (_, execution) = h
        .get(&format!("/v2/{}/executions/{}", h.name("broken"), run.name))
        .await;
    assert_eq!(
        execution["retriedCount"], 1,
        "the task was retried: {execution}"
    );
    assert_eq!(execution["template"]["maxRetries"], 2);
}

#[tokio::test]
async fn starting_a_generation_again_after_a_lost_answer_or_a_crash_leaves_one_execution() {
    let h = Harness::start("ferry-job-crash").await;
    let once = job("once", 1, "sleep infinity", "");
    let want = desired(&once);
    // The start's answer is lost: Cloud Run started the run all the same.
    h.project()
        .fail("UpdateJob", Fault::LostResponse, 1)
        .await
        .unwrap();
    let client = h.client(&once).await;
    assert_eq!(
        client.observe(&want).await.unwrap(),
        JobObservation::default()
    );
    client.apply(&want).await.unwrap();
    assert!(client.start(&want, 1).await.is_err(), "the answer was lost");
    let retried = client.start(&want, 1).await.unwrap();
    drop(client);

    // The operator restarts: a new connector, a new client. Observe finds the run, so the
    // controller would not start it; starting it anyway finds it too.
    let restarted = Harness::start("ferry-job-crash").await;
    let client = restarted.client(&once).await;
    let observed = client.observe(&want).await.unwrap();
    assert_eq!(observed.runs.len(), 1, "{observed:?}");
    assert_eq!(observed.runs[0].name, retried.name);
    assert_eq!(observed.runs[0].generation, Some(1));
    let again = client.start(&want, 1).await.unwrap();
    assert_eq!(again.name, retried.name);
    assert_eq!(
        restarted.executions("once").await,
        std::slice::from_ref(&retried.name)
    );
    assert_eq!(
        h.writes().await.get("UpdateJob"),
        Some(&1),
        "one start reached Cloud Run; the others found its execution"
    );
}

#[tokio::test]
async fn stop_cancels_a_running_run() {
    let h = Harness::start("ferry-job-stop").await;
    let forever = job("forever", 1, "sleep infinity", "");
    h.reconcile(&forever).await;
    let runs = h
        .runs_until(&forever, |runs| runs.iter().any(|r| r.active > 0))
        .await;
    assert_eq!(runs[0].state, RunState::Running);
    let client = h.client(&forever).await;
    client
        .stop(&desired(&forever), &runs[0].name)
        .await
        .unwrap();
    let runs = h.runs_until(&forever, finished(1)).await;
    assert_eq!(runs[0].state, RunState::Stopped);
    assert_eq!(runs[0].reason.as_deref(), Some(reasons::STOPPED));
    assert_eq!(runs[0].active, 0);
    // Stopping what has ended is nothing.
    client
        .stop(&desired(&forever), &runs[0].name)
        .await
        .unwrap();
    assert_eq!(h.writes().await.get("CancelExecution"), Some(&2));
}

#[tokio::test]
async fn a_schedule_is_a_cloud_scheduler_job_and_firing_it_shows_the_run() {
    let h = Harness::start("ferry-job-schedule").await;
    let nightly = job("nightly", 1, "echo report", &schedule("Allow"));
    let first = h.reconcile(&nightly).await;
    assert_eq!(first.definition, Definition::Absent);
    assert_eq!(
        h.writes().await,
        BTreeMap::from([
            ("CreateJob".to_owned(), 1),
            ("CloudScheduler.CreateJob".to_owned(), 1)
        ]),
        "the schedule starts the runs, not Ferry"
    );
    let name = h.name("nightly");
    let (status, held) = h.get(&format!("/v1/{name}")).await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["schedule"], "*/5 * * * *");
    assert_eq!(held["timeZone"], "Etc/UTC");
    assert_eq!(held["state"], "ENABLED");
    assert_eq!(
        held["httpTarget"]["uri"],
        format!("https://run.googleapis.com/v2/{name}:run")
    );
    assert_eq!(held["httpTarget"]["httpMethod"], "POST");
    assert_eq!(
        held["httpTarget"]["oauthToken"]["serviceAccountEmail"],
        ACCOUNT
    );

    assert!(h.fake.fire_schedule(&name).await.unwrap());
    let (_, fired) = h.get(&format!("/v1/{name}")).await;
    assert_eq!(
        fired["status"],
        json!({}),
        "Cloud Run took the request: {fired}"
    );
    let runs = h.runs_until(&nightly, finished(1)).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].state, RunState::Succeeded);
    assert_eq!(
        runs[0].generation,
        Some(1),
        "the generation in force, from its labels"
    );

    h.project().clear().await.unwrap();
    let observed = h.reconcile(&nightly).await;
    assert!(matches!(
        observed.definition,
        Definition::Present {
            up_to_date: true,
            ..
        }
    ));
    assert_eq!(h.writes().await, BTreeMap::new(), "up to date: reads only");
}

#[tokio::test]
async fn suspend_pauses_the_schedule_and_resuming_it_runs_again() {
    let h = Harness::start("ferry-job-suspend").await;
    let name = h.name("weekly");
    h.reconcile(&job("weekly", 1, "echo report", &schedule("Allow")))
        .await;
    let suspended = job(
        "weekly",
        2,
        "echo report",
        &format!("{}  suspend: true\n", schedule("Allow")),
    );
    h.reconcile(&suspended).await;
    let (_, held) = h.get(&format!("/v1/{name}")).await;
    assert_eq!(held["state"], "PAUSED");
    assert!(
        !h.fake.fire_schedule(&name).await.unwrap(),
        "a paused schedule starts nothing"
    );
    assert_eq!(h.executions("weekly").await, Vec::<String>::new());
    let observed = h.reconcile(&suspended).await;
    assert!(matches!(
        observed.definition,
        Definition::Present {
            up_to_date: true,
            ..
        }
    ));

    h.reconcile(&job("weekly", 3, "echo report", &schedule("Allow")))
        .await;
    let (_, held) = h.get(&format!("/v1/{name}")).await;
    assert_eq!(held["state"], "ENABLED");
    assert!(h.fake.fire_schedule(&name).await.unwrap());
    assert_eq!(h.executions("weekly").await.len(), 1);
    let writes = h.writes().await;
    assert_eq!(writes.get("CloudScheduler.PauseJob"), Some(&1));
    assert_eq!(writes.get("CloudScheduler.ResumeJob"), Some(&1));
}

#[tokio::test]
async fn replace_cancels_the_earlier_scheduled_run_once_a_newer_one_runs() {
    let h = Harness::start("ferry-job-replace").await;
    let name = h.name("sync");
    let sync = job("sync", 1, "sleep infinity", &schedule("Replace"));
    h.reconcile(&sync).await;
    assert!(h.fake.fire_schedule(&name).await.unwrap());
    let runs = h
        .runs_until(&sync, |runs| runs.iter().any(|r| r.active > 0))
        .await;
    let earlier = runs[0].name.clone();
    assert!(h.fake.fire_schedule(&name).await.unwrap());
    // Two run now; the reconcile's advance cancels the earlier.
    let observed = h.reconcile(&sync).await;
    assert_eq!(observed.runs.len(), 2, "{observed:?}");
    assert_eq!(h.writes().await.get("CancelExecution"), Some(&1));
    let runs = h
        .runs_until(&sync, |runs| {
            runs.iter()
                .any(|r| r.name == earlier && r.state.is_finished())
        })
        .await;
    let (newer, older) = (&runs[0], &runs[1]);
    assert_eq!(older.name, earlier);
    assert_eq!(older.state, RunState::Stopped);
    assert_eq!(newer.state, RunState::Running, "the newer run goes on");
    // Nothing more to replace: no second cancel.
    h.reconcile(&sync).await;
    assert_eq!(h.writes().await.get("CancelExecution"), Some(&1));
}

#[tokio::test]
async fn removing_the_schedule_deletes_the_scheduler_job() {
    let h = Harness::start("ferry-job-unschedule").await;
    let name = h.name("hourly");
    h.reconcile(&job("hourly", 1, "echo report", &schedule("Allow")))
        .await;
    assert_eq!(h.get(&format!("/v1/{name}")).await.0, StatusCode::OK);
    let plain = job("hourly", 2, "echo report", "");
    let observed = h.reconcile(&plain).await;
    assert!(
        matches!(
            observed.definition,
            Definition::Present {
                up_to_date: false,
                ..
            }
        ),
        "the job's fingerprint says it had a schedule"
    );
    assert_eq!(h.get(&format!("/v1/{name}")).await.0, StatusCode::NOT_FOUND);
    let writes = h.writes().await;
    assert_eq!(writes.get("CloudScheduler.DeleteJob"), Some(&1));
    // Without a schedule, the run of the generation is Ferry's to start.
    let runs = h.runs_until(&plain, finished(2)).await;
    assert_eq!(runs[0].state, RunState::Succeeded);
}

#[tokio::test]
async fn a_spec_change_updates_the_job_with_its_etag_and_runs_the_new_generation() {
    let h = Harness::start("ferry-job-change").await;
    h.reconcile(&job("etl", 1, "echo v1", "")).await;
    h.runs_until(&job("etl", 1, "echo v1", ""), finished(1))
        .await;
    h.project().clear().await.unwrap();
    let changed = job("etl", 2, "echo v2", "");
    h.reconcile(&changed).await;
    let requests = h.project().requests().await.unwrap();
    let updates: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "UpdateJob")
        .collect();
    assert_eq!(updates.len(), 2, "the definition, then the run");
    assert!(
        !updates[0].body["etag"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "the definition's update carries the etag it saw: {}",
        updates[0].body
    );
    assert_eq!(
        updates[1].body["startExecutionToken"],
        run_token(Some("5c1d2e3f-etl"), 2).as_str()
    );
    let runs = h.runs_until(&changed, finished(2)).await;
    let generations: Vec<_> = runs.iter().map(|r| r.generation).collect();
    assert_eq!(generations, [Some(2), Some(1)], "newest first");
    assert_eq!(h.executions("etl").await.len(), 2);
}

#[tokio::test]
async fn delete_stops_the_runs_and_removes_the_job_its_schedule_and_its_executions() {
    let h = Harness::start("ferry-job-delete").await;
    let name = h.name("gone");
    let gone = job("gone", 1, "sleep infinity", &schedule("Allow"));
    h.reconcile(&gone).await;
    assert!(h.fake.fire_schedule(&name).await.unwrap());
    let runs = h
        .runs_until(&gone, |runs| runs.iter().any(|r| r.active > 0))
        .await;
    let client = h.client(&gone).await;
    let object = desired(&gone).object;
    let mut rounds = 0;
    while client.delete(&object).await.unwrap() == Deletion::InProgress {
        rounds += 1;
        assert!(rounds < 10);
    }
    let writes = h.writes().await;
    assert_eq!(writes.get("CancelExecution"), Some(&1), "{writes:?}");
    assert_eq!(writes.get("DeleteJob"), Some(&1));
    assert_eq!(writes.get("CloudScheduler.DeleteJob"), Some(&1));
    assert_eq!(h.get(&format!("/v2/{name}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.get(&format!("/v1/{name}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        h.get(&format!("/v2/{name}/executions/{}", runs[0].name))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    h.project().clear().await.unwrap();
    assert_eq!(client.delete(&object).await.unwrap(), Deletion::Gone);
    assert_eq!(h.writes().await, BTreeMap::new());
}

#[tokio::test]
async fn release_leaves_the_job_and_its_schedule_to_be_adopted() {
    let h = Harness::start("ferry-job-orphan").await;
    let name = h.name("kept");
    let kept = job(
        "kept",
        1,
        "echo report",
        &format!("{}  deletionPolicy: Orphan\n", schedule("Allow")),
    );
    h.reconcile(&kept).await;
    assert!(h.fake.fire_schedule(&name).await.unwrap());
    let client = h.client(&kept).await;
    client.release(&desired(&kept).object).await.unwrap();

    let (_, held) = h.get(&format!("/v2/{name}")).await;
    assert!(held["labels"].get("ferry-uid").is_none(), "{held}");
    assert_eq!(held["labels"]["managed-by"], "ferry");
    assert!(held.get("startExecutionToken").is_none());
    let (_, scheduler) = h.get(&format!("/v1/{name}")).await;
    assert!(
        !scheduler["description"]
            .as_str()
            .unwrap()
            .contains("ferry-uid"),
        "{scheduler}"
    );
    assert_eq!(scheduler["state"], "ENABLED", "it goes on running");
    assert_eq!(h.executions("kept").await.len(), 1, "its runs stay");

    // A new object of the same name adopts both; the old object's run is not its own.
    let mut adopter = job("kept", 1, "echo report", &schedule("Allow"));
    adopter.metadata.uid = Some("0a0b0c0d-adopter".into());
    let observed = h.reconcile(&adopter).await;
    assert!(observed.runs.is_empty(), "{observed:?}");
    let (_, held) = h.get(&format!("/v2/{name}")).await;
    assert_eq!(held["labels"]["ferry-uid"], "0a0b0c0d-adopter");
    let (_, scheduler) = h.get(&format!("/v1/{name}")).await;
    assert!(
        scheduler["description"]
            .as_str()
            .unwrap()
            .contains("ferry-uid=0a0b0c0d-adopter")
    );
}

#[tokio::test]
async fn a_job_someone_else_made_is_name_taken_and_left_alone() {
    let h = Harness::start("ferry-job-taken").await;
    let theirs = job("theirs", 1, "echo hi", "");
    let answer = h
        .fake
        .send_raw(
            Method::POST,
            &format!(
                "/v2/projects/{}/locations/{REGION}/jobs?jobId={}",
                h.project,
                job_name("shop", "theirs")
            ),
            Some(&json!({"template": {"template": {"containers": [{"image": "busybox"}]}}})),
        )
        .await
        .unwrap();
    assert!(answer.status.is_success(), "{:?}", answer.body);
    let client = h.client(&theirs).await;
    match client.observe(&desired(&theirs)).await {
        Err(ProviderError::Terminal { reason, .. }) => assert_eq!(reason, reasons::NAME_TAKEN),
        other => panic!("{other:?}"),
    }
    h.project().clear().await.unwrap();
    assert_eq!(
        client.delete(&desired(&theirs).object).await.unwrap(),
        Deletion::Gone
    );
    assert_eq!(
        h.writes().await,
        BTreeMap::new(),
        "someone else's job is not touched"
    );
}
