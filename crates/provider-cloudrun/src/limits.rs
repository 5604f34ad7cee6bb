//! Google Cloud Run's published limits, as data. The capability table's text and the validation
//! rules both read these, so a limit is written once.

/// CPU sizes of one vCPU or more, millicores, and the memory each allows (MiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuSize {
    /// CPU in millicores.
    pub millis: u64,
    /// Smallest memory, MiB.
    pub min_memory_mib: u64,
    /// Largest memory, MiB.
    pub max_memory_mib: u64,
}

/// From "Configure CPU limits for services": whole vCPU sizes and their memory ranges.
pub const WHOLE_CPU_SIZES: [CpuSize; 5] = [
    CpuSize {
        millis: 1000,
        min_memory_mib: 128,
        max_memory_mib: 4 * 1024,
    },
    CpuSize {
        millis: 2000,
        min_memory_mib: 128,
        max_memory_mib: 8 * 1024,
    },
    CpuSize {
        millis: 4000,
        min_memory_mib: 2 * 1024,
        max_memory_mib: 16 * 1024,
    },
    CpuSize {
        millis: 6000,
        min_memory_mib: 4 * 1024,
        max_memory_mib: 24 * 1024,
    },
    CpuSize {
        millis: 8000,
        min_memory_mib: 4 * 1024,
        max_memory_mib: 32 * 1024,
    },
];
/// Smallest fractional CPU, millicores (steps of 1m up to 1 vCPU).
pub const MIN_FRACTIONAL_CPU_MILLIS: u64 = 80;
/// Below this CPU, memory is at most [`SMALL_CPU_MAX_MEMORY_MIB`].
pub const HALF_CPU_MILLIS: u64 = 500;
/// Memory limit below half a vCPU, MiB.
pub const SMALL_CPU_MAX_MEMORY_MIB: u64 = 512;
/// Memory limit below one vCPU, MiB.
pub const FRACTIONAL_CPU_MAX_MEMORY_MIB: u64 = 1024;
/// Smallest memory, MiB (first generation); the second generation needs 512 MiB.
pub const MIN_MEMORY_MIB: u64 = 128;
/// Smallest memory on the second generation execution environment, MiB.
pub const MIN_MEMORY_MIB_GEN2: u64 = 512;
/// Largest memory per instance without a GPU, MiB.
pub const MAX_MEMORY_MIB: u64 = 32 * 1024;
/// Largest CPU per instance without a GPU, millicores.
pub const MAX_CPU_MILLIS: u64 = 8000;
/// Default CPU, millicores.
pub const DEFAULT_CPU_MILLIS: u64 = 1000;
/// Default memory, MiB.
pub const DEFAULT_MEMORY_MIB: u64 = 512;
/// Concurrency range.
pub const CONCURRENCY: (u32, u32) = (1, 1000);
/// Default concurrency.
pub const DEFAULT_CONCURRENCY: u32 = 80;
/// Request timeout range, seconds.
pub const TIMEOUT_SECONDS: (u32, u32) = (1, 3600);
/// Default max instances.
pub const DEFAULT_MAX_INSTANCES: u32 = 100;
/// Instances the default regional quota allows for a 1 vCPU service; more needs a quota
/// increase, so Ferry warns instead of refusing.
pub const QUOTA_INSTANCES_AT_ONE_CPU: u64 = 1000;
/// Startup probe period and initial delay limit, seconds.
pub const STARTUP_PROBE_MAX_SECONDS: u32 = 240;
/// Liveness/readiness probe period and initial delay limit, seconds.
pub const PROBE_MAX_SECONDS: u32 = 3600;
/// Probe period when unset, seconds.
pub const PROBE_DEFAULT_PERIOD_SECONDS: u32 = 10;
/// Probe timeout when unset, seconds.
pub const PROBE_DEFAULT_TIMEOUT_SECONDS: u32 = 1;

/// A GPU model Cloud Run attaches, and what an instance needs to use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpuType {
    /// The `nodeSelector.accelerator` value.
    pub name: &'static str,
    /// Smallest CPU, millicores.
    pub min_cpu_millis: u64,
    /// Smallest memory, MiB.
    pub min_memory_mib: u64,
}

/// From "GPU support for services": one GPU per instance.
pub const GPU_TYPES: [GpuType; 2] = [
    GpuType {
        name: "nvidia-l4",
        min_cpu_millis: 4000,
        min_memory_mib: 16 * 1024,
    },
    GpuType {
        name: "nvidia-rtx-pro-6000",
        min_cpu_millis: 20_000,
        min_memory_mib: 80 * 1024,
    },
];

// Cloud Run jobs. "Cloud Run quotas and limits" (cloud.google.com/run/quotas), section "Resource
// limits": at most 10,000 tasks in a single job execution and 10 task retries, neither of which
// can be increased; the tasks running in parallel depend on the region, CPU and memory (a
// quota, so Cloud Run says so when an execution starts, not Ferry). "Set task timeout for jobs"
// (cloud.google.com/run/docs/configuring/task-timeout): up to 168 hours (7 days), more than 24
// hours in Preview, and at most 1 hour for tasks with a GPU.

/// Most tasks in one execution of a job.
pub const MAX_TASK_COUNT: u32 = 10_000;
/// Most retries of a failed task.
pub const MAX_TASK_RETRIES: u32 = 10;
/// Longest task attempt, seconds (168 hours).
pub const MAX_TASK_TIMEOUT_SECONDS: u32 = 168 * 3600;
/// Longest task attempt without opting into Preview, seconds (24 hours); longer attempts make
/// the job ask for the `BETA` launch stage.
pub const GA_TASK_TIMEOUT_SECONDS: u32 = 24 * 3600;
/// Longest attempt of a task with a GPU, seconds (1 hour).
pub const MAX_GPU_TASK_TIMEOUT_SECONDS: u32 = 3600;
