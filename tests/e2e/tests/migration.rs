//! Moving a service between providers with the real operator: Knative on the stand-in (the
//! test plays Knative Serving), Cloud Run on the fake Cloud Run Admin API, Fargate on moto. A
//! reader samples the object every 100 ms throughout and fails the test on any sample where
//! `Ready` is not `True`, or where the URL is empty on a provider that gives one (Fargate
//! without a load balancer gives none). The operator is killed (SIGKILL) and restarted in each
//! phase of each move; afterwards each stand-in holds exactly what the last spec needs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudrun_fake::CloudRunFake;
use e2e::{Cluster, Ferry, MANAGER, Operator, ProviderConfigCleanup, Scene, TestNamespace};
use ferry_api::{MigrationPhase, Provider, ServerlessService};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use moto_standin::Moto;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(90);
const NAME: &str = "mover";

fn knative_services() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("serving.knative.dev", "v1", "Service"),
        "services",
    )
}

struct Scenario {
    _configs: [ProviderConfigCleanup; 2],
    namespace: TestNamespace,
    cluster: &'static Cluster,
    client: Client,
    operator: Operator,
    cloud_run: &'static CloudRunFake,
    project: String,
    ecs: aws_sdk_ecs::Client,
    ecs_cluster: String,
}

impl Scene for Scenario {
    const WAIT: Duration = WAIT;

    fn operator(&self) -> &Operator {
        &self.operator
    }

    fn ssvs(&self) -> Api<ServerlessService> {
        Api::namespaced(self.client.clone(), self.namespace.name())
    }
}

impl Scenario {
    async fn start() -> Self {
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, "migration").await.unwrap();
        let ns = namespace.name().to_owned();
        let client = cluster.client().await.unwrap();
        let cloud_run = CloudRunFake::shared().await.unwrap();
        let moto = Moto::shared().await.unwrap();
        let ecs = aws_sdk_ecs::Client::new(&moto_standin::sdk_config(&moto.endpoint()).await);
        let ecs_cluster = format!("ecs-{ns}");
        ecs.create_cluster()
            .cluster_name(&ecs_cluster)
            .send()
            .await
            .unwrap();
        let suffix = ns.rsplit('-').next().unwrap_or_default().to_owned();
        let project = format!("ferry-move-{suffix}");
        let (gcp, aws) = (format!("gcp-{ns}"), format!("aws-{ns}"));
        let access = json!({"allowedNamespaces": [ns]});
        e2e::put_provider_config(
            &client,
            e2e::cloud_run_provider_config(&gcp, &project, &cloud_run.endpoint()),
            &access,
        )
        .await
        .unwrap();
        e2e::put_aws_secret(&client, &ns, "AKIDMOVE").await.unwrap();
        e2e::put_provider_config(
            &client,
            e2e::fargate_provider_config(&aws, &ecs_cluster, &moto.endpoint(), &ns),
            &access,
        )
        .await
        .unwrap();
        Self {
            _configs: [
                ProviderConfigCleanup::new(cluster, &gcp),
                ProviderConfigCleanup::new(cluster, &aws),
            ],
            operator: Ferry::spawn_confined(cluster, &ns).unwrap(),
            cluster,
            client,
            cloud_run,
            project,
            ecs,
            ecs_cluster,
            namespace,
        }
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    fn knative(&self) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), self.ns(), &knative_services())
    }

    fn play_knative(&self) -> Option<tokio::task::JoinHandle<()>> {
        e2e::play_knative(self.cluster, self.knative(), self.ns())
    }

    /// Applies the spec on `provider`, draining two seconds.
    async fn apply(&self, provider: Provider) {
        let mut spec = json!({
            "provider": provider.as_str(),
            "containers": [{"name": "app", "image": "ghcr.io/acme/hello:1", "port": 8080,
                            "resources": {"cpu": "250m", "memory": "512Mi"}}],
            "migration": {"drainSeconds": 2},
        });
        match provider {
            Provider::CloudRun => {
                spec["providerConfigRef"] = json!({"name": format!("gcp-{}", self.ns())});
            }
            Provider::Fargate => {
                spec["providerConfigRef"] = json!({"name": format!("aws-{}", self.ns())});
                spec["scaling"] = json!({"minInstances": 1, "maxInstances": 2, "metric": "cpu"});
            }
            Provider::Knative => {}
            Provider::ContainerApps | Provider::ContainerInstances | Provider::Kubernetes => {
                unreachable!("the moves here are between Knative, Fargate and Cloud Run")
            }
        }
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": NAME},
            "spec": spec,
        });
        self.ssvs()
            .patch(
                NAME,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&object),
            )
            .await
            .unwrap();
    }

    /// Kills the operator (SIGKILL, as a node would) and starts another.
    fn restart(&mut self) {
        self.operator = Ferry::spawn_confined(self.cluster, self.ns()).unwrap();
    }

    /// Moves the service to `provider`, killing and restarting the operator once the move
    /// has begun (Creating, or later if it went faster than the test looked) and again once
    /// it drains; then waits for the move to end with `provider` serving and Ready.
    async fn move_to(&mut self, provider: Provider) {
        self.apply(provider).await;
        for phase in [MigrationPhase::Creating, MigrationPhase::Draining] {
            let what = format!("the move to {provider} to reach {phase:?}");
            self.ssv(NAME, &what, |svc| {
                let Some(status) = svc.status.as_ref() else {
                    return false;
                };
                match status.migration.as_ref() {
                    Some(m) => {
                        m.to == provider
                            && (phase == MigrationPhase::Creating
                                || m.phase == MigrationPhase::Draining)
                    }
                    None => status.provider == Some(provider),
                }
            })
            .await;
            self.restart();
        }
        let what = format!("the move to {provider} to be complete");
        self.ssv(NAME, &what, |svc| {
            svc.status.as_ref().is_some_and(|s| {
                s.provider == Some(provider) && s.migration.is_none() && ready(svc)
            })
        })
        .await;
    }

    async fn cloud_run_writes(&self) -> BTreeMap<String, usize> {
        self.cloud_run
            .project(&self.project)
            .writes()
            .await
            .unwrap()
    }

    async fn ecs_services(&self) -> usize {
        self.ecs
            .list_services()
            .cluster(&self.ecs_cluster)
            .send()
            .await
            .unwrap()
            .service_arns()
            .len()
    }
}

fn ready(svc: &ServerlessService) -> bool {
    svc.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// What a reader that looks every 100 ms saw that it should not have.
type Violations = Arc<Mutex<Vec<String>>>;

fn sample(
    api: Api<ServerlessService>,
) -> (tokio::task::JoinHandle<()>, Violations, Arc<Mutex<usize>>) {
    let violations = Violations::default();
    let samples = Arc::new(Mutex::new(0));
    let (seen, counted) = (violations.clone(), samples.clone());
    let task = tokio::spawn(async move {
        loop {
            if let Ok(svc) = api.get(NAME).await {
                *counted.lock().unwrap() += 1;
                let status = svc.status.clone().unwrap_or_default();
                let url_expected = matches!(
                    status.provider,
                    Some(Provider::Knative | Provider::CloudRun)
                );
                let empty_url = status.url.as_deref().is_none_or(str::is_empty);
                if !ready(&svc) || (url_expected && empty_url) {
                    seen.lock().unwrap().push(format!("{status:?}"));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (task, violations, samples)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_moves_knative_to_cloud_run_to_fargate_and_back_without_readers_seeing_a_gap() {
    let mut s = Scenario::start().await;
    let knative = s.play_knative();
    s.apply(Provider::Knative).await;
    s.ssv(NAME, "Ready on Knative", |svc| {
        ready(svc) && svc.status.as_ref().is_some_and(|st| st.url.is_some())
    })
    .await;
    let (sampler, violations, count) = sample(s.ssvs());

    // Knative -> Cloud Run: the Knative Service goes, one Cloud Run service stays.
    s.move_to(Provider::CloudRun).await;
    let gone = e2e::wait_gone(&s.knative(), NAME, WAIT, "the Knative Service").await;
    s.check(gone);
    assert_eq!(s.cloud_run_writes().await.get("CreateService"), Some(&1));

    // Cloud Run -> Fargate: the Cloud Run service goes, one ECS service stays.
    s.move_to(Provider::Fargate).await;
    let writes = s.cloud_run_writes().await;
    assert_eq!(writes.get("DeleteService"), Some(&1), "{writes:?}");
    assert_eq!(s.ecs_services().await, 1);

    // Fargate -> Knative: the ECS service goes, the Knative Service is back.
    s.move_to(Provider::Knative).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while s.ecs_services().await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ECS service stays"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(s.knative().get_opt(NAME).await.unwrap().is_some());
    // What the last spec needs, and nothing else: the Cloud Run service made once and deleted
    // once, over all three moves and the six restarts.
    let writes = s.cloud_run_writes().await;
    assert_eq!(
        (writes.get("CreateService"), writes.get("DeleteService")),
        (Some(&1), Some(&1)),
        "{writes:?}"
    );

    sampler.abort();
    let _ = sampler.await;
    let looked = *count.lock().unwrap();
    println!("{looked} samples of the object during the three moves");
    assert!(looked >= 50, "the reader sampled only {looked} times");
    if let Some(knative) = knative {
        knative.abort();
    }
    let violations = violations.lock().unwrap();
    assert!(
        violations.is_empty(),
        "{} samples without Ready or a URL, e.g. {:?}\n--- ferry log ---\n{}",
        violations.len(),
        violations.first(),
        s.operator.logs()
    );
}
