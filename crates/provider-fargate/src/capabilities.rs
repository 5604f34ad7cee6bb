//! AWS Fargate's column of the capability table.

use ferry_core::capabilities::{Feature, Support, list, no, not_applicable, partial, yes};
use ferry_core::quantity::{format_bytes, format_cores};

use crate::limits::{
    HEALTH_CHECK_INTERVAL, HEALTH_CHECK_RETRIES, HEALTH_CHECK_START_PERIOD, HEALTH_CHECK_TIMEOUT,
    INCLUDED_EPHEMERAL_GIB, MAX_EPHEMERAL_GIB, MIN_INSTANCES, MemoryOptions, TASK_SIZES, TaskSize,
};

/// This provider's cell of the capability table's row for `feature`.
pub(crate) fn support(feature: Feature) -> Support {
    match feature {
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
