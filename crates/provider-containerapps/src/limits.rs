//! Azure Container Apps' published limits, as data. The capability table's text and the
//! validation rules both read these, so a limit is written once.

/// The workload profile every environment has, and the one whose sizes Ferry checks.
pub const CONSUMPTION: &str = "Consumption";
/// Consumption sells CPU per replica in these steps, millicores ("Containers in Azure Container
/// Apps", allocations: the total over the app's containers must be one of the pairs).
pub const CPU_STEP_MILLIS: u64 = 250;
/// Smallest CPU per replica on Consumption, millicores.
pub const MIN_CPU_MILLIS: u64 = 250;
/// Largest CPU per replica on Consumption, millicores.
pub const MAX_CPU_MILLIS: u64 = 4000;
/// Consumption pairs each vCPU with this much memory, GiB.
pub const GIB_PER_CPU: u64 = 2;
/// CPU of a container that sets none, millicores (the platform's default).
pub const DEFAULT_CPU_MILLIS: u64 = 500;
/// Memory is written in hundredths of a GiB (`1.25Gi`): Container Apps takes at most two
/// decimals.
pub const CENTI_GIB_PER_GIB: u64 = 100;
/// Fewest replicas, range.
pub const MIN_REPLICAS: (u32, u32) = (0, 1000);
/// Most replicas, range.
pub const MAX_REPLICAS: (u32, u32) = (1, 1000);
/// Most replicas when `maxReplicas` is not set.
pub const DEFAULT_MAX_REPLICAS: u32 = 10;
/// The HTTP scale rule's `concurrentRequests` when no rule is written.
pub const DEFAULT_CONCURRENT_REQUESTS: u32 = 10;
/// Utilization target Ferry writes for a cpu or memory rule without `spec.scaling.target`,
/// percent.
pub const DEFAULT_UTILIZATION_TARGET: u32 = 70;
/// KEDA's cooldown before scaling in to zero when `cooldownPeriod` is not set, seconds.
pub const DEFAULT_COOLDOWN_SECONDS: u32 = 300;
/// Probe `initialDelaySeconds` range ("Health probes in Azure Container Apps").
pub const PROBE_INITIAL_DELAY: (u32, u32) = (1, 60);
/// Probe `periodSeconds` range.
pub const PROBE_PERIOD: (u32, u32) = (1, 240);
/// Probe `timeoutSeconds` range.
pub const PROBE_TIMEOUT: (u32, u32) = (1, 240);
/// Probe `failureThreshold` range.
pub const PROBE_FAILURE_THRESHOLD: (u32, u32) = (1, 10);
/// How long the ingress waits for a request, seconds (no setting: `timeoutSeconds` is refused).
pub const REQUEST_TIMEOUT_SECONDS: u32 = 240;
/// Longest app name.
pub const MAX_APP_NAME: usize = 32;
/// Shortest app name.
pub const MIN_APP_NAME: usize = 2;

/// The CPU sizes Consumption sells per replica, millicores, smallest first.
pub fn cpu_sizes() -> impl Iterator<Item = u64> + Clone {
    (MIN_CPU_MILLIS..=MAX_CPU_MILLIS).step_by(usize::try_from(CPU_STEP_MILLIS).unwrap_or(250))
}

/// A replica's ephemeral storage on the Consumption profile, GiB, by the vCPU of its containers
/// together: 0.25 or less 1 GiB, 0.5 or less 2, 1 or less 4, more 8 ("Use storage mounts in
/// Azure Container Apps", ephemeral storage). Its containers' writable layers and its EmptyDir
/// volumes share it.
pub fn ephemeral_storage_gib(cpu_millis: u64) -> u64 {
    match cpu_millis {
        0..=250 => 1,
        251..=500 => 2,
        501..=1000 => 4,
        _ => 8,
    }
}

/// The memory Consumption pairs with `cpu_millis`, hundredths of a GiB.
pub fn paired_memory_centi_gib(cpu_millis: u64) -> u64 {
    cpu_millis * GIB_PER_CPU * CENTI_GIB_PER_GIB / 1000
}

// Jobs (`Microsoft.App/jobs`). Jobs.json (2026-01-01) declares `replicaTimeout`,
// `replicaRetryLimit`, `parallelism` and `replicaCompletionCount` as int32 without a minimum or
// maximum, and "Jobs in Azure Container Apps" (learn.microsoft.com/azure/container-apps/jobs,
// job settings) publishes none either: the bounds below are the int32 the API carries and the
// least value each setting can mean (a replica runs at least a second, retries at least none,
// at least one replica runs and completes). Ferry's own ranges (core's `validate_job`) lie
// within them; `validate::check_job` still compares, so a wider core range cannot slip past.

/// `configuration.replicaTimeout`, seconds: the least and the most.
pub const REPLICA_TIMEOUT_SECONDS: (u32, u32) = (1, i32::MAX.unsigned_abs());
/// `configuration.replicaRetryLimit`: the least and the most.
pub const REPLICA_RETRY_LIMIT: (u32, u32) = (0, i32::MAX.unsigned_abs());
/// `parallelism` of the trigger's configuration: the least and the most.
pub const JOB_PARALLELISM: (u32, u32) = (1, i32::MAX.unsigned_abs());
/// `replicaCompletionCount` of the trigger's configuration: the least and the most.
pub const REPLICA_COMPLETION_COUNT: (u32, u32) = (1, i32::MAX.unsigned_abs());
/// Cores the Consumption profile gives one environment by default, summed over every running
/// replica ("Quotas for Azure Container Apps", learn.microsoft.com/azure/container-apps/quotas:
/// Consumption, Cores per Environment, default 100, adjustable): a run whose parallel replicas
/// ask for more waits for cores (warned, not refused: the quota can be raised).
pub const ENVIRONMENT_CORES: u64 = 100;
/// The time zone Container Apps reads a schedule in: "Cron expressions in scheduled jobs are
/// evaluated in Universal Time Coordinated (UTC)" (Jobs in Azure Container Apps, scheduled
/// jobs); the API has no time zone field.
pub const SCHEDULE_TIME_ZONES: [&str; 2] = ["Etc/UTC", "UTC"];
