//! `spec.cloudRun`: the settings only Google Cloud Run has.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::{atomic_list, set_list, vpc_access_rules};

/// What a Google Cloud region name matches (`europe-west1`), wherever one is written.
pub const GCP_REGION: &str = "^[a-z]+-[a-z]+[0-9]+$";

/// Cloud Run-only settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CloudRunSpec {
    /// The Google Cloud project. Default: the ProviderConfig's.
    #[schemars(regex(pattern = "^[a-z][-a-z0-9]{4,28}[a-z0-9]$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,

    /// The region, e.g. `europe-west1`. Default: the ProviderConfig's.
    #[schemars(regex(pattern = GCP_REGION), length(max = 63))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,

    /// The service account the instances run as (an email address). Default: the project's
    /// Compute Engine default service account.
    #[schemars(regex(pattern = r"^[^@\s]+@[^@\s]+$"), length(max = 254))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,

    /// Egress into a VPC: a Serverless VPC Access connector or Direct VPC network interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_access: Option<VpcAccess>,

    /// `gen1` or `gen2`. Default: chosen by Cloud Run (gen1 when CPU is below 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_environment: Option<ExecutionEnvironment>,

    /// `true`: CPU only while requests are served (request-based billing); `false`: CPU always
    /// allocated (instance-based billing, required with a GPU). Default: `true`, or `false` with
    /// a GPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_idle: Option<bool>,

    /// More CPU while an instance starts. Default: `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_cpu_boost: Option<bool>,

    /// Grant `roles/run.invoker` to `allUsers`, so anyone can call a `public` service without
    /// credentials. Default: `false` (callers need IAM permission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_unauthenticated: Option<bool>,
}

/// Cloud Run VPC egress.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = vpc_access_rules)]
pub struct VpcAccess {
    /// A Serverless VPC Access connector:
    /// `projects/PROJECT/locations/REGION/connectors/NAME`.
    #[schemars(regex(pattern = "^projects/[^/]+/locations/[^/]+/connectors/[^/]+$"))]
    #[schemars(length(max = 512))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,

    /// Which egress goes through the VPC: `ALL_TRAFFIC` or `PRIVATE_RANGES_ONLY`. Default:
    /// `PRIVATE_RANGES_ONLY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<VpcEgress>,

    /// Direct VPC egress network interfaces (at most one).
    #[schemars(length(max = 1), transform = atomic_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interfaces: Option<Vec<NetworkInterface>>,
}

/// Cloud Run VPC egress setting.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum VpcEgress {
    /// All outbound traffic goes through the VPC.
    #[serde(rename = "ALL_TRAFFIC")]
    AllTraffic,
    /// Only traffic to private ranges goes through the VPC.
    #[serde(rename = "PRIVATE_RANGES_ONLY")]
    PrivateRangesOnly,
}

/// A Direct VPC egress network interface.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    /// The VPC network.
    #[schemars(length(min = 1, max = 512))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The subnetwork.
    #[schemars(length(min = 1, max = 512))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnetwork: Option<String>,
    /// Network tags.
    #[schemars(length(max = 64), inner(length(max = 63)), transform = set_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// Cloud Run execution environment.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum ExecutionEnvironment {
    /// First generation (gVisor): fast cold starts; needed for CPU below 1.
    Gen1,
    /// Second generation (microVM): full Linux compatibility; at least 512 MiB of memory.
    Gen2,
}
