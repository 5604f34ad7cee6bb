//! `ProviderConfig`: which cloud account, region and credentials ServerlessServices may use, and
//! which namespaces may use them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::CustomResource;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

use crate::schema::{DNS_LABEL, DNS_SUBDOMAIN, add_rule, list_map, list_set};

/// How Ferry reaches one or both clouds. Cluster-scoped: platform teams own it, application
/// namespaces refer to it by name from `spec.providerConfigRef`.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "ferry.dev",
    version = "v1alpha1",
    kind = "ProviderConfig",
    status = "ProviderConfigStatus",
    derive = "PartialEq",
    category = "ferry",
    doc = "A ProviderConfig says which AWS, Google Cloud and Azure accounts, regions and \
           credentials ServerlessServices may use, and which namespaces may use them.",
    printcolumn(
        name = "Fargate-Region",
        type_ = "string",
        json_path = ".spec.fargate.region"
    ),
    printcolumn(
        name = "CloudRun-Project",
        type_ = "string",
        json_path = ".spec.cloudRun.project"
    ),
    printcolumn(
        name = "CloudRun-Region",
        type_ = "string",
        json_path = ".spec.cloudRun.region"
    ),
    printcolumn(
        name = "Azure-Location",
        type_ = "string",
        json_path = ".spec.azure.location"
    ),
    printcolumn(name = "Users", type_ = "integer", json_path = ".status.users"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = provider_config_rules)]
#[allow(clippy::duplicated_attributes)] // kube-derive attributes repeat `type_` per column
pub struct ProviderConfigSpec {
    /// AWS Fargate (ECS and Application Auto Scaling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate: Option<FargateProviderConfig>,

    /// Google Cloud Run (Admin API v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_run: Option<CloudRunProviderConfig>,

    /// Azure Container Apps and Container Instances (Azure Resource Manager).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureProviderConfig>,

    /// Namespaces whose ServerlessServices may use this ProviderConfig. A namespace is allowed
    /// when it is listed here or matches `namespaceSelector`; with neither set, every namespace
    /// is allowed.
    #[schemars(length(max = 256), inner(length(min = 1, max = 63), regex(pattern = DNS_LABEL)), transform = set_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_namespaces: Option<Vec<String>>,

    /// Namespaces, by label, whose ServerlessServices may use this ProviderConfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
}

/// What an AWS region name matches (`us-east-1`).
pub const AWS_REGION: &str = "^[a-z]{2}(-[a-z]+)+-[0-9]+$";

/// How to reach AWS.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = anonymous_needs_endpoint)]
pub struct FargateProviderConfig {
    /// The AWS region, e.g. `us-east-1`.
    #[schemars(regex(pattern = AWS_REGION), length(max = 32))]
    pub region: String,

    /// The default ECS cluster.
    #[schemars(length(min = 1, max = 255))]
    pub cluster: String,

    /// Where credentials come from. Default: the default chain (IRSA, EKS Pod Identity,
    /// instance profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,

    /// An API endpoint to use instead of AWS's, for LocalStack, moto or tests.
    #[schemars(regex(pattern = "^https?://[^\\s]+$"), length(max = 2048))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,

    /// The IAM role EventBridge Scheduler starts a scheduled ServerlessJob's tasks as: trusted
    /// by `scheduler.amazonaws.com`, allowed `ecs:RunTask` and `ecs:TagResource` on the jobs'
    /// task definitions and `iam:PassRole` for their task and execution roles. Needed only by
    /// ServerlessJobs with a schedule.
    #[schemars(
        regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"),
        length(max = 2048)
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_role_arn: Option<String>,

    /// Values for services that do not set them in `spec.fargate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<FargateAccountSettings>,
}

/// Where Fargate tasks run and as whom: in a ProviderConfig's `fargate.defaults`, and in a
/// service's `spec.fargate`, where they override the defaults.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FargateAccountSettings {
    /// VPC subnets for the tasks (`subnet-...`).
    #[schemars(length(min = 1, max = 16), inner(regex(pattern = "^subnet-[0-9a-f]+$")), transform = set_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<String>>,

    /// Security groups for the tasks (`sg-...`).
    #[schemars(length(min = 1, max = 5), inner(regex(pattern = "^sg-[0-9a-f]+$")), transform = set_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,

    /// The IAM role ECS uses to pull images, read secrets and write logs.
    #[schemars(
        regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"),
        length(max = 2048)
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,

    /// The IAM role the containers run as.
    #[schemars(
        regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"),
        length(max = 2048)
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,

    /// The CloudWatch Logs group for the `awslogs` driver.
    #[schemars(length(min = 1, max = 512), regex(pattern = r"^[\.\-_/#A-Za-z0-9]+$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
}

/// How to reach Google Cloud.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = anonymous_needs_endpoint)]
pub struct CloudRunProviderConfig {
    /// The Google Cloud project ID.
    #[schemars(regex(pattern = "^[a-z][-a-z0-9]{4,28}[a-z0-9]$"))]
    pub project: String,

    /// The region, e.g. `europe-west1`.
    #[schemars(regex(pattern = crate::GCP_REGION), length(max = 63))]
    pub region: String,

    /// Where credentials come from. Default: Application Default Credentials (GKE Workload
    /// Identity, the metadata server, `GOOGLE_APPLICATION_CREDENTIALS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,

    /// An API endpoint to use instead of `https://run.googleapis.com`, for tests.
    #[schemars(regex(pattern = "^https?://[^\\s]+$"), length(max = 2048))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// How to reach Azure: one subscription, resource group and region, for both Container Apps
/// and Container Instances.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = anonymous_needs_endpoint)]
pub struct AzureProviderConfig {
    /// The subscription id (a GUID).
    #[schemars(regex(
        pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    pub subscription_id: String,

    /// The resource group apps and container groups are created in, unless a service names
    /// its own.
    #[schemars(regex(pattern = crate::RESOURCE_GROUP), length(min = 1, max = 90))]
    pub resource_group: String,

    /// The region, as ARM writes it: `westeurope`, `eastus2`.
    #[schemars(regex(pattern = crate::AZURE_LOCATION))]
    pub location: String,

    /// The Container Apps environment apps join
    /// (`/subscriptions/.../resourceGroups/.../providers/Microsoft.App/managedEnvironments/NAME`);
    /// needed for `containerApps` unless a service names its own.
    #[schemars(regex(pattern = crate::ARM_ID), length(max = 1024))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_apps_environment: Option<String>,

    /// Where credentials come from. Default: the default chain (AKS Workload Identity, then the
    /// managed identity). With `source: Secret`, the key holds JSON with `tenantId`, `clientId`
    /// and `clientSecret` (or `clientCertificate`, PEM, with an optional
    /// `clientCertificatePassword`), as `az ad sp create-for-rbac --sdk-auth` prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,

    /// An Azure Resource Manager endpoint to use instead of `https://management.azure.com`,
    /// for tests. With `source: Secret`, tokens are asked from the same host (Microsoft Entra
    /// ID's path under it) instead of `https://login.microsoftonline.com`.
    #[schemars(regex(pattern = "^https?://[^\\s]+$"), length(max = 2048))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// Where credentials come from.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = secret_ref_iff_secret)]
pub struct Credentials {
    /// `InjectedIdentity` (the default chain: IRSA / EKS Pod Identity, GKE Workload Identity,
    /// AKS Workload Identity or managed identity),
    /// `Secret` (a Secret in the operator's own namespace), or `Anonymous` (no credentials; only
    /// with an `endpoint`, for emulators, fakes and tests).
    pub source: CredentialsSource,

    /// The Secret with the credentials, required with `source: Secret`. Fargate: the key holds
    /// an AWS shared credentials file (`[default]` with `aws_access_key_id`,
    /// `aws_secret_access_key`, optionally `aws_session_token`); Cloud Run: a service account
    /// key (JSON); Azure: a service principal's JSON (see `azure.credentials`). Ferry reads
    /// Secrets only from its own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
}

/// Where credentials come from.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum CredentialsSource {
    /// The cloud's default chain for workloads (IRSA, EKS Pod Identity, GKE Workload Identity,
    /// AKS Workload Identity, managed identity).
    InjectedIdentity,
    /// A Kubernetes Secret in the operator's namespace.
    Secret,
    /// No credentials; only allowed together with an `endpoint`.
    Anonymous,
}

/// A key of a Secret in a given namespace.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Namespace of the Secret: must be the operator's own.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    pub namespace: String,
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: String,
    /// The key within the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// What Ferry observed about a ProviderConfig.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// How many ServerlessServices and ServerlessJobs use it (a service that names it or still
    /// has a side on it during a move or a deletion; a job that names it, until Ferry has
    /// cleaned up after it). While any does, it keeps the finalizer `ferry.dev/in-use`, so deleting
    /// it waits for them: their cloud resources are deleted through it, not orphaned.
    #[schemars(range(min = 0))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<i32>,

    /// `Ready`: whether the credentials of each cloud it configures load and its API answers
    /// (`Available`, `CredentialsInvalid`, `ProviderError`, `Throttled`), or, while it is
    /// deleted and still used, `InUse`.
    #[schemars(transform = list_map_by_type)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

fn set_list(schema: &mut Schema) {
    list_set(schema);
}

fn list_map_by_type(schema: &mut Schema) {
    list_map(schema, &["type"]);
}

fn provider_config_rules(schema: &mut Schema) {
    add_rule(
        schema,
        "has(self.fargate) || has(self.cloudRun) || has(self.azure)",
        "a ProviderConfig configures at least one cloud: set spec.fargate, spec.cloudRun or \
         spec.azure",
        None,
    );
}

fn anonymous_needs_endpoint(schema: &mut Schema) {
    add_rule(
        schema,
        "!has(self.credentials) || self.credentials.source != 'Anonymous' || has(self.endpoint)",
        "credentials.source Anonymous sends no credentials and is only allowed with an endpoint \
         (emulators, fakes, tests)",
        Some(".credentials.source"),
    );
}

fn secret_ref_iff_secret(schema: &mut Schema) {
    add_rule(
        schema,
        "(self.source == 'Secret') == has(self.secretRef)",
        "secretRef is required with source Secret, and only allowed with it",
        Some(".secretRef"),
    );
}
