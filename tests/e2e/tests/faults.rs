//! The crash-and-fault suite (issue 17): rounds of changes to a few ServerlessServices on
//! Knative (the suite plays Knative Serving on the stand-in), Fargate (moto, behind a proxy
//! that injects faults), Cloud Run (the fake Admin API, which injects its own), Container Apps
//! and Container Instances (the fake Azure Resource Manager, which injects its own), while the
//! operator is SIGKILLed at random moments and restarted, and the clouds throttle, fail with
//! 5xx, answer slowly or past the client's timeout, or apply a call and lose its answer, and the API stand-in answers the operator's requests with 409 conflicts,
//! 429s, 500s and 503s, and drops or expires (410 Gone) its watches. After each round the invariants are checked:
//!
//! - exactly one cloud resource per live object, found by the object's UID tag or label, and
//!   none for an object that is gone or moved away;
//! - every object Ready for its current generation, on the provider its spec names, its status
//!   naming the resource that exists and the image it runs;
//! - deleted objects gone (no finalizer left);
//! - no panic in the operator's log.
//!
//! `FERRY_E2E_FAULT_ROUNDS` sets the number of rounds (default 6, the short mode CI runs; the
//! long mode of docs/reliability.md runs 200 or more), `FERRY_E2E_FAULT_SEED` the random seed
//! (default: random, printed, so a failing run can be repeated). Figures go to standard output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use azure_fake::AzureFake;
use cloudrun_fake::CloudRunFake;
use e2e::{
    Cluster, Ferry, MANAGER, Operator, Player, ProviderConfigCleanup, Scene, TestNamespace,
    current_ready,
};
use ferry_api::{Provider, ServerlessJob, ServerlessService};
use http::Method;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::{Client, ResourceExt as _};
use kube_standin::{Fault as ApiFault, Matcher, Remote, Rule};
use moto_standin::{Fault as AwsFault, Moto, Proxy};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(120);
const OBJECTS: usize = 3;
const REGION: &str = "europe-west1";
const UID_TAG: &str = "ferry.dev/uid";
const UID_LABEL: &str = "ferry-uid";
/// The tag of Azure resources (ARM tag names take no `/`).
const UID_AZURE_TAG: &str = "ferry-uid";

/// What a suite's objects are, for the faults aimed at them: the kind, the in-cluster children
/// Ferry writes for it, and the cloud calls its backends make, by cloud.
struct Targets {
    /// The kind's name and plural.
    kind: &'static str,
    plural: &'static str,
    /// The children's API group, plural and name.
    children: (&'static str, &'static str, &'static str),
    aws: &'static [&'static str],
    cloud_run: &'static [&'static str],
    azure: &'static [&'static str],
}

#[path = "faults/jobs.rs"]
mod jobs;

const SERVICES: Targets = Targets {
    kind: "ServerlessService",
    plural: "serverlessservices",
    children: ("serving.knative.dev", "services", "Knative Service"),
    aws: &[
        "CreateService",
        "UpdateService",
        "DeleteService",
        "DescribeServices",
        "RegisterTaskDefinition",
        "DeregisterTaskDefinition",
        "RegisterScalableTarget",
        "PutScalingPolicy",
        "DeregisterScalableTarget",
        "TagResource",
        "UntagResource",
    ],
    cloud_run: &[
        "CreateService",
        "UpdateService",
        "DeleteService",
        "GetService",
        "GetOperation",
    ],
    azure: &[
        "ContainerApps_CreateOrUpdate",
        "ContainerApps_Delete",
        "ContainerApps_Get",
        "ContainerGroups_CreateOrUpdate",
        "ContainerGroups_Delete",
        "ContainerGroups_Get",
        "OperationStatus_Get",
    ],
};

#[derive(Default)]
struct Figures {
    rounds: usize,
    kills: usize,
    /// Kills by the provider(s) the round's change was on (a move counts for both).
    kills_by_provider: BTreeMap<&'static str, usize>,
    faults: BTreeMap<String, usize>,
    actions: BTreeMap<&'static str, usize>,
    violations: Vec<String>,
    converge: Vec<Duration>,
}

struct Suite {
    _configs: [ProviderConfigCleanup; 3],
    _knative: Option<Player>,
    _deployments: Option<Player>,
    _jobs: Option<Player>,
    namespace: TestNamespace,
    cluster: &'static Cluster,
    client: Client,
    operator: Operator,
    proxy: Proxy,
    ecs: aws_sdk_ecs::Client,
    ecs_cluster: String,
    cloud_run: &'static CloudRunFake,
    project: String,
    azure: &'static AzureFake,
    /// The fake's name for this suite's Azure subscription (the namespace's).
    subscription: String,
    /// The API stand-in's fault injection (`None` on a real cluster).
    api: Option<Remote>,
    /// What the faults aim at.
    targets: &'static Targets,
    rng: StdRng,
    /// Each object's provider and image while it should exist.
    live: BTreeMap<String, (Provider, u32)>,
    /// Every UID an object had, with its name: each must own exactly what its object should.
    uids: BTreeMap<String, String>,
    figures: Figures,
    /// What this round did, for its line of output.
    round: Vec<String>,
    /// The providers this round's change touches.
    touched: Vec<Provider>,
    /// Everything the operators logged, across restarts.
    logs: String,
}

impl Scene for Suite {
    const WAIT: Duration = WAIT;

    fn operator(&self) -> &Operator {
        &self.operator
    }

    fn ssvs(&self) -> Api<ServerlessService> {
        Api::namespaced(self.client.clone(), self.namespace.name())
    }
}

fn deployments() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apps", "v1", "Deployment"),
        "deployments",
    )
}

fn knative_services() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("serving.knative.dev", "v1", "Service"),
        "services",
    )
}

impl Suite {
    async fn start(seed: u64, targets: &'static Targets) -> Self {
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, "faults").await.unwrap();
        let ns = namespace.name().to_owned();
        let client = cluster.client().await.unwrap();
        let cloud_run = CloudRunFake::shared().await.unwrap();
        let azure = AzureFake::shared().await.unwrap();
        let moto = Moto::shared().await.unwrap();
        let proxy = Proxy::start(&moto.endpoint()).unwrap();
        let ecs = aws_sdk_ecs::Client::new(&moto_standin::sdk_config(&moto.endpoint()).await);
        let ecs_cluster = format!("ecs-{ns}");
        ecs.create_cluster()
            .cluster_name(&ecs_cluster)
            .send()
            .await
            .unwrap();
        let suffix = ns.rsplit('-').next().unwrap_or_default().to_owned();
        let project = format!("ferry-faults-{suffix}");
        let (gcp, aws, az) = (
            format!("gcp-{ns}"),
            format!("aws-{ns}"),
            format!("azure-{ns}"),
        );
        let access = json!({"allowedNamespaces": [ns]});
        let subscription = azure.subscription(&ns).id().to_owned();
        e2e::put_provider_config(
            &client,
            e2e::azure_provider_config(&az, &subscription, &azure.endpoint()),
            &access,
        )
        .await
        .unwrap();
        e2e::put_provider_config(
            &client,
            e2e::cloud_run_provider_config(&gcp, &project, &cloud_run.endpoint()),
            &access,
        )
        .await
        .unwrap();
        e2e::put_aws_secret(&client, &ns, "AKIDFAULTS")
            .await
            .unwrap();
        e2e::put_provider_config(
            &client,
            e2e::fargate_provider_config(&aws, &ecs_cluster, &proxy.endpoint(), &ns),
            &access,
        )
        .await
        .unwrap();
        let knative = Api::namespaced_with(client.clone(), &ns, &knative_services());
        let api = cluster
            .is_standin()
            .then(|| Remote::from_kubeconfig(cluster.kubeconfig()).unwrap());
        Self {
            _configs: [
                ProviderConfigCleanup::new(cluster, &gcp),
                ProviderConfigCleanup::new(cluster, &aws),
                ProviderConfigCleanup::new(cluster, &az),
            ],
            _knative: e2e::play_knative(cluster, knative, &ns).map(Player),
            _deployments: e2e::play_deployments(cluster, client.clone(), &ns).map(Player),
            _jobs: e2e::play_jobs(cluster, client.clone(), &ns).map(Player),
            operator: Ferry::spawn_confined(cluster, &ns).unwrap(),
            namespace,
            cluster,
            client,
            proxy,
            ecs,
            ecs_cluster,
            cloud_run,
            project,
            azure,
            subscription: ns.clone(),
            api,
            targets,
            rng: StdRng::seed_from_u64(seed),
            live: BTreeMap::new(),
            uids: BTreeMap::new(),
            figures: Figures::default(),
            round: Vec::new(),
            touched: Vec::new(),
            logs: String::new(),
        }
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    fn sjobs(&self) -> Api<ServerlessJob> {
        Api::namespaced(self.client.clone(), self.ns())
    }

    /// Kills the operator (SIGKILL, as a node would) and starts another.
    fn kill(&mut self) {
        self.logs.push_str(&self.operator.logs());
        let _ = writeln!(self.logs, "--- killed in round {} ---", self.figures.rounds);
        self.operator = Ferry::spawn_confined(self.cluster, self.ns()).unwrap();
        self.figures.kills += 1;
        for provider in &self.touched {
            *self
                .figures
                .kills_by_provider
                .entry(provider.as_str())
                .or_default() += 1;
        }
    }

    /// The suite's ProviderConfig for `provider`, if it uses one.
    fn config_of(&self, provider: Provider) -> Option<String> {
        let cloud = match provider {
            Provider::Knative | Provider::Kubernetes => return None,
            Provider::Fargate => "aws",
            Provider::CloudRun => "gcp",
            Provider::ContainerApps | Provider::ContainerInstances => "azure",
        };
        Some(format!("{cloud}-{}", self.ns()))
    }

    async fn apply(&self, name: &str, provider: Provider, image: u32) {
        let mut spec = json!({
            "provider": provider.as_str(),
            "containers": [{"name": "app", "image": format!("ghcr.io/acme/hello:{image}"),
                            "port": 8080, "resources": {"cpu": "250m", "memory": "512Mi"}}],
            "migration": {"drainSeconds": 0},
        });
        if let Some(config) = self.config_of(provider) {
            spec["providerConfigRef"] = json!({ "name": config });
        }
        match provider {
            Provider::Fargate => {
                spec["scaling"] = json!({"minInstances": 1, "maxInstances": 2, "metric": "cpu"});
            }
            Provider::ContainerInstances => {
                // A container group gets 1 vCPU and 1 GB at least.
                spec["containers"][0]["resources"] = json!({"cpu": "1", "memory": "1Gi"});
            }
            // Internal: a public one waits for an ingress controller to give its Ingress an
            // address, and none runs here.
            Provider::Kubernetes => spec["ingress"] = json!("internal"),
            Provider::Knative | Provider::CloudRun | Provider::ContainerApps => {}
        }
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": name},
            "spec": spec,
        });
        self.ssvs()
            .patch(
                name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&object),
            )
            .await
            .unwrap();
    }

    /// Injects up to two faults into the clouds' next calls.
    async fn inject_faults(&mut self) {
        for _ in 0..self.rng.random_range(0..=2) {
            let times = self.rng.random_range(1..=2);
            let cloud = self.rng.random_range(0..3);
            if cloud == 2 {
                let calls = self.targets.azure;
                let call = calls[self.rng.random_range(0..calls.len())];
                let (fault, kind) = match self.rng.random_range(0..10) {
                    0..=1 => (azure_fake::Fault::Status(429), "throttle"),
                    2 => (azure_fake::Fault::Status(500), "5xx"),
                    3 => (azure_fake::Fault::Status(503), "5xx"),
                    4 => (azure_fake::Fault::Status(409), "409"),
                    // No answer: past the client's attempt timeout (15 s), then retried.
                    5 => (azure_fake::Fault::Timeout, "timeout"),
                    _ => (azure_fake::Fault::Lost, "lost response"),
                };
                self.azure
                    .subscription(&self.subscription)
                    .fail(call, fault, times)
                    .await
                    .unwrap();
                self.round.push(format!("Azure {call} {kind} x{times}"));
                *self
                    .figures
                    .faults
                    .entry(format!("Azure {call}: {kind}"))
                    .or_default() += times;
            } else if cloud == 0 {
                let calls = self.targets.aws;
                let call = calls[self.rng.random_range(0..calls.len())];
                let (fault, kind) = match self.rng.random_range(0..10) {
                    0..=2 => (AwsFault::Throttle, "throttle"),
                    3..=4 => (AwsFault::ServerError, "5xx"),
                    5..=7 => (AwsFault::LostResponse, "lost response"),
                    8 => (AwsFault::Timeout(Duration::from_secs(2)), "slow answer"),
                    // Past the SDK's attempt timeout (10 s): the call is retried.
                    _ => (AwsFault::Timeout(Duration::from_secs(11)), "timeout"),
                };
                self.proxy.fail(call, fault, times);
                self.round.push(format!("AWS {call} {kind} x{times}"));
                *self
                    .figures
                    .faults
                    .entry(format!("AWS {call}: {kind}"))
                    .or_default() += times;
            } else {
                let calls = self.targets.cloud_run;
                let call = calls[self.rng.random_range(0..calls.len())];
                let (fault, kind) = match self.rng.random_range(0..8) {
                    0..=1 => (cloudrun_fake::Fault::Status(429), "throttle"),
                    2 => (cloudrun_fake::Fault::Status(500), "5xx"),
                    3 => (cloudrun_fake::Fault::Status(503), "5xx"),
                    4 => (cloudrun_fake::Fault::Status(504), "timeout"),
                    _ => (cloudrun_fake::Fault::LostResponse, "lost response"),
                };
                self.cloud_run
                    .project(&self.project)
                    .fail(call, fault, times)
                    .await
                    .unwrap();
                self.round.push(format!("Cloud Run {call} {kind} x{times}"));
                *self
                    .figures
                    .faults
                    .entry(format!("Cloud Run {call}: {kind}"))
                    .or_default() += times;
            }
        }
    }

    /// Injects up to two faults into the operator's next API requests (on the stand-in), or
    /// cuts its open watches now.
    async fn inject_api_faults(&mut self) {
        let Some(api) = &self.api else {
            return;
        };
        // Faults a round did not meet do not pile up into the next: seven 500s in a row would
        // put the eighth attempt two minutes away (the backoff doubles from 1 s), which is the
        // backoff working, not a stuck object.
        api.clear().await.unwrap();
        let operator = format!("system:serviceaccount:{}:ferry", self.namespace.name());
        let Targets {
            kind,
            plural,
            children: (group, children, child),
            ..
        } = *self.targets;
        let child_of = |m: Matcher| m.group(group);
        for _ in 0..self.rng.random_range(0..=2) {
            let times = self.rng.random_range(1..=3);
            let (fault, matcher, what) = match self.rng.random_range(0..10) {
                0 => (
                    ApiFault::Conflict,
                    Matcher::writes(plural),
                    format!("409 on {kind} writes"),
                ),
                1 => (
                    ApiFault::Conflict,
                    Matcher::writes("providerconfigs"),
                    "409 on ProviderConfig writes".to_owned(),
                ),
                2 => (
                    ApiFault::InternalError,
                    Matcher::writes(plural).subresource("status"),
                    "500 on status writes".to_owned(),
                ),
                3 => (
                    ApiFault::InternalError,
                    child_of(Matcher::writes(children)),
                    format!("500 on {child} writes"),
                ),
                4 => (
                    ApiFault::ServiceUnavailable,
                    Matcher::reads("providerconfigs"),
                    "503 on ProviderConfig reads".to_owned(),
                ),
                5 => (
                    ApiFault::TooManyRequests {
                        retry_after_seconds: 1,
                    },
                    Matcher::any(),
                    "429 on any request".to_owned(),
                ),
                6 => (
                    ApiFault::DropWatch,
                    Matcher::watches(plural),
                    format!("dropped {kind} watch"),
                ),
                7 => (
                    ApiFault::DropWatch,
                    child_of(Matcher::watches(children)),
                    format!("dropped {child} watch"),
                ),
                8 => (
                    ApiFault::ExpireWatch,
                    Matcher::watches(plural),
                    format!("410 Gone on a {kind} watch"),
                ),
                _ => {
                    // The watches open now, cut at once.
                    let matcher = Matcher::any().user(&operator);
                    let dropped = if self.rng.random_bool(0.5) {
                        api.drop_watches(&matcher).await.unwrap()
                    } else {
                        api.expire_watches(&matcher).await.unwrap()
                    };
                    *self
                        .figures
                        .faults
                        .entry("API: open watches cut".into())
                        .or_default() += dropped;
                    self.round.push(format!("API: {dropped} open watches cut"));
                    continue;
                }
            };
            let rule = Rule::times(fault, matcher.user(&operator), times);
            api.add(&rule).await.unwrap();
            self.round.push(format!("API {what} x{times}"));
        }
    }

    fn violations(&mut self, what: String) {
        println!("round {}: VIOLATION {what}", self.figures.rounds);
        self.figures.violations.push(what);
    }

    /// ECS services not INACTIVE, by the UID they are tagged with: (ARN, task definition).
    async fn ecs_services(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let mut by_uid: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let arns = self
            .ecs
            .list_services()
            .cluster(&self.ecs_cluster)
            .max_results(100)
            .send()
            .await
            .unwrap()
            .service_arns
            .unwrap_or_default();
        for chunk in arns.chunks(10) {
            let described = self
                .ecs
                .describe_services()
                .cluster(&self.ecs_cluster)
                .set_services(Some(chunk.to_vec()))
                .include(aws_sdk_ecs::types::ServiceField::Tags)
                .send()
                .await
                .unwrap();
            for service in described.services() {
                if service.status() != Some("ACTIVE") {
                    continue;
                }
                let uid = service
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(UID_TAG))
                    .and_then(|t| t.value())
                    .unwrap_or("<untagged>")
                    .to_owned();
                by_uid.entry(uid).or_default().push((
                    service.service_arn().unwrap_or_default().to_owned(),
                    service.task_definition().unwrap_or_default().to_owned(),
                ));
            }
        }
        by_uid
    }

    async fn ecs_image(&self, task_definition: &str) -> String {
        self.ecs
            .describe_task_definition()
            .task_definition(task_definition)
            .send()
            .await
            .unwrap()
            .task_definition()
            .and_then(|t| t.container_definitions().first())
            .and_then(|c| c.image())
            .unwrap_or_default()
            .to_owned()
    }

    /// Cloud Run services of the project, by the UID label: (name, image).
    async fn run_services(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let path = format!(
            "/v2/projects/{}/locations/{REGION}/services?pageSize=100",
            self.project
        );
        let answer = self
            .cloud_run
            .send_raw(Method::GET, &path, None)
            .await
            .unwrap();
        let mut by_uid: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for service in answer.body["services"].as_array().into_iter().flatten() {
            let uid = service["labels"][UID_LABEL]
                .as_str()
                .unwrap_or("<unlabelled>")
                .to_owned();
            by_uid.entry(uid).or_default().push((
                service["name"].as_str().unwrap_or_default().to_owned(),
                service["template"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
        by_uid
    }

    /// Container apps and container groups of the subscription, by the UID tag: (ARM id,
    /// image).
    async fn azure_resources(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let subscription = self.azure.subscription(&self.subscription);
        let mut by_uid: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (kind, version, image) in [
            (
                "Microsoft.App/containerApps",
                azure_fake::CONTAINER_APPS_API_VERSION,
                "/properties/template/containers/0/image",
            ),
            (
                "Microsoft.ContainerInstance/containerGroups",
                azure_fake::CONTAINER_INSTANCES_API_VERSION,
                "/properties/containers/0/properties/image",
            ),
        ] {
            let path = format!(
                "/subscriptions/{}/providers/{kind}?api-version={version}",
                subscription.id()
            );
            let answer = self.azure.send_raw(Method::GET, &path, None).await.unwrap();
            assert_eq!(answer.status, 200, "{path}: {:?}", answer.body);
            for resource in answer.body["value"].as_array().into_iter().flatten() {
                let uid = resource["tags"][UID_AZURE_TAG]
                    .as_str()
                    .unwrap_or("<untagged>")
                    .to_owned();
                by_uid.entry(uid).or_default().push((
                    resource["id"].as_str().unwrap_or_default().to_owned(),
                    resource
                        .pointer(image)
                        .and_then(|i| i.as_str())
                        .unwrap_or_default()
                        .to_owned(),
                ));
            }
        }
        by_uid
    }

    /// Knative Services of the namespace, by the UID of the object owning them: (resource
    /// id as Ferry writes it, image).
    async fn knative_services(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), self.ns(), &knative_services());
        let mut by_uid: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for service in api.list(&ListParams::default()).await.unwrap() {
            let uid = service
                .owner_references()
                .iter()
                .find(|o| o.kind == "ServerlessService")
                .map_or_else(|| "<unowned>".to_owned(), |o| o.uid.clone());
            let image = service.data["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let id = format!(
                "services.serving.knative.dev/{}/{}",
                self.ns(),
                service.name_any()
            );
            by_uid.entry(uid).or_default().push((id, image));
        }
        by_uid
    }

    /// Deployments of the namespace, by the UID of the object owning them: (resource id as
    /// Ferry writes it, image).
    async fn deployments(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), self.ns(), &deployments());
        let mut by_uid: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for deployment in api.list(&ListParams::default()).await.unwrap() {
            let uid = deployment
                .owner_references()
                .iter()
                .find(|o| o.kind == "ServerlessService")
                .map_or_else(|| "<unowned>".to_owned(), |o| o.uid.clone());
            let image = deployment.data["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let id = format!("deployments.apps/{}/{}", self.ns(), deployment.name_any());
            by_uid.entry(uid).or_default().push((id, image));
        }
        by_uid
    }

    /// The faults that met a request, by cloud, call and kind (the scheduled ones are in
    /// `faults`: one scheduled for a call that never came does not count).
    async fn met_faults(&self) -> BTreeMap<String, usize> {
        let mut met: BTreeMap<String, usize> = BTreeMap::new();
        for call in self.proxy.requests() {
            if let Some(fault) = call.fault {
                *met.entry(format!("AWS {}: {fault:?}", call.operation))
                    .or_default() += 1;
            }
        }
        let run = self
            .cloud_run
            .project(&self.project)
            .requests()
            .await
            .unwrap();
        for call in run {
            if let Some(fault) = call.fault {
                *met.entry(format!("Cloud Run {}: {fault:?}", call.method))
                    .or_default() += 1;
            }
        }
        let azure = self
            .azure
            .subscription(&self.subscription)
            .requests()
            .await
            .unwrap();
        for call in azure {
            if let Some(fault) = call.fault {
                *met.entry(format!("Azure {}: {fault:?}", call.operation))
                    .or_default() += 1;
            }
        }
        if let Some(api) = &self.api {
            for (kind, n) in api.counts().await.unwrap().0 {
                met.insert(format!("API: {kind:?}"), usize::try_from(n).unwrap());
            }
            api.clear().await.unwrap();
        }
        met
    }

    fn report(&self, seed: u64, met: &BTreeMap<String, usize>) -> String {
        let f = &self.figures;
        let mut out = String::new();
        let converge: Vec<f64> = f.converge.iter().map(Duration::as_secs_f64).collect();
        let max = converge.iter().copied().fold(0.0, f64::max);
        let rounds = f64::from(u32::try_from(converge.len().max(1)).unwrap_or(u32::MAX));
        let mean = converge.iter().sum::<f64>() / rounds;
        let _ = writeln!(out, "crash-and-fault suite, seed {seed}");
        let _ = writeln!(
            out,
            "rounds {}, operator kills (SIGKILL) {}, by the provider of the round's change {:?}",
            f.rounds, f.kills, f.kills_by_provider
        );
        let _ = writeln!(out, "changes: {:?}", f.actions);
        let scheduled: usize = f.faults.values().sum();
        let _ = writeln!(out, "faults scheduled: {scheduled}");
        for (kind, n) in &f.faults {
            let _ = writeln!(out, "  {kind}: {n}");
        }
        let _ = writeln!(
            out,
            "faults that met a request: {}",
            met.values().sum::<usize>()
        );
        for (kind, n) in met {
            let _ = writeln!(out, "  {kind}: {n}");
        }
        let _ = writeln!(
            out,
            "convergence after a round: mean {mean:.1} s, max {max:.1} s"
        );
        let _ = writeln!(out, "violations: {}", f.violations.len());
        for v in &f.violations {
            let _ = writeln!(out, "  {v}");
        }
        out
    }
}

/// One kind's rounds on a [`Suite`]: what a change is, when it has settled, and what must hold.
trait Rounds {
    fn suite(&mut self) -> &mut Suite;

    /// One random change to one object.
    async fn act(&mut self);

    /// What is not yet as the specs say.
    async fn lagging(&self) -> Vec<String>;

    /// The invariants, after a round has converged.
    async fn verify(&mut self);

    /// Deletes every object.
    async fn delete_all(&mut self);

    /// Waits until every object is as its spec says and every deleted one is gone; each that
    /// is not within the wait is a violation.
    async fn converge(&mut self) {
        let started = Instant::now();
        loop {
            let lagging = self.lagging().await;
            if lagging.is_empty() {
                self.suite().figures.converge.push(started.elapsed());
                return;
            }
            if started.elapsed() > WAIT {
                for what in lagging {
                    self.suite()
                        .violations(format!("stuck after {WAIT:?}: {what}"));
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Rounds for Suite {
    fn suite(&mut self) -> &mut Suite {
        self
    }

    /// One change: create, change the image, move to the other cloud, or delete.
    async fn act(&mut self) {
        let name = format!("svc-{}", self.rng.random_range(0..OBJECTS));
        let any = |rng: &mut StdRng| Provider::ALL[rng.random_range(0..Provider::ALL.len())];
        let (action, provider, image) = match self.live.get(&name).copied() {
            None => ("create", Some(any(&mut self.rng)), 1),
            Some((provider, image)) => match self.rng.random_range(0..4) {
                0 | 1 => ("update", Some(provider), image + 1),
                2 => {
                    let mut to = any(&mut self.rng);
                    while to == provider {
                        to = any(&mut self.rng);
                    }
                    ("move", Some(to), image)
                }
                _ => ("delete", None, image),
            },
        };
        *self.figures.actions.entry(action).or_default() += 1;
        self.touched = self
            .live
            .get(&name)
            .map(|(p, _)| *p)
            .into_iter()
            .chain(provider)
            .collect();
        self.touched.dedup();
        self.round
            .insert(0, format!("{action} {name} -> {provider:?} image {image}"));
        if let Some(provider) = provider {
            self.apply(&name, provider, image).await;
            self.live.insert(name.clone(), (provider, image));
            let svc = self.ssvs().get(&name).await.unwrap();
            self.uids.insert(svc.uid().unwrap(), name);
        } else {
            self.ssvs()
                .delete(&name, &DeleteParams::default())
                .await
                .unwrap();
            self.live.remove(&name);
        }
    }

    async fn lagging(&self) -> Vec<String> {
        let mut lagging = Vec::new();
        let objects = self
            .ssvs()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        for svc in &objects {
            let name = svc.name_any();
            let Some((provider, _)) = self.live.get(&name) else {
                lagging.push(format!("{name} still exists: {:?}", svc.status));
                continue;
            };
            let status = svc.status.as_ref();
            let settled = current_ready(svc) == Some(("True", "Available"))
                && status.and_then(|s| s.provider) == Some(*provider)
                && status.is_some_and(|s| s.migration.is_none() && s.operation.is_none())
                && settled_for(svc);
            if !settled {
                lagging.push(format!("{name}: {:?}", svc.status));
            }
        }
        for name in self.live.keys() {
            if !objects.iter().any(|o| o.name_any() == *name) {
                lagging.push(format!("{name} is missing"));
            }
        }
        // A deleted in-cluster object's Knative Service or Deployment goes with it by garbage
        // collection, which runs after the object is gone.
        let in_cluster = [
            (
                Provider::Knative,
                "Knative Services",
                self.knative_services().await,
            ),
            (
                Provider::Kubernetes,
                "Deployments",
                self.deployments().await,
            ),
        ];
        for (provider, what, by_uid) in in_cluster {
            for (uid, children) in by_uid {
                let live = objects.iter().any(|o| {
                    o.uid().as_deref() == Some(uid.as_str())
                        && self.live.get(&o.name_any()).map(|l| l.0) == Some(provider)
                });
                if !live {
                    lagging.push(format!("{what} of {uid} not yet collected: {children:?}"));
                }
            }
        }
        lagging
    }

    async fn verify(&mut self) {
        let ecs = self.ecs_services().await;
        let run = self.run_services().await;
        let knative = self.knative_services().await;
        let deployments = self.deployments().await;
        let azure = self.azure_resources().await;
        let objects: BTreeMap<String, ServerlessService> = self
            .ssvs()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|s| (s.name_any(), s))
            .collect();
        let mut found = Vec::new();
        for (uid, name) in self.uids.clone() {
            // The object's current incarnation, if this UID is it.
            let live = objects
                .get(&name)
                .filter(|o| o.uid().as_deref() == Some(uid.as_str()))
                .and_then(|o| self.live.get(&name).map(|l| (o, *l)));
            let on_ecs = ecs.get(&uid).cloned().unwrap_or_default();
            let on_run = run.get(&label_value(&uid)).cloned().unwrap_or_default();
            let on_knative = knative.get(&uid).cloned().unwrap_or_default();
            let on_deployments = deployments.get(&uid).cloned().unwrap_or_default();
            let on_azure = azure.get(&uid).cloned().unwrap_or_default();
            let want = |p: Provider| usize::from(live.is_some_and(|(_, (on, _))| on == p));
            let (want_ecs, want_run, want_knative, want_deployments) = (
                want(Provider::Fargate),
                want(Provider::CloudRun),
                want(Provider::Knative),
                want(Provider::Kubernetes),
            );
            // Container apps and container groups are told apart by their ids' type below.
            let want_azure = want(Provider::ContainerApps) + want(Provider::ContainerInstances);
            if on_ecs.len() != want_ecs
                || on_run.len() != want_run
                || on_knative.len() != want_knative
                || on_deployments.len() != want_deployments
                || on_azure.len() != want_azure
            {
                found.push(format!(
                    "{name} (uid {uid}): ECS {on_ecs:?} (want {want_ecs}), Cloud Run {on_run:?} \
                     (want {want_run}), Knative {on_knative:?} (want {want_knative}), \
                     Deployments {on_deployments:?} (want {want_deployments}), Azure \
                     {on_azure:?} (want {want_azure})"
                ));
                continue;
            }
            let Some((svc, (provider, image))) = live else {
                continue;
            };
            let image = format!("ghcr.io/acme/hello:{image}");
            let id = svc
                .status
                .as_ref()
                .and_then(|s| s.resource_ref.as_ref())
                .map(|r| r.id.clone())
                .unwrap_or_default();
            let (resource, running) = match provider {
                Provider::Fargate => {
                    let (arn, task) = &on_ecs[0];
                    (arn.clone(), self.ecs_image(task).await)
                }
                Provider::CloudRun => on_run[0].clone(),
                Provider::Knative => on_knative[0].clone(),
                Provider::Kubernetes => on_deployments[0].clone(),
                Provider::ContainerApps | Provider::ContainerInstances => {
                    let kind = if provider == Provider::ContainerApps {
                        "/providers/Microsoft.App/containerApps/"
                    } else {
                        "/providers/Microsoft.ContainerInstance/containerGroups/"
                    };
                    if !on_azure[0].0.contains(kind) {
                        found.push(format!(
                            "{name}: on {provider:?}, but Azure holds {on_azure:?}"
                        ));
                    }
                    on_azure[0].clone()
                }
            };
            if !id.ends_with(&resource) && !resource.ends_with(&id) || id.is_empty() {
                found.push(format!(
                    "{name}: status.resourceRef {id:?}, but {resource} exists"
                ));
            }
            if running != image {
                found.push(format!(
                    "{name}: the cloud runs {running}, the spec {image}"
                ));
            }
        }
        for stray in ecs
            .keys()
            .chain(run.keys())
            .chain(knative.keys())
            .chain(deployments.keys())
            .chain(azure.keys())
        {
            if stray.starts_with('<') {
                found.push(format!("a cloud resource without Ferry's UID: {stray}"));
            }
        }
        let log = self.operator.logs();
        if log.contains("panicked") {
            found.push("the operator panicked".into());
        }
        for violation in found {
            self.violations(violation);
        }
    }

    async fn delete_all(&mut self) {
        for name in self.live.keys().cloned().collect::<Vec<_>>() {
            self.ssvs()
                .delete(&name, &DeleteParams::default())
                .await
                .unwrap();
        }
        self.live.clear();
    }
}

/// Cloud Run label values are lower case.
fn label_value(uid: &str) -> String {
    uid.to_ascii_lowercase()
}

/// Whether every condition speaks of the current generation and says the work is done: after
/// a failed write Ferry keeps the provider's last word on `Ready` (for the generation it was
/// given about) beside `Synced=False` and `Reconciling=True`, which is not done.
fn settled_for(svc: &ServerlessService) -> bool {
    let generation = svc.metadata.generation;
    let conditions = svc
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let is = |type_: &str, status: &str| {
        conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == status && c.observed_generation == generation)
    };
    is("Ready", "True")
        && is("Synced", "True")
        && !conditions
            .iter()
            .any(|c| c.type_ == "Reconciling" && c.status == "True")
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Plays `rounds` rounds of changes, faults and kills, then deletes everything; fails with the
/// report when an invariant did not hold.
async fn play(rounds: &mut impl Rounds, seed: u64) {
    let count = env_number("FERRY_E2E_FAULT_ROUNDS").unwrap_or(6);
    for round in 1..=count {
        let suite = rounds.suite();
        suite.figures.rounds = usize::try_from(round).unwrap();
        suite.inject_faults().await;
        suite.inject_api_faults().await;
        rounds.act().await;
        // Killed at a random moment of the change's reconciles: before the first cloud call,
        // between a create and its status write, during a rollout, a deletion or a move.
        let suite = rounds.suite();
        for _ in 0..suite.rng.random_range(1..=2) {
            let delay = suite.rng.random_range(0..1500);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            suite.kill();
            suite.round.push(format!("killed after {delay} ms"));
        }
        rounds.converge().await;
        let suite = rounds.suite();
        println!(
            "round {round}: {} (settled in {:.1} s)",
            std::mem::take(&mut suite.round).join(", "),
            suite
                .figures
                .converge
                .last()
                .map_or(0.0, Duration::as_secs_f64)
        );
        rounds.verify().await;
    }
    // Everything goes at the end: nothing may be left in any cloud.
    rounds.delete_all().await;
    let suite = rounds.suite();
    tokio::time::sleep(Duration::from_millis(suite.rng.random_range(0..1000))).await;
    suite.kill();
    rounds.converge().await;
    rounds.verify().await;
    let suite = rounds.suite();
    let met = suite.met_faults().await;
    let report = suite.report(seed, &met);
    println!("{report}");
    assert!(
        suite.figures.violations.is_empty(),
        "{report}\n--- ferry log ---\n{}{}",
        suite.logs,
        suite.operator.logs()
    );
}

fn seed() -> u64 {
    let seed = env_number("FERRY_E2E_FAULT_SEED").unwrap_or_else(rand::random);
    println!("FERRY_E2E_FAULT_SEED={seed}");
    seed
}

#[tokio::test]
async fn no_duplicate_no_orphan_no_stuck_object_under_crashes_and_cloud_faults() {
    let seed = seed();
    play(&mut Suite::start(seed, &SERVICES).await, seed).await;
}

/// The same for ServerlessJobs: no run started twice, whatever is killed or fails when.
#[tokio::test]
async fn no_job_run_started_twice_under_crashes_and_cloud_faults() {
    let seed = seed();
    let suite = Suite::start(seed, &jobs::JOBS).await;
    play(&mut jobs::JobRounds::new(suite), seed).await;
}

/// The faults one at a time, without kills: each must leave the cloud as the spec says.
#[tokio::test]
async fn each_lost_answer_alone_leaves_the_cloud_as_the_spec_says() {
    let mut suite = Suite::start(1, &SERVICES).await;
    for (provider, call) in [
        (Provider::CloudRun, "UpdateService"),
        (Provider::Fargate, "UpdateService"),
        (Provider::ContainerApps, "ContainerApps_CreateOrUpdate"),
        (
            Provider::ContainerInstances,
            "ContainerGroups_CreateOrUpdate",
        ),
    ] {
        let name = format!("lost-{}", provider.as_str().to_ascii_lowercase());
        suite.apply(&name, provider, 1).await;
        suite.live.insert(name.clone(), (provider, 1));
        let svc = suite.ssvs().get(&name).await.unwrap();
        suite.uids.insert(svc.uid().unwrap(), name.clone());
        suite.converge().await;
        match provider {
            Provider::CloudRun => suite
                .cloud_run
                .project(&suite.project)
                .fail(call, cloudrun_fake::Fault::LostResponse, 1)
                .await
                .unwrap(),
            Provider::Fargate => suite.proxy.fail(call, AwsFault::LostResponse, 1),
            _ => suite
                .azure
                .subscription(&suite.subscription)
                .fail(call, azure_fake::Fault::Lost, 1)
                .await
                .unwrap(),
        }
        suite.apply(&name, provider, 2).await;
        suite.live.insert(name.clone(), (provider, 2));
        suite.converge().await;
        suite.verify().await;
    }
    assert!(
        suite.figures.violations.is_empty(),
        "{:?}\n--- ferry log ---\n{}",
        suite.figures.violations,
        suite.operator.logs()
    );
}
