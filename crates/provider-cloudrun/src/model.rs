//! Cloud Run's own desired settings: `spec.cloudRun` with its defaults, as validation built
//! them for the builders (carried in `Desired::backend`).

use ferry_api::{ExecutionEnvironment, VpcAccess};

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
