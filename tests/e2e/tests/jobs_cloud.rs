//! ServerlessJobs on the cloud backends, end to end: the real `ferry controller` process against
//! the stand-in API server (or a real cluster with `FERRY_E2E_KUBECONFIG`), pointed at each
//! cloud's stand-in through a ProviderConfig `endpoint`. For each: a run of the spec succeeds
//! and is recorded, once; a run whose container fails is retried as `maxRetries` says (by Ferry
//! on Fargate, by the provider on Cloud Run and Container Apps), then fails with its reason and
//! is not run again; an operator killed after it started a run it could not record (its status
//! writes fail on the stand-in) leaves exactly one run at the provider once another operator has
//! taken over; and a schedule fires its job, `suspend` pauses it (a firing starts nothing) and
//! resuming restores it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::time::Duration;

use azure_fake::AzureFake;
use cloudrun_fake::CloudRunFake;
use e2e::{
    Cluster, Ferry, MANAGER, Operator, ProviderConfigCleanup, Scene, TestNamespace, wait_for,
};
use ferry_api::{RunState, ServerlessJob, ServerlessService};
use http::Method;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube_standin::{Fault, Matcher, Remote, Rule};
use moto_standin::Moto;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(90);
const API_VERSION: &str = "2026-01-01";

/// One test's namespace, its ProviderConfig and an operator watching only it.
struct Scenario {
    _config_cleanup: ProviderConfigCleanup,
    cluster: &'static Cluster,
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    config: String,
}

impl Scene for Scenario {
    const WAIT: Duration = WAIT;

    fn operator(&self) -> &Operator {
        &self.operator
    }

    fn ssvs(&self) -> Api<ServerlessService> {
        Api::namespaced(self.client.clone(), self.ns())
    }
}

impl Scenario {
    /// A scenario whose ProviderConfig `config(name, namespace)` makes.
    async fn start(prefix: &str, config: impl FnOnce(&str, &str) -> Value) -> Self {
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, prefix).await.unwrap();
        let ns = namespace.name().to_owned();
        let client = cluster.client().await.unwrap();
        let name = format!("{prefix}-{ns}");
        e2e::put_provider_config(
            &client,
            config(&name, &ns),
            &json!({"allowedNamespaces": [ns]}),
        )
        .await
        .unwrap();
        Self {
            _config_cleanup: ProviderConfigCleanup::new(cluster, &name),
            cluster,
            operator: Ferry::spawn_confined(cluster, &ns).unwrap(),
            client,
            namespace,
            config: name,
        }
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    fn sjobs(&self) -> Api<ServerlessJob> {
        Api::namespaced(self.client.clone(), self.ns())
    }

    async fn apply(&self, name: &str, provider: &str, command: &str, extra: &Value) {
        let mut spec = json!({
            "provider": provider,
            "providerConfigRef": {"name": self.config},
            // The shell's words in `args`: every stand-in reads the run's fate from the
            // container's command and arguments, and ECS's `command` is Ferry's `args`.
            "containers": [{"name": "task", "image": "ghcr.io/acme/task:1",
                            "command": ["sh", "-c"], "args": [command],
                            "resources": {"cpu": "250m", "memory": "512Mi"}}],
        });
        if provider == "cloudRun" {
            // A Cloud Run job's instance has at least 1 vCPU.
            spec["containers"][0]["resources"]["cpu"] = json!("1");
        }
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        let object = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessJob",
                            "metadata": {"name": name}, "spec": spec});
        self.sjobs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
    }

    async fn sjob(
        &self,
        name: &str,
        what: &str,
        ok: impl Fn(&ServerlessJob) -> bool,
    ) -> ServerlessJob {
        let found = wait_for(&self.sjobs(), name, WAIT, what, |job: &ServerlessJob| {
            job.status.as_ref().and_then(|s| s.observed_generation) == job.metadata.generation
                && ok(job)
        })
        .await;
        self.check(found)
    }

    /// Until the run of `name` succeeded.
    async fn succeeded(&self, name: &str) -> ServerlessJob {
        self.sjob(name, "the run to succeed", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.last_run.as_ref())
                .is_some_and(|r| r.state == RunState::Succeeded)
                && condition(j, "Complete") == Some(("True", "Succeeded"))
        })
        .await
    }

    /// Until the run of `name` failed.
    async fn failed(&self, name: &str) -> ServerlessJob {
        self.sjob(name, "the run to fail", |j| {
            condition(j, "Failed").is_some_and(|(status, _)| status == "True")
        })
        .await
    }

    /// Fails every status write of the operator on the stand-in (`None` on a real cluster,
    /// where the kill lands wherever it lands).
    async fn fail_status_writes(&self) -> Option<(Remote, u64)> {
        if !self.cluster.is_standin() {
            return None;
        }
        let api = Remote::from_kubeconfig(self.cluster.kubeconfig()).unwrap();
        let user = format!("system:serviceaccount:{}:ferry", self.ns());
        let rule = Rule::randomly(
            Fault::InternalError,
            Matcher::writes("serverlessjobs")
                .subresource("status")
                .user(&user),
            1.0,
            0,
        );
        let id = api.add(&rule).await.unwrap();
        Some((api, id))
    }

    /// Kills the operator (SIGKILL), starts another, and lifts `fault`.
    async fn crash(&mut self, fault: Option<(Remote, u64)>) {
        self.operator.kill();
        self.operator = Ferry::spawn_confined(self.cluster, self.ns()).unwrap();
        if let Some((api, id)) = fault {
            api.remove(id).await.unwrap();
        }
    }
}

fn condition<'a>(job: &'a ServerlessJob, type_: &str) -> Option<(&'a str, &'a str)> {
    let c = job
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status.as_str(), c.reason.as_str()))
}

/// A command that fails on every stand-in: it exits 3.
const FAILING: &str = "echo start; exit 3";

/// Asserts that `job`'s one run, of its first generation, failed with `failed` tasks failed
/// because its container exited non-zero on every try: `ContainerFailed` on `Failed`, `Ready`
/// and `Stalled`, as a one-off run that failed reads (crates/core/src/job/status.rs).
fn assert_failed_run(job: &ServerlessJob, failed: i32) {
    for (type_, status) in [
        ("Failed", "True"),
        ("Complete", "False"),
        ("Ready", "False"),
        ("Stalled", "True"),
    ] {
        assert_eq!(
            condition(job, type_),
            Some((status, "ContainerFailed")),
            "{type_}: {:?}",
            job.status
        );
    }
    let status = job.status.as_ref().unwrap();
    let last = status.last_run.as_ref().unwrap();
    assert_eq!(last.state, RunState::Failed);
    assert_eq!(last.generation, Some(1));
    assert_eq!((last.succeeded, last.failed, last.active), (0, failed, 0));
    assert_eq!(status.runs.len(), 1, "{:?}", status.runs);
}

/// Waits until `count` (what the provider holds) reaches `at_least`.
async fn until_at_least(what: &str, at_least: usize, count: impl AsyncFn() -> usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let n = count().await;
        if n >= at_least {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {n} after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- Azure Container Apps ---------------------------------------------------------------------

async fn azure_scenario(prefix: &str) -> (Scenario, &'static AzureFake) {
    let fake = AzureFake::shared().await.unwrap();
    let endpoint = fake.endpoint();
    let scenario = Scenario::start(prefix, |name, ns| {
        e2e::azure_provider_config(name, fake.subscription(ns).id(), &endpoint)
    })
    .await;
    (scenario, fake)
}

/// The executions the fake holds of the Container Apps job `id`.
async fn executions(fake: &AzureFake, id: &str) -> Vec<Value> {
    let answer = fake
        .send_raw(
            Method::GET,
            &format!("{id}/executions?api-version={API_VERSION}"),
            None,
        )
        .await
        .unwrap();
    answer.body["value"].as_array().cloned().unwrap_or_default()
}

fn resource_id(job: &ServerlessJob) -> String {
    job.status
        .as_ref()
        .unwrap()
        .resource_ref
        .as_ref()
        .unwrap()
        .id
        .clone()
}

#[tokio::test]
async fn a_container_apps_job_runs_its_spec_once() {
    let (s, fake) = azure_scenario("aca-job").await;
    s.apply("report", "containerApps", "echo report", &json!({}))
        .await;
    let done = s.succeeded("report").await;
    let id = resource_id(&done);
    assert!(id.contains("/providers/Microsoft.App/jobs/"), "{id}");
    assert_eq!(executions(fake, &id).await.len(), 1);
    assert_eq!(done.status.unwrap().runs.len(), 1);
    // Idle: nothing more starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(executions(fake, &id).await.len(), 1);
}

#[tokio::test]
async fn a_container_apps_run_started_by_a_killed_operator_is_never_started_again() {
    let (mut s, fake) = azure_scenario("aca-crash").await;
    let subscription = fake.subscription(s.ns());
    let fault = s.fail_status_writes().await;
    s.apply("once", "containerApps", "sleep infinity", &json!({}))
        .await;
    until_at_least("Jobs_Start calls", 1, async || {
        subscription
            .writes()
            .await
            .unwrap()
            .get("Jobs_Start")
            .copied()
            .unwrap_or(0)
    })
    .await;
    s.crash(fault).await;
    let recorded = s
        .sjob("once", "the restarted operator to record the run", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.last_run.as_ref())
                .is_some()
        })
        .await;
    let id = resource_id(&recorded);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        executions(fake, &id).await.len(),
        1,
        "exactly one run at Azure"
    );
    assert_eq!(
        subscription.writes().await.unwrap().get("Jobs_Start"),
        Some(&1)
    );
}

/// The Container Apps job `id` as the fake holds it.
async fn azure_job(fake: &AzureFake, id: &str) -> Value {
    let answer = fake
        .send_raw(
            Method::GET,
            &format!("{id}?api-version={API_VERSION}"),
            None,
        )
        .await
        .unwrap();
    assert!(answer.status.is_success(), "{id}: {answer:?}");
    answer.body
}

#[tokio::test]
async fn a_failing_container_apps_run_is_retried_by_its_replica_retry_limit_then_fails() {
    let (s, fake) = azure_scenario("aca-fail").await;
    s.apply(
        "broken",
        "containerApps",
        FAILING,
        &json!({"maxRetries": 1}),
    )
    .await;
    let failed = s.failed("broken").await;
    assert_failed_run(&failed, 1);
    // Container Apps retries a failed replica itself, within the one execution.
    let id = resource_id(&failed);
    let job = azure_job(fake, &id).await;
    assert_eq!(
        job["properties"]["configuration"]["replicaRetryLimit"],
        json!(1)
    );
    let ran = executions(fake, &id).await;
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert_eq!(ran[0]["properties"]["status"], json!("Failed"));
    // A failed run is not run again until the spec changes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(executions(fake, &id).await.len(), 1);
    let after = s.sjobs().get("broken").await.unwrap();
    assert_eq!(after.status.unwrap().runs.len(), 1);
}

// ---- Google Cloud Run -------------------------------------------------------------------------

async fn cloud_run_scenario(prefix: &str) -> (Scenario, &'static CloudRunFake, String) {
    let fake = CloudRunFake::shared().await.unwrap();
    let endpoint = fake.endpoint();
    let mut project = String::new();
    let scenario = Scenario::start(prefix, |name, ns| {
        // Project IDs are at most 30 characters: the namespace's random suffix keeps runs apart.
        project = format!("ferry-e2e-{}", ns.rsplit('-').next().unwrap_or_default());
        e2e::cloud_run_provider_config(name, &project, &endpoint)
    })
    .await;
    (scenario, fake, project)
}

/// The executions the fake holds of the Cloud Run job `name` (`projects/P/locations/R/jobs/J`).
async fn cloud_run_executions(fake: &CloudRunFake, name: &str) -> Vec<Value> {
    let answer = fake
        .send_raw(Method::GET, &format!("/v2/{name}/executions"), None)
        .await
        .unwrap();
    answer.body["executions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_cloud_run_job_runs_its_spec_once() {
    let (s, fake, _) = cloud_run_scenario("run-job").await;
    s.apply("report", "cloudRun", "echo report", &json!({}))
        .await;
    let done = s.succeeded("report").await;
    let id = resource_id(&done);
    assert!(id.contains("/jobs/"), "{id}");
    assert_eq!(cloud_run_executions(fake, &id).await.len(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(cloud_run_executions(fake, &id).await.len(), 1);
    assert_eq!(done.status.unwrap().runs.len(), 1);
}

#[tokio::test]
async fn a_cloud_run_run_started_by_a_killed_operator_is_never_started_again() {
    let (mut s, fake, project) = cloud_run_scenario("run-crash").await;
    let fault = s.fail_status_writes().await;
    s.apply("once", "cloudRun", "sleep infinity", &json!({}))
        .await;
    let location = format!("projects/{project}/locations/europe-west1");
    until_at_least("executions", 1, async || {
        let answer = fake
            .send_raw(
                Method::GET,
                &format!("/v2/{location}/jobs/-/executions"),
                None,
            )
            .await
            .unwrap();
        answer.body["executions"].as_array().map_or(0, Vec::len)
    })
    .await;
    s.crash(fault).await;
    let recorded = s
        .sjob("once", "the restarted operator to record the run", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.last_run.as_ref())
                .is_some()
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let id = resource_id(&recorded);
    assert_eq!(
        cloud_run_executions(fake, &id).await.len(),
        1,
        "exactly one execution"
    );
}

#[tokio::test]
async fn a_failing_cloud_run_run_is_retried_within_its_execution_then_fails() {
    let (s, fake, _) = cloud_run_scenario("run-fail").await;
    s.apply("broken", "cloudRun", FAILING, &json!({"maxRetries": 1}))
        .await;
    let failed = s.failed("broken").await;
    assert_failed_run(&failed, 1);
    // Cloud Run retries a failed task itself, within the one execution.
    let id = resource_id(&failed);
    let job = fake
        .send_raw(Method::GET, &format!("/v2/{id}"), None)
        .await
        .unwrap()
        .body;
    assert_eq!(job["template"]["template"]["maxRetries"], json!(1), "{job}");
    let ran = cloud_run_executions(fake, &id).await;
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert_eq!(ran[0]["failedCount"], json!(1), "{}", ran[0]);
    assert_eq!(ran[0]["retriedCount"], json!(1), "{}", ran[0]);
    // A failed run is not run again until the spec changes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(cloud_run_executions(fake, &id).await.len(), 1);
    let after = s.sjobs().get("broken").await.unwrap();
    assert_eq!(after.status.unwrap().runs.len(), 1);
}

// ---- AWS Fargate ------------------------------------------------------------------------------

/// The role of the ProviderConfig's `fargate.schedulerRoleArn`.
const SCHEDULER_ROLE: &str = "arn:aws:iam::123456789012:role/ferry-e2e-scheduler";

async fn fargate_scenario(prefix: &str) -> (Scenario, aws_sdk_ecs::Client, String) {
    let moto = Moto::shared().await.unwrap();
    let ecs = aws_sdk_ecs::Client::new(&moto_standin::sdk_config(&moto.endpoint()).await);
    let mut cluster = String::new();
    let endpoint = moto.endpoint();
    let scenario = Scenario::start(prefix, |name, ns| {
        cluster = format!("ecs-{ns}");
        let mut config = e2e::fargate_provider_config(name, &cluster, &endpoint, ns);
        // The role EventBridge Scheduler starts a schedule's tasks as (moto checks none).
        config["spec"]["fargate"]["schedulerRoleArn"] = json!(SCHEDULER_ROLE);
        config
    })
    .await;
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    e2e::put_aws_secret(&scenario.client, scenario.ns(), "AKIDJOBS")
        .await
        .unwrap();
    (scenario, ecs, cluster)
}

/// Every task moto holds in `cluster`, running or stopped.
async fn tasks(ecs: &aws_sdk_ecs::Client, cluster: &str) -> usize {
    let mut n = 0;
    for status in [
        aws_sdk_ecs::types::DesiredStatus::Running,
        aws_sdk_ecs::types::DesiredStatus::Stopped,
    ] {
        n += ecs
            .list_tasks()
            .cluster(cluster)
            .desired_status(status)
            .send()
            .await
            .unwrap()
            .task_arns()
            .len();
    }
    n
}

#[tokio::test]
async fn a_fargate_job_runs_its_spec_once() {
    let (s, ecs, cluster) = fargate_scenario("ecs-job").await;
    s.apply("report", "fargate", "echo report", &json!({}))
        .await;
    let done = s.succeeded("report").await;
    assert_eq!(tasks(&ecs, &cluster).await, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(tasks(&ecs, &cluster).await, 1);
    assert_eq!(done.status.unwrap().runs.len(), 1);
}

#[tokio::test]
async fn a_fargate_run_started_by_a_killed_operator_is_never_started_again() {
    let (mut s, ecs, cluster) = fargate_scenario("ecs-crash").await;
    let fault = s.fail_status_writes().await;
    s.apply(
        "once",
        "fargate",
        "sleep infinity",
        &json!({"taskCount": 2}),
    )
    .await;
    until_at_least("tasks", 2, async || tasks(&ecs, &cluster).await).await;
    s.crash(fault).await;
    s.sjob("once", "the restarted operator to record the run", |j| {
        j.status
            .as_ref()
            .and_then(|s| s.last_run.as_ref())
            .is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        tasks(&ecs, &cluster).await,
        2,
        "exactly the run's two tasks"
    );
}

/// Every task moto holds in `cluster`, running or stopped, described.
async fn described_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Vec<aws_sdk_ecs::types::Task> {
    let mut arns = Vec::new();
    for status in [
        aws_sdk_ecs::types::DesiredStatus::Running,
        aws_sdk_ecs::types::DesiredStatus::Stopped,
    ] {
        let listed = ecs
            .list_tasks()
            .cluster(cluster)
            .desired_status(status)
            .send()
            .await
            .unwrap();
        arns.extend(listed.task_arns().iter().cloned());
    }
    if arns.is_empty() {
        return Vec::new();
    }
    ecs.describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .unwrap()
        .tasks()
        .to_vec()
}

#[tokio::test]
async fn a_failing_fargate_run_is_retried_by_ferry_per_task_then_fails() {
    let (s, ecs, cluster) = fargate_scenario("ecs-fail").await;
    s.apply(
        "broken",
        "fargate",
        FAILING,
        &json!({"taskCount": 2, "maxRetries": 1}),
    )
    .await;
    let failed = s.failed("broken").await;
    assert_failed_run(&failed, 2);
    let message = failed
        .status
        .as_ref()
        .unwrap()
        .last_run
        .as_ref()
        .unwrap()
        .message
        .clone();
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("after 2 attempts")),
        "{message:?}"
    );
    // ECS runs no retries: Ferry started each task again once, so moto holds
    // taskCount * (1 + maxRetries) tasks, each of which exited 3. Their ECS task group says which
    // (`ferry:UID:GENERATION:INDEX:ATTEMPT:COUNT`).
    let described = described_tasks(&ecs, &cluster).await;
    let mut slots: Vec<String> = described
        .iter()
        .map(|task| {
            assert_eq!(task.desired_status(), Some("STOPPED"), "{task:?}");
            for container in task.containers() {
                assert_eq!(container.exit_code(), Some(3), "{task:?}");
            }
            let group = task.group().unwrap_or_default();
            group.splitn(4, ':').nth(3).unwrap_or(group).to_owned()
        })
        .collect();
    slots.sort();
    assert_eq!(slots, ["0:0:2", "0:1:2", "1:0:2", "1:1:2"]);
    // A failed run is not run again until the spec changes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(tasks(&ecs, &cluster).await, 4);
    let after = s.sjobs().get("broken").await.unwrap();
    assert_eq!(after.status.unwrap().runs.len(), 1);
}

// ---- Schedules that fire ----------------------------------------------------------------------

/// Until `name` is Scheduled and a run of its schedule succeeded.
async fn scheduled_run_succeeded(s: &Scenario, name: &str) -> ServerlessJob {
    s.sjob(name, "a scheduled run to succeed", |j| {
        condition(j, "Ready") == Some(("True", "Scheduled"))
            && condition(j, "Complete") == Some(("True", "Succeeded"))
    })
    .await
}

#[tokio::test]
async fn a_cloud_run_schedule_fires_its_job() {
    let (s, fake, _) = cloud_run_scenario("run-cron").await;
    let extra = json!({"schedule": "0 3 * * *", "concurrencyPolicy": "Allow",
                       "cloudRun": {"serviceAccount": "jobs@ferry-e2e.iam.gserviceaccount.com"}});
    s.apply("nightly", "cloudRun", "echo nightly", &extra).await;
    let scheduled = s
        .sjob("nightly", "the schedule to be in place", |j| {
            condition(j, "Ready") == Some(("True", "Scheduled"))
        })
        .await;
    let id = resource_id(&scheduled);
    assert!(
        cloud_run_executions(fake, &id).await.is_empty(),
        "nothing runs before it fires"
    );
    // Cloud Scheduler's job has the Cloud Run job's id, in its region.
    assert!(
        fake.fire_schedule(&id).await.unwrap(),
        "the scheduler job ran"
    );
    let ran = scheduled_run_succeeded(&s, "nightly").await;
    assert_eq!(cloud_run_executions(fake, &id).await.len(), 1);
    assert_eq!(ran.status.unwrap().last_run.unwrap().generation, Some(1));
}

#[tokio::test]
async fn a_container_apps_schedule_fires_its_job() {
    let (s, fake) = azure_scenario("aca-cron").await;
    s.apply(
        "nightly",
        "containerApps",
        "echo nightly",
        &json!({"schedule": "0 3 * * *"}),
    )
    .await;
    let scheduled = s
        .sjob("nightly", "the schedule to be in place", |j| {
            condition(j, "Ready") == Some(("True", "Scheduled"))
        })
        .await;
    let id = resource_id(&scheduled);
    let mut segments = id.rsplit('/');
    let name = segments.next().unwrap().to_owned();
    let group = id.split('/').nth(4).unwrap().to_owned();
    // The job may still be provisioning: the fake fires only a provisioned one.
    let subscription = fake.subscription(s.ns());
    let deadline = tokio::time::Instant::now() + WAIT;
    while subscription.fire_job(&group, &name).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job never fired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    scheduled_run_succeeded(&s, "nightly").await;
    assert_eq!(executions(fake, &id).await.len(), 1);
}

// ---- Suspend ----------------------------------------------------------------------------------

/// A cloud's scheduler, as the suspend scenario reads and fires it.
trait Scheduler {
    /// The state of `job`'s schedule at the provider, in the provider's words.
    async fn state(&self, job: &ServerlessJob) -> String;
    /// Fires `job`'s schedule as its time coming would: whether that started a run.
    async fn fire(&self, job: &ServerlessJob) -> bool;
    /// How many runs of `job` the provider holds.
    async fn runs(&self, job: &ServerlessJob) -> usize;
}

/// Until `scheduler` reports `job`'s schedule in `state`.
async fn until_state(scheduler: &impl Scheduler, job: &ServerlessJob, state: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = scheduler.state(job).await;
        if now == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the schedule is {now}, not {state}, after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Applies a job on `provider` with the daily schedule and `extra`: once Scheduled, its schedule
/// is `enabled` at the provider. Suspended, it reads Suspended, its schedule is `paused`, and a
/// firing starts nothing. Resumed, it is Scheduled and `enabled` again, and a firing runs the
/// resumed spec to success.
async fn suspend_pauses_the_schedule_until_resumed(
    s: &Scenario,
    provider: &str,
    extra: &Value,
    scheduler: &impl Scheduler,
    (enabled, paused): (&str, &str),
) {
    let mut spec = extra.clone();
    spec["schedule"] = json!("0 3 * * *");
    s.apply("nightly", provider, "echo nightly", &spec).await;
    let in_place = s
        .sjob("nightly", "the schedule to be in place", |j| {
            condition(j, "Ready") == Some(("True", "Scheduled"))
        })
        .await;
    until_state(scheduler, &in_place, enabled).await;

    spec["suspend"] = json!(true);
    s.apply("nightly", provider, "echo nightly", &spec).await;
    let suspended = s
        .sjob("nightly", "the job to be suspended", |j| {
            condition(j, "Ready") == Some(("True", "Suspended"))
        })
        .await;
    until_state(scheduler, &suspended, paused).await;
    assert!(
        !scheduler.fire(&suspended).await,
        "the suspended job's schedule started a run"
    );
    assert_eq!(scheduler.runs(&suspended).await, 0);
    let idle = s.sjobs().get("nightly").await.unwrap();
    assert_eq!(condition(&idle, "Ready"), Some(("True", "Suspended")));
    assert!(idle.status.unwrap().runs.is_empty());

    spec["suspend"] = json!(false);
    s.apply("nightly", provider, "echo nightly", &spec).await;
    let resumed = s
        .sjob("nightly", "the schedule to be resumed", |j| {
            condition(j, "Ready") == Some(("True", "Scheduled"))
        })
        .await;
    until_state(scheduler, &resumed, enabled).await;
    assert!(
        scheduler.fire(&resumed).await,
        "the resumed schedule started no run"
    );
    let ran = scheduled_run_succeeded(s, "nightly").await;
    assert_eq!(scheduler.runs(&ran).await, 1);
    let status = ran.status.unwrap();
    assert_eq!(status.runs.len(), 1, "{:?}", status.runs);
    assert_eq!(status.last_run.unwrap().generation, Some(3));
}

/// Cloud Scheduler in the Cloud Run fake: the scheduler job has the Cloud Run job's name.
struct CloudScheduler(&'static CloudRunFake);

impl Scheduler for CloudScheduler {
    async fn state(&self, job: &ServerlessJob) -> String {
        let name = resource_id(job);
        let answer = self
            .0
            .send_raw(Method::GET, &format!("/v1/{name}"), None)
            .await
            .unwrap();
        answer.body["state"].as_str().unwrap_or("none").to_owned()
    }

    async fn fire(&self, job: &ServerlessJob) -> bool {
        self.0.fire_schedule(&resource_id(job)).await.unwrap()
    }

    async fn runs(&self, job: &ServerlessJob) -> usize {
        cloud_run_executions(self.0, &resource_id(job)).await.len()
    }
}

#[tokio::test]
async fn a_suspended_cloud_run_job_pauses_its_cloud_scheduler_job_until_resumed() {
    let (s, fake, _) = cloud_run_scenario("run-suspend").await;
    let extra = json!({"concurrencyPolicy": "Allow",
                       "cloudRun": {"serviceAccount": "jobs@ferry-e2e.iam.gserviceaccount.com"}});
    suspend_pauses_the_schedule_until_resumed(
        &s,
        "cloudRun",
        &extra,
        &CloudScheduler(fake),
        ("ENABLED", "PAUSED"),
    )
    .await;
}

/// A Container Apps job's trigger in the Azure fake (Container Apps cannot pause a schedule:
/// Ferry makes a suspended job `Manual`, which starts nothing by itself).
struct ContainerAppsTrigger(&'static AzureFake);

impl Scheduler for ContainerAppsTrigger {
    async fn state(&self, job: &ServerlessJob) -> String {
        let properties = &azure_job(self.0, &resource_id(job)).await["properties"];
        match properties["provisioningState"].as_str() {
            Some("Succeeded") => properties["configuration"]["triggerType"]
                .as_str()
                .unwrap_or("none")
                .to_owned(),
            other => format!("provisioning ({other:?})"),
        }
    }

    async fn fire(&self, job: &ServerlessJob) -> bool {
        match self.0.fire_job(&resource_id(job)).await {
            Ok(_) => true,
            // Only a Schedule job runs on its own.
            Err(error) if error.to_string().contains("NotScheduled") => false,
            Err(error) => panic!("firing the job: {error}"),
        }
    }

    async fn runs(&self, job: &ServerlessJob) -> usize {
        executions(self.0, &resource_id(job)).await.len()
    }
}

#[tokio::test]
async fn a_suspended_container_apps_job_is_manual_until_resumed() {
    let (s, fake) = azure_scenario("aca-suspend").await;
    suspend_pauses_the_schedule_until_resumed(
        &s,
        "containerApps",
        &json!({}),
        &ContainerAppsTrigger(fake),
        ("Schedule", "Manual"),
    )
    .await;
}

/// EventBridge Scheduler in moto: the job's one schedule, in the default group, named after its
/// namespace and name.
struct EventBridge {
    moto: &'static Moto,
    scheduler: aws_sdk_scheduler::Client,
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    namespace: String,
}

impl EventBridge {
    async fn schedule(&self) -> Option<aws_sdk_scheduler::types::ScheduleSummary> {
        let listed = self
            .scheduler
            .list_schedules()
            .group_name("default")
            .name_prefix(format!("{}_", self.namespace))
            .send()
            .await
            .unwrap();
        let schedules = listed.schedules();
        assert!(schedules.len() <= 1, "{schedules:?}");
        schedules.first().cloned()
    }
}

impl Scheduler for EventBridge {
    async fn state(&self, _: &ServerlessJob) -> String {
        self.schedule()
            .await
            .and_then(|s| s.state().map(|s| s.as_str().to_owned()))
            .unwrap_or_else(|| "none".to_owned())
    }

    async fn fire(&self, _: &ServerlessJob) -> bool {
        let schedule = self.schedule().await.unwrap();
        let name = schedule.name().unwrap();
        match self.moto.fire_schedule("default", name).await {
            Ok(fired) => !fired.task_arns.is_empty(),
            // A DISABLED schedule does not fire.
            Err(error) if error.to_string().contains("ScheduleDisabled") => false,
            Err(error) => panic!("firing {name}: {error}"),
        }
    }

    async fn runs(&self, _: &ServerlessJob) -> usize {
        tasks(&self.ecs, &self.cluster).await
    }
}

#[tokio::test]
async fn a_suspended_fargate_job_disables_its_eventbridge_schedule_until_resumed() {
    let (s, ecs, cluster) = fargate_scenario("ecs-suspend").await;
    let moto = Moto::shared().await.unwrap();
    let scheduler = EventBridge {
        moto,
        scheduler: aws_sdk_scheduler::Client::new(
            &moto_standin::sdk_config(&moto.endpoint()).await,
        ),
        ecs,
        cluster,
        namespace: s.ns().to_owned(),
    };
    suspend_pauses_the_schedule_until_resumed(
        &s,
        "fargate",
        &json!({}),
        &scheduler,
        ("ENABLED", "DISABLED"),
    )
    .await;
}
