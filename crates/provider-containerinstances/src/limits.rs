//! Azure Container Instances' published limits, as data. The capability table's text and the
//! validation rules both read these, so a limit is written once.
//!
//! Sources (read 2026-11-24 through the search tool's copies; this machine has no internet):
//! - "Resource availability & quota limits for ACI"
//!   (<https://learn.microsoft.com/azure/container-instances/container-instances-resource-and-quota-limits>,
//!   MicrosoftDocs/azure-docs `articles/container-instances/container-instances-resource-and-quota-limits.md`):
//!   standard Linux groups up to 4 vCPU and 16 GB, also in a virtual network; Windows Server
//!   2019 and 2022 (3B hosts) up to 4 vCPU and 16 GB; Spot up to 4 vCPU and 16 GB, not in a
//!   virtual network; V100 GPUs 1, 2 or 4 with up to 6, 12 or 24 vCPU and 112, 224 or 448 GB;
//!   60 containers per group; 5 ports per IP. Older pages (`container-instances-region-availability.md`,
//!   2019) list smaller sizes in some regions (2 vCPU and 3.5 GB for Windows in many): a
//!   region may still refuse a group within these limits, which is then the provider's error.
//! - "Container groups in Azure Container Instances"
//!   (`container-instances-container-groups.md`): at least 1 vCPU and 1 GB per group (a
//!   container may have less); multi-container groups are Linux only, a Windows group has one
//!   container.
//! - "Deploy container instances that use GPU resources" (`container-instances-gpu.md`): K80
//!   and P100 retired on 2023-08-31, V100 remains (preview, Linux only, not in a virtual
//!   network, CPU quota 0 until raised by a support request).
//! - "Azure Container Instances Spot containers" (`container-instances-spot-containers-overview.md`):
//!   Spot groups get no public IP and cannot join a virtual network.
//! - The Azure CLI's `az container create` (Azure/azure-cli, `command_modules/container/_params.py`):
//!   CPU and memory "accurate to one decimal place"; its defaults, 1 vCPU and 1.5 GB.

/// CPU is sold in steps of 0.1 vCPU (millicores).
pub const CPU_STEP_MILLIS: u64 = 100;
/// Memory is sold in steps of 0.1 GB (ACI's GB are GiB: `memoryInGB: 1.5` is 1536Mi).
pub const MEMORY_STEPS_PER_GB: u64 = 10;
/// Bytes in one ACI GB.
pub const GB: u64 = 1 << 30;
/// A container's CPU when the spec sets none (the Azure CLI's default), millicores.
pub const DEFAULT_CPU_MILLIS: u64 = 1000;
/// A container's memory when the spec sets none (the Azure CLI's default), tenths of a GB.
pub const DEFAULT_MEMORY_TENTHS: u64 = 15;
/// Largest group without a GPU, Linux and Windows: vCPU in millicores.
pub const MAX_GROUP_CPU_MILLIS: u64 = 4000;
/// Largest group without a GPU, Linux and Windows: memory in tenths of a GB.
pub const MAX_GROUP_MEMORY_TENTHS: u64 = 160;
/// ACI allocates at least this much CPU to a group, millicores.
pub const MIN_GROUP_CPU_MILLIS: u64 = 1000;
/// ACI allocates at least this much memory to a group, tenths of a GB.
pub const MIN_GROUP_MEMORY_TENTHS: u64 = 10;
/// Containers in a group (a hard limit; Ferry's own limit of 10 comes first).
pub const MAX_CONTAINERS: usize = 60;
/// Containers in a Windows group.
pub const MAX_WINDOWS_CONTAINERS: usize = 1;
/// The container group's restart policy: a service runs until deleted.
pub const RESTART_POLICY: &str = "Always";
/// Instances of a service: one container group, always.
pub const INSTANCES: u32 = 1;

/// A GPU size ACI sells: how many, and the largest group it allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpuSize {
    /// GPUs in the group.
    pub count: u32,
    /// Largest CPU, millicores.
    pub max_cpu_millis: u64,
    /// Largest memory, tenths of a GB.
    pub max_memory_tenths: u64,
}

/// The GPU model ACI still offers, as `gpu.type` names it (and its `sku` in the request).
pub const GPU_TYPE: &str = "v100";
/// `GpuResource.sku` for [`GPU_TYPE`].
pub const GPU_SKU: &str = "V100";
/// GPU models in the definitions that Azure retired (2023-08-31), as `gpu.type` would name them.
pub const RETIRED_GPU_TYPES: [&str; 2] = ["k80", "p100"];
/// V100 sizes.
pub const GPU_SIZES: [GpuSize; 3] = [
    GpuSize {
        count: 1,
        max_cpu_millis: 6000,
        max_memory_tenths: 1120,
    },
    GpuSize {
        count: 2,
        max_cpu_millis: 12_000,
        max_memory_tenths: 2240,
    },
    GpuSize {
        count: 4,
        max_cpu_millis: 24_000,
        max_memory_tenths: 4480,
    },
];
