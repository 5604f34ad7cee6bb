//! The plain Kubernetes backend's rules: what a Deployment and a HorizontalPodAutoscaler can
//! do, what a pod's volumes need, and the EKS-on-Fargate pod rules when the pods match a
//! Fargate profile.

use ferry_api::{ScalingMetric, SecretRef, Volume, VpaUpdateMode};
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
    check_volumes(
        f,
        parts.spec.volumes.as_deref().unwrap_or_default(),
        fargate_labels.is_some(),
    );
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
    check_volumes(
        f,
        spec.volumes.as_deref().unwrap_or_default(),
        fargate_labels.is_some(),
    );
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

/// The key of the Secret the Azure Files CSI driver reads the storage account's key from; the
/// account's name it reads from `azurestorageaccountname` of the same Secret.
pub(crate) const AZURE_ACCOUNT_KEY: &str = "azurestorageaccountkey";

/// What a pod needs of its volumes: a Secret's name and key as Kubernetes names them, the
/// Secret the Azure Files driver reads, and on EKS Fargate only what a Fargate pod mounts.
pub(crate) fn check_volumes(f: &mut Findings, volumes: &[Volume], on_fargate: bool) {
    for (i, v) in volumes.iter().enumerate() {
        let path = format!("spec.volumes[{i}]");
        if let Some(secret) = &v.secret {
            ferry_provider::cluster_volumes::validate::secret(f, &format!("{path}.secret"), secret);
        }
        if let Some(share) = &v.azure_file {
            let path = format!("{path}.azureFile");
            match &share.secret_ref {
                None => f.invalid(
                    format!("{path}.secretRef"),
                    format!(
                        "the Azure Files CSI driver reads the storage account's name and key \
                         from a Secret in the namespace: set secretRef {{name: SECRET, key: \
                         {AZURE_ACCOUNT_KEY}}}, the Secret holding azurestorageaccountname \
                         ({}) and {AZURE_ACCOUNT_KEY}",
                        share.storage_account
                    ),
                ),
                Some(secret) if secret.key != AZURE_ACCOUNT_KEY => f.invalid(
                    format!("{path}.secretRef.key"),
                    format!(
                        "the Azure Files CSI driver reads the account key from the key \
                         {AZURE_ACCOUNT_KEY} of the Secret (and the account's name from \
                         azurestorageaccountname), not from {:?}: set key: {AZURE_ACCOUNT_KEY} \
                         and store the key there",
                        secret.key
                    ),
                ),
                Some(_) => {}
            }
            if share.environment_storage.is_some() {
                f.invalid(
                    format!("{path}.environmentStorage"),
                    "names a Container Apps environment storage, which only provider \
                     containerApps reads: remove it",
                );
            }
        }
        if on_fargate {
            check_fargate_volume(f, &path, v);
        }
    }
}

/// What an EKS Fargate pod cannot mount. AWS's EKS guide ("AWS Fargate considerations",
/// "Fargate storage") names Amazon EFS through static provisioning as the file system a
/// Fargate pod mounts, and no DaemonSet runs on Fargate (a CSI driver's node plugin is one);
/// Fargate's scheduler refuses a pod with another volume type. It documents no limit on
/// emptyDir or secret volumes.
fn check_fargate_volume(f: &mut Findings, path: &str, v: &Volume) {
    let refused = [
        (
            "nfs",
            v.nfs.is_some(),
            "an EKS Fargate pod mounts no NFS export: AWS documents Amazon EFS (a static \
             PersistentVolume of its CSI driver) as the file system a Fargate pod mounts; use an \
             efs volume, or run the pods on nodes (drop spec.kubernetes.fargateProfile)",
        ),
        (
            "gcs",
            v.gcs.is_some(),
            "an EKS Fargate pod cannot mount a Cloud Storage bucket: the Cloud Storage FUSE CSI \
             driver is GKE's; use an efs volume, or provider cloudRun",
        ),
        (
            "azureFile",
            v.azure_file.is_some(),
            "an EKS Fargate pod cannot mount an Azure Files share: the Azure Files CSI driver \
             mounts through its node DaemonSet, and no DaemonSet runs on Fargate; use an efs \
             volume, or provider containerApps or containerInstances",
        ),
    ];
    for (kind, set, message) in refused {
        if set {
            f.invalid(format!("{path}.{kind}"), message);
        }
    }
}
