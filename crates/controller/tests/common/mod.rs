//! What the controller's tests share: the real backends, as the binary registers them.

use std::sync::Arc;

use ferry_provider::backend::Registry;

/// The backends of the shipped binary (`ferry::backends`), for their rules; tests replace
/// their connectors.
pub(crate) fn registry() -> Registry {
    Registry::new(vec![
        Arc::new(ferry_provider_knative::Knative),
        Arc::new(ferry_provider_fargate::Fargate),
        Arc::new(ferry_provider_cloudrun::CloudRun),
        Arc::new(ferry_provider_containerapps::ContainerApps),
        Arc::new(ferry_provider_containerinstances::ContainerInstances),
        Arc::new(ferry_provider_kubernetes::Kubernetes),
    ])
    .expect("one backend per provider")
}
