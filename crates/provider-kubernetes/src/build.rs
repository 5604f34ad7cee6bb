//! The pure half of the plain Kubernetes backend: the objects Ferry applies for a desired model
//! (a Deployment and a Service always; a HorizontalPodAutoscaler when it scales, a
//! PodDisruptionBudget when it keeps more than one pod, an Ingress when public, a
//! VerticalPodAutoscaler when asked; the PersistentVolume and claim of each efs volume), and
//! what the live ones mean in Ferry's terms. No I/O: `client.rs` sends what this module builds.

use std::borrow::Cow;
use std::collections::BTreeMap;

use ferry_api::conditions::reasons;
use ferry_api::{Ingress, Provider, ScalingMetric};
use ferry_core::desired::{Desired, ObjectRef, ProbeAction, ProbeModel};
use ferry_core::kube_object::{container, owner_references, stamp_fingerprint};
use ferry_core::status::{Outputs, Readiness};
use serde_json::{Map, Value, json};

use crate::limits::{DEFAULT_UTILIZATION, SERVICE_PORT};
use crate::model::KubernetesModel;
use crate::pods::Stuck;
use ferry_provider::cluster_volumes::build::{
    self as volumes, Claim, GCS_FUSE_ANNOTATION, Nfs, Owner,
};

/// The pods' troubles, read while a rollout is not done (shared with the job runs' in
/// [`crate::pods`]).
pub use crate::pods::{PodTrouble, pod_troubles};
pub use ferry_provider::in_cluster::{FIELD_MANAGER, MANAGED_BY};
/// The label that selects the service's pods (a Deployment's selector cannot change, so it
/// holds only the object's name).
pub const SELECTOR_LABEL: &str = "ferry.dev/service";
pub use ferry_core::kube_object::{
    FINGERPRINT_ANNOTATION, fingerprint_of, is_up_to_date, metadata_up_to_date,
};
/// Fingerprint of the pod template, on the template (and so on its pods): tells the pods of
/// the current rollout from older ones.
pub const TEMPLATE_ANNOTATION: &str = "ferry.dev/template-fingerprint";

const NAME_LABEL: &str = "app.kubernetes.io/name";

/// A kind of object this backend makes: where it is served and what it is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `v1` Service.
    Service,
    /// `autoscaling/v2` HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// `policy/v1` PodDisruptionBudget.
    PodDisruptionBudget,
    /// `networking.k8s.io/v1` Ingress.
    Ingress,
    /// `autoscaling.k8s.io/v1` VerticalPodAutoscaler (a CRD, installed with the VPA).
    VerticalPodAutoscaler,
}

impl Kind {
    /// Every kind, in the order they are applied (the Deployment first, so its pods start
    /// while the rest is made) and deleted (the reverse).
    pub const ALL: [Kind; 6] = [
        Kind::Deployment,
        Kind::Service,
        Kind::HorizontalPodAutoscaler,
        Kind::PodDisruptionBudget,
        Kind::Ingress,
        Kind::VerticalPodAutoscaler,
    ];

    /// `(group, version, kind, plural)`.
    pub fn gvk(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Kind::Deployment => ("apps", "v1", "Deployment", "deployments"),
            Kind::Service => ("", "v1", "Service", "services"),
            Kind::HorizontalPodAutoscaler => (
                "autoscaling",
                "v2",
                "HorizontalPodAutoscaler",
                "horizontalpodautoscalers",
            ),
            Kind::PodDisruptionBudget => (
                "policy",
                "v1",
                "PodDisruptionBudget",
                "poddisruptionbudgets",
            ),
            Kind::Ingress => ("networking.k8s.io", "v1", "Ingress", "ingresses"),
            Kind::VerticalPodAutoscaler => (
                "autoscaling.k8s.io",
                "v1",
                "VerticalPodAutoscaler",
                "verticalpodautoscalers",
            ),
        }
    }

    /// `apiVersion`.
    pub fn api_version(self) -> String {
        match self.gvk() {
            ("", version, ..) => version.to_owned(),
            (group, version, ..) => format!("{group}/{version}"),
        }
    }

    /// The kind's name.
    pub fn name(self) -> &'static str {
        self.gvk().2
    }
}

/// The objects Ferry wants for `desired`, each complete for server-side apply (apiVersion,
/// kind, metadata, spec; never status) and carrying its fingerprint. The kinds left out must
/// not exist.
pub fn children(desired: &Desired) -> BTreeMap<Kind, Value> {
    let model = settings(desired);
    let mut out = BTreeMap::new();
    out.insert(
        Kind::Deployment,
        deployment(desired, &model, &claims(desired)),
    );
    out.insert(Kind::Service, service(desired));
    if scales(desired) {
        out.insert(Kind::HorizontalPodAutoscaler, hpa(desired));
    }
    if desired.scaling.min_instances > 1 {
        out.insert(Kind::PodDisruptionBudget, pdb(desired));
    }
    if desired.ingress == Ingress::Public {
        out.insert(Kind::Ingress, ingress(desired, &model));
    }
    if let Some(mode) = model.vpa {
        out.insert(
            Kind::VerticalPodAutoscaler,
            object(
                desired,
                Kind::VerticalPodAutoscaler,
                json!({
                    "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": desired.object.name },
                    "updatePolicy": { "updateMode": mode.as_str() },
                }),
            ),
        );
    }
    for child in out.values_mut() {
        stamp_fingerprint(child);
    }
    out
}

/// Whose claims a service's are: the ServerlessService `object`'s, on this provider.
pub fn owner(object: &ObjectRef) -> Owner<'_> {
    Owner {
        provider: Provider::Kubernetes,
        kind: "ServerlessService",
        object,
    }
}

/// The PersistentVolume and claim of each volume the pods mount through a claim (efs; an nfs
/// export is an `nfs` volume of the pod), which exist before the Deployment that mounts them.
pub fn claims(desired: &Desired) -> Vec<Claim> {
    volumes::claims(&owner(&desired.object), &desired.volumes, Nfs::Inline)
}

/// Whether a HorizontalPodAutoscaler scales the Deployment (more pods allowed than the least).
pub fn scales(desired: &Desired) -> bool {
    let s = &desired.scaling;
    s.max_instances.unwrap_or(s.min_instances) > s.min_instances
}

/// The Kubernetes settings of `desired`. Validation always gives this backend its model; any
/// other is rendered with no settings, since building has no way to fail.
fn settings(desired: &Desired) -> Cow<'_, KubernetesModel> {
    desired
        .backend
        .get::<KubernetesModel>()
        .map_or_else(|| Cow::Owned(KubernetesModel::default()), Cow::Borrowed)
}

/// The pods' selector: the object's name only, so it never changes.
fn selector(desired: &Desired) -> Value {
    json!({ SELECTOR_LABEL: desired.object.name })
}

/// `kind` named after the object, with Ferry's labels and the owner reference.
fn object(desired: &Desired, kind: Kind, spec: Value) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), kind.api_version().into());
    out.insert("kind".into(), kind.name().into());
    out.insert("metadata".into(), metadata(desired, None));
    out.insert("spec".into(), spec);
    out.into()
}

fn metadata(desired: &Desired, annotations: Option<&BTreeMap<String, String>>) -> Value {
    let object = &desired.object;
    let mut meta = Map::new();
    meta.insert("name".into(), object.name.clone().into());
    meta.insert("namespace".into(), object.namespace.clone().into());
    meta.insert(
        "labels".into(),
        json!({ MANAGED_BY.0: MANAGED_BY.1, NAME_LABEL: object.name }),
    );
    if let Some(annotations) = annotations.filter(|a| !a.is_empty()) {
        meta.insert("annotations".into(), json!(annotations));
    }
    if let Some(owners) = owner_references(object) {
        meta.insert("ownerReferences".into(), owners);
    }
    meta.into()
}

fn deployment(desired: &Desired, model: &KubernetesModel, claims: &[Claim]) -> Value {
    let mut labels: Map<String, Value> = model
        .fargate_labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    // Ferry's own labels win: the selector must match whatever else the pods carry.
    labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    labels.insert(NAME_LABEL.into(), desired.object.name.clone().into());
    labels.insert(SELECTOR_LABEL.into(), desired.object.name.clone().into());
    let mut spec = Map::new();
    // With an autoscaler the replica count is its to set: applying one would undo its work.
    if !scales(desired) {
        spec.insert("replicas".into(), desired.scaling.min_instances.into());
    }
    spec.insert(
        "selector".into(),
        json!({ "matchLabels": selector(desired) }),
    );
    let mut template = json!({
        "metadata": { "labels": labels },
        "spec": pod_spec(desired, model, claims),
    });
    let mut annotations = Map::new();
    if volumes::needs_gcs_fuse(&desired.volumes) {
        annotations.insert(GCS_FUSE_ANNOTATION.0.into(), GCS_FUSE_ANNOTATION.1.into());
        template["metadata"]["annotations"] = annotations.clone().into();
    }
    annotations.insert(
        TEMPLATE_ANNOTATION.into(),
        ferry_core::names::fingerprint(&template.to_string()).into(),
    );
    template["metadata"]["annotations"] = annotations.into();
    spec.insert("template".into(), template);
    object(desired, Kind::Deployment, spec.into())
}

fn pod_spec(desired: &Desired, model: &KubernetesModel, claims: &[Claim]) -> Value {
    let containers: Vec<Value> = desired
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let serving_port = c.port.filter(|_| i == desired.serving_container);
            let mut out = container(c, serving_port, &|p, _| probe(p));
            volumes::add_mounts(&mut out, &c.mounts);
            out
        })
        .collect();
    let mut spec = Map::new();
    spec.insert("containers".into(), containers.into());
    if !desired.volumes.is_empty() {
        let pod_volumes =
            volumes::pod_volumes(&desired.volumes, &desired.containers, claims, Nfs::Inline);
        spec.insert("volumes".into(), pod_volumes.into());
    }
    if let Some(account) = &model.service_account_name {
        spec.insert("serviceAccountName".into(), account.clone().into());
    }
    if !model.node_selector.is_empty() {
        spec.insert("nodeSelector".into(), json!(model.node_selector));
    }
    spec.into()
}

fn probe(p: &ProbeModel) -> Value {
    let mut out = Map::new();
    match &p.action {
        ProbeAction::HttpGet {
            path,
            port,
            headers,
        } => {
            let mut get = Map::new();
            get.insert("path".into(), path.clone().into());
            get.insert("port".into(), (*port).into());
            if !headers.is_empty() {
                let headers: Vec<Value> = headers
                    .iter()
                    .map(|(name, value)| json!({ "name": name, "value": value }))
                    .collect();
                get.insert("httpHeaders".into(), headers.into());
            }
            out.insert("httpGet".into(), get.into());
        }
        ProbeAction::TcpSocket { port } => {
            out.insert("tcpSocket".into(), json!({ "port": port }));
        }
        ProbeAction::Grpc { port, service } => {
            let mut grpc = Map::new();
            grpc.insert("port".into(), (*port).into());
            if !service.is_empty() {
                grpc.insert("service".into(), service.clone().into());
            }
            out.insert("grpc".into(), grpc.into());
        }
    }
    let timing = [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("periodSeconds", p.period_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("failureThreshold", p.failure_threshold),
    ];
    for (field, value) in timing {
        if let Some(value) = value {
            out.insert(field.into(), value.into());
        }
    }
    out.into()
}

fn service(desired: &Desired) -> Value {
    let port = desired.serving().port.unwrap_or(SERVICE_PORT);
    object(
        desired,
        Kind::Service,
        json!({
            "type": "ClusterIP",
            "selector": selector(desired),
            "ports": [{ "name": "http", "port": SERVICE_PORT, "targetPort": port, "protocol": "TCP" }],
        }),
    )
}

fn hpa(desired: &Desired) -> Value {
    let s = &desired.scaling;
    let resource = match s.metric {
        ScalingMetric::Memory => "memory",
        // Validation allows only cpu and memory here.
        ScalingMetric::Cpu | ScalingMetric::Concurrency | ScalingMetric::Rps => "cpu",
    };
    let mut spec = json!({
        "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": desired.object.name },
        "minReplicas": s.min_instances,
        "maxReplicas": s.max_instances.unwrap_or(s.min_instances),
        "metrics": [{
            "type": "Resource",
            "resource": {
                "name": resource,
                "target": { "type": "Utilization", "averageUtilization": s.target.unwrap_or(DEFAULT_UTILIZATION) },
            },
        }],
    });
    if let Some(delay) = s.scale_down_delay_seconds {
        spec["behavior"] = json!({ "scaleDown": { "stabilizationWindowSeconds": delay } });
    }
    object(desired, Kind::HorizontalPodAutoscaler, spec)
}

/// At most one pod away at a time for voluntary disruptions (node drains, Fargate patching).
fn pdb(desired: &Desired) -> Value {
    object(
        desired,
        Kind::PodDisruptionBudget,
        json!({ "maxUnavailable": 1, "selector": { "matchLabels": selector(desired) } }),
    )
}

fn ingress(desired: &Desired, model: &KubernetesModel) -> Value {
    let mut rule = Map::new();
    if let Some(host) = &model.host {
        rule.insert("host".into(), host.clone().into());
    }
    rule.insert(
        "http".into(),
        json!({ "paths": [{
            "path": "/",
            "pathType": "Prefix",
            "backend": { "service": { "name": desired.object.name, "port": { "number": SERVICE_PORT } } },
        }] }),
    );
    let mut spec = Map::new();
    if let Some(class) = &model.ingress_class_name {
        spec.insert("ingressClassName".into(), class.clone().into());
    }
    spec.insert("rules".into(), json!([rule]));
    json!({
        "apiVersion": Kind::Ingress.api_version(),
        "kind": Kind::Ingress.name(),
        "metadata": metadata(desired, Some(&model.ingress_annotations)),
        "spec": spec,
    })
}

/// Whether `pod` runs the template of `deployment` (as built by [`children`]): the pods of
/// an older rollout may be failing for a reason the current one fixed.
pub fn is_current_pod(deployment: &Value, pod: &Value) -> bool {
    let annotation = |v: &Value, pointer: &str| {
        v.pointer(pointer)
            .and_then(|a| a.get(TEMPLATE_ANNOTATION))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let want = annotation(deployment, "/spec/template/metadata/annotations");
    want.is_some() && want == annotation(pod, "/metadata/annotations")
}

/// A stuck container's class as one of Ferry's reasons for a service: a rollout whose pods
/// cannot pull their image is `ImageNotFound`; one whose containers cannot start or keep
/// crashing is `ContainerFailed`.
fn failure_reason(stuck: Stuck) -> &'static str {
    match stuck {
        Stuck::Image => reasons::IMAGE_NOT_FOUND,
        Stuck::Start | Stuck::Crash => reasons::CONTAINER_FAILED,
    }
}

/// What the live children say, in Ferry's terms: readiness from the Deployment (its
/// generation, `Available` and `Progressing` conditions and replica counts, and the pods'
/// troubles while it is not available), the URL from the Ingress when public or the Service's
/// cluster DNS name when internal.
pub fn readiness(
    desired: &Desired,
    deployment: &Value,
    ingress: Option<&Value>,
    troubles: &[PodTrouble],
) -> (Readiness, Outputs) {
    let object = &desired.object;
    let int = |pointer: &str| deployment.pointer(pointer).and_then(Value::as_i64);
    let count = |pointer: &str| {
        int(pointer)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0)
    };
    let internal_url = format!(
        "http://{}.{}.svc.cluster.local",
        object.name, object.namespace
    );
    let public_url = ingress.and_then(ingress_url);
    let mut outputs = Outputs {
        url: match desired.ingress {
            Ingress::Internal => Some(internal_url.clone()),
            Ingress::Public => public_url.clone(),
        },
        address_url: Some(internal_url),
        latest_ready_revision: None,
        resource_id: Some(format!(
            "deployments.apps/{}/{}",
            object.namespace, object.name
        )),
        instances: None,
        operation: None,
    };
    let desired_replicas = count("/spec/replicas");
    let ready = count("/status/readyReplicas");
    outputs.instances = Some((desired_replicas, ready));
    let readiness = deployment_readiness(deployment, troubles);
    let readiness = match readiness {
        Readiness::Ready if desired.ingress == Ingress::Public && public_url.is_none() => {
            Readiness::Progressing(
                "the pods are available; waiting for the ingress controller to give the \
                 Ingress an address"
                    .into(),
            )
        }
        other => other,
    };
    (readiness, outputs)
}

/// `http://HOST` of the Ingress: its rule's host, else the load balancer's name or address.
fn ingress_url(ingress: &Value) -> Option<String> {
    let host = ingress
        .pointer("/spec/rules/0/host")
        .and_then(Value::as_str)
        .or_else(|| {
            let first = ingress.pointer("/status/loadBalancer/ingress/0")?;
            first
                .get("hostname")
                .or_else(|| first.get("ip"))
                .and_then(Value::as_str)
        })?;
    (!host.is_empty()).then(|| format!("http://{host}"))
}

fn deployment_readiness(deployment: &Value, troubles: &[PodTrouble]) -> Readiness {
    let int = |pointer: &str| deployment.pointer(pointer).and_then(Value::as_i64);
    let generation = int("/metadata/generation");
    let observed = int("/status/observedGeneration");
    let behind = match (observed, generation) {
        (None, _) => true,
        (Some(observed), Some(generation)) => observed < generation,
        (Some(_), None) => false,
    };
    if behind {
        return Readiness::Progressing(generation.map_or_else(
            || "the Deployment controller has not yet looked at the Deployment".to_owned(),
            |g| format!("the Deployment controller has not yet processed generation {g}"),
        ));
    }
    let condition = |type_: &str| {
        deployment
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
            })
    };
    let field = |c: &Value, f: &str| {
        c.get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if let Some(progressing) = condition("Progressing")
        && field(progressing, "status") == "False"
        && field(progressing, "reason") == "ProgressDeadlineExceeded"
    {
        // The pods usually say why.
        if let Some(failed) = pod_failure(troubles) {
            return failed;
        }
        return Readiness::Failed {
            reason: reasons::ROLLOUT_TIMEOUT,
            message: field(progressing, "message"),
        };
    }
    let replicas = int("/spec/replicas").unwrap_or(1);
    let updated = int("/status/updatedReplicas").unwrap_or(0);
    let available = int("/status/availableReplicas").unwrap_or(0);
    let total = int("/status/replicas").unwrap_or(0);
    let is_available = condition("Available").is_some_and(|c| field(c, "status") == "True");
    // Rolled out, as `kubectl rollout status` has it: every pod runs the current template,
    // none of the old ones is left, and every updated one is available.
    if is_available && updated >= replicas && total <= updated && available >= updated {
        return Readiness::Ready;
    }
    if let Some(failed) = pod_failure(troubles) {
        return failed;
    }
    Readiness::Progressing(format!(
        "rolling out: {updated} of {replicas} pods updated, {available} available"
    ))
}

fn pod_failure(troubles: &[PodTrouble]) -> Option<Readiness> {
    let t = troubles.first()?;
    Some(Readiness::Failed {
        reason: failure_reason(t.stuck()?),
        message: t.describe(),
    })
}
