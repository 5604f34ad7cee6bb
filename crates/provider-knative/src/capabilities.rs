//! Knative Serving's column of the capability table.

use ferry_core::capabilities::{Feature, Support, list, no, partial, yes};

use crate::limits;

/// This provider's cell of the capability table's row for `feature`.
pub(crate) fn support(feature: Feature) -> Support {
    match feature {
        Feature::VolumeSecret => yes(
            "a secret volume of the Kubernetes Secret name (every key a file, or with key only \
             that key), always mounted read-only",
        ),
        Feature::VolumeEmptyDir => partial(
            "an emptyDir volume; needs Knative's kubernetes.podspec-volumes-emptydir feature \
             flag (on by default), which Ferry reads from config-features when it applies",
        ),
        Feature::VolumeNfs => partial(
            "a PersistentVolume (nfs) and PersistentVolumeClaim Ferry creates and deletes, mounted \
             as a persistentVolumeClaim; needs Knative's kubernetes.podspec-persistent-volume-claim \
             flag, and kubernetes.podspec-persistent-volume-write unless every mount is readOnly \
             (both off by default): Ferry reads config-features when it applies and refuses \
             naming the flags that are off",
        ),
        Feature::VolumeEfs => partial(
            "a PersistentVolume of the EFS CSI driver (efs.csi.aws.com) and PersistentVolumeClaim \
             Ferry creates and deletes, mounted as a persistentVolumeClaim; needs Knative's \
             kubernetes.podspec-persistent-volume-claim flag, and \
             kubernetes.podspec-persistent-volume-write unless every mount is readOnly (both off \
             by default), checked as for nfs",
        ),
        Feature::VolumeGcs => no(
            "Ferry mounts no CSI volume on Knative (Knative admits one only behind its \
             kubernetes.podspec-volumes-csi flag, off by default); use provider kubernetes (GKE's \
             Cloud Storage FUSE CSI driver) or cloudRun",
        ),
        Feature::VolumeAzureFile => no(
            "Ferry mounts no CSI volume on Knative (Knative admits one only behind its \
             kubernetes.podspec-volumes-csi flag, off by default); use provider kubernetes, \
             containerApps or containerInstances",
        ),
        Feature::VolumeSubPath => yes("the volumeMount's subPath"),
        Feature::Sidecars => yes("1-10; the one with a port serves, the others are sidecars"),
        Feature::Port => partial(format!(
            "any port except {} (used by Knative's queue-proxy)",
            list(limits::RESERVED_PORTS)
        )),
        Feature::EnvSecret => yes("key of a Kubernetes Secret in the namespace (name and key)"),
        Feature::Cpu | Feature::Memory => yes("requests and limits"),
        Feature::EphemeralStorage => yes("the ephemeral-storage resource"),
        Feature::Gpu => partial("nvidia.com/gpu by count; the cluster needs GPU nodes"),
        Feature::GpuType => no(
            "Knative schedules GPUs by count (nvidia.com/gpu); pick GPU nodes with \
                 spec.knative.nodeSelector instead",
        ),
        Feature::StartupProbe => yes("startupProbe"),
        Feature::ReadinessProbe => yes("readinessProbe"),
        Feature::LivenessProbe => yes("livenessProbe"),
        Feature::Concurrency => yes(format!(
            "containerConcurrency, up to {} unless the cluster raised \
                 container-concurrency-max-limit; default unlimited",
            limits::MAX_CONCURRENCY
        )),
        Feature::TimeoutSeconds => partial(format!(
            "timeoutSeconds, up to max-revision-timeout-seconds ({} s unless the cluster \
                 raised it)",
            limits::MAX_TIMEOUT_SECONDS
        )),
        Feature::ScaleToZero => partial("with the kpa autoscaler (metric concurrency or rps)"),
        Feature::MaxInstances => yes("max-scale; default unlimited"),
        Feature::InitialInstances => yes("initial-scale"),
        Feature::MetricConcurrency => yes("kpa autoscaler (the default)"),
        Feature::MetricRps => yes("kpa autoscaler"),
        Feature::MetricCpu => {
            partial("hpa autoscaler: every container sets resources.cpu; cannot scale to zero")
        }
        Feature::MetricMemory => {
            partial("hpa autoscaler: every container sets resources.memory; cannot scale to zero")
        }
        Feature::ScalingTarget => {
            yes("autoscaling target (for cpu and memory: percent of what is asked for)")
        }
        Feature::ScaleDownDelay => yes("scale-down-delay"),
        Feature::Ingress => yes("internal: cluster-local visibility"),
        Feature::TrafficSplit => yes("traffic targets"),
        Feature::TrafficTags => partial(format!(
            "TAG-NAME is one DNS label: tag and service name together at most {} \
                 characters",
            limits::MAX_TAG_ROUTE_LENGTH - 1
        )),
        Feature::DeletionPolicy => {
            yes("Orphan removes Ferry's owner reference and leaves the Knative Service")
        }
        Feature::ProviderConfigRef => {
            no("Knative runs in this cluster and needs no ProviderConfig")
        }
        Feature::Migration => yes(
            "the Knative Service is created beside the old side; status.url names its URL once \
             it is Ready; moving away deletes it after drainSeconds",
        ),
    }
}
