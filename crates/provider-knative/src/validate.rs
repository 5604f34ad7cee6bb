//! Knative Serving rules (a stock installation's defaults; where a cluster may differ, a
//! warning instead of an error).

use ferry_api::{
    AutoscalerClass, KNATIVE_MANAGED_ANNOTATIONS, ScalingMetric, SecretRef, ServerlessServiceSpec,
};

use ferry_core::backend::Parts;
use ferry_core::desired::{ContainerModel, ObjectRef, ProbesModel, SecretSource};

use crate::features;
use crate::limits::{
    MAX_CONCURRENCY, MAX_TAG_ROUTE_LENGTH, MAX_TIMEOUT_SECONDS, RESERVED_CONTAINER_NAME,
    RESERVED_PORTS,
};
use crate::model::KnativeModel;
use ferry_core::Findings;

pub(crate) fn secret(f: &mut Findings, path: &str, secret: &SecretRef) -> Option<SecretSource> {
    ferry_core::kube_object::secret_key(f, path, secret, "Knative")
}

pub(crate) fn check(
    f: &mut Findings,
    object: &ObjectRef,
    parts: &Parts<'_>,
) -> Option<KnativeModel> {
    let spec = parts.spec;
    let section = spec.knative.clone().unwrap_or_default();

    for (i, c) in spec.containers.iter().enumerate() {
        if c.name == RESERVED_CONTAINER_NAME {
            f.invalid(
                format!("spec.containers[{i}].name"),
                format!(
                    "{RESERVED_CONTAINER_NAME} is the name of Knative's own sidecar; choose another"
                ),
            );
        }
    }
    if let Some(containers) = parts.containers {
        check_containers(f, containers);
    }
    check_volumes(f, spec);
    if let Some(c) = parts.concurrency
        && c > MAX_CONCURRENCY
    {
        f.warn(
            "spec.concurrency",
            format!(
                "Knative refuses more than {MAX_CONCURRENCY} unless the cluster raised \
                 container-concurrency-max-limit in config-defaults"
            ),
        );
    }
    if let Some(t) = spec.timeout_seconds
        && u32::try_from(t).is_ok_and(|t| t > MAX_TIMEOUT_SECONDS)
    {
        f.warn(
            "spec.timeoutSeconds",
            format!(
                "Knative refuses more than {MAX_TIMEOUT_SECONDS} s unless the cluster raised \
                 max-revision-timeout-seconds in config-defaults"
            ),
        );
    }
    for (i, t) in spec.traffic.iter().flatten().enumerate() {
        if let Some(tag) = &t.tag
            && tag.len() + 1 + object.name.len() > MAX_TAG_ROUTE_LENGTH
        {
            f.invalid(
                format!("spec.traffic[{i}].tag"),
                format!(
                    "Knative serves a tag at TAG-NAME, one DNS label of at most \
                     {MAX_TAG_ROUTE_LENGTH} characters: {tag}-{} is {} long",
                    object.name,
                    tag.len() + 1 + object.name.len()
                ),
            );
        }
    }
    for key in section.annotations.iter().flat_map(|a| a.keys()) {
        if KNATIVE_MANAGED_ANNOTATIONS.contains(&key.as_str()) {
            f.invalid(
                format!("spec.knative.annotations[{key}]"),
                "Ferry derives this annotation from spec.scaling; set it there",
            );
        }
    }

    ferry_core::kube_object::check_labels(
        f,
        "spec.knative.nodeSelector",
        section.node_selector.iter().flatten(),
    );
    let autoscaler_class = parts
        .scaling
        .and_then(|scaling| autoscaler(f, parts, section.autoscaler_class, scaling));
    Some(KnativeModel {
        autoscaler_class: autoscaler_class?,
        ingress_class: section.ingress_class,
        service_account_name: section.service_account_name,
        node_selector: section.node_selector.unwrap_or_default(),
        annotations: section.annotations.unwrap_or_default(),
    })
}

fn check_containers(f: &mut Findings, containers: &[ContainerModel]) {
    for (i, c) in containers.iter().enumerate() {
        if let Some(port) = c.port
            && RESERVED_PORTS.contains(&port)
        {
            f.invalid(
                format!("spec.containers[{i}].port"),
                format!(
                    "Knative's queue-proxy uses ports {}; choose another port",
                    RESERVED_PORTS.map(|p| p.to_string()).join(", ")
                ),
            );
        }
        let probes = &c.probes;
        if c.port.is_none() && has_probe(probes) {
            f.warn(
                format!("spec.containers[{i}].probes"),
                "Knative probes sidecars only with the multi-container-probing feature flag",
            );
        }
    }
}

/// Mount paths Knative keeps for itself (`reservedPaths` in knative/serving's
/// `pkg/apis/serving/k8s_validation.go`, compared after cleaning the path); `/` core refuses.
const RESERVED_MOUNT_PATHS: [&str; 2] = ["/dev", "/dev/log"];

/// What Knative's webhook refuses of volumes (`ValidateVolumes`, `validateVolumeMounts`): a
/// volume no container mounts, a mount on a path it keeps; a secret's name and key as
/// Kubernetes takes them; and, for `ferry validate`, the feature flags an nfs or efs volume
/// needs, which only the cluster knows (Ferry reads them when it applies).
fn check_volumes(f: &mut Findings, spec: &ServerlessServiceSpec) {
    let volumes = spec.volumes.as_deref().unwrap_or_default();
    let mounts = || {
        spec.containers
            .iter()
            .flat_map(|c| c.volume_mounts.iter().flatten())
    };
    for (i, v) in volumes.iter().enumerate() {
        let path = format!("spec.volumes[{i}]");
        let mounted: Vec<_> = mounts().filter(|m| m.name == v.name).collect();
        if mounted.is_empty() {
            f.invalid(
                &path,
                format!(
                    "Knative refuses a volume no container mounts: mount {:?} with a \
                     containers[].volumeMounts entry, or remove it",
                    v.name
                ),
            );
        }
        if let Some(secret) = &v.secret {
            ferry_provider::cluster_volumes::validate::secret(f, &format!("{path}.secret"), secret);
        }
        if v.nfs.is_some() || v.efs.is_some() {
            let read_only = v.nfs.as_ref().and_then(|n| n.read_only) == Some(true)
                || (!mounted.is_empty() && mounted.iter().all(|m| m.read_only == Some(true)));
            let mut flags = vec![features::PERSISTENT_VOLUME_CLAIM.key];
            if !read_only {
                flags.push(features::PERSISTENT_VOLUME_WRITE.key);
            }
            f.warn(
                &path,
                format!(
                    "Knative mounts it through a PersistentVolumeClaim only where the cluster \
                     enables {} in knative-serving/config-features (off by default); Ferry \
                     reads them when it applies the Service, and refuses it naming the flags \
                     that are off",
                    flags.join(" and ")
                ),
            );
        }
    }
    for (i, c) in spec.containers.iter().enumerate() {
        for (k, m) in c.volume_mounts.iter().flatten().enumerate() {
            // As Go's `path.Clean` (core refuses `..`).
            let parts: Vec<&str> = m
                .mount_path
                .split('/')
                .filter(|p| !p.is_empty() && *p != ".")
                .collect();
            let cleaned = format!("/{}", parts.join("/"));
            if RESERVED_MOUNT_PATHS.contains(&cleaned.as_str()) {
                f.invalid(
                    format!("spec.containers[{i}].volumeMounts[{k}].mountPath"),
                    format!(
                        "Knative keeps {cleaned} for itself ({}): mount elsewhere",
                        RESERVED_MOUNT_PATHS.join(", ")
                    ),
                );
            }
        }
    }
}

fn has_probe(p: &ProbesModel) -> bool {
    p.startup.is_some() || p.readiness.is_some() || p.liveness.is_some()
}

/// The autoscaler class, from the metric unless set, checked against what each class can do.
fn autoscaler(
    f: &mut Findings,
    parts: &Parts<'_>,
    explicit: Option<AutoscalerClass>,
    scaling: &ferry_core::desired::ScalingModel,
) -> Option<AutoscalerClass> {
    let needs_hpa = matches!(scaling.metric, ScalingMetric::Cpu | ScalingMetric::Memory);
    let class = explicit.unwrap_or(if needs_hpa {
        AutoscalerClass::Hpa
    } else {
        AutoscalerClass::Kpa
    });
    let metric = scaling.metric.as_str();
    match (class, needs_hpa) {
        (AutoscalerClass::Kpa, true) => {
            f.invalid(
                "spec.knative.autoscalerClass",
                format!(
                    "the kpa autoscaler scales on concurrency or rps, not {metric}: use hpa or \
                     remove autoscalerClass"
                ),
            );
            return None;
        }
        (AutoscalerClass::Hpa, false) => {
            f.invalid(
                "spec.knative.autoscalerClass",
                format!(
                    "the hpa autoscaler scales on cpu or memory, not {metric}: use kpa or set \
                     spec.scaling.metric"
                ),
            );
            return None;
        }
        _ => {}
    }
    let explicit_min = parts.spec.scaling.as_ref().and_then(|s| s.min_instances);
    if class == AutoscalerClass::Hpa && explicit_min == Some(0) {
        f.invalid(
            "spec.scaling.minInstances",
            "the hpa autoscaler (metric cpu or memory) cannot scale to zero: set minInstances to \
             1 or more, or scale on concurrency or rps",
        );
    }
    if needs_hpa && let Some(containers) = parts.containers {
        let (leaf, set): (&str, fn(&ContainerModel) -> bool) = match scaling.metric {
            ScalingMetric::Memory => ("memory", |c| c.resources.memory_bytes.is_some()),
            _ => ("cpu", |c| c.resources.cpu_millis.is_some()),
        };
        for (i, c) in containers.iter().enumerate() {
            if !set(c) {
                f.invalid(
                    format!("spec.containers[{i}].resources.{leaf}"),
                    format!(
                        "scaling on {leaf} utilization measures against what each container \
                         asks for: set resources.{leaf} on every container"
                    ),
                );
            }
        }
    }
    if scaling.initial_instances == Some(0) {
        f.warn(
            "spec.scaling.initialInstances",
            "Knative allows an initial scale of 0 only when the cluster sets \
             allow-zero-initial-scale in config-autoscaler",
        );
    }
    Some(class)
}
