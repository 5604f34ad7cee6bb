//! The operator with its plain Kubernetes backend, end to end: the real `ferry controller`
//! process against the stand-in API server (or a real cluster with `FERRY_E2E_KUBECONFIG`),
//! making a Deployment, a Service and, as the spec asks, a HorizontalPodAutoscaler, a
//! PodDisruptionBudget, an Ingress and a VerticalPodAutoscaler. Nothing runs Deployments on the
//! stand-in, so the tests play the Deployment controller there ([`e2e::play_deployments`]) and
//! the kubelet where a pod must fail (they make the pod and write its status); on a real
//! cluster the controller manager and the kubelet do, with real images ([`IMAGE`], and
//! [`HTTP_IMAGE`] where Knative must see it answer) and a really missing one
//! ([`MISSING_IMAGE`]). Volumes too: a Secret's key, a scratch directory and an EFS file
//! system, whose PersistentVolume and claim Ferry makes first and deletes with the object.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly
#![allow(clippy::float_cmp)] // the metrics compared are whole counts, exact in an f64

use std::time::Duration;

use e2e::{Cluster, Ferry, MANAGER, Operator, Player, Scene, TestNamespace, wait_for};
use ferry_api::{Provider, ServerlessService};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

/// Long enough for a real cluster to pull an image and for a loaded CI machine.
const WAIT: Duration = Duration::from_secs(120);
/// An image that runs anywhere (it only sleeps), for a real cluster.
const IMAGE: &str = "registry.k8s.io/pause:3.10";
/// Another tag of it, for an image update.
const NEXT_IMAGE: &str = "registry.k8s.io/pause:3.9";
/// An image no registry has.
const MISSING_IMAGE: &str = "registry.k8s.io/ferry-e2e/does-not-exist:0";
/// An image that answers HTTP on port 8080, as Knative needs it to (its revision is ready only
/// once the container answers), for a move to Knative on a real cluster.
const HTTP_IMAGE: &str = "ghcr.io/knative/helloworld-go:latest";
/// The label that selects a service's pods.
const SELECTOR_LABEL: &str = "ferry.dev/service";
/// Long enough for a real cluster to delete pods that use a claim.
const CLAIM_WAIT: Duration = Duration::from_secs(150);
const FS: &str = "fs-0123456789abcdef0";
const AP: &str = "fsap-0123456789abcdef0";
const FINALIZER: &str = "ferry.dev/cleanup";

/// A kind the backend makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Child {
    Deployment,
    Service,
    Hpa,
    Pdb,
    Ingress,
    Vpa,
}

impl Child {
    const ALL: [Child; 6] = [
        Child::Deployment,
        Child::Service,
        Child::Hpa,
        Child::Pdb,
        Child::Ingress,
        Child::Vpa,
    ];

    fn resource(self) -> ApiResource {
        let (group, version, kind, plural) = match self {
            Child::Deployment => ("apps", "v1", "Deployment", "deployments"),
            Child::Service => ("", "v1", "Service", "services"),
            Child::Hpa => (
                "autoscaling",
                "v2",
                "HorizontalPodAutoscaler",
                "horizontalpodautoscalers",
            ),
            Child::Pdb => (
                "policy",
                "v1",
                "PodDisruptionBudget",
                "poddisruptionbudgets",
            ),
            Child::Ingress => ("networking.k8s.io", "v1", "Ingress", "ingresses"),
            Child::Vpa => (
                "autoscaling.k8s.io",
                "v1",
                "VerticalPodAutoscaler",
                "verticalpodautoscalers",
            ),
        };
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
    }
}

/// One test's namespace, with an operator watching only it.
struct Scenario {
    cluster: &'static Cluster,
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    players: Vec<Player>,
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
    async fn start(prefix: &str) -> Self {
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, prefix).await.unwrap();
        let operator = Ferry::spawn_confined(cluster, namespace.name()).unwrap();
        Self {
            cluster,
            client: cluster.client().await.unwrap(),
            namespace,
            operator,
            players: Vec::new(),
        }
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    /// Plays the Deployment controller from now on, where the suite does.
    fn play_deployments(&mut self) {
        let player = e2e::play_deployments(self.cluster, self.client.clone(), self.ns());
        self.players.extend(player.map(Player));
    }

    /// Plays Knative Serving from now on, where the suite does.
    fn play_knative(&mut self) {
        let knative = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("serving.knative.dev", "v1", "Service"),
            "services",
        );
        let api = Api::namespaced_with(self.client.clone(), self.ns(), &knative);
        let player = e2e::play_knative(self.cluster, api, self.ns());
        self.players.extend(player.map(Player));
    }

    fn api(&self, child: Child) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), self.ns(), &child.resource())
    }

    async fn apply(&self, name: &str, spec: &Value) {
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": name},
            "spec": spec,
        });
        self.ssvs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
    }

    /// `child` `name` once `ok` holds for it, as JSON.
    async fn child(&self, child: Child, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let what = format!("the {child:?}");
        let found = wait_for(&self.api(child), name, WAIT, &what, |o: &DynamicObject| {
            ok(&serde_json::to_value(o).unwrap())
        })
        .await;
        serde_json::to_value(self.check(found)).unwrap()
    }

    async fn gone(&self, child: Child, name: &str) {
        let gone = e2e::wait_gone(&self.api(child), name, WAIT, &format!("the {child:?}")).await;
        self.check(gone);
    }

    async fn exists(&self, child: Child, name: &str) -> bool {
        self.api(child).get_opt(name).await.unwrap().is_some()
    }

    /// `name` once Ready=True for its current generation.
    async fn ready(&self, name: &str, what: &str) -> ServerlessService {
        self.ssv(name, what, |svc| {
            e2e::current_ready(svc) == Some(("True", "Available"))
        })
        .await
    }

    async fn resource_version(&self, child: Child, name: &str) -> String {
        self.api(child)
            .get(name)
            .await
            .unwrap()
            .resource_version()
            .unwrap()
    }

    async fn metric(&self, series: &str) -> f64 {
        let value = self.operator.metric(series).await;
        self.check(value)
    }

    /// The PersistentVolumes Ferry made for service `name`, and its claims, once `ok` holds for
    /// their counts.
    async fn claims_of(
        &self,
        name: &str,
        ok: impl Fn(usize, usize) -> bool,
    ) -> (Vec<PersistentVolume>, Vec<PersistentVolumeClaim>) {
        let owner = format!("ServerlessService {}/{name} (kubernetes)", self.ns());
        let found = e2e::claims_of(&self.client, self.ns(), &owner, CLAIM_WAIT, ok).await;
        self.check(found)
    }

    /// Plays the ReplicaSet controller and the kubelet on the stand-in: a pod of Deployment
    /// `name`'s template (its labels and annotations) whose container cannot pull its image. On
    /// a real cluster the Deployment's own pod does it.
    async fn pod_that_cannot_pull(&self, name: &str) {
        if !self.cluster.plays_deployments() {
            return;
        }
        let deployment = self.child(Child::Deployment, name, |_| true).await;
        let mut metadata = deployment["spec"]["template"]["metadata"].clone();
        let pod_name = format!("{name}-5d8c7b9f4-x2k9p");
        metadata["name"] = json!(pod_name);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), self.ns());
        let pod: Pod = serde_json::from_value(json!({
            "metadata": metadata,
            "spec": {"containers": [{"name": "app", "image": MISSING_IMAGE}]},
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let message = format!("Back-off pulling image \"{MISSING_IMAGE}\"");
        let status = json!({"status": {
            "phase": "Pending",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                            "message": "containers with unready status: [app]"}],
            "containerStatuses": [{
                "name": "app", "image": MISSING_IMAGE, "imageID": "", "ready": false,
                "restartCount": 0, "started": false,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": message}},
            }],
        }});
        pods.patch_status(&pod_name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }
}

/// A service with one container of `image`, a fixed count of one pod, internal.
fn hello_spec(image: &str) -> Value {
    json!({
        "provider": "kubernetes",
        "containers": [{
            "name": "app",
            "image": image,
            "port": 8080,
            "env": [{"name": "TARGET", "value": "Ferry"}],
            "resources": {"cpu": "100m", "memory": "64Mi"},
        }],
        "scaling": {"minInstances": 1},
        "ingress": "internal",
    })
}

fn condition<'a>(
    svc: &'a ServerlessService,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    svc.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

fn url(svc: &ServerlessService) -> Option<&str> {
    svc.status.as_ref()?.url.as_deref()
}

/// Checks that `child` is Ferry's and owned by `svc`.
fn assert_owned(child: &Value, svc: &ServerlessService) {
    let owner = &child["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "ServerlessService", "{child:#}");
    assert_eq!(owner["uid"], svc.uid().unwrap(), "{child:#}");
    assert_eq!(owner["controller"], true, "{child:#}");
    assert_eq!(
        child["metadata"]["labels"]["app.kubernetes.io/managed-by"], "ferry",
        "{child:#}"
    );
}

#[tokio::test]
async fn a_service_is_created_becomes_ready_idles_without_writes_follows_changes_and_goes_with_its_object()
 {
    let mut s = Scenario::start("k8s-lifecycle").await;
    s.apply("hello", &hello_spec(IMAGE)).await;

    // Ferry makes the Deployment and the Service the spec asks for, and nothing else.
    let deployment = s.child(Child::Deployment, "hello", |_| true).await;
    let svc = s.ssvs().get("hello").await.unwrap();
    assert_owned(&deployment, &svc);
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(
        deployment["spec"]["selector"],
        json!({"matchLabels": {SELECTOR_LABEL: "hello"}})
    );
    let template = &deployment["spec"]["template"];
    assert_eq!(template["metadata"]["labels"][SELECTOR_LABEL], "hello");
    let container = &template["spec"]["containers"][0];
    assert_eq!(container["image"], IMAGE);
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(
        container["env"][0],
        json!({"name": "TARGET", "value": "Ferry"})
    );
    assert_eq!(container["resources"]["requests"]["cpu"], "100m");
    assert_eq!(container["resources"]["limits"]["memory"], "64Mi");
    let managers: Vec<&str> = deployment["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"ferry"), "{managers:?}");
    let service = s.child(Child::Service, "hello", |_| true).await;
    assert_owned(&service, &svc);
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(
        service["spec"]["selector"],
        json!({SELECTOR_LABEL: "hello"})
    );
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);
    for child in [Child::Hpa, Child::Pdb, Child::Ingress] {
        assert!(!s.exists(child, "hello").await, "{child:?}");
    }
    // Owned, the children go with the object through garbage collection: no finalizer.
    assert!(svc.finalizers().is_empty(), "{svc:?}");

    // Until the Deployment controller reports, the service is progressing (on a real cluster
    // the controller may have rolled it out already).
    if s.cluster.plays_deployments() {
        let progressing = s
            .ssv("hello", "Ready=Unknown until the rollout", |svc| {
                e2e::current_ready(svc) == Some(("Unknown", "Progressing"))
            })
            .await;
        let message = &condition(&progressing, "Ready").unwrap().message;
        assert!(message.contains("generation 1"), "{message}");
    }
    s.play_deployments();

    // Rolled out: Ready, at the Service's cluster DNS name.
    let ready = s.ready("hello", "Ready=True").await;
    let internal = format!("http://hello.{}.svc.cluster.local", s.ns());
    assert_eq!(url(&ready), Some(internal.as_str()));
    assert!(
        condition(&ready, "Synced").is_some_and(|c| c.status == "True"),
        "{ready:?}"
    );
    let instances = ready.status.as_ref().unwrap().instances.as_ref().unwrap();
    assert_eq!((instances.desired, instances.ready), (Some(1), Some(1)));

    // Idle: several resyncs later nothing was written to the object or its children.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ssv_version = s.ssvs().get("hello").await.unwrap().resource_version();
    let deployment_version = s.resource_version(Child::Deployment, "hello").await;
    let service_version = s.resource_version(Child::Service, "hello").await;
    let reconciles = s.metric("ferry_reconciles_total").await;
    let writes = s.metric("ferry_status_writes_total").await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        s.metric("ferry_reconciles_total").await >= reconciles + 2.0,
        "resyncs keep observing"
    );
    assert_eq!(s.metric("ferry_status_writes_total").await, writes);
    assert_eq!(
        s.ssvs().get("hello").await.unwrap().resource_version(),
        ssv_version
    );
    assert_eq!(
        s.resource_version(Child::Deployment, "hello").await,
        deployment_version
    );
    assert_eq!(
        s.resource_version(Child::Service, "hello").await,
        service_version
    );

    // A new image reaches the Deployment, and the object is Ready for generation 2.
    s.apply("hello", &hello_spec(NEXT_IMAGE)).await;
    s.child(Child::Deployment, "hello", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] == NEXT_IMAGE
    })
    .await;
    let ready = s.ready("hello", "Ready=True with the new image").await;
    assert_eq!(ready.status.as_ref().unwrap().observed_generation, Some(2));

    // Scaling between 2 and 4 pods: an autoscaler and a disruption budget.
    let mut spec = hello_spec(NEXT_IMAGE);
    spec["scaling"] = json!({"minInstances": 2, "maxInstances": 4});
    s.apply("hello", &spec).await;
    let hpa = s
        .child(Child::Hpa, "hello", |h| h["spec"]["maxReplicas"] == 4)
        .await;
    assert_owned(&hpa, &svc);
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello"})
    );
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"],
        json!({"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}})
    );
    let pdb = s.child(Child::Pdb, "hello", |_| true).await;
    assert_owned(&pdb, &svc);
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    s.ready("hello", "Ready=True while it scales").await;

    // A new maximum changes the autoscaler in place.
    spec["scaling"]["maxInstances"] = json!(5);
    s.apply("hello", &spec).await;
    s.child(Child::Hpa, "hello", |h| h["spec"]["maxReplicas"] == 5)
        .await;
    s.ready("hello", "Ready=True with the new maximum").await;

    // A fixed count again: the autoscaler and the budget go, the Deployment has the count.
    s.apply("hello", &hello_spec(NEXT_IMAGE)).await;
    s.gone(Child::Hpa, "hello").await;
    s.gone(Child::Pdb, "hello").await;
    s.child(Child::Deployment, "hello", |d| d["spec"]["replicas"] == 1)
        .await;
    s.ready("hello", "Ready=True at a fixed count again").await;

    // The object goes, and its children with it.
    s.ssvs()
        .delete("hello", &DeleteParams::default())
        .await
        .unwrap();
    let gone = e2e::wait_gone(&s.ssvs(), "hello", WAIT, "the ServerlessService").await;
    s.check(gone);
    s.gone(Child::Deployment, "hello").await;
    s.gone(Child::Service, "hello").await;
}

#[tokio::test]
async fn a_public_service_answers_at_its_host_until_it_goes_internal() {
    let mut s = Scenario::start("k8s-public").await;
    s.play_deployments();
    let host = format!("web.{}.example.test", s.ns());
    let mut spec = hello_spec(IMAGE);
    spec["ingress"] = json!("public");
    spec["kubernetes"] = json!({"host": host});
    s.apply("web", &spec).await;

    let ingress = s.child(Child::Ingress, "web", |_| true).await;
    let svc = s.ssvs().get("web").await.unwrap();
    assert_owned(&ingress, &svc);
    let rule = &ingress["spec"]["rules"][0];
    assert_eq!(rule["host"], host.as_str());
    assert_eq!(
        rule["http"]["paths"][0],
        json!({"path": "/", "pathType": "Prefix",
               "backend": {"service": {"name": "web", "port": {"number": 80}}}})
    );
    let ready = s.ready("web", "Ready=True at the host").await;
    let public = format!("http://{host}");
    assert_eq!(url(&ready), Some(public.as_str()));

    // Another change while public applies the Ingress again; it stays.
    spec["containers"][0]["env"][0]["value"] = json!("Ferry 2");
    s.apply("web", &spec).await;
    s.child(Child::Deployment, "web", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "Ferry 2"
    })
    .await;
    let ready = s.ready("web", "Ready=True for generation 2").await;
    assert_eq!(url(&ready), Some(public.as_str()));
    assert!(s.exists(Child::Ingress, "web").await);

    // Internal: the Ingress goes and the URL is the cluster DNS name.
    spec["ingress"] = json!("internal");
    spec.as_object_mut().unwrap().remove("kubernetes");
    s.apply("web", &spec).await;
    s.gone(Child::Ingress, "web").await;
    let ready = s.ready("web", "Ready=True internal").await;
    let internal = format!("http://web.{}.svc.cluster.local", s.ns());
    assert_eq!(url(&ready), Some(internal.as_str()));
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_is_reported_image_not_found() {
    let mut s = Scenario::start("k8s-failing").await;
    s.apply("broken", &hello_spec(MISSING_IMAGE)).await;
    // On the stand-in the pod is there before the Deployment controller looks (played from
    // then on), so it never reports the rollout done.
    s.pod_that_cannot_pull("broken").await;
    s.play_deployments();
    let failed = s
        .ssv("broken", "Ready=False ImageNotFound", |svc| {
            e2e::current_ready(svc) == Some(("False", "ImageNotFound"))
        })
        .await;
    let message = &condition(&failed, "Ready").unwrap().message;
    assert!(message.contains("does-not-exist"), "{message}");
    if s.cluster.plays_deployments() {
        assert!(message.contains("ImagePullBackOff"), "{message}");
    }
}

#[tokio::test]
async fn a_vertical_pod_autoscaler_is_made_changed_and_removed_with_its_section() {
    // Installed before the operator starts, so it watches VerticalPodAutoscalers from the start.
    let installed = Cluster::shared()
        .unwrap()
        .ensure_vertical_pod_autoscaler()
        .await
        .unwrap();
    println!("VPA CRDs installed by the test: {installed}");
    let mut s = Scenario::start("k8s-vpa").await;
    s.play_deployments();
    let mut spec = hello_spec(IMAGE);
    spec["kubernetes"] = json!({"verticalPodAutoscaler": {"updateMode": "Off"}});
    s.apply("sized", &spec).await;

    let vpa = s.child(Child::Vpa, "sized", |_| true).await;
    let svc = s.ssvs().get("sized").await.unwrap();
    assert_owned(&vpa, &svc);
    assert_eq!(
        vpa["spec"]["targetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "sized"})
    );
    assert_eq!(vpa["spec"]["updatePolicy"]["updateMode"], "Off");
    s.ready("sized", "Ready=True with a VPA").await;

    spec["kubernetes"]["verticalPodAutoscaler"]["updateMode"] = json!("Initial");
    s.apply("sized", &spec).await;
    s.child(Child::Vpa, "sized", |v| {
        v["spec"]["updatePolicy"]["updateMode"] == "Initial"
    })
    .await;
    s.ready("sized", "Ready=True with the VPA changed").await;

    spec.as_object_mut().unwrap().remove("kubernetes");
    s.apply("sized", &spec).await;
    s.gone(Child::Vpa, "sized").await;
    s.ready("sized", "Ready=True without a VPA").await;
    assert!(s.exists(Child::Deployment, "sized").await);
}

#[tokio::test]
async fn moving_to_knative_deletes_everything_ferry_made_in_the_cluster() {
    let mut s = Scenario::start("k8s-move").await;
    s.play_deployments();
    s.play_knative();
    let host = format!("mover.{}.example.test", s.ns());
    let mut spec = hello_spec(HTTP_IMAGE);
    spec["containers"][0]["resources"]["memory"] = json!("128Mi");
    spec["scaling"] = json!({"minInstances": 2, "maxInstances": 3});
    spec["ingress"] = json!("public");
    spec["kubernetes"] = json!({"host": host});
    spec["migration"] = json!({"drainSeconds": 1});
    s.apply("mover", &spec).await;
    s.ready("mover", "Ready=True on Kubernetes").await;
    let made = [
        Child::Deployment,
        Child::Service,
        Child::Hpa,
        Child::Pdb,
        Child::Ingress,
    ];
    for child in made {
        assert!(s.exists(child, "mover").await, "{child:?}");
    }

    // To Knative: once it serves there and the old side has drained, Ferry deletes each child
    // itself (the object stays, so no garbage collector does).
    spec["provider"] = json!("knative");
    spec.as_object_mut().unwrap().remove("kubernetes");
    s.apply("mover", &spec).await;
    let moved = s
        .ssv("mover", "Ready=True on Knative, the move done", |svc| {
            let status = svc.status.as_ref();
            e2e::current_ready(svc) == Some(("True", "Available"))
                && status.and_then(|s| s.provider) == Some(Provider::Knative)
                && status.is_some_and(|s| s.migration.is_none())
        })
        .await;
    assert!(url(&moved).is_some(), "{moved:?}");
    for child in Child::ALL {
        s.gone(child, "mover").await;
    }
}

// Volumes (issue 23)

#[tokio::test]
async fn a_services_volumes_are_mounted_and_its_efs_claim_is_made_first_and_deleted_with_it() {
    let s = Scenario::start("vol-k8s").await;
    s.apply(
        "files",
        &json!({
            "provider": "kubernetes",
            "volumes": [
                {"name": "config", "secret": {"name": "files-config", "key": "settings.toml"}},
                {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                {"name": "uploads", "efs": {"fileSystemId": FS, "accessPointId": AP,
                                            "transitEncryption": true}},
            ],
            "containers": [{
                "name": "app",
                "image": IMAGE,
                "port": 8080,
                "resources": {"cpu": "100m", "memory": "64Mi"},
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/files"},
                    {"name": "scratch", "mountPath": "/tmp/work"},
                    {"name": "uploads", "mountPath": "/srv/uploads", "subPath": "app"},
                ],
            }],
            "scaling": {"minInstances": 1},
            "ingress": "internal",
        }),
    )
    .await;

    // The pair exists, and the Deployment mounts its claim.
    let (volumes, claims) = s.claims_of("files", |v, c| v == 1 && c == 1).await;
    e2e::assert_efs_pair(&volumes[0], &claims[0], s.ns(), &format!("{FS}::{AP}"));
    let claim = claims[0].name_any();
    let deployment = s.child(Child::Deployment, "files", |_| true).await;
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "config", "secret": {"secretName": "files-config",
                                          "items": [{"key": "settings.toml",
                                                     "path": "settings.toml"}]}},
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "uploads", "persistentVolumeClaim": {"claimName": claim}},
        ]),
        "{pod:#}"
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"],
        json!([
            {"name": "config", "mountPath": "/etc/files", "readOnly": true},
            {"name": "scratch", "mountPath": "/tmp/work"},
            {"name": "uploads", "mountPath": "/srv/uploads", "subPath": "app"},
        ]),
        "{pod:#}"
    );
    // A PersistentVolume is cluster-scoped, so no owner reference deletes it: the object keeps
    // Ferry's finalizer.
    let svc = s.ssvs().get("files").await.unwrap();
    assert!(svc.finalizers().iter().any(|f| f == FINALIZER), "{svc:?}");

    // Deleting the service deletes the pair.
    s.ssvs()
        .delete("files", &DeleteParams::default())
        .await
        .unwrap();
    let gone = e2e::wait_gone(&s.ssvs(), "files", CLAIM_WAIT, "the ServerlessService").await;
    s.check(gone);
    s.claims_of("files", |v, c| v == 0 && c == 0).await;
}
