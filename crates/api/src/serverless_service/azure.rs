//! `spec.containerApps` and `spec.containerInstances`: the settings only Azure's two container
//! services have.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::{azure_secret_rules, list_map_by_name, set_list};

/// An Azure resource group name: 1-90 letters, digits, `.`, `_`, `-` and `()`, not ending in
/// `.` (ARM's own rule).
pub const RESOURCE_GROUP: &str = r"^[-\w\._\(\)]{0,89}[-\w_\(\)]$";

/// An Azure region name as ARM writes it, e.g. `westeurope`, `eastus2`.
pub const AZURE_LOCATION: &str = "^[a-z][a-z0-9]{1,40}$";

/// An ARM resource id (`/subscriptions/.../resourceGroups/.../providers/...`).
pub const ARM_ID: &str = r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/.+$";

/// Container Apps-only settings; allowed only with `provider: containerApps`. Left out, the
/// environment and resource group are the ProviderConfig's `azure` ones.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerAppsSpec {
    /// The Container Apps environment (`/subscriptions/.../managedEnvironments/NAME`). Default:
    /// the ProviderConfig's `azure.containerAppsEnvironment`.
    #[schemars(regex(pattern = ARM_ID), length(max = 1024))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,

    /// The resource group the app is created in. Default: the ProviderConfig's.
    #[schemars(regex(pattern = RESOURCE_GROUP), length(min = 1, max = 90))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,

    /// The workload profile the app runs on. Default: `Consumption`.
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = "^[A-Za-z0-9][-A-Za-z0-9]*$")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_profile: Option<String>,

    /// A user-assigned managed identity (its ARM resource id) the app runs as: it reads the Key
    /// Vault secrets of `secrets` and pulls from a registry that trusts it. Default: no
    /// identity (Key Vault secrets then need one).
    #[schemars(regex(pattern = ARM_ID), length(max = 1024))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,

    /// The ingress transport: `auto` (HTTP/1 and HTTP/2), `http`, `http2` or `tcp`. Default:
    /// `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<ContainerAppsTransport>,

    /// Secrets by the names used in `env[].secret.name`: a Key Vault secret read with
    /// `identity`, or a key of a Kubernetes Secret copied into the app as an app secret.
    #[schemars(length(max = 100), transform = list_map_by_name)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<AzureSecret>>,
}

/// Container Apps ingress transport.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum ContainerAppsTransport {
    /// HTTP/1.1 and HTTP/2, negotiated.
    Auto,
    /// HTTP/1.1.
    Http,
    /// HTTP/2 (gRPC).
    Http2,
    /// Plain TCP (no HTTP scaling rule, no traffic split).
    Tcp,
}

impl ContainerAppsTransport {
    /// The value ARM takes.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerAppsTransport::Auto => "auto",
            ContainerAppsTransport::Http => "http",
            ContainerAppsTransport::Http2 => "http2",
            ContainerAppsTransport::Tcp => "tcp",
        }
    }
}

/// A secret an Azure container reads, named for `env[].secret.name`: exactly one of
/// `keyVaultUrl` or `fromSecret`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = azure_secret_rules)]
pub struct AzureSecret {
    /// The name `env[].secret.name` uses; also the app secret's name (lower-case letters,
    /// digits, `-` and `.`).
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: String,

    /// A Key Vault secret (`https://VAULT.vault.azure.net/secrets/NAME[/VERSION]`), read by
    /// the platform with `identity`; the value never passes through Kubernetes.
    #[schemars(
        regex(pattern = r"^https://[^\s/]+/secrets/[^\s]+$"),
        length(max = 2048)
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault_url: Option<String>,

    /// A key of a Kubernetes Secret in the service's namespace, copied into the app (Container
    /// Apps: an app secret; Container Instances: a secure environment value). Only when asked
    /// for here: the value then lives in Azure as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_secret: Option<SecretKeyInNamespace>,
}

/// A key of a Secret in the object's own namespace.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyInNamespace {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::schema::DNS_SUBDOMAIN))]
    pub name: String,
    /// The key within the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// Container Instances-only settings; allowed only with `provider: containerInstances`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstancesSpec {
    /// The resource group the container group is created in. Default: the ProviderConfig's.
    #[schemars(regex(pattern = RESOURCE_GROUP), length(min = 1, max = 90))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,

    /// The region. Default: the ProviderConfig's `azure.location`.
    #[schemars(regex(pattern = AZURE_LOCATION))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,

    /// `Linux` or `Windows`. Default: `Linux`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<OsType>,

    /// `Regular` or `Spot` (evictable, cheaper; Linux only). Default: `Regular`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<AciPriority>,

    /// With `ingress: public`, the DNS label of the public IP: the service is then at
    /// `http://LABEL.LOCATION.azurecontainer.io:PORT`. Default: the group's name.
    #[schemars(
        length(min = 3, max = 63),
        regex(pattern = "^[a-z][-a-z0-9]*[a-z0-9]$")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name_label: Option<String>,

    /// With `ingress: internal`, the subnets (ARM resource ids) the group joins; required then.
    #[schemars(length(min = 1, max = 8), inner(regex(pattern = ARM_ID), length(max = 1024)), transform = set_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_ids: Option<Vec<String>>,

    /// A user-assigned managed identity (its ARM resource id) the group runs as. Default: none.
    #[schemars(regex(pattern = ARM_ID), length(max = 1024))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,

    /// Secrets by the names used in `env[].secret.name`: `fromSecret` becomes a secure
    /// environment value; `keyVaultUrl` a secret reference the group reads with `identity`.
    #[schemars(length(max = 100), transform = list_map_by_name)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<AzureSecret>>,
}

/// A container group's operating system.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum OsType {
    /// Linux.
    #[default]
    Linux,
    /// Windows Server.
    Windows,
}

/// A container group's priority.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum AciPriority {
    /// On-demand.
    #[default]
    Regular,
    /// Spot: evictable at any time, at a discount (Linux only).
    Spot,
}
