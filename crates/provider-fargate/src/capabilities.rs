//! AWS Fargate's column of the capability table: a ServerlessService's ([`support`]) and a
//! ServerlessJob's ([`job_support`]).

use ferry_core::capabilities::{
    Feature, JobFeature, Support, list, no, not_applicable, partial, yes,
};
use ferry_core::quantity::{format_bytes, format_cores};

use crate::job::build::{SCHEDULE_GROUP, TASK_COUNT_ENV, TASK_INDEX_ENV};
use crate::job::runs::MAX_STARTS;
use crate::limits::{
    HEALTH_CHECK_INTERVAL, HEALTH_CHECK_RETRIES, HEALTH_CHECK_START_PERIOD, HEALTH_CHECK_TIMEOUT,
    INCLUDED_EPHEMERAL_GIB, MAX_EPHEMERAL_GIB, MIN_INSTANCES, MemoryOptions, TASK_SIZES, TaskSize,
};

/// This provider's cell of the capability table's row for `feature`.
pub(crate) fn support(feature: Feature) -> Support {
    match feature {
        Feature::VolumeSecret => no(
            "ECS injects secrets as environment variables only (containerDefinitions[].secrets); \
             use env[].secret",
        ),
        Feature::VolumeEmptyDir => partial(format!(
            "a task volume with a name only: a bind mount on the task's ephemeral storage, \
             shared by the task's containers and gone with the task; Linux tasks only; medium \
             Memory is refused (Fargate has no tmpfs); ECS does not enforce sizeLimit: the \
             sizeLimits must fit together in the task's ephemeral storage ({INCLUDED_EPHEMERAL_GIB} \
             GiB, or the containers' resources.ephemeralStorage up to {MAX_EPHEMERAL_GIB} GiB), \
             which also holds the container images"
        )),
        Feature::VolumeNfs => no(
            "ECS on Fargate mounts only EFS file systems (efsVolumeConfiguration); use an efs \
             volume",
        ),
        Feature::VolumeEfs => partial(
            "efsVolumeConfiguration with rootDirectory, transitEncryption and authorizationConfig \
             (accessPointId; iam mounts as the task role, which spec.fargate.taskRoleArn or the \
             ProviderConfig's defaults must give); Linux tasks on platform version 1.4.0 or \
             later (LATEST)",
        ),
        Feature::VolumeGcs => no(
            "ECS on Fargate mounts only EFS file systems (efsVolumeConfiguration); use an efs \
             volume, or provider cloudRun for a Cloud Storage bucket",
        ),
        Feature::VolumeAzureFile => no(
            "ECS on Fargate mounts only EFS file systems (efsVolumeConfiguration); use an efs \
             volume, or provider containerApps or containerInstances for an Azure Files share",
        ),
        Feature::VolumeSubPath => partial(
            "efs volumes without an access point only (ECS mount points have no sub path): each \
             subPath becomes a task volume of its own whose EFS rootDirectory is the subPath \
             under the volume's; the directory must exist on the file system",
        ),
        Feature::Sidecars => yes(format!(
            "1-{} container definitions in one task",
            ferry_core::limits::MAX_CONTAINERS
        )),
        Feature::Port => yes("the container port (awsvpc networking); Ferry sets PORT too"),
        Feature::EnvSecret => partial(
            "ECS valueFrom: name is looked up in spec.fargate.secrets (a Secrets Manager or \
                 SSM Parameter Store ARN); key picks a JSON key of a Secrets Manager secret",
        ),
        Feature::Cpu => partial(format!(
            "the task gets the sum of the containers': {} vCPU on Linux, {} on Windows; \
                 default: the smallest",
            fargate_cpu_sizes(false),
            fargate_cpu_sizes(true),
        )),
        Feature::Memory => partial(format!(
            "the task gets the sum of the containers', paired with the task CPU: \
                 {}; default: the least the CPU allows",
            memory_table()
        )),
        Feature::EphemeralStorage => partial(format!(
            "the task gets the sum, {}-{} GiB in whole GiB on Linux; {} GiB is included \
                 (smaller requests fit in it); not configurable on Windows",
            INCLUDED_EPHEMERAL_GIB + 1,
            MAX_EPHEMERAL_GIB,
            INCLUDED_EPHEMERAL_GIB,
        )),
        Feature::Gpu => no("Fargate has no GPUs; use provider cloudRun or knative"),
        Feature::GpuType => not_applicable("no GPUs"),
        Feature::StartupProbe => no(
            "ECS has no startup probe; give probes.liveness an initialDelaySeconds (the \
                 health check's start period) instead",
        ),
        Feature::ReadinessProbe => no(
            "ECS routes by the load balancer's target-group health check; configure it on \
                 the target group (probes.liveness becomes the ECS container health check)",
        ),
        Feature::LivenessProbe => partial(format!(
            "the ECS container health check: httpGet only, run as curl inside the \
                 container (the image needs curl); interval {}-{} s, timeout {}-{} s, \
                 failureThreshold {}-{}, initialDelaySeconds {}-{} s",
            HEALTH_CHECK_INTERVAL.0,
            HEALTH_CHECK_INTERVAL.1,
            HEALTH_CHECK_TIMEOUT.0,
            HEALTH_CHECK_TIMEOUT.1,
            HEALTH_CHECK_RETRIES.0,
            HEALTH_CHECK_RETRIES.1,
            HEALTH_CHECK_START_PERIOD.0,
            HEALTH_CHECK_START_PERIOD.1,
        )),
        Feature::Concurrency => no("ECS does not limit requests per task"),
        Feature::TimeoutSeconds => {
            no("ECS does not proxy requests; set the load balancer's idle timeout instead")
        }
        Feature::ScaleToZero => no(format!(
            "nothing starts a task when a request arrives; minInstances is at least \
             {MIN_INSTANCES}"
        )),
        Feature::MaxInstances => {
            yes("Application Auto Scaling maximum; default minInstances (a fixed task count)")
        }
        Feature::InitialInstances => yes("the service's first desiredCount"),
        Feature::MetricConcurrency => {
            no("ECS sees no requests in flight; scale on cpu, memory or rps")
        }
        Feature::MetricRps => partial(
            "target tracking on ALBRequestCountPerTarget; needs \
                 spec.fargate.loadBalancer.loadBalancerArn",
        ),
        Feature::MetricCpu => {
            yes("target tracking on ECSServiceAverageCPUUtilization (the default)")
        }
        Feature::MetricMemory => yes("target tracking on ECSServiceAverageMemoryUtilization"),
        Feature::ScalingTarget => yes("the target-tracking value"),
        Feature::ScaleDownDelay => partial("the target-tracking policy's scale-in cooldown"),
        Feature::Ingress => partial(
            "public assigns the tasks public IPs, internal does not (spec.fargate.\
                 assignPublicIp overrides it); a stable URL needs a load balancer",
        ),
        Feature::TrafficSplit => no(
            "every request goes to the latest task definition; spec.traffic may only send \
                 all traffic to latestRevision",
        ),
        Feature::TrafficTags => not_applicable("no traffic split"),
        Feature::DeletionPolicy => {
            yes("Orphan leaves the ECS service, task definitions and scaling")
        }
        Feature::ProviderConfigRef => yes("default: the ProviderConfig named default"),
        Feature::Migration => yes(
            "the ECS service is created beside the old side and the switch waits for its \
             tasks; Fargate gives no URL, so status.url is empty after a move to it: point \
             clients at the load balancer (spec.fargate.loadBalancer) before drainSeconds end",
        ),
    }
}

/// When Ferry looks at a run: what its retries, timeout and concurrency policy wait for.
/// The controller polls every few seconds while a run it knows of is under way; a run the
/// schedule started is known at the next resync.
const LOOKS: &str = "every few seconds while a run is under way; a run the schedule started is \
     first seen at the operator's next resync, every --resync-interval, 10 minutes by default";

/// This provider's cell of the job table's row for `feature`. ECS runs a task and nothing
/// more: no retries, no parallelism limit, no timeout; Ferry does each itself (`job::runs`),
/// so they hold while the operator runs.
pub(crate) fn job_support(feature: JobFeature) -> Support {
    match feature {
        JobFeature::Run => yes(
            "an ECS task definition family NAMESPACE__NAME per job; the run of each generation \
             the tasks Ferry starts with RunTask, startedBy ferry-UIDHASH-GENERATION, each task \
             and attempt under its own clientToken, so a repeated start starts nothing twice",
        ),
        JobFeature::TaskCount => partial(format!(
            "any count without a schedule: Ferry starts each task with its own RunTask and \
             gives it {TASK_INDEX_ENV} and {TASK_COUNT_ENV}; 1 with a schedule: EventBridge \
             Scheduler starts a firing's tasks in one RunTask, which cannot give each its index"
        )),
        JobFeature::Parallelism => partial(format!(
            "Ferry starts the tasks itself (ECS has no such limit), never more than parallelism \
             at once and at most {MAX_STARTS} a look (Fargate's RunTask rate); tasks beyond the \
             account's Fargate vCPU quota in the region wait, and none starts while the \
             operator is down"
        )),
        JobFeature::MaxRetries => yes(format!(
            "Ferry retries each failed task itself (ECS retries nothing): a new task under its \
             own clientToken, a Spot interruption counting as a failed attempt; a retry starts \
             at Ferry's next look ({LOOKS})"
        )),
        JobFeature::TimeoutSeconds => partial(format!(
            "ECS has no task timeout: Ferry stops an attempt (StopTask) at its first look after \
             timeoutSeconds from the task's creation, image pull included; until then the task \
             runs, and is billed, past it ({LOOKS}; not at all while the operator is down)"
        )),
        JobFeature::Schedule => partial(format!(
            "an EventBridge Scheduler schedule in group {SCHEDULE_GROUP}, named after the \
             object, that calls RunTask as the ProviderConfig's spec.fargate.schedulerRoleArn \
             (required) with taskCount 1; the cron becomes EventBridge's six-field cron, and one \
             restricting both the day of month and the day of week is refused (EventBridge \
             takes one of them)"
        )),
        JobFeature::TimeZone => yes("the schedule's ScheduleExpressionTimezone"),
        JobFeature::ConcurrencyPolicy => partial(format!(
            "EventBridge Scheduler has no such policy: Forbid disables the schedule while a \
             scheduled run is under way, and Ferry stops a run the schedule started before that \
             (listed as Stopped); Replace: Ferry stops the earlier run once it sees the newer; \
             the overlapping tasks run, and are billed (a minute at least), until Ferry's look \
             ({LOOKS}); for a changed spec Ferry applies it (Replace stops the running run)"
        )),
        JobFeature::Suspend => {
            yes("the schedule is DISABLED (tasks under way go on); no run for a suspended spec")
        }
        JobFeature::DeletionPolicy => yes(
            "Delete: the schedule is deleted, the running tasks stopped and, once they have \
             stopped, the task definition's revisions deregistered; Orphan: the schedule stays \
             (its description no longer names the object's UID) and tasks under way go on",
        ),
    }
}

/// Fargate's CPU sizes for Linux (`windows == false`) or Windows.
pub(crate) fn fargate_cpu_sizes(windows: bool) -> String {
    list(
        TASK_SIZES
            .iter()
            .filter(|s| !windows || s.windows)
            .map(|s| format_cores(u64::from(s.cpu_units) * 1000 / 1024)),
    )
}

/// Fargate's memory sizes for one CPU size, e.g. `1Gi-4Gi in 1Gi steps`.
pub(crate) fn fargate_memory_sizes(size: &TaskSize) -> String {
    let mib = |m: u32| format_bytes(u64::from(m) << 20);
    match size.memory {
        MemoryOptions::List(sizes) => list(sizes.iter().map(|&m| mib(m))),
        MemoryOptions::Range { min, max, step } => {
            format!("{}-{} in {} steps", mib(min), mib(max), mib(step))
        }
    }
}

/// Each CPU size with the memory it pairs with.
fn memory_table() -> String {
    TASK_SIZES
        .iter()
        .map(|s| {
            format!(
                "{} vCPU: {}",
                format_cores(u64::from(s.cpu_units) * 1000 / 1024),
                fargate_memory_sizes(s)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
