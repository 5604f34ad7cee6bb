//! The pure half of the Fargate backend: the ECS and Application Auto Scaling requests Ferry
//! sends for a desired model, whether what AWS holds already matches them, and what AWS's
//! description means in Ferry's terms. No I/O: `client.rs` sends what this module builds.
//!
//! The request types serialise to the JSON the AWS APIs take (ECS in camelCase, Application
//! Auto Scaling in PascalCase), which is what `ferry render` prints and what the tests check
//! against botocore's service models.
//!
//! Change detection: ECS does not echo a task definition or service back exactly as it was
//! sent (it adds defaults, reorders, drops empty lists), so Ferry tags each with a fingerprint
//! of the request it built and compares fingerprints, plus the few service fields that someone
//! else might change behind Ferry's back (networking, capacity, load balancer).
//!
//! One file per concern, everything public re-exported here:
//! - `requests`: [`requests()`], the whole set for one object, and what `ferry render` prints;
//! - `account`: where the service runs, from its own settings over the ProviderConfig's;
//! - `task_definition`, `service`, `scaling`: the builders of each request (`volumes`: the
//!   task definition's volumes and mount points);
//! - `tags`: ownership tags and the fingerprints change detection compares;
//! - `observed`, `diff`, `readiness`: what AWS describes, what must change, what it means.

use serde::Serialize;

mod account;
mod diff;
mod observed;
mod readiness;
mod requests;
mod scaling;
mod service;
mod tags;
mod task_definition;
mod volumes;

pub use account::{Account, AccountError};
pub use diff::{Change, diff};
pub use observed::{
    Observed, ObservedPolicy, ObservedScaling, ObservedService, ObservedTaskDefinition, Rollout,
};
pub use readiness::readiness;
pub use requests::{Rendered, Requests, client_token, requests};
pub use scaling::{
    DEFAULT_UTILIZATION_TARGET, PredefinedMetric, SCALABLE_DIMENSION, SCALING_NAMESPACE,
    ScalableTarget, ScalingPolicy, TargetTracking, policy_name, scaling_resource_id,
};
pub use service::{
    AwsVpcConfiguration, CapacityProviderItem, CircuitBreaker, DeploymentConfiguration,
    LoadBalancer, NetworkConfiguration, ServiceRequest, UpdateServiceRequest, service_name,
    update_service,
};
pub use tags::{TAG_FINGERPRINT, TAG_MANAGED_BY, TAG_UID, Tag};
// What the job builders (`crate::job::build`) reuse of the service's.
pub(crate) use account::{account, fargate, mounts_efs_with_iam};
pub(crate) use service::{capacity_strategy, network};
pub(crate) use tags::{base_tags, fingerprint_of, with_fingerprint};
pub(crate) use task_definition::task_definition;
pub use task_definition::{
    ContainerDefinition, EphemeralStorage, HealthCheck, KeyValue, LogConfiguration, PortMapping,
    RuntimePlatform, SecretEnv, TaskDefinition,
};
pub use volumes::{EfsAuthorizationConfig, EfsVolumeConfiguration, MountPoint, Volume};

pub(crate) fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The wire name of an API enum (its serde rename).
pub(crate) fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
