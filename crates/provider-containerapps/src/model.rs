//! Container Apps' own desired settings: `spec.containerApps` with its defaults, each
//! container's size as Container Apps writes it, the scale rules and the app secrets, as
//! validation built them for the builders (carried in `Desired::backend`).

use ferry_api::ContainerAppsTransport;

/// Container Apps settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerAppsModel {
    /// The environment, when the spec names its own (else the ProviderConfig's).
    pub environment: Option<String>,
    /// The resource group, when the spec names its own (else the ProviderConfig's).
    pub resource_group: Option<String>,
    /// The workload profile, when the spec names one (else none is sent: Consumption).
    pub workload_profile: Option<String>,
    /// The user-assigned identity the app runs as.
    pub identity: Option<String>,
    /// The ingress transport, when the spec names one (else Container Apps' `auto`).
    pub transport: Option<ContainerAppsTransport>,
    /// Each container's CPU and memory, in spec order.
    pub sizes: Vec<Size>,
    /// The scale rules, in the order they are written.
    pub rules: Vec<ScaleRule>,
    /// Whether traffic is split between revisions (`activeRevisionsMode: Multiple`).
    pub multiple_revisions: bool,
    /// The app secrets the containers read, in the order `spec.containerApps.secrets` lists
    /// them.
    pub secrets: Vec<AppSecret>,
}

/// One container's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// CPU, millicores.
    pub cpu_millis: u64,
    /// Memory, hundredths of a GiB (`150` is `1.5Gi`).
    pub memory_centi_gib: u64,
}

/// A scale rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleRule {
    /// HTTP: add a replica per this many concurrent requests.
    Http {
        /// `concurrentRequests`.
        concurrent_requests: u32,
    },
    /// TCP: add a replica per this many concurrent connections.
    Tcp {
        /// `concurrentConnections`.
        concurrent_connections: u32,
    },
    /// CPU utilization, percent of the containers' CPU.
    Cpu {
        /// Target, percent.
        utilization: u32,
    },
    /// Memory utilization, percent of the containers' memory.
    Memory {
        /// Target, percent.
        utilization: u32,
    },
}

impl ScaleRule {
    /// The rule's name in the app.
    pub fn name(self) -> &'static str {
        match self {
            ScaleRule::Http { .. } => "http",
            ScaleRule::Tcp { .. } => "tcp",
            ScaleRule::Cpu { .. } => "cpu",
            ScaleRule::Memory { .. } => "memory",
        }
    }
}

/// An app secret a container reads through `env[].secret`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppSecret {
    /// Its name in the app (the entry's name in `spec.containerApps.secrets`).
    pub name: String,
    /// Where its value comes from.
    pub source: AppSecretSource,
}

/// Where an app secret's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppSecretSource {
    /// A Key Vault secret the platform reads with a managed identity.
    KeyVault {
        /// `https://VAULT.vault.azure.net/secrets/NAME[/VERSION]`.
        url: String,
        /// The identity's ARM id.
        identity: String,
    },
    /// A key of a Kubernetes Secret in the service's namespace, copied into the app.
    Kubernetes {
        /// The Secret.
        secret: String,
        /// The key.
        key: String,
    },
}
