//! ServerlessJobs on the cloud backends, end to end: the real `ferry controller` process against
//! the stand-in API server (or a real cluster with `FERRY_E2E_KUBECONFIG`), pointed at each
//! cloud's stand-in through a ProviderConfig `endpoint`. For each: a run of the spec succeeds
//! and is recorded, once; and an operator killed after it started a run it could not record
//! (its status writes fail on the stand-in) leaves exactly one run at the provider once another
//! operator has taken over.

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

// ---- AWS Fargate ------------------------------------------------------------------------------

async fn fargate_scenario(prefix: &str) -> (Scenario, aws_sdk_ecs::Client, String) {
    let moto = Moto::shared().await.unwrap();
    let ecs = aws_sdk_ecs::Client::new(&moto_standin::sdk_config(&moto.endpoint()).await);
    let mut cluster = String::new();
    let endpoint = moto.endpoint();
    let scenario = Scenario::start(prefix, |name, ns| {
        cluster = format!("ecs-{ns}");
        e2e::fargate_provider_config(name, &cluster, &endpoint, ns)
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
