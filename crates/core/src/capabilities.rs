//! The capability table: what each portable field means on each provider. It drives the
//! refusals in [`crate::validate`] (a field a provider does not support is refused with the
//! table's note) and `ferry capabilities`; its limits come from [`crate::limits`].

use ferry_api::{Provider, ScalingMetric, ServerlessServiceSpec};
use serde::Serialize;

use crate::limits::{cloud_run, fargate, knative};
use crate::quantity::{format_bytes, format_cores};

/// A portable feature, one row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Feature {
    /// More than one container.
    Sidecars,
    /// `containers[].port`.
    Port,
    /// `containers[].env[].secret`.
    EnvSecret,
    /// `containers[].resources.cpu`.
    Cpu,
    /// `containers[].resources.memory`.
    Memory,
    /// `containers[].resources.ephemeralStorage`.
    EphemeralStorage,
    /// `containers[].resources.gpu`.
    Gpu,
    /// `containers[].resources.gpu.type`.
    GpuType,
    /// `containers[].probes.startup`.
    StartupProbe,
    /// `containers[].probes.readiness`.
    ReadinessProbe,
    /// `containers[].probes.liveness`.
    LivenessProbe,
    /// `spec.concurrency`.
    Concurrency,
    /// `spec.timeoutSeconds`.
    TimeoutSeconds,
    /// `spec.scaling.minInstances: 0`.
    ScaleToZero,
    /// `spec.scaling.maxInstances`.
    MaxInstances,
    /// `spec.scaling.initialInstances`.
    InitialInstances,
    /// `spec.scaling.metric: concurrency`.
    MetricConcurrency,
    /// `spec.scaling.metric: rps`.
    MetricRps,
    /// `spec.scaling.metric: cpu`.
    MetricCpu,
    /// `spec.scaling.metric: memory`.
    MetricMemory,
    /// `spec.scaling.target`.
    ScalingTarget,
    /// `spec.scaling.scaleDownDelaySeconds`.
    ScaleDownDelay,
    /// `spec.ingress`.
    Ingress,
    /// `spec.traffic` beyond "all to the latest revision".
    TrafficSplit,
    /// `spec.traffic[].tag`.
    TrafficTags,
    /// `spec.deletionPolicy`.
    DeletionPolicy,
    /// `spec.providerConfigRef`.
    ProviderConfigRef,
}

/// How well a provider supports a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Level {
    /// Fully, with the meaning the portable API gives it.
    Yes,
    /// Within limits given in the note.
    Partial,
    /// Not at all: the field is refused, with the note as the reason.
    No,
    /// Not applicable because a feature it depends on is unsupported.
    NotApplicable,
}

/// One cell of the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Support {
    /// How well.
    pub level: Level,
    /// How it maps, its limits, or why not and what to do instead.
    pub note: String,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capability {
    /// Which feature.
    pub feature: Feature,
    /// The field, as `kubectl explain` spells it.
    pub field: &'static str,
    /// What it is, in a few words.
    pub title: &'static str,
    /// Knative.
    pub knative: Support,
    /// AWS Fargate.
    pub fargate: Support,
    /// Google Cloud Run.
    pub cloud_run: Support,
}

impl Capability {
    /// The cell for `provider`.
    pub fn support(&self, provider: Provider) -> &Support {
        match provider {
            Provider::Knative => &self.knative,
            Provider::Fargate => &self.fargate,
            Provider::CloudRun => &self.cloud_run,
        }
    }
}

fn yes(note: impl Into<String>) -> Support {
    Support {
        level: Level::Yes,
        note: note.into(),
    }
}

fn partial(note: impl Into<String>) -> Support {
    Support {
        level: Level::Partial,
        note: note.into(),
    }
}

fn no(note: impl Into<String>) -> Support {
    Support {
        level: Level::No,
        note: note.into(),
    }
}

fn not_applicable(note: impl Into<String>) -> Support {
    Support {
        level: Level::NotApplicable,
        note: note.into(),
    }
}

/// `a, b or c`.
pub(crate) fn list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// Fargate's CPU sizes for Linux (`windows == false`) or Windows.
pub(crate) fn fargate_cpu_sizes(windows: bool) -> String {
    list(
        fargate::TASK_SIZES
            .iter()
            .filter(|s| !windows || s.windows)
            .map(|s| format_cores(u64::from(s.cpu_units) * 1000 / 1024)),
    )
}

/// Fargate's memory sizes for one CPU size, e.g. `1Gi-4Gi in 1Gi steps`.
pub(crate) fn fargate_memory_sizes(size: &fargate::TaskSize) -> String {
    let mib = |m: u32| format_bytes(u64::from(m) << 20);
    match size.memory {
        fargate::MemoryOptions::List(sizes) => list(sizes.iter().map(|&m| mib(m))),
        fargate::MemoryOptions::Range { min, max, step } => {
            format!("{}-{} in {} steps", mib(min), mib(max), mib(step))
        }
    }
}

fn cloud_run_memory_table() -> String {
    let mib = |m: u64| format_bytes(m << 20);
    let mut parts = vec![
        format!(
            "below {} vCPU up to {}",
            format_cores(cloud_run::HALF_CPU_MILLIS),
            mib(cloud_run::SMALL_CPU_MAX_MEMORY_MIB)
        ),
        format!(
            "below 1 vCPU up to {}",
            mib(cloud_run::FRACTIONAL_CPU_MAX_MEMORY_MIB)
        ),
    ];
    parts.extend(cloud_run::WHOLE_CPU_SIZES.iter().map(|s| {
        let cores = format_cores(s.millis);
        if s.min_memory_mib > cloud_run::MIN_MEMORY_MIB {
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

fn cloud_run_gpus() -> String {
    list(cloud_run::GPU_TYPES.iter().map(|g| {
        format!(
            "{} (at least {} vCPU and {})",
            g.name,
            format_cores(g.min_cpu_millis),
            format_bytes(g.min_memory_mib << 20)
        )
    }))
}

/// The table, in the order documentation lists it.
pub fn table() -> Vec<Capability> {
    let fargate_memory = fargate::TASK_SIZES
        .iter()
        .map(|s| {
            format!(
                "{} vCPU: {}",
                format_cores(u64::from(s.cpu_units) * 1000 / 1024),
                fargate_memory_sizes(s)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let knative_ports = list(knative::RESERVED_PORTS);
    vec![
        Capability {
            feature: Feature::Sidecars,
            field: "spec.containers",
            title: "Containers per instance",
            knative: yes("1-10; the one with a port serves, the others are sidecars"),
            fargate: yes(format!(
                "1-{} container definitions in one task",
                crate::limits::MAX_CONTAINERS
            )),
            cloud_run: yes("1-10; one ingress container, the others are sidecars"),
        },
        Capability {
            feature: Feature::Port,
            field: "spec.containers[].port",
            title: "Serving port",
            knative: partial(format!(
                "any port except {knative_ports} (used by Knative's queue-proxy)"
            )),
            fargate: yes("the container port (awsvpc networking); Ferry sets PORT too"),
            cloud_run: yes("the container port; Cloud Run sets PORT"),
        },
        Capability {
            feature: Feature::EnvSecret,
            field: "spec.containers[].env[].secret",
            title: "Secret environment variables",
            knative: yes("key of a Kubernetes Secret in the namespace (name and key)"),
            fargate: partial(
                "ECS valueFrom: name is looked up in spec.fargate.secrets (a Secrets Manager or \
                 SSM Parameter Store ARN); key picks a JSON key of a Secrets Manager secret",
            ),
            cloud_run: partial(
                "Secret Manager: name is the secret, key its version (a number or latest, the \
                 default)",
            ),
        },
        Capability {
            feature: Feature::Cpu,
            field: "spec.containers[].resources.cpu",
            title: "CPU",
            knative: yes("requests and limits"),
            fargate: partial(format!(
                "the task gets the sum of the containers': {} vCPU on Linux, {} on Windows; \
                 default: the smallest",
                fargate_cpu_sizes(false),
                fargate_cpu_sizes(true),
            )),
            cloud_run: partial(format!(
                "per container {} to 1 vCPU in steps of 0.001, or {} vCPU ({} and more with \
                 nvidia-rtx-pro-6000); default {}; below 1 vCPU concurrency must be 1, CPU is \
                 only allocated during requests, and the execution environment is gen1",
                format_cores(cloud_run::MIN_FRACTIONAL_CPU_MILLIS),
                list(
                    cloud_run::WHOLE_CPU_SIZES
                        .iter()
                        .map(|s| format_cores(s.millis))
                ),
                format_cores(cloud_run::GPU_TYPES[1].min_cpu_millis),
                format_cores(cloud_run::DEFAULT_CPU_MILLIS),
            )),
        },
        Capability {
            feature: Feature::Memory,
            field: "spec.containers[].resources.memory",
            title: "Memory",
            knative: yes("requests and limits"),
            fargate: partial(format!(
                "the task gets the sum of the containers', paired with the task CPU: \
                 {fargate_memory}; default: the least the CPU allows"
            )),
            cloud_run: partial(format!(
                "{} ({} on gen2) to {}: {}; default {}",
                format_bytes(cloud_run::MIN_MEMORY_MIB << 20),
                format_bytes(cloud_run::MIN_MEMORY_MIB_GEN2 << 20),
                format_bytes(cloud_run::MAX_MEMORY_MIB << 20),
                cloud_run_memory_table(),
                format_bytes(cloud_run::DEFAULT_MEMORY_MIB << 20),
            )),
        },
        Capability {
            feature: Feature::EphemeralStorage,
            field: "spec.containers[].resources.ephemeralStorage",
            title: "Ephemeral storage",
            knative: yes("the ephemeral-storage resource"),
            fargate: partial(format!(
                "the task gets the sum, {}-{} GiB in whole GiB on Linux; {} GiB is included \
                 (smaller requests fit in it); not configurable on Windows",
                fargate::INCLUDED_EPHEMERAL_GIB + 1,
                fargate::MAX_EPHEMERAL_GIB,
                fargate::INCLUDED_EPHEMERAL_GIB,
            )),
            cloud_run: no(
                "Cloud Run has no ephemeral-storage setting: its writable filesystem is in \
                 memory and counts against resources.memory",
            ),
        },
        Capability {
            feature: Feature::Gpu,
            field: "spec.containers[].resources.gpu",
            title: "GPUs",
            knative: partial("nvidia.com/gpu by count; the cluster needs GPU nodes"),
            fargate: no("Fargate has no GPUs; use provider cloudRun or knative"),
            cloud_run: partial(format!(
                "one GPU on one container: {}; CPU is always allocated",
                cloud_run_gpus()
            )),
        },
        Capability {
            feature: Feature::GpuType,
            field: "spec.containers[].resources.gpu.type",
            title: "GPU model",
            knative: no(
                "Knative schedules GPUs by count (nvidia.com/gpu); pick GPU nodes with \
                 spec.knative.nodeSelector instead",
            ),
            fargate: not_applicable("no GPUs"),
            cloud_run: yes(format!(
                "nodeSelector accelerator: {} (required)",
                list(cloud_run::GPU_TYPES.iter().map(|g| g.name))
            )),
        },
        Capability {
            feature: Feature::StartupProbe,
            field: "spec.containers[].probes.startup",
            title: "Startup probe",
            knative: yes("startupProbe"),
            fargate: no(
                "ECS has no startup probe; give probes.liveness an initialDelaySeconds (the \
                 health check's start period) instead",
            ),
            cloud_run: partial(format!(
                "httpGet, tcpSocket or grpc; period and initial delay at most {} s",
                cloud_run::STARTUP_PROBE_MAX_SECONDS
            )),
        },
        Capability {
            feature: Feature::ReadinessProbe,
            field: "spec.containers[].probes.readiness",
            title: "Readiness probe",
            knative: yes("readinessProbe"),
            fargate: no(
                "ECS routes by the load balancer's target-group health check; configure it on \
                 the target group (probes.liveness becomes the ECS container health check)",
            ),
            cloud_run: partial("httpGet or grpc"),
        },
        Capability {
            feature: Feature::LivenessProbe,
            field: "spec.containers[].probes.liveness",
            title: "Liveness probe",
            knative: yes("livenessProbe"),
            fargate: partial(format!(
                "the ECS container health check: httpGet only, run as curl inside the \
                 container (the image needs curl); interval {}-{} s, timeout {}-{} s, \
                 failureThreshold {}-{}, initialDelaySeconds {}-{} s",
                fargate::HEALTH_CHECK_INTERVAL.0,
                fargate::HEALTH_CHECK_INTERVAL.1,
                fargate::HEALTH_CHECK_TIMEOUT.0,
                fargate::HEALTH_CHECK_TIMEOUT.1,
                fargate::HEALTH_CHECK_RETRIES.0,
                fargate::HEALTH_CHECK_RETRIES.1,
                fargate::HEALTH_CHECK_START_PERIOD.0,
                fargate::HEALTH_CHECK_START_PERIOD.1,
            )),
            cloud_run: partial(format!(
                "httpGet or grpc; period and initial delay at most {} s",
                cloud_run::PROBE_MAX_SECONDS
            )),
        },
        Capability {
            feature: Feature::Concurrency,
            field: "spec.concurrency",
            title: "Requests in flight per instance",
            knative: yes(format!(
                "containerConcurrency, up to {} unless the cluster raised \
                 container-concurrency-max-limit; default unlimited",
                knative::MAX_CONCURRENCY
            )),
            fargate: no("ECS does not limit requests per task"),
            cloud_run: partial(format!(
                "maxInstanceRequestConcurrency {}-{}; default {} (1 below 1 vCPU)",
                cloud_run::CONCURRENCY.0,
                cloud_run::CONCURRENCY.1,
                cloud_run::DEFAULT_CONCURRENCY
            )),
        },
        Capability {
            feature: Feature::TimeoutSeconds,
            field: "spec.timeoutSeconds",
            title: "Request timeout",
            knative: partial(format!(
                "timeoutSeconds, up to max-revision-timeout-seconds ({} s unless the cluster \
                 raised it)",
                knative::MAX_TIMEOUT_SECONDS
            )),
            fargate: no(
                "ECS does not proxy requests; set the load balancer's idle timeout instead",
            ),
            cloud_run: partial(format!(
                "timeout {}-{} s",
                cloud_run::TIMEOUT_SECONDS.0,
                cloud_run::TIMEOUT_SECONDS.1
            )),
        },
        Capability {
            feature: Feature::ScaleToZero,
            field: "spec.scaling.minInstances",
            title: "Scale to zero (minInstances: 0)",
            knative: partial("with the kpa autoscaler (metric concurrency or rps)"),
            fargate: no(format!(
                "nothing starts a task when a request arrives; minInstances is at least {}",
                fargate::MIN_INSTANCES
            )),
            cloud_run: yes("the default"),
        },
        Capability {
            feature: Feature::MaxInstances,
            field: "spec.scaling.maxInstances",
            title: "Most instances",
            knative: yes("max-scale; default unlimited"),
            fargate: yes(
                "Application Auto Scaling maximum; default minInstances (a fixed task count)",
            ),
            cloud_run: partial(format!(
                "maxInstanceCount; default {}; the regional quota allows about {} instances \
                 of 1 vCPU without an increase",
                cloud_run::DEFAULT_MAX_INSTANCES,
                cloud_run::QUOTA_INSTANCES_AT_ONE_CPU
            )),
        },
        Capability {
            feature: Feature::InitialInstances,
            field: "spec.scaling.initialInstances",
            title: "Instances at start",
            knative: yes("initial-scale"),
            fargate: yes("the service's first desiredCount"),
            cloud_run: no("Cloud Run has no initial scale; minInstances keeps instances warm"),
        },
        Capability {
            feature: Feature::MetricConcurrency,
            field: "spec.scaling.metric: concurrency",
            title: "Scale on requests in flight",
            knative: yes("kpa autoscaler (the default)"),
            fargate: no("ECS sees no requests in flight; scale on cpu, memory or rps"),
            cloud_run: yes("the only signal Cloud Run scales on"),
        },
        Capability {
            feature: Feature::MetricRps,
            field: "spec.scaling.metric: rps",
            title: "Scale on requests per second",
            knative: yes("kpa autoscaler"),
            fargate: partial(
                "target tracking on ALBRequestCountPerTarget; needs \
                 spec.fargate.loadBalancer.loadBalancerArn",
            ),
            cloud_run: no("Cloud Run scales on concurrency only"),
        },
        Capability {
            feature: Feature::MetricCpu,
            field: "spec.scaling.metric: cpu",
            title: "Scale on CPU utilization",
            knative: partial(
                "hpa autoscaler: every container sets resources.cpu; cannot scale to zero",
            ),
            fargate: yes("target tracking on ECSServiceAverageCPUUtilization (the default)"),
            cloud_run: no("Cloud Run scales on concurrency only"),
        },
        Capability {
            feature: Feature::MetricMemory,
            field: "spec.scaling.metric: memory",
            title: "Scale on memory utilization",
            knative: partial(
                "hpa autoscaler: every container sets resources.memory; cannot scale to zero",
            ),
            fargate: yes("target tracking on ECSServiceAverageMemoryUtilization"),
            cloud_run: no("Cloud Run scales on concurrency only"),
        },
        Capability {
            feature: Feature::ScalingTarget,
            field: "spec.scaling.target",
            title: "Target per instance",
            knative: yes("autoscaling target (for cpu and memory: percent of what is asked for)"),
            fargate: yes("the target-tracking value"),
            cloud_run: no(
                "Cloud Run scales by itself to keep each instance within spec.concurrency; set \
                 spec.concurrency instead",
            ),
        },
        Capability {
            feature: Feature::ScaleDownDelay,
            field: "spec.scaling.scaleDownDelaySeconds",
            title: "Delay before scaling down",
            knative: yes("scale-down-delay"),
            fargate: partial("the target-tracking policy's scale-in cooldown"),
            cloud_run: no("Cloud Run has no scale-down delay"),
        },
        Capability {
            feature: Feature::Ingress,
            field: "spec.ingress",
            title: "public or internal",
            knative: yes("internal: cluster-local visibility"),
            fargate: partial(
                "public assigns the tasks public IPs, internal does not (spec.fargate.\
                 assignPublicIp overrides it); a stable URL needs a load balancer",
            ),
            cloud_run: yes("INGRESS_TRAFFIC_ALL or INGRESS_TRAFFIC_INTERNAL_ONLY"),
        },
        Capability {
            feature: Feature::TrafficSplit,
            field: "spec.traffic",
            title: "Traffic split between revisions",
            knative: yes("traffic targets"),
            fargate: no(
                "every request goes to the latest task definition; spec.traffic may only send \
                 all traffic to latestRevision",
            ),
            cloud_run: yes("traffic targets"),
        },
        Capability {
            feature: Feature::TrafficTags,
            field: "spec.traffic[].tag",
            title: "Tagged URLs",
            knative: partial(format!(
                "TAG-NAME is one DNS label: tag and service name together at most {} \
                 characters",
                knative::MAX_TAG_ROUTE_LENGTH - 1
            )),
            fargate: not_applicable("no traffic split"),
            cloud_run: yes("revision tags"),
        },
        Capability {
            feature: Feature::DeletionPolicy,
            field: "spec.deletionPolicy",
            title: "Delete or orphan on delete",
            knative: yes("Orphan removes Ferry's owner reference and leaves the Knative Service"),
            fargate: yes("Orphan leaves the ECS service, task definitions and scaling"),
            cloud_run: yes("Orphan leaves the Cloud Run service"),
        },
        Capability {
            feature: Feature::ProviderConfigRef,
            field: "spec.providerConfigRef",
            title: "Cloud account and region",
            knative: no("Knative runs in this cluster and needs no ProviderConfig"),
            fargate: yes("default: the ProviderConfig named default"),
            cloud_run: yes("default: the ProviderConfig named default"),
        },
    ]
}

/// Where `spec` uses `feature`, as field paths; empty when it does not. Only features that some
/// provider refuses need this.
pub fn occurrences(feature: Feature, spec: &ServerlessServiceSpec) -> Vec<String> {
    let containers = |pick: &dyn Fn(&ferry_api::Container) -> Option<&'static str>| {
        spec.containers
            .iter()
            .enumerate()
            .filter_map(|(i, c)| pick(c).map(|leaf| format!("spec.containers[{i}].{leaf}")))
            .collect::<Vec<_>>()
    };
    let scaling = spec.scaling.as_ref();
    let metric_is = |m: ScalingMetric| {
        if scaling.and_then(|s| s.metric) == Some(m) {
            vec!["spec.scaling.metric".to_owned()]
        } else {
            Vec::new()
        }
    };
    let present = |is: bool, field: &str| {
        if is {
            vec![field.to_owned()]
        } else {
            Vec::new()
        }
    };
    match feature {
        Feature::EphemeralStorage => containers(&|c| {
            c.resources
                .as_ref()
                .and_then(|r| r.ephemeral_storage.as_ref())
                .map(|_| "resources.ephemeralStorage")
        }),
        Feature::Gpu => containers(&|c| {
            c.resources
                .as_ref()
                .and_then(|r| r.gpu.as_ref())
                .map(|_| "resources.gpu")
        }),
        Feature::GpuType => containers(&|c| {
            c.resources
                .as_ref()
                .and_then(|r| r.gpu.as_ref())
                .and_then(|g| g.type_.as_ref())
                .map(|_| "resources.gpu.type")
        }),
        Feature::StartupProbe => containers(&|c| {
            c.probes
                .as_ref()
                .and_then(|p| p.startup.as_ref())
                .map(|_| "probes.startup")
        }),
        Feature::ReadinessProbe => containers(&|c| {
            c.probes
                .as_ref()
                .and_then(|p| p.readiness.as_ref())
                .map(|_| "probes.readiness")
        }),
        Feature::Concurrency => present(spec.concurrency.is_some(), "spec.concurrency"),
        Feature::TimeoutSeconds => present(spec.timeout_seconds.is_some(), "spec.timeoutSeconds"),
        Feature::ScaleToZero => present(
            scaling.and_then(|s| s.min_instances) == Some(0),
            "spec.scaling.minInstances",
        ),
        Feature::InitialInstances => present(
            scaling.and_then(|s| s.initial_instances).is_some(),
            "spec.scaling.initialInstances",
        ),
        Feature::ScalingTarget => present(
            scaling.and_then(|s| s.target).is_some(),
            "spec.scaling.target",
        ),
        Feature::ScaleDownDelay => present(
            scaling.and_then(|s| s.scale_down_delay_seconds).is_some(),
            "spec.scaling.scaleDownDelaySeconds",
        ),
        Feature::MetricConcurrency => metric_is(ScalingMetric::Concurrency),
        Feature::MetricRps => metric_is(ScalingMetric::Rps),
        Feature::MetricCpu => metric_is(ScalingMetric::Cpu),
        Feature::MetricMemory => metric_is(ScalingMetric::Memory),
        Feature::TrafficSplit => spec
            .traffic
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, t)| t.latest_revision != Some(true) || t.tag.is_some())
            .map(|(i, _)| format!("spec.traffic[{i}]"))
            .collect(),
        Feature::ProviderConfigRef => {
            present(spec.provider_config_ref.is_some(), "spec.providerConfigRef")
        }
        Feature::Sidecars
        | Feature::Port
        | Feature::EnvSecret
        | Feature::Cpu
        | Feature::Memory
        | Feature::LivenessProbe
        | Feature::MaxInstances
        | Feature::Ingress
        | Feature::TrafficTags
        | Feature::DeletionPolicy => Vec::new(),
    }
}
