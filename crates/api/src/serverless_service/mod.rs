//! `ServerlessService`: one portable service that Ferry runs on Knative, a plain Deployment, AWS
//! Fargate, Google Cloud Run, Azure Container Apps or Azure Container Instances.
//!
//! This module holds the kind itself (its spec's top level, printer columns and name rule); the
//! submodules hold the rest:
//! - `spec`: the portable core of the spec (provider choice, containers, scaling, ingress,
//!   traffic) that means the same on every provider;
//! - `knative`, `fargate`, `cloud_run`, `azure`: each provider's own section of the spec;
//! - `volumes`: volumes and mounts;
//! - `status`: what Ferry observed;
//! - `rules`: the CEL rules and list types the generated schema carries.

mod azure;
mod cloud_run;
mod fargate;
mod knative;
mod kubernetes;
mod rules;
mod spec;
mod status;
mod volumes;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use azure::*;
pub use cloud_run::*;
pub use fargate::*;
pub use knative::*;
pub use kubernetes::*;
pub use rules::{KNATIVE_MANAGED_ANNOTATIONS, RESERVED_ENV_VARS, SPEC_RULES, VOLUME_SPEC_RULES};
pub use spec::*;
pub use status::*;
pub use volumes::*;

pub(crate) use rules::{list_map_by_name, list_map_by_type, volumes_list};
use rules::{spec_rules, traffic_rules};

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
    doc = "A ServerlessService runs one container workload on Knative Serving or a plain Deployment (in this cluster), \
           AWS Fargate, Google Cloud Run, Azure Container Apps or Azure Container Instances, and \
           reports what happened in status.",
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
    /// Fargate), `cloudRun` (Google Cloud Run), `containerApps` (Azure Container Apps) or
    /// `containerInstances` (Azure Container Instances). Changing it migrates the service: the
    /// new backend is created and must become Ready before the old one is deleted.
    pub provider: Provider,

    /// The cluster-scoped ProviderConfig that says which cloud account, region and credentials to
    /// use. Defaults to the ProviderConfig named `default`. Knative needs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_config_ref: Option<ProviderConfigReference>,

    /// The containers of one instance, 1 to 10. Exactly one container sets `port`: it receives
    /// the traffic; the others are sidecars.
    #[schemars(length(min = 1, max = 10), transform = list_map_by_name)]
    pub containers: Vec<Container>,

    /// Volumes the containers mount (`containers[].volumeMounts`): secret, emptyDir, nfs, efs,
    /// gcs or azureFile, each where its provider can mount it (see `ferry capabilities`).
    #[schemars(length(max = 10), transform = volumes_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<Volume>>,

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
    /// `Orphan` them (leave them running). Default: `Delete`. A move to another provider treats
    /// the side it leaves the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// How a move to another provider (a change of `provider`, or of `providerConfigRef` to
    /// another account or region) goes: the new side is created beside the old one, `status.url`
    /// moves to it once it is Ready, and the old side keeps serving `drainSeconds` longer
    /// before it is deleted (or left, with `deletionPolicy: Orphan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<MigrationSettings>,

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

    /// Azure Container Apps-only settings; allowed only with `provider: containerApps`. The
    /// environment and resource group default to the ProviderConfig's `azure` ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_apps: Option<ContainerAppsSpec>,

    /// Azure Container Instances-only settings; allowed only with
    /// `provider: containerInstances`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_instances: Option<ContainerInstancesSpec>,

    /// Settings of the plain Kubernetes backend (Deployment, Service, autoscaler); allowed only
    /// with `provider: kubernetes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesSpec>,
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
            (
                Provider::ContainerApps,
                "spec.containerApps",
                self.container_apps.is_some(),
            ),
            (
                Provider::ContainerInstances,
                "spec.containerInstances",
                self.container_instances.is_some(),
            ),
            (
                Provider::Kubernetes,
                "spec.kubernetes",
                self.kubernetes.is_some(),
            ),
        ]
        .into_iter()
        .filter(|(_, _, set)| *set)
        .map(|(provider, field, _)| (provider, field))
        .collect()
    }
}
