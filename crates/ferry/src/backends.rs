//! The one list of Ferry's backends. Everything the operator and the commands know about a
//! provider comes from its entry here; adding a provider is a crate and a line in this list
//! (docs/adding-a-backend.md).

use std::sync::{Arc, OnceLock};

use ferry_provider::backend::{Registry, RegistryError};
use ferry_provider_cloudrun::CloudRun;
use ferry_provider_containerapps::ContainerApps;
use ferry_provider_containerinstances::ContainerInstances;
use ferry_provider_fargate::Fargate;
use ferry_provider_knative::Knative;
use ferry_provider_kubernetes::Kubernetes;

/// Every backend of this build, in the order tables list them.
pub fn registry() -> Result<&'static Registry, RegistryError> {
    static REGISTRY: OnceLock<Result<Registry, RegistryError>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            Registry::new(vec![
                Arc::new(Knative),
                Arc::new(Fargate),
                Arc::new(CloudRun),
                Arc::new(ContainerApps),
                Arc::new(ContainerInstances),
                Arc::new(Kubernetes),
            ])
        })
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_provider_the_api_knows_has_exactly_one_backend() {
        let registry = super::registry().expect("a complete registry");
        for provider in ferry_api::Provider::ALL {
            assert_eq!(registry.get(provider).provider(), provider);
        }
    }
}
