//! The Ferry reconciler: a kube-runtime `Controller` over `ServerlessService`, owning what the
//! backends create in the cluster, one over `ServerlessJob`, and one over the `ProviderConfig`s
//! both use; the finalizer; the error policy; Events; Prometheus metrics and health probes;
//! leader election through a Lease, so that of several replicas only one reconciles; graceful
//! shutdown; the prices behind the status's cost estimate. It knows the providers only through
//! the backend registry it is given.
//!
//! [`operate`] is the whole operator: it waits to lead, runs the controller while it leads, and
//! stops on shutdown or when it loses the lease.

mod context;
pub mod events;
pub mod http;
pub mod jobs;
mod leader;
pub mod metrics;
pub mod migration;
pub mod plan;
pub mod prices;
pub mod provider_configs;
pub mod reconcile;
mod run;
pub mod shutdown;

/// Every real backend, for the unit tests (the binary's own list is `ferry::backends`, which
/// this crate cannot depend on).
#[cfg(test)]
pub(crate) fn test_registry() -> ferry_provider::backend::Registry {
    use std::sync::Arc;
    ferry_provider::backend::Registry::new(vec![
        Arc::new(ferry_provider_knative::Knative),
        Arc::new(ferry_provider_fargate::Fargate),
        Arc::new(ferry_provider_cloudrun::CloudRun),
        Arc::new(ferry_provider_containerapps::ContainerApps),
        Arc::new(ferry_provider_containerinstances::ContainerInstances),
        Arc::new(ferry_provider_kubernetes::Kubernetes),
    ])
    .expect("one backend per provider")
}

pub use context::{Context, Settings, wall_clock};
pub use leader::{Lease, Stop, operate};
pub use reconcile::{Error, FINALIZER, MANAGER, error_policy, reconcile};
pub use run::run;
