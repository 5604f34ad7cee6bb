//! The plain Kubernetes backend's rules: what a Deployment and a HorizontalPodAutoscaler can
//! do, and the EKS-on-Fargate pod rules when the pods match a Fargate profile.

use ferry_api::{ScalingMetric, SecretRef, VpaUpdateMode};
use ferry_core::Findings;
use ferry_core::backend::Parts;
use ferry_core::desired::{ContainerModel, ObjectRef, SecretSource};
use ferry_core::job::JobParts;
use ferry_core::kube_object::check_labels;
use ferry_core::quantity::{format_bytes, format_cores};

use crate::limits::{
    ALB_INGRESS_CLASS, ALB_TARGET_TYPE, FARGATE_MAX_EPHEMERAL_GIB, FARGATE_MAX_MEMORY_GIB,
    FARGATE_MAX_VCPU, MAX_STABILIZATION_SECONDS,
};
use crate::model::KubernetesModel;

const GIB: u64 = 1 << 30;

pub(crate) fn secret(f: &mut Findings, path: &str, secret: &SecretRef) -> Option<SecretSource> {
    ferry_core::kube_object::secret_key(f, path, secret, "a pod")
}

/// The rules over a `ServerlessJob`'s section: its pods are a Job's, under the same
/// EKS-on-Fargate rules as a service's.
pub(crate) fn check_job(f: &mut Findings, parts: &JobParts<'_>) -> KubernetesModel {
    let section = parts.spec.kubernetes.clone().unwrap_or_default();
    let fargate_labels = section.fargate_profile.map(|p| p.labels);
    if let (Some(_), Some(containers)) = (&fargate_labels, parts.containers) {
        check_fargate(f, containers);
    }
    check_labels(
        f,
        "spec.kubernetes.nodeSelector",
        section.node_selector.iter().flatten(),
    );
    check_labels(
        f,
        "spec.kubernetes.fargateProfile.labels",
        fargate_labels.iter().flatten(),
    );
    KubernetesModel {
        fargate_labels,
        service_account_name: section.service_account_name,
        node_selector: section.node_selector.unwrap_or_default(),
        ..KubernetesModel::default()
    }
}

pub(crate) fn check(f: &mut Findings, _object: &ObjectRef, parts: &Parts<'_>) -> KubernetesModel {
    let spec = parts.spec;
    let section = spec.kubernetes.clone().unwrap_or_default();
    let fargate_labels = section.fargate_profile.map(|p| p.labels);
    let scales = parts
        .scaling
        .is_some_and(|s| s.max_instances.unwrap_or(s.min_instances) > s.min_instances);

    if let (Some(scaling), Some(containers)) = (parts.scaling, parts.containers) {
        if scales {
            check_metric_resources(f, scaling.metric, containers);
        }
        if let Some(delay) = scaling.scale_down_delay_seconds
            && delay > MAX_STABILIZATION_SECONDS
        {
            f.invalid(
                "spec.scaling.scaleDownDelaySeconds",
                format!(
                    "the HorizontalPodAutoscaler's stabilization window is at most \
                     {MAX_STABILIZATION_SECONDS} seconds; got {delay}"
                ),
            );
        }
    }
    if let Some(scaling) = parts.scaling
        && !scales
    {
        for (field, set) in [
            ("target", scaling.target.is_some()),
            (
                "scaleDownDelaySeconds",
                scaling.scale_down_delay_seconds.is_some(),
            ),
        ] {
            if set {
                f.warn(
                    format!("spec.scaling.{field}"),
                    "has no effect: with maxInstances equal to minInstances the Deployment runs \
                     a fixed number of pods and no HorizontalPodAutoscaler is made",
                );
            }
        }
    }
    let vpa = section
        .vertical_pod_autoscaler
        .map(|v| v.update_mode.unwrap_or_default());
    if scales && vpa.is_some_and(|mode| mode != VpaUpdateMode::Off) {
        f.invalid(
            "spec.kubernetes.verticalPodAutoscaler.updateMode",
            "a VerticalPodAutoscaler that resizes pods fights the HorizontalPodAutoscaler, which \
             scales on the same cpu or memory: use updateMode Off (recommendations only), or \
             run a fixed count (maxInstances equal to minInstances)",
        );
    }
    if let (Some(labels), Some(containers)) = (&fargate_labels, parts.containers) {
        check_fargate(f, containers);
        if labels.is_empty() {
            f.warn(
                "spec.kubernetes.fargateProfile.labels",
                "no labels: the pods run on Fargate only if a profile selects this namespace \
                 without labels",
            );
        }
        if spec.ingress != Some(ferry_api::Ingress::Internal)
            && section.ingress_class_name.as_deref() != Some(ALB_INGRESS_CLASS)
        {
            f.warn(
                "spec.kubernetes.ingressClassName",
                format!(
                    "Fargate pods can be reached from a load balancer only by their IPs: use \
                     ingressClassName {ALB_INGRESS_CLASS} (the AWS Load Balancer Controller, \
                     which Ferry asks for target-type ip) or an ingress controller that targets \
                     pod IPs"
                ),
            );
        }
    }

    check_labels(
        f,
        "spec.kubernetes.nodeSelector",
        section.node_selector.iter().flatten(),
    );
    check_labels(
        f,
        "spec.kubernetes.fargateProfile.labels",
        fargate_labels.iter().flatten(),
    );
    let mut ingress_annotations = section.ingress_annotations.unwrap_or_default();
    if section.ingress_class_name.as_deref() == Some(ALB_INGRESS_CLASS) {
        ingress_annotations
            .entry(ALB_TARGET_TYPE.0.to_owned())
            .or_insert_with(|| ALB_TARGET_TYPE.1.to_owned());
    }
    KubernetesModel {
        ingress_class_name: section.ingress_class_name,
        host: section.host,
        ingress_annotations,
        fargate_labels,
        service_account_name: section.service_account_name,
        node_selector: section.node_selector.unwrap_or_default(),
        vpa,
    }
}

/// Utilization is measured against what each container asks for, so every container must ask.
fn check_metric_resources(f: &mut Findings, metric: ScalingMetric, containers: &[ContainerModel]) {
    let (leaf, set): (&str, fn(&ContainerModel) -> bool) = match metric {
        ScalingMetric::Cpu => ("cpu", |c| c.resources.cpu_millis.is_some()),
        ScalingMetric::Memory => ("memory", |c| c.resources.memory_bytes.is_some()),
        // Refused by the capability table: no autoscaler is made that would measure anything.
        ScalingMetric::Concurrency | ScalingMetric::Rps => return,
    };
    for (i, c) in containers.iter().enumerate() {
        if !set(c) {
            f.invalid(
                format!("spec.containers[{i}].resources.{leaf}"),
                format!(
                    "the HorizontalPodAutoscaler scales on {leaf} utilization, measured against \
                     what each container asks for: set resources.{leaf} on every container, or \
                     run a fixed count (maxInstances equal to minInstances)"
                ),
            );
        }
    }
}

/// The EKS-on-Fargate pod rules Ferry can break: no GPUs, and a pod no larger than the largest
/// Fargate size once EKS has added its own memory and rounded up. (Privileged and host-network
/// pods, host paths and DaemonSets are refused by Fargate too; Ferry never makes them.)
fn check_fargate(f: &mut Findings, containers: &[ContainerModel]) {
    for (i, c) in containers.iter().enumerate() {
        if c.resources.gpu.is_some() {
            f.invalid(
                format!("spec.containers[{i}].resources.gpu"),
                "EKS on Fargate has no GPUs: remove it, or drop spec.kubernetes.fargateProfile \
                 and run on GPU nodes",
            );
        }
        if c.resources.cpu_millis.is_none() || c.resources.memory_bytes.is_none() {
            f.warn(
                format!("spec.containers[{i}].resources"),
                "EKS sizes a Fargate pod from its containers' requests: without cpu and memory \
                 on every container the pod may get the smallest size (0.25 vCPU, 0.5 GB)",
            );
        }
    }
    let storage: u64 = containers
        .iter()
        .filter_map(|c| c.resources.ephemeral_storage_bytes)
        .fold(0, u64::saturating_add);
    if storage > FARGATE_MAX_EPHEMERAL_GIB * GIB {
        f.invalid(
            "spec.containers",
            format!(
                "an EKS Fargate pod has at most {FARGATE_MAX_EPHEMERAL_GIB} GiB of ephemeral \
                 storage; the containers ask for {} together",
                format_bytes(storage)
            ),
        );
    }
    if crate::cost::fargate_pod_size(containers).is_none() {
        let (cpu, memory) = crate::cost::pod_requests(containers);
        f.invalid(
            "spec.containers",
            format!(
                "an EKS Fargate pod has at most {FARGATE_MAX_VCPU} vCPU and \
                 {FARGATE_MAX_MEMORY_GIB} GB, and EKS adds 256 MiB of memory for its own \
                 components: the containers ask for {} vCPU and {} together",
                format_cores(cpu),
                format_bytes(memory)
            ),
        );
    }
}
