//! AWS Fargate's published limits, as data. The capability table's text and the validation
//! rules both read these, so a limit is written once.

const MIB: u64 = 1 << 20;

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
            MemoryOptions::Range { min, max, step } => (min..=max).step_by(step as usize).collect(),
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

/// The smallest Fargate size with at least `cpu_millis` and `memory_bytes` (Linux sizes, or
/// the Windows ones): `(cpu units, memory MiB)`. EKS on Fargate sells pods in the same
/// sizes.
pub fn smallest_task_size(
    cpu_millis: Option<u64>,
    memory_bytes: Option<u64>,
    windows: bool,
) -> Option<(u32, u32)> {
    let memory_mib = memory_bytes.map(|b| b.div_ceil(MIB));
    TASK_SIZES
        .iter()
        .filter(|s| !windows || s.windows)
        .filter(|s| {
            cpu_millis.is_none_or(|m| u64::from(s.cpu_units) * 1000 >= m.saturating_mul(1024))
        })
        .find_map(|s| {
            let memory = match memory_mib {
                None => s.min_memory_mib(),
                Some(want) => s
                    .memory_options()
                    .into_iter()
                    .find(|&m| u64::from(m) >= want)?,
            };
            Some((s.cpu_units, memory))
        })
}

/// Ephemeral storage every Linux task gets, GiB.
pub const INCLUDED_EPHEMERAL_GIB: u32 = 20;
/// What platform versions before 1.4.0 give a Linux task's volume mounts (bind mounts), GiB,
/// beside the image layers' storage (ECS developer guide, "Fargate task ephemeral storage").
pub const LEGACY_VOLUME_GIB: u32 = 4;
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
