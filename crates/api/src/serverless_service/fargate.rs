//! `spec.fargate`: the settings only AWS ECS on Fargate has.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::{fargate_rules, list_map_by_name};

/// Fargate-only settings. Anything left out comes from the ProviderConfig's `fargate.defaults`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = fargate_rules)]
pub struct FargateSpec {
    /// The ECS cluster. Default: the ProviderConfig's.
    #[schemars(length(min = 1, max = 255))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,

    /// Networking, IAM roles and logs; each left out comes from the ProviderConfig's defaults.
    #[serde(flatten)]
    pub account: crate::FargateAccountSettings,

    /// Whether tasks get a public IP. Default: `true` with `ingress: public`, `false` with
    /// `internal`. Tasks in a public subnet without a NAT gateway need one to pull images even
    /// when the service is internal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<bool>,

    /// `FARGATE` or `FARGATE_SPOT` (interruptible, cheaper; Linux only). Default: `FARGATE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider: Option<CapacityProvider>,

    /// `X86_64` or `ARM64` (Graviton, Linux only). Default: `X86_64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_architecture: Option<CpuArchitecture>,

    /// The task's operating system. Default: `LINUX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system_family: Option<OperatingSystemFamily>,

    /// The Fargate platform version. Default: `LATEST`.
    #[schemars(
        length(min = 1, max = 32),
        regex(pattern = r"^(LATEST|[0-9]+\.[0-9]+\.[0-9]+)$")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,

    /// An Application Load Balancer target group that receives the tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<FargateLoadBalancer>,

    /// Secret ARNs by the names used in `env[].secret.name`.
    #[schemars(length(max = 100), transform = list_map_by_name)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<FargateSecret>>,
}

/// Fargate capacity provider.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum CapacityProvider {
    /// On-demand Fargate.
    #[serde(rename = "FARGATE")]
    Fargate,
    /// Interruptible Fargate Spot (Linux only).
    #[serde(rename = "FARGATE_SPOT")]
    FargateSpot,
}

/// Fargate CPU architecture.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum CpuArchitecture {
    /// Intel / AMD.
    #[default]
    #[serde(rename = "X86_64")]
    X86_64,
    /// AWS Graviton (Linux only).
    #[serde(rename = "ARM64")]
    Arm64,
}

/// Fargate operating system.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[allow(clippy::enum_variant_names)]
pub enum OperatingSystemFamily {
    /// Linux.
    #[default]
    #[serde(rename = "LINUX")]
    Linux,
    /// Windows Server 2019 Core.
    #[serde(rename = "WINDOWS_SERVER_2019_CORE")]
    WindowsServer2019Core,
    /// Windows Server 2019 Full.
    #[serde(rename = "WINDOWS_SERVER_2019_FULL")]
    WindowsServer2019Full,
    /// Windows Server 2022 Core.
    #[serde(rename = "WINDOWS_SERVER_2022_CORE")]
    WindowsServer2022Core,
    /// Windows Server 2022 Full.
    #[serde(rename = "WINDOWS_SERVER_2022_FULL")]
    WindowsServer2022Full,
}

impl OperatingSystemFamily {
    /// Whether this is a Windows family.
    pub fn is_windows(self) -> bool {
        !matches!(self, OperatingSystemFamily::Linux)
    }
}

/// A load balancer target group for a Fargate service.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FargateLoadBalancer {
    /// The target group's ARN.
    #[schemars(regex(
        pattern = r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/.+$"
    ))]
    #[schemars(length(max = 2048))]
    pub target_group_arn: String,

    /// The load balancer's ARN; needed to scale on `rps` (ALBRequestCountPerTarget).
    #[schemars(regex(
        pattern = r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/app/.+$"
    ))]
    #[schemars(length(max = 2048))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_arn: Option<String>,
}

/// A secret name and the ARN Fargate reads it from.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FargateSecret {
    /// The name used in `env[].secret.name`.
    #[schemars(length(min = 1, max = 512))]
    pub name: String,

    /// ARN of a Secrets Manager secret or an SSM Parameter Store parameter.
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:[0-9]{12}:.+$"))]
    #[schemars(length(max = 2048))]
    pub arn: String,
}
