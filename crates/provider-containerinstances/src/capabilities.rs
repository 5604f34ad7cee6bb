//! Azure Container Instances' column of the capability table. The `no` cells mirror the CEL
//! rules of `ferry_api::SPEC_RULES` for `containerInstances` (a test in `crates/ferry` checks
//! that the two agree).

use ferry_core::capabilities::{Feature, Support, list, no, not_applicable, partial, yes};
use ferry_core::quantity::format_cores;

use crate::limits;

const NO_AUTOSCALING: &str = "a container group runs exactly one instance: Container Instances has no autoscaling; \
     use provider containerApps to scale";

/// This provider's cell of the capability table's row for `feature`.
pub(crate) fn support(feature: Feature) -> Support {
    match feature {
        Feature::VolumeSecret => partial(
            "one file of an entry of spec.containerInstances.secrets, named by key (default: the \
             secret's name): a secret volume holding the copied value (fromSecret, text) or a \
             secretReference volume ACI reads from Key Vault with spec.containerInstances.identity; \
             Linux groups only",
        ),
        Feature::VolumeEmptyDir => partial(
            "an emptyDir volume on the host's disk, up to 50 GB: medium Memory is refused, a \
             sizeLimit is accepted but not enforced; Linux groups only",
        ),
        Feature::VolumeNfs => no(
            "a container group mounts Azure Files, emptyDir and secret volumes; use an azureFile volume",
        ),
        Feature::VolumeEfs => no(
            "a container group mounts Azure Files, not an AWS file system; use an azureFile volume",
        ),
        Feature::VolumeGcs => no(
            "a container group mounts Azure Files, not a Cloud Storage bucket; use an azureFile \
             volume",
        ),
        Feature::VolumeAzureFile => partial(
            "an azureFile volume (SMB) with the storage account key copied from \
             azureFile.secretRef (required); readOnly on the share or per mount; Linux groups only",
        ),
        Feature::VolumeSubPath => no("a container group mounts a volume at its root only"),
        Feature::Sidecars => partial(format!(
            "1-10 containers in one container group sharing its IP address (ACI allows {}); a \
             Windows group has {} container",
            limits::MAX_CONTAINERS,
            limits::MAX_WINDOWS_CONTAINERS
        )),
        Feature::Port => yes("the container port, opened on the group's IP address (TCP)"),
        Feature::EnvSecret => partial(
            "secret.name names an entry of spec.containerInstances.secrets: fromSecret copies a \
             key of a Secret in the service's namespace into a secure value; keyVaultUrl is a \
             secret reference ACI reads with spec.containerInstances.identity",
        ),
        Feature::Cpu => partial(format!(
            "a request in steps of {} vCPU, default {} per container; a group up to {} vCPU \
             ({} with {} GPUs); ACI allocates at least {} vCPU per group",
            format_cores(limits::CPU_STEP_MILLIS),
            format_cores(limits::DEFAULT_CPU_MILLIS),
            format_cores(limits::MAX_GROUP_CPU_MILLIS),
            list(
                limits::GPU_SIZES
                    .iter()
                    .map(|g| format_cores(g.max_cpu_millis))
            ),
            list(limits::GPU_SIZES.iter().map(|g| g.count)),
            format_cores(limits::MIN_GROUP_CPU_MILLIS),
        )),
        Feature::Memory => partial(format!(
            "memoryInGB in steps of 0.1 GiB, default {} GiB per container; a group up to {} GiB \
             ({} GiB with {} GPUs); at least {} GiB per group",
            tenths(limits::DEFAULT_MEMORY_TENTHS),
            tenths(limits::MAX_GROUP_MEMORY_TENTHS),
            list(
                limits::GPU_SIZES
                    .iter()
                    .map(|g| tenths(g.max_memory_tenths))
            ),
            list(limits::GPU_SIZES.iter().map(|g| g.count)),
            tenths(limits::MIN_GROUP_MEMORY_TENTHS),
        )),
        Feature::EphemeralStorage => no("mount a volume instead"),
        Feature::Gpu => partial(format!(
            "{} NVIDIA V100 per group (preview; a quota of 0 until Azure support raises it); \
             Linux, public ingress and Regular priority only",
            list(limits::GPU_SIZES.iter().map(|g| g.count)),
        )),
        Feature::GpuType => partial(format!(
            "{} (the default); K80 and P100 were retired in 2023",
            limits::GPU_TYPE
        )),
        Feature::StartupProbe => no("give probes.liveness an initialDelaySeconds instead"),
        Feature::ReadinessProbe => partial("httpGet only (ACI's readinessProbe)"),
        Feature::LivenessProbe => {
            partial("httpGet only (ACI's livenessProbe): a failing container is restarted")
        }
        Feature::Concurrency => no(
            "a container group takes every request sent to it; use provider containerApps to \
             limit requests per replica",
        ),
        Feature::TimeoutSeconds => no("nothing proxies the requests"),
        Feature::ScaleToZero => no("a container group runs, and is billed, all the time"),
        Feature::MaxInstances => partial("1 only: one container group"),
        Feature::InitialInstances
        | Feature::MetricConcurrency
        | Feature::MetricRps
        | Feature::MetricCpu
        | Feature::MetricMemory
        | Feature::ScalingTarget
        | Feature::ScaleDownDelay => no(NO_AUTOSCALING),
        Feature::Ingress => yes(
            "public: a public IP address with a DNS label (LABEL.LOCATION.azurecontainer.io); \
             internal: a private IP address in spec.containerInstances.subnetIds",
        ),
        Feature::TrafficSplit => no(
            "a container group has no revisions: an update replaces it (and restarts its \
             containers); use provider containerApps to split traffic",
        ),
        Feature::TrafficTags => not_applicable("a container group has no revisions"),
        Feature::DeletionPolicy => yes(
            "Orphan leaves the container group; Ferry writes it once more without its ferry-uid \
             tag, which restarts its containers",
        ),
        Feature::ProviderConfigRef => {
            yes("the ProviderConfig's spec.azure; default: the ProviderConfig named default")
        }
        Feature::Migration => yes(
            "the container group is created beside the old side; status.url names its address \
             once it runs; moving away deletes it after drainSeconds",
        ),
    }
}

/// Tenths of a GB as a number of GB (`15` is `1.5`).
pub(crate) fn tenths(t: u64) -> String {
    if t.is_multiple_of(10) {
        (t / 10).to_string()
    } else {
        format!("{}.{}", t / 10, t % 10)
    }
}
