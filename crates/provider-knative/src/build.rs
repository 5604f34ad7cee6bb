//! The pure half of the Knative backend: the `serving.knative.dev/v1` Service Ferry applies for
//! a desired model (and the PersistentVolume and claim of each nfs or efs volume, which a
//! Service mounts as a `persistentVolumeClaim`), whether a live Service already has it, and what
//! a live Service's status means in Ferry's terms. No I/O: `client.rs` sends what this module
//! builds.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::model::KnativeModel;
use ferry_api::conditions::reasons;
use ferry_api::{AutoscalerClass, Ingress, Provider, ScalingMetric};
use ferry_core::desired::{
    ContainerModel, Desired, ObjectRef, ProbeAction, ProbeModel, TrafficModel,
};
use ferry_core::kube_object::{ProbeKind, container, owner_references, stamp_fingerprint};
use ferry_core::status::{Outputs, Readiness};
use ferry_provider::cluster_volumes::build::{self as volumes, Claim, Nfs, Owner};
use serde_json::{Map, Value, json};

pub use ferry_provider::in_cluster::{FIELD_MANAGER, MANAGED_BY};

/// `apiVersion` of a Knative Service.
const API_VERSION: &str = "serving.knative.dev/v1";
/// `kind` of a Knative Service.
const KIND: &str = "Service";
/// The Knative Service resource, as `resource_id` names it.
const RESOURCE: &str = "services.serving.knative.dev";

const NAME_LABEL: &str = "app.kubernetes.io/name";
const VISIBILITY_LABEL: &str = "networking.knative.dev/visibility";
const CLUSTER_LOCAL: &str = "cluster-local";
const INGRESS_CLASS_ANNOTATION: &str = "networking.knative.dev/ingress.class";
pub use ferry_core::kube_object::{FINGERPRINT_ANNOTATION, is_up_to_date, metadata_up_to_date};

/// Revision-template annotations derived from `spec.scaling` (each is in
/// [`ferry_api::KNATIVE_MANAGED_ANNOTATIONS`], so users cannot set them).
mod autoscaling {
    pub(super) const CLASS: &str = "autoscaling.knative.dev/class";
    pub(super) const METRIC: &str = "autoscaling.knative.dev/metric";
    pub(super) const TARGET: &str = "autoscaling.knative.dev/target";
    pub(super) const MIN_SCALE: &str = "autoscaling.knative.dev/min-scale";
    pub(super) const MAX_SCALE: &str = "autoscaling.knative.dev/max-scale";
    pub(super) const INITIAL_SCALE: &str = "autoscaling.knative.dev/initial-scale";
    pub(super) const SCALE_DOWN_DELAY: &str = "autoscaling.knative.dev/scale-down-delay";
    pub(super) const KPA: &str = "kpa.autoscaling.knative.dev";
    pub(super) const HPA: &str = "hpa.autoscaling.knative.dev";
}

/// Kubernetes' probe period when none is given, which Ferry documents as its default.
const DEFAULT_PROBE_PERIOD_SECONDS: u32 = 10;

const MEBIBYTE: u128 = 1 << 20;

/// The Knative Service for `desired`, as a complete object for server-side apply
/// (apiVersion, kind, metadata, spec; never status).
pub fn knative_service(desired: &Desired) -> Value {
    let knative = knative_settings(desired);
    let mut service = json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(desired, &knative),
        "spec": {
            "template": {
                "metadata": {
                    "labels": { MANAGED_BY.0: MANAGED_BY.1 },
                    "annotations": template_annotations(desired, &knative),
                },
                "spec": revision_spec(desired, &knative),
            },
            "traffic": traffic(&desired.traffic),
        },
    });
    stamp_fingerprint(&mut service);
    service
}

/// Whose claims a service's are: the ServerlessService `object`'s, on Knative.
pub fn owner(object: &ObjectRef) -> Owner<'_> {
    Owner {
        provider: Provider::Knative,
        kind: "ServerlessService",
        object,
    }
}

/// The PersistentVolume and claim of each nfs and efs volume (a Knative Service admits neither
/// as such, only a `persistentVolumeClaim`), which exist before the Service that mounts them.
pub fn claims(desired: &Desired) -> Vec<Claim> {
    volumes::claims(&owner(&desired.object), &desired.volumes, Nfs::Claim)
}

/// The Knative settings of `desired`. Validation always gives a Knative model a Knative
/// backend; anything else is rendered with the class its metric implies rather than refused,
/// since building has no way to fail.
fn knative_settings(desired: &Desired) -> Cow<'_, KnativeModel> {
    match desired.backend.get::<KnativeModel>() {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(KnativeModel {
            autoscaler_class: match desired.scaling.metric {
                ScalingMetric::Cpu | ScalingMetric::Memory => AutoscalerClass::Hpa,
                ScalingMetric::Concurrency | ScalingMetric::Rps => AutoscalerClass::Kpa,
            },
            ingress_class: None,
            service_account_name: None,
            node_selector: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }),
    }
}

fn metadata(desired: &Desired, knative: &KnativeModel) -> Value {
    let object = &desired.object;
    let mut labels = Map::new();
    labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    labels.insert(NAME_LABEL.into(), object.name.clone().into());
    if desired.ingress == Ingress::Internal {
        labels.insert(VISIBILITY_LABEL.into(), CLUSTER_LOCAL.into());
    }
    let mut meta = Map::new();
    meta.insert("name".into(), object.name.clone().into());
    meta.insert("namespace".into(), object.namespace.clone().into());
    meta.insert("labels".into(), labels.into());
    if let Some(class) = &knative.ingress_class {
        meta.insert(
            "annotations".into(),
            json!({ INGRESS_CLASS_ANNOTATION: class }),
        );
    }
    if let Some(owners) = owner_references(object) {
        meta.insert("ownerReferences".into(), owners);
    }
    meta.into()
}

fn template_annotations(desired: &Desired, knative: &KnativeModel) -> Value {
    let scaling = &desired.scaling;
    let mut annotations: Map<String, Value> = knative
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    // Ferry's own annotations win: validation refuses them in spec.knative.annotations, and
    // the revision must scale the way spec.scaling says whatever else is there.
    let mut set = |key: &str, value: String| {
        annotations.insert(key.to_owned(), value.into());
    };
    let class = match knative.autoscaler_class {
        AutoscalerClass::Kpa => autoscaling::KPA,
        AutoscalerClass::Hpa => autoscaling::HPA,
    };
    set(autoscaling::CLASS, class.to_owned());
    set(autoscaling::METRIC, scaling.metric.as_str().to_owned());
    if let Some(target) = scaling.target {
        let value = match scaling.metric {
            ScalingMetric::Memory => memory_target_mib(&desired.containers, target).to_string(),
            ScalingMetric::Concurrency | ScalingMetric::Rps | ScalingMetric::Cpu => {
                target.to_string()
            }
        };
        set(autoscaling::TARGET, value);
    }
    set(autoscaling::MIN_SCALE, scaling.min_instances.to_string());
    if let Some(max) = scaling.max_instances {
        set(autoscaling::MAX_SCALE, max.to_string());
    }
    if let Some(initial) = scaling.initial_instances {
        set(autoscaling::INITIAL_SCALE, initial.to_string());
    }
    if let Some(delay) = scaling.scale_down_delay_seconds {
        set(autoscaling::SCALE_DOWN_DELAY, format!("{delay}s"));
    }
    annotations.into()
}

/// Knative's HPA reads a memory target as an average value per pod in MiB, where Ferry's is a
/// percentage of what the pod asks for: `percent` of the containers' summed memory, rounded to
/// the nearest MiB and never below 1 (validation makes every container set memory).
fn memory_target_mib(containers: &[ContainerModel], percent: u32) -> u128 {
    let total: u128 = containers
        .iter()
        .filter_map(|c| c.resources.memory_bytes)
        .map(u128::from)
        .sum();
    let scaled = total * u128::from(percent);
    ((scaled + 50 * MEBIBYTE) / (100 * MEBIBYTE)).max(1)
}

fn revision_spec(desired: &Desired, knative: &KnativeModel) -> Value {
    let containers: Vec<Value> = desired
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let serving_port = c.port.filter(|_| i == desired.serving_container);
            let mut out = container(c, serving_port, &|p, kind| {
                probe(p, serving_port, kind == ProbeKind::Readiness)
            });
            volumes::add_mounts(&mut out, &c.mounts);
            out
        })
        .collect();
    let mut spec = Map::new();
    spec.insert("containers".into(), containers.into());
    if !desired.volumes.is_empty() {
        let pod_volumes = volumes::pod_volumes(
            &desired.volumes,
            &desired.containers,
            &claims(desired),
            Nfs::Claim,
        );
        spec.insert("volumes".into(), pod_volumes.into());
    }
    if let Some(concurrency) = desired.concurrency {
        spec.insert("containerConcurrency".into(), concurrency.into());
    }
    if let Some(timeout) = desired.timeout_seconds {
        spec.insert("timeoutSeconds".into(), timeout.into());
    }
    if let Some(account) = &knative.service_account_name {
        spec.insert("serviceAccountName".into(), account.clone().into());
    }
    if !knative.node_selector.is_empty() {
        let selector: Map<String, Value> = knative
            .node_selector
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        spec.insert("nodeSelector".into(), selector.into());
    }
    spec.into()
}

/// A probe. Knative refuses a port on the serving container's probes unless it is the
/// container port, and probes that port when none is given, so the port is written only when
/// it differs (Knative then refuses it, rather than Ferry silently probing another port) and
/// always for sidecars.
fn probe(p: &ProbeModel, serving_port: Option<u16>, is_readiness: bool) -> Value {
    let port = |port: u16| (serving_port != Some(port)).then_some(port);
    let mut out = Map::new();
    match &p.action {
        ProbeAction::HttpGet {
            path,
            port: probe_port,
            headers,
        } => {
            let mut get = Map::new();
            get.insert("path".into(), path.clone().into());
            if let Some(port) = port(*probe_port) {
                get.insert("port".into(), port.into());
            }
            if !headers.is_empty() {
                let headers: Vec<Value> = headers
                    .iter()
                    .map(|(name, value)| json!({ "name": name, "value": value }))
                    .collect();
                get.insert("httpHeaders".into(), headers.into());
            }
            out.insert("httpGet".into(), get.into());
        }
        ProbeAction::TcpSocket { port: probe_port } => {
            let mut tcp = Map::new();
            if let Some(port) = port(*probe_port) {
                tcp.insert("port".into(), port.into());
            }
            out.insert("tcpSocket".into(), tcp.into());
        }
        ProbeAction::Grpc {
            port: probe_port,
            service,
        } => {
            let mut grpc = Map::new();
            if let Some(port) = port(*probe_port) {
                grpc.insert("port".into(), port.into());
            }
            if !service.is_empty() {
                grpc.insert("service".into(), service.clone().into());
            }
            out.insert("grpc".into(), grpc.into());
        }
    }
    let mut period = p.period_seconds;
    // Knative reads a readiness probe without a period as its own aggressive startup probing,
    // and then refuses a timeout or failure threshold; with either set, the documented default
    // period keeps the meaning and the revision valid.
    if is_readiness
        && period.is_none()
        && (p.timeout_seconds.is_some() || p.failure_threshold.is_some())
    {
        period = Some(DEFAULT_PROBE_PERIOD_SECONDS);
    }
    let timing = [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("periodSeconds", period),
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

fn traffic(targets: &[TrafficModel]) -> Value {
    if targets.is_empty() {
        return json!([{ "latestRevision": true, "percent": 100 }]);
    }
    targets
        .iter()
        .map(|t| {
            let mut out = Map::new();
            match &t.revision_name {
                Some(name) => out.insert("revisionName".into(), name.clone().into()),
                None => out.insert("latestRevision".into(), true.into()),
            };
            out.insert("percent".into(), t.percent.into());
            if let Some(tag) = &t.tag {
                out.insert("tag".into(), tag.clone().into());
            }
            Value::Object(out)
        })
        .collect::<Vec<_>>()
        .into()
}

/// What a live Knative Service says, in Ferry's terms.
pub fn readiness(live: &Value) -> (Readiness, Outputs) {
    let text = |pointer: &str| live.pointer(pointer).and_then(Value::as_str);
    let owned = |pointer: &str| text(pointer).map(str::to_owned);
    let outputs = Outputs {
        url: owned("/status/url"),
        address_url: owned("/status/address/url"),
        latest_ready_revision: owned("/status/latestReadyRevisionName"),
        resource_id: Some(format!(
            "{RESOURCE}/{}/{}",
            text("/metadata/namespace").unwrap_or_default(),
            text("/metadata/name").unwrap_or_default()
        )),
        instances: None,
        operation: None,
    };
    (service_readiness(live), outputs)
}

fn service_readiness(live: &Value) -> Readiness {
    let generation = live.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = live
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    // Until Knative has looked at the current spec, its conditions describe an older one.
    let behind = match (observed, generation) {
        (None, _) => true,
        (Some(observed), Some(generation)) => observed < generation,
        (Some(_), None) => false,
    };
    if behind {
        return Readiness::Progressing(generation.map_or_else(
            || "Knative has not yet processed the Service".to_owned(),
            |g| format!("Knative has not yet processed generation {g}"),
        ));
    }
    let conditions: Vec<Condition<'_>> = live
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(Condition::from).collect())
        .unwrap_or_default();
    let Some(ready) = conditions.iter().find(|c| c.type_ == "Ready") else {
        return Readiness::Progressing("waiting for Knative to report the Service ready".into());
    };
    match ready.status {
        "True" => Readiness::Ready,
        "False" => {
            // Ready often says only RevisionMissing while ConfigurationsReady or RoutesReady
            // names the cause.
            let cause = std::iter::once(ready)
                .chain(conditions.iter().filter(|c| c.status == "False"))
                .find(|c| is_specific(c.reason))
                .unwrap_or(ready);
            let message = if cause.message.is_empty() {
                ready.message
            } else {
                cause.message
            };
            Readiness::Failed {
                reason: normalised_reason(cause.reason),
                message: if message.is_empty() {
                    format!("Knative reports Ready=False ({})", cause.reason)
                } else {
                    message.to_owned()
                },
            }
        }
        _ if !ready.message.is_empty() => Readiness::Progressing(ready.message.to_owned()),
        _ if !ready.reason.is_empty() => Readiness::Progressing(format!(
            "Knative is rolling out the Service ({})",
            ready.reason
        )),
        _ => Readiness::Progressing("Knative is rolling out the Service".into()),
    }
}

/// One condition of a Knative status, with absent fields empty.
struct Condition<'a> {
    type_: &'a str,
    status: &'a str,
    reason: &'a str,
    message: &'a str,
}

impl<'a> From<&'a Value> for Condition<'a> {
    fn from(c: &'a Value) -> Self {
        let field = |name: &str| c.get(name).and_then(Value::as_str).unwrap_or_default();
        Condition {
            type_: field("type"),
            status: field("status"),
            reason: field("reason"),
            message: field("message"),
        }
    }
}

/// Whether a Knative reason says more than "the revision failed".
fn is_specific(reason: &str) -> bool {
    normalised_reason(reason) != reasons::REVISION_FAILED
}

/// Knative's reason as one of Ferry's documented ones.
fn normalised_reason(reason: &str) -> &'static str {
    match reason {
        "ContainerMissing" => reasons::IMAGE_NOT_FOUND,
        "ProgressDeadlineExceeded" => reasons::ROLLOUT_TIMEOUT,
        r if r.starts_with("ExitCode") => reasons::CONTAINER_FAILED,
        _ => reasons::REVISION_FAILED,
    }
}
