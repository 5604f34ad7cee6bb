//! ProviderConfigs in use cannot vanish (issue 17): the real `ferry controller` against the
//! stand-in API server (or a real cluster with `FERRY_E2E_KUBECONFIG`), with a Fargate object
//! on moto (behind a counting proxy) and a Cloud Run object on the fake Cloud Run Admin API.
//!
//! Seen on a real kube-apiserver 1.35 before: deleting a namespace together with the
//! ProviderConfigs its objects used left the objects `Deleting` forever ("ProviderConfig ...
//! does not exist") and the namespace `Terminating`. Now the ProviderConfigs wait for their
//! users, which delete their cloud resources through them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::time::Duration;

use cloudrun_fake::CloudRunFake;
use e2e::{
    Cluster, Ferry, MANAGER, Operator, ProviderConfigCleanup, Scene, TestNamespace, current_ready,
    wait_for, wait_gone,
};
use ferry_api::{ProviderConfig, RunState, ServerlessJob, ServerlessService};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use moto_standin::{Moto, Proxy};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// An application namespace whose objects use two ProviderConfigs, and the operator's own
/// namespace, which holds the AWS credentials Secret and outlives the application's.
struct Scenario {
    _configs: [ProviderConfigCleanup; 2],
    app: TestNamespace,
    _ops: TestNamespace,
    client: Client,
    operator: Operator,
    proxy: Proxy,
    ecs: aws_sdk_ecs::Client,
    ecs_cluster: String,
    cloud_run: &'static CloudRunFake,
    project: String,
    aws: String,
    gcp: String,
}

impl Scene for Scenario {
    const WAIT: Duration = WAIT;

    fn operator(&self) -> &Operator {
        &self.operator
    }

    fn ssvs(&self) -> Api<ServerlessService> {
        Api::namespaced(self.client.clone(), self.app.name())
    }
}

impl Scenario {
    async fn start() -> Self {
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let app = TestNamespace::create(cluster, "pcuse").await.unwrap();
        let ops = TestNamespace::create(cluster, "pcops").await.unwrap();
        let client = cluster.client().await.unwrap();
        let (ns, own) = (app.name().to_owned(), ops.name().to_owned());

        let moto = Moto::shared().await.unwrap();
        let proxy = Proxy::start(&moto.endpoint()).unwrap();
        let ecs = aws_sdk_ecs::Client::new(&moto_standin::sdk_config(&moto.endpoint()).await);
        let ecs_cluster = format!("ecs-{ns}");
        ecs.create_cluster()
            .cluster_name(&ecs_cluster)
            .send()
            .await
            .unwrap();
        e2e::put_aws_secret(&client, &own, "AKIDPCUSE")
            .await
            .unwrap();
        let cloud_run = CloudRunFake::shared().await.unwrap();
        let suffix = ns.rsplit('-').next().unwrap_or_default().to_owned();
        let (aws, gcp) = (format!("aws-{ns}"), format!("gcp-{ns}"));
        let access = json!({"allowedNamespaces": [ns]});
        let fargate = e2e::fargate_provider_config(&aws, &ecs_cluster, &proxy.endpoint(), &own);
        e2e::put_provider_config(&client, fargate, &access)
            .await
            .unwrap();
        let project = format!("ferry-pcuse-{suffix}");
        let run = e2e::cloud_run_provider_config(&gcp, &project, &cloud_run.endpoint());
        e2e::put_provider_config(&client, run, &access)
            .await
            .unwrap();
        let operator = Ferry::spawn_confined_with(cluster, &ns, &own, e2e::TEST_LOG).unwrap();
        Self {
            _configs: [
                ProviderConfigCleanup::new(cluster, &aws),
                ProviderConfigCleanup::new(cluster, &gcp),
            ],
            app,
            _ops: ops,
            client,
            operator,
            proxy,
            ecs,
            ecs_cluster,
            cloud_run,
            project,
            aws,
            gcp,
        }
    }

    async fn apply(&self, name: &str, provider: &str, config: &str) {
        // As the Fargate and Cloud Run scenarios have them (Fargate scales on CPU).
        let (resources, scaling) = if provider == "fargate" {
            (
                json!({"cpu": "250m", "memory": "512Mi"}),
                json!({"minInstances": 1, "maxInstances": 3, "metric": "cpu"}),
            )
        } else {
            (json!({}), json!({"minInstances": 0, "maxInstances": 5}))
        };
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": name},
            "spec": {
                "provider": provider,
                "providerConfigRef": {"name": config},
                "containers": [{
                    "name": "app",
                    "image": "ghcr.io/acme/web:1",
                    "port": 8080,
                    "resources": resources,
                }],
                "scaling": scaling,
            },
        });
        self.ssvs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
    }

    /// A ServerlessJob on `provider` whose one task runs until it is stopped.
    async fn apply_job(&self, name: &str, provider: &str, config: &str) {
        // A Cloud Run job's instance has at least 1 vCPU.
        let cpu = if provider == "cloudRun" { "1" } else { "250m" };
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessJob",
            "metadata": {"name": name},
            "spec": {
                "provider": provider,
                "providerConfigRef": {"name": config},
                "containers": [{
                    "name": "task",
                    "image": "ghcr.io/acme/task:1",
                    "command": ["sh", "-c"],
                    "args": ["sleep infinity"],
                    "resources": {"cpu": cpu, "memory": "512Mi"},
                }],
            },
        });
        self.sjobs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
    }

    fn sjobs(&self) -> Api<ServerlessJob> {
        Api::namespaced(self.client.clone(), self.app.name())
    }

    async fn running_ecs_tasks(&self) -> usize {
        self.ecs
            .list_tasks()
            .cluster(&self.ecs_cluster)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
            .send()
            .await
            .unwrap()
            .task_arns()
            .len()
    }

    /// Deletes the application namespace and both ProviderConfigs at once, as `kubectl delete -f`
    /// of a directory or a GitOps prune does, and waits until all three are gone.
    async fn delete_namespace_with_configs(&self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        namespaces
            .delete(self.app.name(), &DeleteParams::background())
            .await
            .unwrap();
        for name in [&self.aws, &self.gcp] {
            self.configs()
                .delete(name, &DeleteParams::default())
                .await
                .unwrap();
        }
        let gone = wait_gone(&namespaces, self.app.name(), WAIT, "the namespace deleted").await;
        self.check(gone);
        for name in [&self.aws, &self.gcp] {
            let gone = wait_gone(&self.configs(), name, WAIT, "the ProviderConfig let go").await;
            self.check(gone);
        }
    }

    fn configs(&self) -> Api<ProviderConfig> {
        Api::all(self.client.clone())
    }

    /// The finalizer this operator, confined to the application namespace, holds.
    fn finalizer(&self) -> String {
        format!("in-use.ferry.dev/{}", self.app.name())
    }

    async fn active_ecs_services(&self) -> usize {
        let arns = self
            .ecs
            .list_services()
            .cluster(&self.ecs_cluster)
            .send()
            .await
            .unwrap()
            .service_arns
            .unwrap_or_default();
        if arns.is_empty() {
            return 0;
        }
        let described = self
            .ecs
            .describe_services()
            .cluster(&self.ecs_cluster)
            .set_services(Some(arns))
            .send()
            .await
            .unwrap();
        described
            .services()
            .iter()
            .filter(|s| s.status() == Some("ACTIVE"))
            .count()
    }
}

fn ready(config: &ProviderConfig) -> Option<(&str, &str)> {
    let status = config.status.as_ref()?;
    let c = status.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((c.status.as_str(), c.reason.as_str()))
}

#[tokio::test]
async fn deleting_a_namespace_with_its_provider_configs_deletes_the_cloud_resources_and_completes()
{
    let s = Scenario::start().await;
    s.apply("api", "fargate", &s.aws).await;
    s.apply("web", "cloudRun", &s.gcp).await;
    for name in ["api", "web"] {
        s.ssv(name, "Ready=True", |svc| {
            current_ready(svc) == Some(("True", "Available"))
        })
        .await;
    }

    // Each ProviderConfig counts its user, holds this operator's finalizer, and says its cloud
    // answers with its credentials.
    let finalizer = s.finalizer();
    for (name, answered) in [
        (
            &s.aws,
            format!("ECS cluster {} in us-east-1 is ACTIVE", s.ecs_cluster),
        ),
        (
            &s.gcp,
            format!("projects/{}/locations/europe-west1", s.project),
        ),
    ] {
        let found = wait_for(&s.configs(), name, WAIT, "used and Ready", |c| {
            c.status.as_ref().and_then(|st| st.users) == Some(1)
                && ready(c) == Some(("True", "Available"))
                && c.finalizers().contains(&finalizer)
        })
        .await;
        let config = s.check(found);
        let message = &config.status.unwrap().conditions[0].message;
        assert!(message.contains(&answered), "{message}");
    }
    assert_eq!(s.active_ecs_services().await, 1);

    s.delete_namespace_with_configs().await;
    // Deleted in the clouds, not orphaned.
    assert_eq!(s.active_ecs_services().await, 0);
    assert_eq!(s.proxy.writes().get("DeleteService"), Some(&1));
    let run_writes = s.cloud_run.project(&s.project).writes().await.unwrap();
    assert_eq!(run_writes.get("CreateService"), Some(&1), "{run_writes:?}");
    assert_eq!(run_writes.get("DeleteService"), Some(&1), "{run_writes:?}");
    let log = s.operator.logs();
    assert!(!log.contains("does not exist"), "{log}");
}

/// The same for ServerlessJobs whose runs are under way: each holds its ProviderConfig, which
/// counts it, and the deletion stops the runs and deletes the jobs through the ProviderConfigs
/// before they go.
#[tokio::test]
async fn deleting_a_namespace_with_its_provider_configs_stops_and_deletes_its_cloud_jobs() {
    let s = Scenario::start().await;
    s.apply_job("batch", "fargate", &s.aws).await;
    s.apply_job("report", "cloudRun", &s.gcp).await;
    for name in ["batch", "report"] {
        let found = wait_for(
            &s.sjobs(),
            name,
            WAIT,
            "a run under way",
            |j: &ServerlessJob| {
                j.status
                    .as_ref()
                    .and_then(|st| st.last_run.as_ref())
                    .is_some_and(|r| r.state == RunState::Running)
            },
        )
        .await;
        s.check(found);
    }
    let finalizer = s.finalizer();
    for name in [&s.aws, &s.gcp] {
        let found = wait_for(&s.configs(), name, WAIT, "used by its job", |c| {
            c.status.as_ref().and_then(|st| st.users) == Some(1)
                && c.finalizers().contains(&finalizer)
        })
        .await;
        s.check(found);
    }
    assert_eq!(s.running_ecs_tasks().await, 1);

    s.delete_namespace_with_configs().await;
    // Stopped and deleted in the clouds, not orphaned.
    assert_eq!(s.running_ecs_tasks().await, 0);
    let run_writes = s.cloud_run.project(&s.project).writes().await.unwrap();
    assert_eq!(run_writes.get("CreateJob"), Some(&1), "{run_writes:?}");
    assert_eq!(run_writes.get("DeleteJob"), Some(&1), "{run_writes:?}");
    let log = s.operator.logs();
    assert!(!log.contains("does not exist"), "{log}");
}
