//! `ServerlessService`: one portable service that Ferry runs on Knative, AWS Fargate or Google
//! Cloud Run.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

use crate::Quantity;
use crate::schema::{
    CelRule, DNS_LABEL, DNS_SUBDOMAIN, ENV_VAR_NAME, add_rule, add_rules, cel_string_list,
    list_atomic, list_map, list_set,
};

/// Desired state of a ServerlessService. The portable core (containers, concurrency, timeout,
/// scaling, ingress, traffic) means the same on every provider; a field the chosen provider
/// cannot honour is refused, never dropped (see `ferry capabilities`). Ferry never writes
/// defaults into the spec: defaults are documented per field and effective values go to status.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "ferry.dev",
    version = "v1alpha1",
    kind = "ServerlessService",
    namespaced,
    status = "ServerlessServiceStatus",
    derive = "PartialEq",
    shortname = "ssvc",
    category = "ferry",
    doc = "A ServerlessService runs one container workload on Knative Serving (in this cluster), \
           AWS Fargate or Google Cloud Run, and reports what happened in status.",
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(
        name = "Synced",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status",
        priority = 1
    ),
    printcolumn(
        name = "LatestRevision",
        type_ = "string",
        json_path = ".status.latestReadyRevision",
        priority = 1
    ),
    validation = ::kube::core::Rule::new(
        "self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"
    )
    // No fieldPath: the API server checks a fieldPath against the schema, which has no
    // `metadata`, so the message names the field itself.
    .message(
        "metadata.name must be a DNS-1035 label of at most 63 characters (lower-case letters, \
         digits and '-', starting with a letter): every provider names its service after it"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = spec_rules)]
pub struct ServerlessServiceSpec {
    /// Where the service runs: `knative` (Knative Serving in this cluster), `fargate` (AWS ECS on
    /// Fargate) or `cloudRun` (Google Cloud Run). Changing it migrates the service: the new
    /// backend is created and must become Ready before the old one is deleted.
    pub provider: Provider,

    /// The cluster-scoped ProviderConfig that says which cloud account, region and credentials to
    /// use. Defaults to the ProviderConfig named `default`. Knative needs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_config_ref: Option<ProviderConfigReference>,

    /// The containers of one instance, 1 to 10. Exactly one container sets `port`: it receives
    /// the traffic; the others are sidecars.
    #[schemars(length(min = 1, max = 10), transform = list_map_by_name)]
    pub containers: Vec<Container>,

    /// The most requests one instance serves at a time (Knative `containerConcurrency`, Cloud Run
    /// `maxInstanceRequestConcurrency`). Default: the provider's (Knative: unlimited, Cloud Run:
    /// 80). Not supported on Fargate.
    #[schemars(range(min = 1))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<i32>,

    /// How long a request may take, in seconds. Default: 300. Knative allows up to its
    /// `max-revision-timeout-seconds` (600 unless the cluster raised it), Cloud Run up to 3600.
    /// Not supported on Fargate.
    #[schemars(range(min = 1))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,

    /// How the number of instances follows the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<Scaling>,

    /// Who can reach the service: `public` (the internet) or `internal` (the cluster or VPC
    /// only). Default: `public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Ingress>,

    /// How requests are split between revisions, with optional tags that get their own URL.
    /// Default: all traffic to the latest ready revision. Percentages add up to 100.
    #[schemars(length(max = 100), transform = traffic_rules)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Vec<TrafficTarget>>,

    /// What happens to the provider's resources when this object is deleted: `Delete` them, or
    /// `Orphan` them (leave them running). Default: `Delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// Knative-only settings; allowed only with `provider: knative`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knative: Option<KnativeSpec>,

    /// Fargate-only settings; allowed only with `provider: fargate`. Fields left out come from
    /// the ProviderConfig's `fargate.defaults`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate: Option<FargateSpec>,

    /// Cloud Run-only settings; allowed only with `provider: cloudRun`. `project` and `region`
    /// default to the ProviderConfig's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_run: Option<CloudRunSpec>,
}

impl ServerlessServiceSpec {
    /// The provider sections this spec sets (`spec.fargate` ...), with their field paths.
    pub fn provider_sections(&self) -> Vec<(Provider, &'static str)> {
        [
            (Provider::Knative, "spec.knative", self.knative.is_some()),
            (Provider::Fargate, "spec.fargate", self.fargate.is_some()),
            (
                Provider::CloudRun,
                "spec.cloudRun",
                self.cloud_run.is_some(),
            ),
        ]
        .into_iter()
        .filter(|(_, _, set)| *set)
        .map(|(provider, field, _)| (provider, field))
        .collect()
    }
}

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
}

impl Provider {
    /// Every provider, in the order tables list them.
    pub const ALL: [Provider; 3] = [Provider::Knative, Provider::Fargate, Provider::CloudRun];

    /// The value written in `spec.provider`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Knative => "knative",
            Provider::Fargate => "fargate",
            Provider::CloudRun => "cloudRun",
        }
    }

    /// Its place in [`Provider::ALL`].
    pub fn index(self) -> usize {
        match self {
            Provider::Knative => 0,
            Provider::Fargate => 1,
            Provider::CloudRun => 2,
        }
    }

    /// The name people use for it in messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Knative => "Knative",
            Provider::Fargate => "Fargate",
            Provider::CloudRun => "Cloud Run",
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

/// What happens to the provider's resources when the ServerlessService is deleted.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum DeletionPolicy {
    /// Delete them.
    #[default]
    Delete,
    /// Leave them running, unmanaged.
    Orphan,
}

/// Knative-only settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = knative_rules)]
pub struct KnativeSpec {
    /// The ingress class for this service, e.g. `kourier.ingress.networking.knative.dev`.
    /// Default: the cluster's.
    #[schemars(length(min = 1, max = 253))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class: Option<String>,

    /// The autoscaler: `kpa` (Knative's, scales on concurrency or rps, can scale to zero) or
    /// `hpa` (Kubernetes HPA, scales on cpu or memory). Default: chosen from
    /// `spec.scaling.metric`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler_class: Option<AutoscalerClass>,

    /// The Kubernetes ServiceAccount the pods run as. Default: `default`.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// Node labels the pods must run on, e.g. to pick GPU nodes. Needs Knative's
    /// `kubernetes.podspec-nodeselector` feature flag.
    #[schemars(extend("maxProperties" = 32))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// Extra annotations on the revision template, for Knative settings with no portable
    /// field (e.g. `autoscaling.knative.dev/window`). Annotations that Ferry derives from the
    /// spec (autoscaling class, metric, target, min/max/initial scale, scale-down delay) are
    /// refused: set them through `spec.scaling`.
    #[schemars(extend("maxProperties" = 64))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Knative autoscaler class.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum AutoscalerClass {
    /// `kpa.autoscaling.knative.dev`.
    Kpa,
    /// `hpa.autoscaling.knative.dev`.
    Hpa,
}

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

/// Cloud Run-only settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CloudRunSpec {
    /// The Google Cloud project. Default: the ProviderConfig's.
    #[schemars(regex(pattern = "^[a-z][-a-z0-9]{4,28}[a-z0-9]$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,

    /// The region, e.g. `europe-west1`. Default: the ProviderConfig's.
    #[schemars(regex(pattern = "^[a-z]+-[a-z]+[0-9]+$"), length(max = 63))]
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

/// What Ferry observed, written only when it changes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerlessServiceStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The provider this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,

    /// Where the service answers, when the provider gives a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,

    /// The Knative "Addressable" shape, so eventing tools can target the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Addressable>,

    /// The latest revision that became ready: a Knative or Cloud Run revision, or an ECS task
    /// definition revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_ready_revision: Option<String>,

    /// The provider's long-running operation Ferry started and waits for (a Cloud Run
    /// operation name); the next reconcile polls it rather than waiting inside this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,

    /// The provider's identifier of what Ferry manages (an ARN, a Cloud Run resource name, or a
    /// Knative Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_ref: Option<ResourceRef>,

    /// Instance counts, where the provider reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Instances>,

    /// `Ready`, `Synced`, and kstatus's `Reconciling` and `Stalled`.
    #[schemars(transform = list_map_by_type)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,

    /// What the service costs per month on its provider at its configured baseline: the spec
    /// at rest, with no traffic (minimum instances or tasks all month; nothing when it scales
    /// to zero), from Ferry's price table. `ferry cost` compares providers under traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_monthly_cost: Option<CostEstimate>,
}

/// An address in Knative's Addressable shape.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Addressable {
    /// The URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The provider's identifier of the managed resource.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// The identifier, e.g. `arn:aws:ecs:us-east-1:123456789012:service/prod/shop-hello`.
    pub id: String,
}

/// Instance counts.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Instances {
    /// Instances the provider wants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<i32>,
    /// Instances ready to serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<i32>,
}

/// A monthly cost estimate.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CostEstimate {
    /// US dollars per month, a decimal string with two places, e.g. `17.30`.
    pub usd: String,
    /// What the figure assumes, in one line, e.g. `2 tasks x 1 vCPU, 2Gi, 730 h (minInstances
    /// 2; no traffic assumed), Linux/ARM64, us-east-1 prices`.
    pub basis: String,
}

fn list_map_by_name(schema: &mut Schema) {
    list_map(schema, &["name"]);
}

fn list_map_by_type(schema: &mut Schema) {
    list_map(schema, &["type"]);
}

fn set_list(schema: &mut Schema) {
    list_set(schema);
}

fn atomic_list(schema: &mut Schema) {
    list_atomic(schema);
}

/// Rules over the whole spec: sections that must match the provider, the one serving
/// container, and the fields a provider can never honour (the capability table in `ferry-core`
/// lists the same refusals, and a test there checks the two agree).
pub const SPEC_RULES: &[CelRule] = &[
    CelRule {
        rule: "!has(self.knative) || self.provider == 'knative'",
        message: "applies only to provider knative: remove it or set spec.provider to knative",
        field_path: Some(".knative"),
    },
    CelRule {
        rule: "!has(self.fargate) || self.provider == 'fargate'",
        message: "applies only to provider fargate: remove it or set spec.provider to fargate",
        field_path: Some(".fargate"),
    },
    CelRule {
        rule: "!has(self.cloudRun) || self.provider == 'cloudRun'",
        message: "applies only to provider cloudRun: remove it or set spec.provider to cloudRun",
        field_path: Some(".cloudRun"),
    },
    CelRule {
        rule: "!has(self.providerConfigRef) || self.provider != 'knative'",
        message: "Knative runs in this cluster and needs no ProviderConfig: remove spec.providerConfigRef",
        field_path: Some(".providerConfigRef"),
    },
    CelRule {
        rule: "self.containers.exists_one(c, has(c.port))",
        message: "exactly one container must set port: the one that receives the traffic",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !has(self.concurrency)",
        message: "Fargate does not support spec.concurrency: ECS does not limit requests per task; remove it, or use provider knative or cloudRun",
        field_path: Some(".concurrency"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !has(self.timeoutSeconds)",
        message: "Fargate does not support spec.timeoutSeconds: ECS does not proxy requests (set the load balancer's idle timeout instead); remove it",
        field_path: Some(".timeoutSeconds"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !self.containers.exists(c, has(c.resources) && has(c.resources.gpu))",
        message: "Fargate does not support resources.gpu: Fargate has no GPUs; remove it, or use provider cloudRun or knative",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !self.containers.exists(c, has(c.probes) && has(c.probes.readiness))",
        message: "Fargate does not support probes.readiness: ECS routes by the load balancer's target-group health check; remove it (probes.liveness becomes the ECS container health check)",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !self.containers.exists(c, has(c.probes) && has(c.probes.startup))",
        message: "Fargate does not support probes.startup: remove it and give probes.liveness an initialDelaySeconds (the ECS health check's startPeriod)",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !has(self.traffic) || self.traffic.all(t, has(t.latestRevision) && t.latestRevision && !has(t.tag))",
        message: "Fargate does not support revision traffic splits or tags: every request goes to the latest task definition; spec.traffic may only send all traffic to latestRevision",
        field_path: Some(".traffic"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !has(self.scaling) || !has(self.scaling.minInstances) || self.scaling.minInstances >= 1",
        message: "Fargate does not support scaling to zero: nothing starts a task when a request arrives; set spec.scaling.minInstances to 1 or more",
        field_path: Some(".scaling.minInstances"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !has(self.scaling) || !has(self.scaling.metric) || self.scaling.metric != 'concurrency'",
        message: "Fargate does not support scaling on concurrency: ECS scales on cpu, memory or rps (load balancer requests per target)",
        field_path: Some(".scaling.metric"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !self.containers.exists(c, has(c.resources) && has(c.resources.ephemeralStorage))",
        message: "Cloud Run does not support resources.ephemeralStorage: its writable filesystem is in memory and counts against resources.memory; remove it",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !has(self.scaling) || !has(self.scaling.initialInstances)",
        message: "Cloud Run does not support spec.scaling.initialInstances; remove it (minInstances keeps instances warm)",
        field_path: Some(".scaling.initialInstances"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !has(self.scaling) || !has(self.scaling.target)",
        message: "Cloud Run does not support spec.scaling.target: it scales by itself to keep each instance within spec.concurrency; remove it and set spec.concurrency",
        field_path: Some(".scaling.target"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !has(self.scaling) || !has(self.scaling.metric) || self.scaling.metric == 'concurrency'",
        message: "Cloud Run scales on concurrency only: remove spec.scaling.metric or set it to concurrency",
        field_path: Some(".scaling.metric"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !has(self.scaling) || !has(self.scaling.scaleDownDelaySeconds)",
        message: "Cloud Run does not support spec.scaling.scaleDownDelaySeconds; remove it",
        field_path: Some(".scaling.scaleDownDelaySeconds"),
    },
    CelRule {
        rule: "self.provider != 'knative' || !self.containers.exists(c, has(c.resources) && has(c.resources.gpu) && has(c.resources.gpu.type))",
        message: "Knative does not support resources.gpu.type: it schedules GPUs by count (nvidia.com/gpu); remove the type and pick GPU nodes with spec.knative.nodeSelector",
        field_path: Some(".containers"),
    },
];

fn spec_rules(schema: &mut Schema) {
    add_rules(schema, SPEC_RULES);
}

/// Environment variable names every provider reserves.
pub const RESERVED_ENV_VARS: [&str; 4] = ["PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"];

fn env_var_rules(schema: &mut Schema) {
    add_rule(
        schema,
        "has(self.value) != has(self.secret)",
        "set exactly one of value or secret",
        None,
    );
    add_rule(
        schema,
        &format!("!(self.name in {})", cel_string_list(&RESERVED_ENV_VARS)),
        "PORT, K_SERVICE, K_CONFIGURATION and K_REVISION are set by the platform; choose another name",
        Some(".name"),
    );
}

fn probe_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[CelRule {
            rule: "(has(self.httpGet) ? 1 : 0) + (has(self.tcpSocket) ? 1 : 0) + (has(self.grpc) ? 1 : 0) == 1",
            message: "set exactly one of httpGet, tcpSocket or grpc",
            field_path: None,
        }],
    );
}

fn scaling_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[
            CelRule {
                rule: "!has(self.minInstances) || !has(self.maxInstances) || self.minInstances <= self.maxInstances",
                message: "minInstances must not be greater than maxInstances",
                field_path: Some(".minInstances"),
            },
            CelRule {
                rule: "!has(self.initialInstances) || !has(self.maxInstances) || self.initialInstances <= self.maxInstances",
                message: "initialInstances must not be greater than maxInstances",
                field_path: Some(".initialInstances"),
            },
            CelRule {
                rule: "!has(self.target) || !has(self.metric) || !(self.metric in ['cpu', 'memory']) || self.target <= 100",
                message: "a cpu or memory target is a utilization percentage: 1 to 100",
                field_path: Some(".target"),
            },
        ],
    );
}

fn traffic_rules(schema: &mut Schema) {
    list_atomic(schema);
    add_rules(
        schema,
        &[
            CelRule {
                rule: "self.map(t, has(t.percent) ? t.percent : 0).sum() == 100",
                message: "traffic percentages must add up to 100",
                field_path: None,
            },
            CelRule {
                rule: "self.all(t, !has(t.tag) || self.exists_one(u, has(u.tag) && u.tag == t.tag))",
                message: "traffic tags must be unique",
                field_path: None,
            },
        ],
    );
}

fn traffic_target_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[CelRule {
            rule: "has(self.revisionName) != (has(self.latestRevision) && self.latestRevision)",
            message: "set exactly one of revisionName or latestRevision: true",
            field_path: None,
        }],
    );
}

/// Revision-template annotations Ferry derives from `spec.scaling`, refused in
/// `spec.knative.annotations`.
pub const KNATIVE_MANAGED_ANNOTATIONS: [&str; 9] = [
    "autoscaling.knative.dev/class",
    "autoscaling.knative.dev/metric",
    "autoscaling.knative.dev/target",
    "autoscaling.knative.dev/min-scale",
    "autoscaling.knative.dev/max-scale",
    "autoscaling.knative.dev/initial-scale",
    "autoscaling.knative.dev/scale-down-delay",
    "autoscaling.knative.dev/minScale",
    "autoscaling.knative.dev/maxScale",
];

fn knative_rules(schema: &mut Schema) {
    // Iterate the constant list and look keys up in the map: iterating the map's keys instead
    // would cost (number of keys x key length) in the API server's CEL cost estimate.
    add_rule(
        schema,
        &format!(
            "!has(self.annotations) || !{}.exists(k, k in self.annotations)",
            cel_string_list(&KNATIVE_MANAGED_ANNOTATIONS)
        ),
        "spec.knative.annotations may not set the autoscaling class, metric, target, \
         min/max/initial scale or scale-down delay: set them through spec.scaling",
        Some(".annotations"),
    );
}

fn fargate_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[
            CelRule {
                rule: "!has(self.capacityProvider) || self.capacityProvider != 'FARGATE_SPOT' || !has(self.operatingSystemFamily) || self.operatingSystemFamily == 'LINUX'",
                message: "Fargate Spot runs Linux tasks only: use capacityProvider FARGATE for Windows",
                field_path: Some(".capacityProvider"),
            },
            CelRule {
                rule: "!has(self.cpuArchitecture) || self.cpuArchitecture != 'ARM64' || !has(self.operatingSystemFamily) || self.operatingSystemFamily == 'LINUX'",
                message: "Fargate runs ARM64 tasks on Linux only: use cpuArchitecture X86_64 for Windows",
                field_path: Some(".cpuArchitecture"),
            },
        ],
    );
}

fn vpc_access_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[CelRule {
            rule: "!(has(self.connector) && has(self.networkInterfaces))",
            message: "use either a connector or networkInterfaces (Direct VPC egress), not both",
            field_path: None,
        }],
    );
}
