//! Container Instances' own desired settings: `spec.containerInstances` with its defaults, as
//! validation built them for the builders (carried in `Desired::backend`).

use ferry_api::{AciPriority, OsType};

/// Container Instances settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInstancesModel {
    /// Resource group override.
    pub resource_group: Option<String>,
    /// Region override.
    pub location: Option<String>,
    /// `Linux` or `Windows`.
    pub os_type: OsType,
    /// `Regular` or `Spot`.
    pub priority: AciPriority,
    /// How the group is reached.
    pub address: Address,
    /// A user-assigned managed identity (ARM id).
    pub identity: Option<String>,
    /// Key Vault secrets the containers read (`secretReferences`), by the names `env[].secret`
    /// uses, in `spec.containerInstances.secrets` order.
    pub key_vault: Vec<KeyVaultSecret>,
    /// Each container's CPU (millicores) and memory (tenths of a GB), defaults applied.
    pub sizes: Vec<(u64, u64)>,
    /// The file of each secret volume, in `spec.volumes` order.
    pub secret_files: Vec<SecretFile>,
}

/// The one file a secret volume holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretFile {
    /// The volume's name.
    pub volume: String,
    /// The file's name in the volume: the secret's `key`, else its name.
    pub file: String,
    /// Where its content comes from.
    pub source: FileSource,
}

/// Where a secret file's content comes from: the entry of `spec.containerInstances.secrets`
/// the volume names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileSource {
    /// A key of a Kubernetes Secret in the service's namespace, copied into a `secret` volume
    /// (base64, as ACI takes it).
    Kubernetes {
        /// The Secret.
        secret: String,
        /// The key.
        key: String,
    },
    /// A Key Vault secret ACI reads itself with the group's identity: a `secretReference`
    /// volume naming the group's secret reference of that name.
    KeyVault {
        /// The secret reference's name (the entry's name).
        reference: String,
    },
}

/// How a container group is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A public IP address with a DNS label.
    Public {
        /// The label: `LABEL.LOCATION.azurecontainer.io`.
        dns_name_label: String,
    },
    /// A private IP address in these subnets (ARM ids).
    Private {
        /// The subnets.
        subnet_ids: Vec<String>,
    },
    /// No IP address (Spot groups get none).
    None,
}

/// A Key Vault secret ACI reads with the group's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVaultSecret {
    /// The name `env[].secret.name` uses (the secret reference's name).
    pub name: String,
    /// `https://VAULT.vault.azure.net/secrets/NAME[/VERSION]`.
    pub url: String,
}
