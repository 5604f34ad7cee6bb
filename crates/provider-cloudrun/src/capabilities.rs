//! Google Cloud Run's column of the capability table.

use ferry_core::capabilities::{Feature, JobFeature, Support, list, no, partial, yes};
use ferry_core::quantity::{format_bytes, format_cores};

use crate::limits;

/// This provider's cell of the job table's row for `feature`: what `crate::job` makes of it.
pub(crate) fn job_support(feature: JobFeature) -> Support {
    match feature {
        JobFeature::Run => yes(
            "a Cloud Run job named after the object; the run of each generation an execution \
             started by an execution token, JOB-gGENERATION-UIDHASH",
        ),
        JobFeature::TaskCount => yes(format!(
            "the execution's taskCount, at most {}; each task gets its index in \
             CLOUD_RUN_TASK_INDEX",
            limits::MAX_TASK_COUNT
        )),
        JobFeature::Parallelism => partial(
            "the execution's parallelism; the tasks that run at once are bounded by the \
             region's quota too",
        ),
        JobFeature::MaxRetries => yes(format!(
            "the task template's maxRetries (0 to {}): each task retried on its own",
            limits::MAX_TASK_RETRIES
        )),
        JobFeature::TimeoutSeconds => partial(format!(
            "the task template's timeout, per attempt: at most {} h ({} h with a GPU; over {} h \
             in Preview)",
            limits::MAX_TASK_TIMEOUT_SECONDS / 3600,
            limits::MAX_GPU_TASK_TIMEOUT_SECONDS / 3600,
            limits::GA_TASK_TIMEOUT_SECONDS / 3600
        )),
        JobFeature::Schedule => partial(
            "a Cloud Scheduler job named after the Cloud Run job, in its region, that calls the \
             Admin API's jobs.run with an OAuth token of spec.cloudRun.serviceAccount (required)",
        ),
        JobFeature::TimeZone => yes("the Cloud Scheduler job's timeZone"),
        JobFeature::ConcurrencyPolicy => partial(
            "with a schedule Allow, or Replace (Ferry cancels the earlier execution once it sees \
             a newer one run); Forbid only without a schedule: Cloud Scheduler cannot skip a run",
        ),
        JobFeature::Suspend => yes("pauses the Cloud Scheduler job; no run for a suspended spec"),
        JobFeature::DeletionPolicy => yes(
            "Delete: the Cloud Scheduler job, then the Cloud Run job with its executions (those \
             running cancelled first); Orphan: both stay, without Ferry's ferry-uid mark",
        ),
    }
}

/// This provider's cell of the capability table's row for `feature`.
pub(crate) fn support(feature: Feature) -> Support {
    match feature {
        Feature::VolumeSecret => yes(
            "a Secret Manager secret (name as env[].secret) as one read-only file named after \
             the secret under mountPath: items [{path: SECRET, version: key, default latest}]",
        ),
        Feature::VolumeEmptyDir => partial(
            "an in-memory volume (medium MEMORY, sizeLimit), shared by the instance's \
             containers and counted against its memory: the sizeLimits together at most the \
             containers' memory; medium Disk and readOnly mounts refused (Cloud Run mounts it \
             read-write, in memory only)",
        ),
        Feature::VolumeNfs => partial(
            "an NFS volume (e.g. Filestore), reached through spec.cloudRun.vpcAccess; Ferry \
             sets execution environment gen2 (gen1, or a container below 1 vCPU, refused); \
             read-only for all of its mounts or none",
        ),
        Feature::VolumeGcs => partial(
            "a Cloud Storage FUSE volume (no file locking, not fully POSIX); Ferry sets \
             execution environment gen2 (gen1, or a container below 1 vCPU, refused); \
             read-only for all of its mounts or none",
        ),
        Feature::VolumeEfs | Feature::VolumeAzureFile => {
            no("Cloud Run mounts Cloud Storage (gcs) and NFS (Filestore); use a gcs or nfs volume")
        }
        Feature::VolumeSubPath => yes("the volume mount's subPath"),
        Feature::Sidecars => yes("1-10; one ingress container, the others are sidecars"),
        Feature::Port => yes("the container port; Cloud Run sets PORT"),
        Feature::EnvSecret => partial(
            "Secret Manager: name is the secret, key its version (a number or latest, the \
                 default)",
        ),
        Feature::Cpu => partial(format!(
            "per container {} to 1 vCPU in steps of 0.001, or {} vCPU ({} and more with \
                 nvidia-rtx-pro-6000); default {}; below 1 vCPU concurrency must be 1, CPU is \
                 only allocated during requests, and the execution environment is gen1",
            format_cores(limits::MIN_FRACTIONAL_CPU_MILLIS),
            list(
                limits::WHOLE_CPU_SIZES
                    .iter()
                    .map(|s| format_cores(s.millis))
            ),
            format_cores(limits::GPU_TYPES[1].min_cpu_millis),
            format_cores(limits::DEFAULT_CPU_MILLIS),
        )),
        Feature::Memory => partial(format!(
            "{} ({} on gen2) to {}: {}; default {}",
            format_bytes(limits::MIN_MEMORY_MIB << 20),
            format_bytes(limits::MIN_MEMORY_MIB_GEN2 << 20),
            format_bytes(limits::MAX_MEMORY_MIB << 20),
            memory_table(),
            format_bytes(limits::DEFAULT_MEMORY_MIB << 20),
        )),
        Feature::EphemeralStorage => no(
            "Cloud Run has no ephemeral-storage setting: its writable filesystem is in \
                 memory and counts against resources.memory",
        ),
        Feature::Gpu => partial(format!(
            "one GPU on one container: {}; CPU is always allocated",
            gpus()
        )),
        Feature::GpuType => yes(format!(
            "nodeSelector accelerator: {} (required)",
            list(limits::GPU_TYPES.iter().map(|g| g.name))
        )),
        Feature::StartupProbe => partial(format!(
            "httpGet, tcpSocket or grpc; period and initial delay at most {} s",
            limits::STARTUP_PROBE_MAX_SECONDS
        )),
        Feature::ReadinessProbe => partial("httpGet or grpc"),
        Feature::LivenessProbe => partial(format!(
            "httpGet or grpc; period and initial delay at most {} s",
            limits::PROBE_MAX_SECONDS
        )),
        Feature::Concurrency => partial(format!(
            "maxInstanceRequestConcurrency {}-{}; default {} (1 below 1 vCPU)",
            limits::CONCURRENCY.0,
            limits::CONCURRENCY.1,
            limits::DEFAULT_CONCURRENCY
        )),
        Feature::TimeoutSeconds => partial(format!(
            "timeout {}-{} s",
            limits::TIMEOUT_SECONDS.0,
            limits::TIMEOUT_SECONDS.1
        )),
        Feature::ScaleToZero => yes("the default"),
        Feature::MaxInstances => partial(format!(
            "maxInstanceCount; default {}; the regional quota allows about {} instances \
                 of 1 vCPU without an increase",
            limits::DEFAULT_MAX_INSTANCES,
            limits::QUOTA_INSTANCES_AT_ONE_CPU
        )),
        Feature::InitialInstances => {
            no("Cloud Run has no initial scale; minInstances keeps instances warm")
        }
        Feature::MetricConcurrency => yes("the only signal Cloud Run scales on"),
        Feature::MetricRps | Feature::MetricCpu | Feature::MetricMemory => {
            no("Cloud Run scales on concurrency only")
        }
        Feature::ScalingTarget => no(
            "Cloud Run scales by itself to keep each instance within spec.concurrency; set \
                 spec.concurrency instead",
        ),
        Feature::ScaleDownDelay => no("Cloud Run has no scale-down delay"),
        Feature::Ingress => yes("INGRESS_TRAFFIC_ALL or INGRESS_TRAFFIC_INTERNAL_ONLY"),
        Feature::TrafficSplit => yes("traffic targets"),
        Feature::TrafficTags => yes("revision tags"),
        Feature::DeletionPolicy => yes("Orphan leaves the Cloud Run service"),
        Feature::ProviderConfigRef => yes("default: the ProviderConfig named default"),
        Feature::Migration => yes(
            "the Cloud Run service is created beside the old side; status.url names its run.app \
             URL once it is Ready; moving away deletes it after drainSeconds",
        ),
    }
}

fn memory_table() -> String {
    let mib = |m: u64| format_bytes(m << 20);
    let mut parts = vec![
        format!(
            "below {} vCPU up to {}",
            format_cores(limits::HALF_CPU_MILLIS),
            mib(limits::SMALL_CPU_MAX_MEMORY_MIB)
        ),
        format!(
            "below 1 vCPU up to {}",
            mib(limits::FRACTIONAL_CPU_MAX_MEMORY_MIB)
        ),
    ];
    parts.extend(limits::WHOLE_CPU_SIZES.iter().map(|s| {
        let cores = format_cores(s.millis);
        if s.min_memory_mib > limits::MIN_MEMORY_MIB {
            format!(
                "{cores} vCPU {}-{}",
                mib(s.min_memory_mib),
                mib(s.max_memory_mib)
            )
        } else {
            format!("{cores} vCPU up to {}", mib(s.max_memory_mib))
        }
    }));
    parts.join(", ")
}

fn gpus() -> String {
    list(limits::GPU_TYPES.iter().map(|g| {
        format!(
            "{} (at least {} vCPU and {})",
            g.name,
            format_cores(g.min_cpu_millis),
            format_bytes(g.min_memory_mib << 20)
        )
    }))
}
