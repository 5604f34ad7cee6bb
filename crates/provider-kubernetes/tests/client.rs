//! The plain Kubernetes client against the Kubernetes API stand-in: what a create, update,
//! delete and release leave in the stand-in (every child, by kind), and what an observation
//! makes of the Deployment's status, which the tests write as the Deployment controller would
//! (nothing runs Deployments in the stand-in), and of the pods' container statuses, written as
//! the kubelet would. The ServerlessService is a real one in the stand-in (Ferry's CRDs are
//! served), so its children's owner reference names an object that exists and the stand-in's
//! garbage collector leaves them be. The watch caches are empty: every read asks the API server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ferry_api::ServerlessService;
use ferry_api::conditions::reasons;
use ferry_core::desired::{Desired, ObjectRef};
use ferry_core::status::Readiness;
use ferry_provider::backend::Caches;
use ferry_provider::{Connector, Deletion, ExternalClient, Observation, ProviderError};
use ferry_provider_kubernetes::Kubernetes;
use ferry_provider_kubernetes::build::{self, Kind};
use ferry_provider_kubernetes::client::{KubernetesConnector, VPA_RECHECK, api_resource};
use ferry_testkit::builders::desired_of;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt as _};
use serde_json::{Value, json};

const NAMESPACE: &str = "shop";
const NAME: &str = "hello";
const IMAGE: &str = "registry.k8s.io/pause:3.10";
const NOW: &str = "2026-12-07T10:00:00Z";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn client_as(standin: &kube_standin::StandIn, user: &str) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&standin.kubeconfig_as(Some(user))).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

fn pods() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Pod"), "pods")
}

/// A stand-in serving Ferry's CRDs (and the VPA's with `vpa`), namespace `shop`, the
/// ServerlessService `hello` in it, and the client under test.
struct Cluster {
    _standin: kube_standin::StandIn,
    /// The test's own client, which plays the Deployment controller and the kubelet.
    test: Client,
    /// `hello` as the API server holds it (with its UID).
    svc: ServerlessService,
    kubernetes: std::sync::Arc<dyn ExternalClient>,
}

impl Cluster {
    async fn start(vpa: bool, spec: &Value) -> Self {
        let mut config = kube_standin::Config::default()
            .with_crds_from(&repo().join("crds"))
            .unwrap();
        if vpa {
            config = config
                .with_crds_from(&repo().join("tests/fixtures/vpa"))
                .unwrap();
        }
        let standin = kube_standin::StandIn::start(config).await.unwrap();
        let test = client_as(&standin, "test").await;
        Api::<k8s_openapi::api::core::v1::Namespace>::all(test.clone())
            .patch(
                NAMESPACE,
                &PatchParams::apply("test"),
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": NAMESPACE}})),
            )
            .await
            .unwrap();
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "spec": spec,
        });
        let svc = Api::<ServerlessService>::namespaced(test.clone(), NAMESPACE)
            .create(
                &PostParams::default(),
                &serde_json::from_value(object).unwrap(),
            )
            .await
            .unwrap();
        let ferry = client_as(&standin, "ferry").await;
        let kubernetes = KubernetesConnector::new(ferry, Caches::default())
            .connect(&svc)
            .await
            .unwrap();
        Self {
            _standin: standin,
            test,
            svc,
            kubernetes,
        }
    }

    /// What Ferry wants for `hello` with `spec` (the object in the stand-in keeps its first
    /// spec: only its identity matters to the children).
    fn want(&self, spec: &Value) -> Desired {
        let mut svc = self.svc.clone();
        svc.spec = serde_json::from_value(spec.clone()).unwrap();
        desired_of(&svc, &Kubernetes)
    }

    fn object(&self) -> ObjectRef {
        self.want(&json!(self.svc.spec)).object
    }

    fn api(&self, kind: Kind) -> Api<DynamicObject> {
        Api::namespaced_with(self.test.clone(), NAMESPACE, &api_resource(kind))
    }

    /// Every child the stand-in holds, by kind (a kind it does not serve holds none).
    async fn held(&self) -> BTreeMap<Kind, Value> {
        let mut out = BTreeMap::new();
        for kind in Kind::ALL {
            match self.api(kind).get_opt(NAME).await {
                Ok(Some(live)) => {
                    out.insert(kind, serde_json::to_value(live).unwrap());
                }
                Ok(None) => {}
                Err(kube::Error::Api(status))
                    if status.code == 404 && kind == Kind::VerticalPodAutoscaler => {}
                Err(e) => panic!("reading the {kind:?}: {e}"),
            }
        }
        out
    }

    async fn deployment(&self) -> Value {
        serde_json::to_value(self.api(Kind::Deployment).get(NAME).await.unwrap()).unwrap()
    }

    /// Writes the Deployment's status as the Deployment controller does once it has rolled
    /// out the current generation to `replicas` pods, all ready and available.
    async fn roll_out(&self, replicas: i64) {
        let generation = self.deployment().await["metadata"]["generation"]
            .as_i64()
            .unwrap();
        self.write_deployment_status(json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.",
                 "lastUpdateTime": NOW, "lastTransitionTime": NOW},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": format!("ReplicaSet \"{NAME}-5d8c7b9f4\" has successfully progressed."),
                 "lastUpdateTime": NOW, "lastTransitionTime": NOW},
            ],
        }))
        .await;
    }

    /// Writes the Deployment's status as the Deployment controller does while the new pods of
    /// the current generation never become ready.
    async fn stuck(&self) {
        let generation = self.deployment().await["metadata"]["generation"]
            .as_i64()
            .unwrap();
        self.write_deployment_status(json!({
            "observedGeneration": generation,
            "replicas": 1,
            "updatedReplicas": 1,
            "unavailableReplicas": 1,
            "conditions": [
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                 "message": "Deployment does not have minimum availability.",
                 "lastUpdateTime": NOW, "lastTransitionTime": NOW},
                {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                 "message": format!("ReplicaSet \"{NAME}-5d8c7b9f4\" is progressing."),
                 "lastUpdateTime": NOW, "lastTransitionTime": NOW},
            ],
        }))
        .await;
    }

    async fn write_deployment_status(&self, status: Value) {
        self.api(Kind::Deployment)
            .patch_status(
                NAME,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
            .unwrap();
    }

    /// A pod with `metadata` (as the ReplicaSet controller makes it from the Deployment's
    /// template: its labels and annotations) whose container `app` waits with `reason`, as the
    /// kubelet reports it.
    async fn pod_waiting(&self, pod: &str, metadata: &Value, reason: &str) {
        let api: Api<DynamicObject> = Api::namespaced_with(self.test.clone(), NAMESPACE, &pods());
        let mut metadata = metadata.clone();
        metadata["name"] = json!(pod);
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/nope:1"}]},
        }))
        .unwrap();
        api.create(&PostParams::default(), &object).await.unwrap();
        let status = json!({"status": {
            "phase": "Pending",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                            "lastTransitionTime": NOW}],
            "containerStatuses": [{
                "name": "app",
                "image": "registry.k8s.io/nope:1",
                "imageID": "",
                "ready": false,
                "restartCount": 0,
                "started": false,
                "state": {"waiting": {
                    "reason": reason,
                    "message": "Back-off pulling image \"registry.k8s.io/nope:1\"",
                }},
            }],
        }});
        api.patch_status(pod, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
    }

    /// The metadata the live Deployment's pods get from its template.
    async fn template_metadata(&self) -> Value {
        self.deployment().await["spec"]["template"]["metadata"].clone()
    }

    async fn observe(&self, want: &Desired) -> Observation {
        self.kubernetes.observe(want).await.unwrap()
    }
}

/// `hello` with one container, `scaling`, internal unless `extra` (more spec fields) says
/// otherwise.
fn spec(scaling: &Value, extra: &Value) -> Value {
    let mut spec = json!({
        "provider": "kubernetes",
        "containers": [{
            "name": "app",
            "image": IMAGE,
            "port": 8080,
            "env": [{"name": "TARGET", "value": "Ferry"}],
            "resources": {"cpu": "250m", "memory": "256Mi"},
        }],
        "scaling": scaling,
        "ingress": "internal",
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    spec
}

/// Scales 2 to 10 pods, public at `hello.example.com`: every kind but the VPA.
fn everything() -> Value {
    spec(
        &json!({"minInstances": 2, "maxInstances": 10}),
        &json!({"ingress": "public", "kubernetes": {"host": "hello.example.com"}}),
    )
}

fn present(observation: &Observation) -> (bool, &Readiness, &ferry_core::status::Outputs) {
    match observation {
        Observation::Present {
            up_to_date,
            readiness,
            outputs,
        } => (*up_to_date, readiness, outputs),
        Observation::Absent => panic!("expected the service present, got Absent"),
    }
}

fn kinds(held: &BTreeMap<Kind, Value>) -> Vec<Kind> {
    held.keys().copied().collect()
}

fn terminal_reason(error: &ProviderError) -> &'static str {
    match error {
        ProviderError::Terminal { reason, .. } => reason,
        other => panic!("expected a terminal error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_makes_exactly_the_wanted_children_and_readiness_follows_the_deployment() {
    let c = Cluster::start(false, &everything()).await;
    let want = c.want(&everything());

    assert_eq!(c.observe(&want).await, Observation::Absent);
    assert!(c.held().await.is_empty(), "observe changed nothing");

    let started = c.kubernetes.create(&want).await.unwrap();
    assert_eq!(started.operation, None);
    let (readiness, _) = started.state.expect("the apply's answer");
    assert!(
        matches!(readiness, Readiness::Progressing(_)),
        "{readiness:?}"
    );

    // Exactly the wanted children, each holding what Ferry applied, owned by the object.
    let held = c.held().await;
    let wanted = build::children(&want);
    assert_eq!(kinds(&held), wanted.keys().copied().collect::<Vec<_>>());
    assert_eq!(
        kinds(&held),
        [
            Kind::Deployment,
            Kind::Service,
            Kind::HorizontalPodAutoscaler,
            Kind::PodDisruptionBudget,
            Kind::Ingress
        ]
    );
    for (kind, live) in &held {
        assert!(
            build::is_up_to_date(&wanted[kind], live),
            "{kind:?} holds what Ferry applied: {live:#}"
        );
        let owner = &live["metadata"]["ownerReferences"];
        assert_eq!(
            owner,
            &json!([{"apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessService",
                     "name": NAME, "uid": c.svc.uid().unwrap(),
                     "controller": true, "blockOwnerDeletion": true}]),
            "{kind:?}"
        );
        assert_eq!(
            live["metadata"]["labels"]["app.kubernetes.io/managed-by"], "ferry",
            "{kind:?}"
        );
        let managers: Vec<&str> = live["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["manager"].as_str())
            .collect();
        assert_eq!(managers, ["ferry"], "{kind:?}");
    }
    let deployment = &held[&Kind::Deployment];
    // The autoscaler sets the replica count: Ferry leaves it out.
    assert!(
        deployment["spec"].get("replicas").is_none(),
        "{deployment:#}"
    );
    assert_eq!(
        deployment["spec"]["selector"],
        json!({"matchLabels": {"ferry.dev/service": NAME}})
    );
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], IMAGE);
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "250m", "memory": "256Mi"},
               "limits": {"cpu": "250m", "memory": "256Mi"}})
    );
    let service = &held[&Kind::Service];
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);
    let hpa = &held[&Kind::HorizontalPodAutoscaler]["spec"];
    assert_eq!(
        (&hpa["minReplicas"], &hpa["maxReplicas"]),
        (&json!(2), &json!(10))
    );
    assert_eq!(hpa["scaleTargetRef"]["name"], NAME);
    assert_eq!(
        held[&Kind::PodDisruptionBudget]["spec"]["maxUnavailable"],
        1
    );
    assert_eq!(
        held[&Kind::Ingress]["spec"]["rules"][0]["host"],
        "hello.example.com"
    );

    // Right after: up to date, and progressing until the Deployment controller reports.
    let seen = c.observe(&want).await;
    let (up_to_date, readiness, outputs) = present(&seen);
    assert!(up_to_date, "{seen:?}");
    assert_eq!(
        readiness,
        &Readiness::Progressing(
            "the Deployment controller has not yet processed generation 1".into()
        )
    );
    assert_eq!(outputs.url.as_deref(), Some("http://hello.example.com"));
    assert_eq!(
        outputs.resource_id.as_deref(),
        Some("deployments.apps/shop/hello")
    );

    // The Deployment controller has rolled out generation 1: Ready, at the Ingress's host.
    c.roll_out(2).await;
    let seen = c.observe(&want).await;
    let (up_to_date, readiness, outputs) = present(&seen);
    assert!(up_to_date, "{seen:?}");
    assert_eq!(readiness, &Readiness::Ready);
    assert_eq!(outputs.url.as_deref(), Some("http://hello.example.com"));
    assert_eq!(
        outputs.address_url.as_deref(),
        Some("http://hello.shop.svc.cluster.local")
    );
    // Observing wrote nothing.
    assert_eq!(c.held().await, {
        let mut before = held.clone();
        before.insert(Kind::Deployment, c.deployment().await);
        before
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fixed_count_deletes_the_autoscaler_and_the_disruption_budget() {
    let c = Cluster::start(false, &everything()).await;
    c.kubernetes.create(&c.want(&everything())).await.unwrap();
    c.roll_out(2).await;

    let fixed = spec(
        &json!({"minInstances": 1}),
        &json!({"ingress": "public", "kubernetes": {"host": "hello.example.com"}}),
    );
    let want = c.want(&fixed);
    let (up_to_date, ..) = present(&c.observe(&want).await);
    assert!(!up_to_date, "a new spec is not up to date");
    c.kubernetes.update(&want).await.unwrap();

    let held = c.held().await;
    assert_eq!(
        kinds(&held),
        [Kind::Deployment, Kind::Service, Kind::Ingress]
    );
    assert_eq!(held[&Kind::Deployment]["spec"]["replicas"], 1);
    assert_eq!(held[&Kind::Deployment]["metadata"]["generation"], 2);

    // The Deployment controller has not seen generation 2 yet, then rolls it out.
    let seen = c.observe(&want).await;
    let (up_to_date, readiness, _) = present(&seen);
    assert!(up_to_date, "{seen:?}");
    assert_eq!(
        readiness,
        &Readiness::Progressing(
            "the Deployment controller has not yet processed generation 2".into()
        )
    );
    c.roll_out(1).await;
    let seen = c.observe(&want).await;
    let (_, readiness, outputs) = present(&seen);
    assert_eq!(readiness, &Readiness::Ready);
    assert_eq!(outputs.instances, Some((1, 1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn going_internal_deletes_the_ingress_and_the_url_is_the_cluster_name() {
    let c = Cluster::start(false, &everything()).await;
    c.kubernetes.create(&c.want(&everything())).await.unwrap();

    let internal = spec(&json!({"minInstances": 2, "maxInstances": 10}), &json!({}));
    let want = c.want(&internal);
    c.kubernetes.update(&want).await.unwrap();
    assert_eq!(
        kinds(&c.held().await),
        [
            Kind::Deployment,
            Kind::Service,
            Kind::HorizontalPodAutoscaler,
            Kind::PodDisruptionBudget
        ]
    );
    c.roll_out(2).await;
    let seen = c.observe(&want).await;
    let (up_to_date, readiness, outputs) = present(&seen);
    assert!(up_to_date, "{seen:?}");
    assert_eq!(readiness, &Readiness::Ready);
    assert_eq!(
        outputs.url.as_deref(),
        Some("http://hello.shop.svc.cluster.local")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_ferry_did_not_make_is_name_taken_and_left_alone() {
    let fixed = spec(&json!({"minInstances": 1}), &json!({}));
    let c = Cluster::start(false, &fixed).await;
    let theirs = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "labels": {"team": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "theirs"}},
            "template": {"metadata": {"labels": {"app": "theirs"}},
                         "spec": {"containers": [{"name": "web", "image": IMAGE}]}},
        },
    });
    c.api(Kind::Deployment)
        .patch(
            NAME,
            &PatchParams::apply("someone-else"),
            &Patch::Apply(&theirs),
        )
        .await
        .unwrap();
    let before = c.held().await;

    let want = c.want(&fixed);
    let error = c.kubernetes.observe(&want).await.unwrap_err();
    assert_eq!(terminal_reason(&error), reasons::NAME_TAKEN, "{error}");
    assert!(
        error.to_string().contains("was not created by Ferry"),
        "{error}"
    );
    // Deleting or releasing the object leaves it too.
    assert_eq!(
        c.kubernetes.delete(&c.object()).await.unwrap(),
        Deletion::Gone
    );
    c.kubernetes.release(&c.object()).await.unwrap();
    assert_eq!(c.held().await, before, "untouched");

    // One with Ferry's label but controlled by another object is not Ferry's either.
    c.api(Kind::Deployment)
        .delete(NAME, &DeleteParams::default())
        .await
        .unwrap();
    // Controlled by another object that exists (a namespace will do: the garbage collector
    // keeps what has a live owner).
    let namespace_uid = Api::<k8s_openapi::api::core::v1::Namespace>::all(c.test.clone())
        .get(NAMESPACE)
        .await
        .unwrap()
        .uid()
        .unwrap();
    let mut other_owned = theirs.clone();
    other_owned["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "ferry"});
    other_owned["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "v1", "kind": "Namespace", "name": NAMESPACE, "uid": namespace_uid,
        "controller": true,
    }]);
    c.api(Kind::Deployment)
        .patch(
            NAME,
            &PatchParams::apply("someone-else"),
            &Patch::Apply(&other_owned),
        )
        .await
        .unwrap();
    let before = c.held().await;
    let error = c.kubernetes.observe(&want).await.unwrap_err();
    assert_eq!(terminal_reason(&error), reasons::NAME_TAKEN, "{error}");
    assert_eq!(
        c.kubernetes.delete(&c.object()).await.unwrap(),
        Deletion::Gone
    );
    assert_eq!(c.held().await, before, "untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_that_cannot_pull_its_image_fails_a_stuck_rollout_with_image_not_found() {
    let first = spec(&json!({"minInstances": 1}), &json!({}));
    let c = Cluster::start(false, &first).await;
    c.kubernetes.create(&c.want(&first)).await.unwrap();
    // A pod of the first template, in trouble.
    let old_template = c.template_metadata().await;
    c.pod_waiting("hello-6b7d9c8f5-q8w2n", &old_template, "ImagePullBackOff")
        .await;
    // The current template (a new image), whose rollout waits for its pods.
    let mut fixed = first.clone();
    fixed["containers"][0]["image"] = json!("registry.k8s.io/nope:1");
    let want = c.want(&fixed);
    c.kubernetes.update(&want).await.unwrap();
    c.stuck().await;
    // Another service's pod in trouble is not this one's.
    c.pod_waiting(
        "other-7f9c-abcde",
        &json!({"labels": {build::SELECTOR_LABEL: "other"}}),
        "ImagePullBackOff",
    )
    .await;
    // Nor is the old template's pod this rollout's: its trouble may be what the new one fixes.
    let seen = c.observe(&want).await;
    let (up_to_date, readiness, _) = present(&seen);
    assert!(up_to_date, "{seen:?}");
    assert_eq!(
        readiness,
        &Readiness::Progressing("rolling out: 1 of 1 pods updated, 0 available".into())
    );

    let template = c.template_metadata().await;
    assert_ne!(template, old_template);
    assert_eq!(template["labels"][build::SELECTOR_LABEL], NAME);
    c.pod_waiting("hello-5d8c7b9f4-xk2p9", &template, "ImagePullBackOff")
        .await;
    let seen = c.observe(&want).await;
    let (up_to_date, readiness, _) = present(&seen);
    assert!(up_to_date, "{seen:?}");
    let Readiness::Failed { reason, message } = readiness else {
        panic!("expected Failed, got {readiness:?}");
    };
    assert_eq!(*reason, reasons::IMAGE_NOT_FOUND);
    assert!(message.contains("ImagePullBackOff"), "{message}");
    assert!(message.contains("Back-off pulling image"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vertical_pod_autoscaler_without_its_crd_is_terminal_and_rechecked() {
    let with_vpa = spec(
        &json!({"minInstances": 1}),
        &json!({"kubernetes": {"verticalPodAutoscaler": {"updateMode": "Off"}}}),
    );
    let c = Cluster::start(false, &with_vpa).await;
    let want = c.want(&with_vpa);
    let error = c.kubernetes.observe(&want).await.unwrap_err();
    let ProviderError::Terminal {
        reason, recheck, ..
    } = &error
    else {
        panic!("expected a terminal error, got {error:?}");
    };
    assert_eq!(*reason, reasons::VPA_NOT_INSTALLED);
    assert_eq!(*recheck, Some(VPA_RECHECK));
    assert!(c.held().await.is_empty(), "observe changed nothing");

    // Without the section, the missing CRD is no trouble: nothing to look for.
    let without = spec(&json!({"minInstances": 1}), &json!({}));
    let want = c.want(&without);
    assert_eq!(c.observe(&want).await, Observation::Absent);
    c.kubernetes.create(&want).await.unwrap();
    assert_eq!(kinds(&c.held().await), [Kind::Deployment, Kind::Service]);
    assert_eq!(
        c.kubernetes.delete(&c.object()).await.unwrap(),
        Deletion::InProgress
    );
    assert_eq!(
        c.kubernetes.delete(&c.object()).await.unwrap(),
        Deletion::Gone
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_vpa_crd_the_vertical_pod_autoscaler_is_made_and_removed_with_the_section() {
    let with_vpa = spec(
        &json!({"minInstances": 1}),
        &json!({"kubernetes": {"verticalPodAutoscaler": {"updateMode": "Off"}}}),
    );
    let c = Cluster::start(true, &with_vpa).await;
    let want = c.want(&with_vpa);
    assert_eq!(c.observe(&want).await, Observation::Absent);
    c.kubernetes.create(&want).await.unwrap();
    let held = c.held().await;
    assert_eq!(
        kinds(&held),
        [Kind::Deployment, Kind::Service, Kind::VerticalPodAutoscaler]
    );
    let vpa = &held[&Kind::VerticalPodAutoscaler];
    assert_eq!(
        vpa["spec"],
        json!({"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
               "updatePolicy": {"updateMode": "Off"}})
    );
    assert_eq!(
        vpa["metadata"]["ownerReferences"][0]["uid"],
        c.svc.uid().unwrap()
    );
    let (up_to_date, ..) = present(&c.observe(&want).await);
    assert!(up_to_date);

    let without = spec(&json!({"minInstances": 1}), &json!({}));
    let want = c.want(&without);
    c.kubernetes.update(&want).await.unwrap();
    assert_eq!(kinds(&c.held().await), [Kind::Deployment, Kind::Service]);
}

#[tokio::test(flavor = "multi_thread")]
async fn release_removes_the_owner_references_from_every_child_and_leaves_them() {
    let mut all = everything();
    all["kubernetes"]["verticalPodAutoscaler"] = json!({"updateMode": "Off"});
    let c = Cluster::start(true, &all).await;
    c.kubernetes.create(&c.want(&all)).await.unwrap();
    let before = c.held().await;
    assert_eq!(before.len(), Kind::ALL.len(), "{:?}", kinds(&before));

    c.kubernetes.release(&c.object()).await.unwrap();
    c.kubernetes.release(&c.object()).await.unwrap(); // idempotent
    let after = c.held().await;
    assert_eq!(kinds(&after), kinds(&before));
    for (kind, live) in &after {
        assert!(
            live["metadata"].get("ownerReferences").is_none(),
            "{kind:?}: {live:#}"
        );
        assert_eq!(
            live["metadata"]["labels"]["app.kubernetes.io/managed-by"], "ferry",
            "{kind:?}"
        );
        assert_eq!(live["spec"], before[kind]["spec"], "{kind:?}");
    }

    // The object goes; the garbage collector (every 200 ms) leaves what is no longer owned.
    Api::<ServerlessService>::namespaced(c.test.clone(), NAMESPACE)
        .delete(NAME, &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(c.held().await, after);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_every_child() {
    let mut all = everything();
    all["kubernetes"]["verticalPodAutoscaler"] = json!({"updateMode": "Off"});
    let c = Cluster::start(true, &all).await;
    c.kubernetes.create(&c.want(&all)).await.unwrap();
    assert_eq!(c.held().await.len(), Kind::ALL.len());

    assert_eq!(
        c.kubernetes.delete(&c.object()).await.unwrap(),
        Deletion::InProgress
    );
    assert!(c.held().await.is_empty(), "{:?}", kinds(&c.held().await));
    assert_eq!(
        c.kubernetes.delete(&c.object()).await.unwrap(),
        Deletion::Gone
    );
    // The object is still there: it was Ferry, not the garbage collector, that deleted them.
    assert!(
        Api::<ServerlessService>::namespaced(c.test.clone(), NAMESPACE)
            .get_opt(NAME)
            .await
            .unwrap()
            .is_some()
    );
}

/// `hello` mounting an efs volume of the file system `fs`.
fn with_efs(fs: &str) -> Value {
    let mut spec = spec(&json!({"minInstances": 1}), &json!({}));
    spec["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
    spec["volumes"] = json!([{"name": "data", "efs": {"fileSystemId": fs}}]);
    spec
}

/// The names of the PersistentVolumes and claims the stand-in holds, sorted.
async fn claims_held(c: &Cluster) -> (Vec<String>, Vec<String>) {
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    let names = |items: Vec<String>| {
        let mut items = items;
        items.sort();
        items
    };
    let volumes = Api::<PersistentVolume>::all(c.test.clone())
        .list(&kube::api::ListParams::default())
        .await
        .unwrap();
    let claims = Api::<PersistentVolumeClaim>::namespaced(c.test.clone(), NAMESPACE)
        .list(&kube::api::ListParams::default())
        .await
        .unwrap();
    (
        names(
            volumes
                .items
                .iter()
                .map(kube::ResourceExt::name_any)
                .collect(),
        ),
        names(
            claims
                .items
                .iter()
                .map(kube::ResourceExt::name_any)
                .collect(),
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_efs_volumes_claim_is_made_with_the_service_remade_when_missing_replaced_when_changed_and_deleted_with_it()
 {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let first = with_efs("fs-0123456789abcdef0");
    let c = Cluster::start(false, &first).await;
    let want = c.want(&first);
    let name = build::claims(&want)[0].name.clone();
    c.kubernetes.create(&want).await.unwrap();
    assert_eq!(
        claims_held(&c).await,
        (vec![name.clone()], vec![name.clone()])
    );
    let deployment = c.deployment().await;
    assert_eq!(
        deployment["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        name.as_str()
    );
    // Strict validation took the PersistentVolume as built: nothing dropped.
    let pv = Api::<k8s_openapi::api::core::v1::PersistentVolume>::all(c.test.clone())
        .get(&name)
        .await
        .unwrap();
    let pv = serde_json::to_value(pv).unwrap();
    assert_eq!(pv["spec"]["csi"]["driver"], "efs.csi.aws.com");
    assert_eq!(pv["spec"]["claimRef"]["name"], name.as_str());

    // A deleted claim makes the service out of date; an update makes it again.
    c.roll_out(1).await;
    let (up_to_date, ..) = present(&c.observe(&want).await);
    assert!(up_to_date);
    Api::<PersistentVolumeClaim>::namespaced(c.test.clone(), NAMESPACE)
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    let (up_to_date, ..) = present(&c.observe(&want).await);
    assert!(!up_to_date, "a missing claim must be made again");
    c.kubernetes.update(&want).await.unwrap();
    assert_eq!(
        claims_held(&c).await,
        (vec![name.clone()], vec![name.clone()])
    );

    // Another file system: a new pair, and the old one goes.
    let second = c.want(&with_efs("fs-0fedcba9876543210"));
    let new_name = build::claims(&second)[0].name.clone();
    assert_ne!(new_name, name);
    c.kubernetes.update(&second).await.unwrap();
    assert_eq!(
        claims_held(&c).await,
        (vec![new_name.clone()], vec![new_name.clone()])
    );

    // Deleting the service deletes its claims, which no owner reference would.
    assert_eq!(
        c.kubernetes.delete(&c.object()).await.unwrap(),
        Deletion::InProgress
    );
    assert_eq!(
        c.kubernetes.delete(&c.object()).await.unwrap(),
        Deletion::Gone
    );
    assert_eq!(claims_held(&c).await, (vec![], vec![]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_persistent_volume_ferry_did_not_make_is_name_taken() {
    use k8s_openapi::api::core::v1::PersistentVolume;
    let spec = with_efs("fs-0123456789abcdef0");
    let c = Cluster::start(false, &spec).await;
    let want = c.want(&spec);
    let name = build::claims(&want)[0].name.clone();
    let theirs: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": "/mnt/theirs"}},
    }))
    .unwrap();
    Api::<PersistentVolume>::all(c.test.clone())
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    let error = c.kubernetes.create(&want).await.unwrap_err();
    assert_eq!(terminal_reason(&error), reasons::NAME_TAKEN, "{error}");
    // Left alone, and no Deployment made without its volume.
    let live = Api::<PersistentVolume>::all(c.test.clone())
        .get(&name)
        .await
        .unwrap();
    assert!(live.spec.unwrap().host_path.is_some());
    assert!(c.held().await.is_empty());
    // Deleting the service leaves it too.
    c.kubernetes.delete(&c.object()).await.unwrap();
    assert!(
        Api::<PersistentVolume>::all(c.test.clone())
            .get_opt(&name)
            .await
            .unwrap()
            .is_some()
    );
}
