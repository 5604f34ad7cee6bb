//! Fargate's own desired settings: the task size and `spec.fargate` with its defaults, as
//! validation built them for the builders (carried in `Desired::backend`).

use ferry_api::{CapacityProvider, CpuArchitecture, FargateAccountSettings, OperatingSystemFamily};

/// Fargate settings. Values the ProviderConfig supplies (cluster, subnets, roles...) are
/// resolved when the backend connects; here they are the service's own overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FargateModel {
    /// Task CPU in ECS units (1024 per vCPU).
    pub task_cpu_units: u32,
    /// Task memory in MiB.
    pub task_memory_mib: u32,
    /// Task ephemeral storage in GiB, when more than the included 20 GiB.
    pub ephemeral_storage_gib: Option<u32>,
    /// Whether tasks get a public IP.
    pub assign_public_ip: bool,
    /// Capacity provider.
    pub capacity_provider: CapacityProvider,
    /// CPU architecture.
    pub cpu_architecture: CpuArchitecture,
    /// Operating system.
    pub operating_system_family: OperatingSystemFamily,
    /// Platform version.
    pub platform_version: String,
    /// ECS cluster override.
    pub cluster: Option<String>,
    /// Networking, roles and logs the service sets itself (over the ProviderConfig's defaults).
    pub account: FargateAccountSettings,
    /// Load balancer target group.
    pub target_group_arn: Option<String>,
    /// Load balancer ARN (for rps scaling).
    pub load_balancer_arn: Option<String>,
}
