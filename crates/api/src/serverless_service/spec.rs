//! The portable core of the ServerlessService spec: the provider choice, containers (image,
//! environment, resources, probes), scaling, ingress, traffic and deletion policy. These mean the
//! same on every provider.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::{
    atomic_list, env_var_rules, list_map_by_name, probe_rules, scaling_rules, traffic_target_rules,
};
use crate::Quantity;
use crate::schema::{DNS_LABEL, DNS_SUBDOMAIN, ENV_VAR_NAME};

/// Where a ServerlessService runs.
#[derive(
    Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "camelCase")]
pub enum Provider {
    /// Knative Serving in this cluster.
    Knative,
    /// AWS ECS on Fargate, with Application Auto Scaling.
    Fargate,
    /// Google Cloud Run (Admin API v2).
    CloudRun,
    /// Azure Container Apps: revisions, traffic weights, HTTP-concurrency scaling, scale to zero.
    ContainerApps,
    /// Azure Container Instances: one container group (1..N containers on one VM, Linux or
    /// Windows), with no autoscaling and no revisions.
    ContainerInstances,
    /// A plain Deployment, Service and HorizontalPodAutoscaler in this cluster (with a
    /// PodDisruptionBudget and an Ingress as needed), for clusters without Knative and for EKS
    /// with Fargate profiles.
    Kubernetes,
}

impl Provider {
    /// Every provider, in the order tables list them.
    pub const ALL: [Provider; 6] = [
        Provider::Knative,
        Provider::Fargate,
        Provider::CloudRun,
        Provider::ContainerApps,
        Provider::ContainerInstances,
        Provider::Kubernetes,
    ];

    /// The value written in `spec.provider`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Knative => "knative",
            Provider::Fargate => "fargate",
            Provider::CloudRun => "cloudRun",
            Provider::ContainerApps => "containerApps",
            Provider::ContainerInstances => "containerInstances",
            Provider::Kubernetes => "kubernetes",
        }
    }

    /// Its place in [`Provider::ALL`].
    pub fn index(self) -> usize {
        match self {
            Provider::Knative => 0,
            Provider::Fargate => 1,
            Provider::CloudRun => 2,
            Provider::ContainerApps => 3,
            Provider::ContainerInstances => 4,
            Provider::Kubernetes => 5,
        }
    }

    /// The name people use for it in messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Knative => "Knative",
            Provider::Fargate => "Fargate",
            Provider::CloudRun => "Cloud Run",
            Provider::ContainerApps => "Container Apps",
            Provider::ContainerInstances => "Container Instances",
            Provider::Kubernetes => "Kubernetes",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to a cluster-scoped ProviderConfig.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigReference {
    /// Name of the ProviderConfig.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: String,
}

/// One container of an instance.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Name of the container, unique within the service (a DNS label).
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    pub name: String,

    /// The image to run, e.g. `ghcr.io/acme/hello:1.4.2`. Pin a tag or a digest.
    #[schemars(length(min = 1, max = 1024))]
    pub image: String,

    /// Entrypoint, replacing the image's ENTRYPOINT. Not run in a shell.
    #[schemars(length(max = 256), inner(length(max = 4096)), transform = atomic_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,

    /// Arguments, replacing the image's CMD.
    #[schemars(length(max = 256), inner(length(max = 4096)), transform = atomic_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,

    /// The TCP port the container listens on for requests. Exactly one container sets it; the
    /// platform also passes it in the `PORT` environment variable.
    #[schemars(range(min = 1, max = 65535))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,

    /// Environment variables, each with a literal `value` or a `secret` reference.
    #[schemars(length(max = 1000), transform = list_map_by_name)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,

    /// CPU, memory, ephemeral storage and GPU for this container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,

    /// Health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<Probes>,

    /// Volumes of `spec.volumes` this container mounts, each at its own path.
    #[schemars(length(max = 10), transform = super::volumes::volume_mounts_schema)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<Vec<super::VolumeMount>>,
}

/// An environment variable: a literal `value` or a `secret` reference, never both.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = env_var_rules)]
pub struct EnvVar {
    /// Name of the variable. PORT, K_SERVICE, K_CONFIGURATION and K_REVISION are set by the
    /// platform and cannot be set here.
    #[schemars(length(min = 1, max = 256), regex(pattern = ENV_VAR_NAME))]
    pub name: String,

    /// A literal value.
    #[schemars(length(max = 32768))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,

    /// A secret, by the provider's native reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
}

/// A secret value, by the provider's native reference:
/// - knative: the Kubernetes Secret `name` in the service's namespace and its `key` (required);
/// - fargate: `name` is looked up in `spec.fargate.secrets` to find the ARN of a Secrets Manager
///   secret or SSM parameter; `key` picks a JSON key of a Secrets Manager secret;
/// - cloudRun: `name` is a Secret Manager secret (`my-secret` or
///   `projects/PROJECT/secrets/my-secret`) and `key` its version (a number or `latest`, the
///   default), as in Cloud Run's own Knative-style YAML.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// Name of the secret.
    #[schemars(length(min = 1, max = 512))]
    pub name: String,

    /// Key within the secret (Knative, Fargate) or version (Cloud Run).
    #[schemars(length(min = 1, max = 253))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Compute resources of one container.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// CPU, in cores: "0.5", "500m", "2". Each provider sells its own sizes (see
    /// `ferry capabilities`). Default: Knative none (the cluster's defaults), Fargate 0.25 vCPU
    /// for the task, Cloud Run 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,

    /// Memory: "512Mi", "2Gi". Default: Knative none, Fargate the least that the task's CPU
    /// allows, Cloud Run 512Mi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,

    /// Scratch disk: "30Gi". Knative: the `ephemeral-storage` resource; Fargate: the task's
    /// ephemeral storage, 21-200 GiB (20 GiB is always included). Not supported on Cloud Run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<Quantity>,

    /// GPUs attached to this container. Not supported on Fargate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<Gpu>,
}

/// GPUs for one container.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Gpu {
    /// How many GPUs. Cloud Run attaches exactly one.
    #[schemars(range(min = 1, max = 16))]
    pub count: i32,

    /// The GPU model, e.g. `nvidia-l4` or `nvidia-rtx-pro-6000` (Cloud Run). Knative schedules
    /// GPUs by count only: pick GPU nodes with `spec.knative.nodeSelector` instead.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// Health checks of one container.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Probes {
    /// Checks that the container has started; other probes wait until it succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Probe>,

    /// Checks that the container can take requests; failing instances get no traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,

    /// Checks that the container still works; failing containers are restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
}

/// One health check: exactly one of `httpGet`, `tcpSocket` or `grpc`, and its timing.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = probe_rules)]
pub struct Probe {
    /// An HTTP GET that succeeds with a status from 200 to 399.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,

    /// A TCP connection that opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,

    /// A gRPC health check (grpc.health.v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcAction>,

    /// Seconds after the container starts before the first check. Default: 0.
    #[schemars(range(min = 0, max = 3600))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i32>,

    /// Seconds between checks. Default: 10.
    #[schemars(range(min = 1, max = 3600))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,

    /// Seconds after which a check fails. Default: 1.
    #[schemars(range(min = 1, max = 3600))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,

    /// Failed checks in a row before the probe fails. Default: 3.
    #[schemars(range(min = 1, max = 100))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
}

/// An HTTP GET health check.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HttpGetAction {
    /// The path, e.g. `/healthz`. Default: `/`.
    #[schemars(length(max = 2048), regex(pattern = "^/"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,

    /// The port. Default: the container's `port`.
    #[schemars(range(min = 1, max = 65535))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,

    /// Extra request headers.
    #[schemars(length(max = 16), transform = atomic_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<Vec<HttpHeader>>,
}

/// An HTTP header.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HttpHeader {
    /// Header name.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// Header value.
    #[schemars(length(max = 4096))]
    pub value: String,
}

/// A TCP health check.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TcpSocketAction {
    /// The port. Default: the container's `port`.
    #[schemars(range(min = 1, max = 65535))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// A gRPC health check.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GrpcAction {
    /// The port. Default: the container's `port`.
    #[schemars(range(min = 1, max = 65535))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,

    /// The service name sent in the health check request. Default: empty (the server's overall
    /// health).
    #[schemars(length(max = 253))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// How the number of instances follows the load.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = scaling_rules)]
pub struct Scaling {
    /// Fewest instances kept running; 0 lets the service scale to zero. Default: 0 on Knative and
    /// Cloud Run; 1 on Fargate, which cannot scale to zero.
    #[schemars(range(min = 0))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_instances: Option<i32>,

    /// Most instances. Default: Knative unlimited, Cloud Run 100, Fargate `minInstances` (a
    /// fixed count unless set).
    #[schemars(range(min = 1))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<i32>,

    /// Instances started when a revision is created (Knative initial scale; Fargate's first
    /// desired count). Not supported on Cloud Run.
    #[schemars(range(min = 0))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_instances: Option<i32>,

    /// The load signal: `concurrency` (requests in flight per instance), `rps` (requests per
    /// second per instance), `cpu` or `memory` (utilization). Default: `concurrency` on Knative
    /// and Cloud Run, `cpu` on Fargate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<ScalingMetric>,

    /// The value of `metric` each instance should run at: requests for `concurrency` and `rps`,
    /// a percentage (1-100) for `cpu` and `memory`. Not supported on Cloud Run.
    #[schemars(range(min = 1))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<i32>,

    /// Seconds the load must stay low before instances are removed (Knative scale-down delay,
    /// Fargate scale-in cooldown). Not supported on Cloud Run.
    #[schemars(range(min = 0, max = 3600))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
}

/// The load signal that drives scaling.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum ScalingMetric {
    /// Requests in flight per instance.
    Concurrency,
    /// Requests per second per instance.
    Rps,
    /// CPU utilization, percent of the CPU asked for.
    Cpu,
    /// Memory utilization, percent of the memory asked for.
    Memory,
}

impl ScalingMetric {
    /// The value written in `spec.scaling.metric`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScalingMetric::Concurrency => "concurrency",
            ScalingMetric::Rps => "rps",
            ScalingMetric::Cpu => "cpu",
            ScalingMetric::Memory => "memory",
        }
    }
}

/// Who can reach the service.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum Ingress {
    /// Reachable from the internet.
    #[default]
    Public,
    /// Reachable only from inside the cluster (Knative cluster-local) or the VPC.
    Internal,
}

/// Where a share of the traffic goes: a named revision or the latest ready one.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = traffic_target_rules)]
pub struct TrafficTarget {
    /// A revision by name (Knative or Cloud Run revision).
    #[schemars(length(min = 1, max = 253))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_name: Option<String>,

    /// `true` sends this share to the latest ready revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_revision: Option<bool>,

    /// Percentage of requests, 0-100. Default: 0.
    #[schemars(range(min = 0, max = 100))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i32>,

    /// A tag that gets its own URL for this target (a DNS label).
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// How a move between providers goes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MigrationSettings {
    /// How long the old side keeps serving once the new one is Ready and `status.url` names
    /// it, in seconds: long enough for clients and DNS (its TTL) to follow. Default: 300.
    #[schemars(range(min = 0, max = 86400))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_seconds: Option<i32>,
}

impl MigrationSettings {
    /// `drainSeconds` when set.
    pub const DEFAULT_DRAIN_SECONDS: i32 = 300;
}

/// What happens to the provider's resources when the ServerlessService is deleted.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum DeletionPolicy {
    /// Delete them.
    #[default]
    Delete,
    /// Leave them running, unmanaged.
    Orphan,
}
