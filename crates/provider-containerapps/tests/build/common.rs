//! Helpers: Container Apps specs from inline YAML (validated as the controller validates them),
//! their requests under the example ProviderConfig, and the fake ARM's strict check of a body.

use std::path::PathBuf;

use azure_fake::AzureFake;
use ferry_api::{AzureProviderConfig, ProviderConfig};
use ferry_core::Invalid;
use ferry_core::desired::{Desired, ObjectRef};
use ferry_provider_containerapps::ContainerApps;
use ferry_provider_containerapps::build::{self, Requests, SecretValue, SecretValues};
use ferry_provider_containerapps::model::ContainerAppsModel;
use ferry_testkit::builders::{self, simple_spec};
pub(crate) use ferry_testkit::builders::{UID, serverless_service};
use serde_json::Value;

/// The operation whose request body Ferry sends.
pub(crate) const CREATE_OR_UPDATE: &str = "ContainerApps_CreateOrUpdate";

pub(crate) fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The desired model for `spec` (YAML), validated by this backend's rules.
pub(crate) fn desired(spec: &str) -> Desired {
    builders::desired(spec, &ContainerApps)
}

/// A single-container Container Apps spec with `extra` spec fields and `container` fields added
/// to `name: app, image: ..., port: 8080`.
pub(crate) fn simple(container: &str, extra: &str) -> String {
    simple_spec(
        "containerApps",
        "acmeprod.azurecr.io/hello:1.4.2",
        container,
        extra,
    )
}

/// The example in deploy/examples/ and the ProviderConfig it names: (ServerlessService,
/// ProviderConfig).
pub(crate) fn example() -> (ferry_api::ServerlessService, ProviderConfig) {
    (
        read("containerapps-hello.yaml"),
        read("providerconfig-azure.yaml"),
    )
}

fn read<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let text = std::fs::read_to_string(ferry_testkit::builders::examples_dir().join(file));
    serde_saphyr::from_str(&text.unwrap()).unwrap()
}

/// `spec.azure` of the example's ProviderConfig `azure-prod`.
pub(crate) fn config() -> AzureProviderConfig {
    example().1.spec.azure.unwrap()
}

/// A value for every copied secret of `desired`.
pub(crate) fn values_for(desired: &Desired) -> SecretValues {
    values_of(build::model(desired).unwrap())
}

/// A value for every copied secret of `model`.
pub(crate) fn values_of(model: &ContainerAppsModel) -> SecretValues {
    model
        .secrets
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                SecretValue {
                    value: format!("value of {}", s.name),
                    version: "1".into(),
                },
            )
        })
        .collect()
}

/// The requests for `desired` under the example ProviderConfig.
pub(crate) fn requests_for(desired: &Desired) -> Requests {
    build::requests(desired, &config(), &values_for(desired)).unwrap()
}

/// The requests for `spec`.
pub(crate) fn requests(spec: &str) -> Requests {
    requests_for(&desired(spec))
}

/// The fake ARM, for its checks.
pub(crate) async fn fake() -> &'static AzureFake {
    AzureFake::shared().await.unwrap()
}

/// Fails unless Microsoft's definitions take `body` as a container app PUT.
pub(crate) async fn assert_valid_body(body: &Value) {
    if let Some(violation) = fake()
        .await
        .check_request(CREATE_OR_UPDATE, body)
        .await
        .unwrap()
    {
        panic!(
            "the definitions refuse the body: {violation:?}\n{}",
            serde_json::to_string_pretty(body).unwrap()
        );
    }
}

/// The errors validation reports for `spec`, as `field: message`.
pub(crate) fn refusals(spec: &str) -> Vec<String> {
    let svc = serverless_service(spec);
    let object = ObjectRef {
        namespace: "shop".into(),
        name: "hello".into(),
        uid: Some(UID.into()),
        generation: None,
    };
    match ferry_core::validate_spec(object, &svc.spec, &ContainerApps) {
        Ok(_) => Vec::new(),
        Err(invalid) => refusal_lines(&invalid),
    }
}

/// Each error of `invalid` as `field: message`.
pub(crate) fn refusal_lines(invalid: &Invalid) -> Vec<String> {
    invalid
        .errors
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect()
}

/// The warnings validation reports for a valid `spec`.
pub(crate) fn warnings(spec: &str) -> Vec<String> {
    let svc = serverless_service(spec);
    ferry_core::validate(&svc, &ContainerApps)
        .unwrap()
        .warnings
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect()
}
