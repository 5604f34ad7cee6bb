//! What the Container Instances tests share: specs from inline YAML, validated as the
//! controller validates them, and the ProviderConfig section they run under.

#![allow(dead_code, unreachable_pub, unused_imports)] // each test binary uses part of it

use std::collections::BTreeMap;

use ferry_api::AzureProviderConfig;
use ferry_core::desired::Desired;
use ferry_provider_containerinstances::ContainerInstances;
use ferry_provider_containerinstances::build::{self, Request, SecretValue};

pub use ferry_testkit::builders::{UID, serverless_service};

/// The image the specs run.
pub const IMAGE: &str = "mcr.microsoft.com/azuredocs/aci-helloworld:1.0";
/// The subscription the tests' ProviderConfig names.
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-0000000000a1";

/// A single-container Container Instances spec with `extra` spec fields (YAML, no braces) and
/// the container fields `container` added to `name: app, image: IMAGE, port: 8080`.
pub fn simple(container: &str, extra: &str) -> String {
    ferry_testkit::builders::simple_spec("containerInstances", IMAGE, container, extra)
}

/// The desired model for `spec` (YAML); `spec` must be valid.
pub fn desired(spec: &str) -> Desired {
    ferry_testkit::builders::desired(spec, &ContainerInstances)
}

/// `spec.azure` of the tests' ProviderConfig.
pub fn config() -> AzureProviderConfig {
    AzureProviderConfig {
        subscription_id: SUBSCRIPTION.into(),
        resource_group: "prod-rg".into(),
        location: "westeurope".into(),
        container_apps_environment: None,
        credentials: None,
        endpoint: None,
    }
}

/// Every Secret key `want` copies, with a made-up value and version.
pub fn secrets_of(want: &Desired) -> BTreeMap<build::SecretKey, SecretValue> {
    build::kubernetes_secrets(want)
        .into_iter()
        .map(|(name, key)| {
            let value = format!("value-of-{name}-{key}");
            (
                (name, key),
                SecretValue {
                    value: Some(value),
                    version: "41".into(),
                },
            )
        })
        .collect()
}

/// The PUT for `spec`.
pub fn request(spec: &str) -> Request {
    let want = desired(spec);
    build::request(&want, &config(), &secrets_of(&want)).unwrap_or_else(|e| panic!("{e}"))
}
