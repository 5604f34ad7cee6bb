//! The provider-neutral desired model: a validated `ServerlessService` with every quantity parsed
//! and every default applied, ready for a backend's pure builder.

use ferry_api::{
    AzureFileVolume, DeletionPolicy, EfsVolume, GcsVolume, Ingress, NfsVolume, Provider,
    ScalingMetric, SecretRef, StorageMedium,
};

use crate::backend::BackendModel;

/// What a backend must make true.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// Which object this is.
    pub object: ObjectRef,
    /// Where it runs.
    pub provider: Provider,
    /// The containers, in spec order.
    pub containers: Vec<ContainerModel>,
    /// The volumes they mount, in spec order.
    pub volumes: Vec<VolumeModel>,
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
    /// The provider's own settings, which its backend built from `spec.<provider>` and reads
    /// back ([`BackendModel::get`]).
    pub backend: BackendModel,
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
    /// Volumes it mounts, in spec order.
    pub mounts: Vec<MountModel>,
}

/// A volume of `spec.volumes`, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeModel {
    /// Its name, which mounts use.
    pub name: String,
    /// What it holds.
    pub source: VolumeSource,
}

/// What a volume holds: the one source `spec.volumes[]` set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeSource {
    /// A secret's values as files, by the provider's native reference.
    Secret(SecretRef),
    /// An empty directory.
    EmptyDir {
        /// Disk or memory; `None`: the provider's default.
        medium: Option<StorageMedium>,
        /// The most it may hold, in bytes.
        size_limit_bytes: Option<u64>,
    },
    /// An NFS export.
    Nfs(NfsVolume),
    /// An EFS file system.
    Efs(EfsVolume),
    /// A Cloud Storage bucket.
    Gcs(GcsVolume),
    /// An Azure Files share.
    AzureFile(AzureFileVolume),
}

impl VolumeSource {
    /// The kind as `spec.volumes[]` writes it (`secret`, `emptyDir` ...).
    pub fn kind(&self) -> &'static str {
        match self {
            VolumeSource::Secret(_) => "secret",
            VolumeSource::EmptyDir { .. } => "emptyDir",
            VolumeSource::Nfs(_) => "nfs",
            VolumeSource::Efs(_) => "efs",
            VolumeSource::Gcs(_) => "gcs",
            VolumeSource::AzureFile(_) => "azureFile",
        }
    }

    /// Whether the volume itself is read-only for every container that mounts it (a secret
    /// always is).
    pub fn read_only(&self) -> bool {
        match self {
            VolumeSource::Secret(_) => true,
            VolumeSource::EmptyDir { .. } | VolumeSource::Efs(_) => false,
            VolumeSource::Nfs(v) => v.read_only.unwrap_or(false),
            VolumeSource::Gcs(v) => v.read_only.unwrap_or(false),
            VolumeSource::AzureFile(v) => v.read_only.unwrap_or(false),
        }
    }
}

/// Where a container mounts a volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountModel {
    /// The volume's name.
    pub volume: String,
    /// The absolute path in the container.
    pub mount_path: String,
    /// Read-only: asked for by the mount, or the volume is (see [`VolumeSource::read_only`]).
    pub read_only: bool,
    /// A relative path within the volume, when not its root.
    pub sub_path: Option<String>,
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
    /// A secret in the provider's own secret store, named as that provider reads it: an ECS
    /// `valueFrom` (a Secrets Manager ARN with an optional JSON key, or an SSM parameter), a
    /// Google Secret Manager secret and its version.
    Store {
        /// The reference the provider reads.
        name: String,
        /// Which version, where the store has versions (`latest` or a number).
        version: Option<String>,
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

/// Sum of one resource over all containers, with the containers that set it (`None` for the
/// sum when none does, or when it overflows).
pub fn resource_total(
    containers: &[ContainerModel],
    pick: fn(&ResourcesModel) -> Option<u64>,
) -> (Option<u64>, Vec<usize>) {
    let setters: Vec<usize> = containers
        .iter()
        .enumerate()
        .filter(|(_, c)| pick(&c.resources).is_some())
        .map(|(i, _)| i)
        .collect();
    if setters.is_empty() {
        return (None, setters);
    }
    let total = containers
        .iter()
        .filter_map(|c| pick(&c.resources))
        .try_fold(0u64, u64::checked_add);
    (total, setters)
}

/// The field to blame for an instance-level total: the one container that set it, or all of
/// them.
pub fn total_field(setters: &[usize], leaf: &str) -> String {
    match setters {
        [one] => format!("spec.containers[{one}].resources.{leaf}"),
        _ => "spec.containers".to_owned(),
    }
}
