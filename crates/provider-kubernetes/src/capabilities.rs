//! The plain Kubernetes backend's column of the capability table.

use ferry_core::capabilities::{Feature, JobFeature, Support, no, not_applicable, partial, yes};

use crate::limits;

/// This provider's cell of the capability table's row for `feature`.
pub(crate) fn support(feature: Feature) -> Support {
    match feature {
        Feature::VolumeSecret => yes(
            "a secret volume of the Kubernetes Secret name: every key a file, or with key only \
             that key, a file of its name",
        ),
        Feature::VolumeEmptyDir => yes(
            "an emptyDir volume with its sizeLimit; medium Memory is a tmpfs counted against the \
             container's memory",
        ),
        Feature::VolumeNfs => partial(
            "an nfs volume of the pod; refused with an EKS Fargate profile (Fargate pods mount \
             only EFS)",
        ),
        Feature::VolumeEfs => partial(
            "a PersistentVolume of the EFS CSI driver (efs.csi.aws.com; volumeHandle \
             fs-ID[:rootDirectory][:accessPointId], encryptInTransit from transitEncryption, \
             iam as the mount option iam: the driver's node identity) pre-bound to a \
             PersistentVolumeClaim; Ferry creates both and deletes them with the object. The \
             driver must be installed (EKS add-on; built into EKS Fargate)",
        ),
        Feature::VolumeGcs => partial(
            "an inline CSI volume of GKE's Cloud Storage FUSE driver (gcsfuse.csi.storage.gke.io, \
             bucketName) and the pod annotation gke-gcsfuse/volumes; GKE with the driver on, a \
             service account that may read the bucket; refused with an EKS Fargate profile",
        ),
        Feature::VolumeAzureFile => partial(
            "an inline CSI volume of the Azure Files driver (file.csi.azure.com: shareName, \
             secretName); secretRef names a Secret in the namespace holding \
             azurestorageaccountname (the storageAccount) and azurestorageaccountkey, its key; \
             refused with an EKS Fargate profile",
        ),
        Feature::VolumeSubPath => yes("the volumeMount's subPath"),
        Feature::Sidecars => yes("1-10 containers in the pod; the one with a port serves"),
        Feature::Port => yes(format!(
            "containerPort; the Service listens on {} and forwards to it",
            limits::SERVICE_PORT
        )),
        Feature::EnvSecret => yes("key of a Kubernetes Secret in the namespace (name and key)"),
        Feature::Cpu | Feature::Memory => yes(
            "requests and limits, equal (an EKS Fargate pod is sized from them, rounded up to a \
             Fargate size)",
        ),
        Feature::EphemeralStorage => partial(format!(
            "the ephemeral-storage resource; on EKS Fargate up to {} GiB a pod",
            limits::FARGATE_MAX_EPHEMERAL_GIB
        )),
        Feature::Gpu => partial(
            "nvidia.com/gpu by count; the cluster needs GPU nodes (refused with an EKS Fargate \
             profile: Fargate has no GPUs)",
        ),
        Feature::GpuType => no(
            "pods ask for GPUs by count (nvidia.com/gpu); remove the type and pick GPU nodes with \
             spec.kubernetes.nodeSelector",
        ),
        Feature::StartupProbe => yes("startupProbe"),
        Feature::ReadinessProbe => yes("readinessProbe"),
        Feature::LivenessProbe => yes("livenessProbe"),
        Feature::Concurrency => no("a Service does not limit requests per pod"),
        Feature::TimeoutSeconds => no(
            "a Service does not proxy requests (set the ingress controller's timeout with \
             spec.kubernetes.ingressAnnotations)",
        ),
        Feature::ScaleToZero => no(format!(
            "the HorizontalPodAutoscaler keeps at least {} pod without an event-driven \
             autoscaler",
            limits::MIN_INSTANCES
        )),
        Feature::MaxInstances => yes(
            "the HorizontalPodAutoscaler's maxReplicas; default minInstances (a fixed count, no \
             autoscaler)",
        ),
        Feature::InitialInstances => no(
            "the HorizontalPodAutoscaler sets the replica count; minInstances is where it starts",
        ),
        Feature::MetricConcurrency => {
            no("the HorizontalPodAutoscaler sees no requests in flight; scale on cpu or memory")
        }
        Feature::MetricRps => {
            no("the HorizontalPodAutoscaler sees no request rate; scale on cpu or memory")
        }
        Feature::MetricCpu => partial(
            "HorizontalPodAutoscaler on CPU utilization (the default): every container sets \
             resources.cpu",
        ),
        Feature::MetricMemory => partial(
            "HorizontalPodAutoscaler on memory utilization: every container sets \
             resources.memory",
        ),
        Feature::ScalingTarget => yes(format!(
            "averageUtilization, percent of what the pods ask for; default {}",
            limits::DEFAULT_UTILIZATION
        )),
        Feature::ScaleDownDelay => {
            yes("the HorizontalPodAutoscaler's scale-down stabilization window")
        }
        Feature::Ingress => yes(
            "public: an Ingress (spec.kubernetes.ingressClassName); internal: the ClusterIP \
             Service only",
        ),
        Feature::TrafficSplit => no("a Deployment has no revisions to split traffic between"),
        Feature::TrafficTags => not_applicable("no traffic split"),
        Feature::DeletionPolicy => yes(
            "Orphan removes Ferry's owner references and leaves the Deployment and the rest \
             running",
        ),
        Feature::ProviderConfigRef => {
            no("the kubernetes provider runs in this cluster and needs no ProviderConfig")
        }
        Feature::Migration => yes(
            "the Deployment and the rest are created beside the old side; status.url names the \
             new URL once the Deployment is Available; moving away deletes them after \
             drainSeconds",
        ),
    }
}

/// This provider's cell of the job table's row for `feature`.
pub(crate) fn job_support(feature: JobFeature) -> Support {
    match feature {
        JobFeature::Run => {
            yes("a batch/v1 Job per run, named NAME-GENERATION, owned by the object")
        }
        JobFeature::TaskCount => {
            yes("an Indexed Job's completions; each task gets its index in JOB_COMPLETION_INDEX")
        }
        JobFeature::Parallelism => yes("the Job's parallelism"),
        JobFeature::MaxRetries => {
            yes("backoffLimitPerIndex: each task retried on its own (Kubernetes 1.33+)")
        }
        JobFeature::TimeoutSeconds => yes("the pod's activeDeadlineSeconds: one attempt"),
        JobFeature::Schedule => yes("a batch/v1 CronJob named after the object"),
        JobFeature::TimeZone => yes("the CronJob's timeZone"),
        JobFeature::ConcurrencyPolicy => yes(
            "the CronJob's concurrencyPolicy; for a changed spec Ferry applies it (Replace \
             suspends the running Job)",
        ),
        JobFeature::Suspend => yes("the CronJob's suspend; no Job for a suspended spec"),
        JobFeature::DeletionPolicy => yes(
            "Delete: the garbage collector deletes the Jobs and the CronJob with the object; \
             Orphan: Ferry removes their owner references first",
        ),
    }
}
