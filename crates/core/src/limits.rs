//! The providers' published limits, as data. The capability table's text and the validation
//! rules both read these, so a limit is written once.

/// Containers per instance on every provider: ECS allows 10 per task definition and Cloud Run
/// 10 per instance, and the portable API keeps Knative to the same.
pub const MAX_CONTAINERS: usize = 10;

/// AWS Fargate.
pub mod fargate {
    /// The memory sizes one Fargate CPU size can be paired with.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum MemoryOptions {
        /// These sizes, MiB.
        List(&'static [u32]),
        /// From `min` to `max` MiB in steps of `step`.
        Range {
            /// Smallest, MiB.
            min: u32,
            /// Largest, MiB.
            max: u32,
            /// Step, MiB.
            step: u32,
        },
    }

    /// One CPU size Fargate sells and the memory it can be paired with.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TaskSize {
        /// CPU in ECS units (1024 = 1 vCPU).
        pub cpu_units: u32,
        /// Memory it can be paired with.
        pub memory: MemoryOptions,
        /// Whether Windows tasks may use it.
        pub windows: bool,
    }

    impl TaskSize {
        /// Every memory size, MiB, in increasing order.
        pub fn memory_options(&self) -> Vec<u32> {
            match self.memory {
                MemoryOptions::List(sizes) => sizes.to_vec(),
                MemoryOptions::Range { min, max, step } => {
                    (min..=max).step_by(step as usize).collect()
                }
            }
        }

        /// Whether `memory_mib` can be paired with this CPU.
        pub fn allows_memory(&self, memory_mib: u32) -> bool {
            match self.memory {
                MemoryOptions::List(sizes) => sizes.contains(&memory_mib),
                MemoryOptions::Range { min, max, step } => {
                    (min..=max).contains(&memory_mib) && (memory_mib - min).is_multiple_of(step)
                }
            }
        }

        /// The smallest memory this CPU allows, MiB.
        pub fn min_memory_mib(&self) -> u32 {
            match self.memory {
                MemoryOptions::List(sizes) => sizes.first().copied().unwrap_or(0),
                MemoryOptions::Range { min, .. } => min,
            }
        }
    }

    const fn range(min_gib: u32, max_gib: u32, step_gib: u32) -> MemoryOptions {
        MemoryOptions::Range {
            min: min_gib * 1024,
            max: max_gib * 1024,
            step: step_gib * 1024,
        }
    }

    /// Task sizes from the ECS developer guide ("Task CPU and memory"); GB there means GiB.
    pub const TASK_SIZES: [TaskSize; 7] = [
        TaskSize {
            cpu_units: 256,
            memory: MemoryOptions::List(&[512, 1024, 2048]),
            windows: false,
        },
        TaskSize {
            cpu_units: 512,
            memory: range(1, 4, 1),
            windows: false,
        },
        TaskSize {
            cpu_units: 1024,
            memory: range(2, 8, 1),
            windows: true,
        },
        TaskSize {
            cpu_units: 2048,
            memory: range(4, 16, 1),
            windows: true,
        },
        TaskSize {
            cpu_units: 4096,
            memory: range(8, 30, 1),
            windows: true,
        },
        TaskSize {
            cpu_units: 8192,
            memory: range(16, 60, 4),
            windows: false,
        },
        TaskSize {
            cpu_units: 16384,
            memory: range(32, 120, 8),
            windows: false,
        },
    ];

    /// Ephemeral storage every Linux task gets, GiB.
    pub const INCLUDED_EPHEMERAL_GIB: u32 = 20;
    /// Largest ephemeral storage, GiB.
    pub const MAX_EPHEMERAL_GIB: u32 = 200;
    /// ECS container health check limits: interval, timeout, retries, start period (seconds).
    pub const HEALTH_CHECK_INTERVAL: (u32, u32) = (5, 300);
    /// Health check timeout range, seconds.
    pub const HEALTH_CHECK_TIMEOUT: (u32, u32) = (2, 60);
    /// Health check retries range.
    pub const HEALTH_CHECK_RETRIES: (u32, u32) = (1, 10);
    /// Health check start period range, seconds.
    pub const HEALTH_CHECK_START_PERIOD: (u32, u32) = (0, 300);
    /// Smallest task count: Fargate cannot scale to zero on traffic.
    pub const MIN_INSTANCES: u32 = 1;
}

/// Google Cloud Run (services, Admin API v2).
pub mod cloud_run {
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
}

/// Knative Serving (defaults of a stock installation).
pub mod knative {
    /// Ports the queue-proxy sidecar uses; the user container may not listen on them.
    pub const RESERVED_PORTS: [u16; 6] = [8008, 8012, 8013, 8022, 9090, 9091];
    /// The container name Knative reserves for its sidecar.
    pub const RESERVED_CONTAINER_NAME: &str = "queue-proxy";
    /// `max-revision-timeout-seconds` of a stock installation.
    pub const MAX_TIMEOUT_SECONDS: u32 = 600;
    /// `container-concurrency-max-limit` of a stock installation.
    pub const MAX_CONCURRENCY: u32 = 1000;
    /// Longest `scale-down-delay`, seconds.
    pub const MAX_SCALE_DOWN_DELAY_SECONDS: u32 = 3600;
    /// A Knative tag route is `TAG-SERVICE`, one DNS label.
    pub const MAX_TAG_ROUTE_LENGTH: usize = 63;
}
