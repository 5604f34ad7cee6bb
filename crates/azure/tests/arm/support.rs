//! Shared helpers: the fake, ProviderConfigs pointing at it, request bodies.

use std::time::Duration;

use azure_fake::{AzureFake, CONTAINER_APPS_API_VERSION};
use ferry_api::{AzureProviderConfig, Credentials, CredentialsSource};
use ferry_azure::{Arm, ArmSettings, resource_id};
use serde_json::{Value, json};

pub(crate) const GROUP: &str = "rg";
pub(crate) const APPS_API: &str = CONTAINER_APPS_API_VERSION;
pub(crate) const TENANT: &str = "11111111-2222-3333-4444-555555555555";

pub(crate) async fn fake() -> &'static AzureFake {
    AzureFake::shared().await.unwrap()
}

/// Quick retries, so fault tests take milliseconds.
pub(crate) fn settings() -> ArmSettings {
    ArmSettings {
        attempts: 3,
        call_timeout: Duration::from_secs(10),
        attempt_timeout: Duration::from_secs(5),
        backoff: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(2),
    }
}

pub(crate) fn config(
    fake: &AzureFake,
    subscription: &str,
    source: CredentialsSource,
) -> AzureProviderConfig {
    AzureProviderConfig {
        subscription_id: subscription.to_owned(),
        resource_group: GROUP.to_owned(),
        location: "westeurope".to_owned(),
        container_apps_environment: None,
        credentials: Some(Credentials {
            source,
            secret_ref: None,
        }),
        endpoint: Some(fake.endpoint()),
    }
}

/// An anonymous client of the fake in `subscription` (a subscription id).
pub(crate) fn anonymous(fake: &AzureFake, subscription: &str) -> Arm {
    Arm::new(
        &config(fake, subscription, CredentialsSource::Anonymous),
        None,
        &settings(),
    )
    .unwrap()
}

pub(crate) fn app_id(subscription: &str, name: &str) -> String {
    resource_id(subscription, GROUP, "Microsoft.App/containerApps", name)
}

/// A container app running `image`.
pub(crate) fn app(subscription: &str, image: &str) -> Value {
    json!({
        "location": "westeurope",
        "tags": {"ferry-uid": "0b9f3c1e-0000-4000-8000-000000000001", "managed-by": "ferry"},
        "properties": {
            "environmentId": format!(
                "/subscriptions/{subscription}/resourceGroups/{GROUP}/providers/Microsoft.App/managedEnvironments/env"
            ),
            "configuration": {"ingress": {"external": true, "targetPort": 8080}},
            "template": {"containers": [{"name": "web", "image": image}]},
        },
    })
}
