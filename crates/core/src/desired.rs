//! The provider-neutral desired model: a validated `ServerlessService` with every quantity parsed
//! and every default applied, ready for a backend's pure builder.

use std::collections::BTreeMap;

use ferry_api::{
    AutoscalerClass, CapacityProvider, CpuArchitecture, DeletionPolicy, ExecutionEnvironment,
    FargateAccountSettings, Ingress, OperatingSystemFamily, Provider, ScalingMetric, VpcAccess,
};

/// What a backend must make true.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// Which object this is.
    pub object: ObjectRef,
    /// Where it runs.
    pub provider: Provider,
    /// The containers, in spec order.
    pub containers: Vec<ContainerModel>,
    /// Index into `containers` of the one that receives traffic.
    pub serving_container: usize,
    /// Most requests in flight per instance, when limited.
    pub concurrency: Option<u32>,
    /// Request timeout in seconds, when set.
    pub timeout_seconds: Option<u32>,
    /// Scaling with the provider's defaults applied.
    pub scaling: ScalingModel,
    /// Who can reach the service.
    pub ingress: Ingress,
    /// Traffic split; empty means all traffic to the latest ready revision.
    pub traffic: Vec<TrafficModel>,
    /// What happens to the provider's resources on delete.
    pub deletion_policy: DeletionPolicy,
    /// Provider-specific settings.
    pub backend: Backend,
}

impl Desired {
    /// The container that receives traffic.
    pub fn serving(&self) -> &ContainerModel {
        &self.containers[self.serving_container]
    }
}

/// Identity of the `ServerlessService`, carried onto everything a backend creates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID, once the API server assigned one.
    pub uid: Option<String>,
    /// `metadata.generation`.
    pub generation: Option<i64>,
}

/// One container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerModel {
    /// Name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Entrypoint override.
    pub command: Vec<String>,
    /// Arguments override.
    pub args: Vec<String>,
    /// The port it serves on, for the serving container.
    pub port: Option<u16>,
    /// Environment, in spec order.
    pub env: Vec<EnvModel>,
    /// Resources, parsed.
    pub resources: ResourcesModel,
    /// Probes.
    pub probes: ProbesModel,
}

/// One environment variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvModel {
    /// Name.
    pub name: String,
    /// Where the value comes from.
    pub value: EnvValue,
}

/// Where an environment variable's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    /// A literal.
    Literal(String),
    /// A secret, resolved to the provider's native reference.
    Secret(SecretSource),
}

/// A secret, as the provider names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// A key of a Kubernetes Secret in the service's namespace.
    Kubernetes {
        /// Secret name.
        name: String,
        /// Key.
        key: String,
    },
    /// ECS `valueFrom`: a Secrets Manager ARN (with an optional JSON key) or an SSM parameter.
    Aws {
        /// The `valueFrom` string ECS reads.
        value_from: String,
    },
    /// A Secret Manager secret version.
    GoogleSecretManager {
        /// `my-secret` or `projects/PROJECT/secrets/my-secret`.
        secret: String,
        /// `latest` or a version number.
        version: String,
    },
}

/// Parsed resources of one container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourcesModel {
    /// CPU in millicores, when set.
    pub cpu_millis: Option<u64>,
    /// Memory in bytes, when set.
    pub memory_bytes: Option<u64>,
    /// Ephemeral storage in bytes, when set.
    pub ephemeral_storage_bytes: Option<u64>,
    /// GPUs, when set.
    pub gpu: Option<GpuModel>,
}

/// GPUs of one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuModel {
    /// How many.
    pub count: u32,
    /// Model, when given.
    pub gpu_type: Option<String>,
}

/// Probes of one container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbesModel {
    /// Startup probe.
    pub startup: Option<ProbeModel>,
    /// Readiness probe.
    pub readiness: Option<ProbeModel>,
    /// Liveness probe.
    pub liveness: Option<ProbeModel>,
}

/// One probe. Timing left unset takes the provider's defaults (Kubernetes and Cloud Run: 0 s
/// delay, every 10 s, 1 s timeout, 3 failures; ECS: every 30 s, 5 s timeout, 3 retries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeModel {
    /// What it checks.
    pub action: ProbeAction,
    /// Seconds before the first check.
    pub initial_delay_seconds: Option<u32>,
    /// Seconds between checks.
    pub period_seconds: Option<u32>,
    /// Seconds before a check fails.
    pub timeout_seconds: Option<u32>,
    /// Failures in a row before the probe fails.
    pub failure_threshold: Option<u32>,
}

/// What a probe checks, with its port resolved (the container's port unless given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeAction {
    /// HTTP GET.
    HttpGet {
        /// Path.
        path: String,
        /// Port.
        port: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
    },
    /// TCP connect.
    TcpSocket {
        /// Port.
        port: u16,
    },
    /// gRPC health check.
    Grpc {
        /// Port.
        port: u16,
        /// Service name, empty for the server's overall health.
        service: String,
    },
}

/// Scaling with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingModel {
    /// Fewest instances.
    pub min_instances: u32,
    /// Most instances; `None` means the provider's own limit.
    pub max_instances: Option<u32>,
    /// Instances when a revision starts, when set.
    pub initial_instances: Option<u32>,
    /// The load signal.
    pub metric: ScalingMetric,
    /// Target per instance, when set (percent for cpu and memory).
    pub target: Option<u32>,
    /// Scale-down delay in seconds, when set.
    pub scale_down_delay_seconds: Option<u32>,
}

/// One traffic target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficModel {
    /// A named revision, or `None` for the latest ready one.
    pub revision_name: Option<String>,
    /// Percentage.
    pub percent: u32,
    /// Tag with its own URL.
    pub tag: Option<String>,
}

/// Provider-specific desired settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Backend {
    /// Knative Serving.
    Knative(KnativeModel),
    /// AWS Fargate.
    Fargate(FargateModel),
    /// Google Cloud Run.
    CloudRun(CloudRunModel),
}

/// Knative settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnativeModel {
    /// The autoscaler class, chosen from the metric unless set.
    pub autoscaler_class: AutoscalerClass,
    /// Ingress class override.
    pub ingress_class: Option<String>,
    /// Pod service account.
    pub service_account_name: Option<String>,
    /// Node selector.
    pub node_selector: BTreeMap<String, String>,
    /// Extra revision-template annotations.
    pub annotations: BTreeMap<String, String>,
}

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

/// Cloud Run settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudRunModel {
    /// Project override.
    pub project: Option<String>,
    /// Region override.
    pub region: Option<String>,
    /// Service account.
    pub service_account: Option<String>,
    /// VPC egress.
    pub vpc_access: Option<VpcAccess>,
    /// Execution environment, when it must be (or was asked to be) a given one.
    pub execution_environment: Option<ExecutionEnvironment>,
    /// CPU only during requests.
    pub cpu_idle: bool,
    /// Startup CPU boost.
    pub startup_cpu_boost: bool,
    /// Grant `allUsers` the invoker role.
    pub allow_unauthenticated: bool,
}
