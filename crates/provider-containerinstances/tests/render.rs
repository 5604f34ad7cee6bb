//! `ferry render` for Container Instances: the example's request (method, ARM path with its
//! api-version, body) parses strictly against Microsoft's definitions, with and without its
//! ProviderConfig; values copied from Secrets are placeholders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use azure_fake::AzureFake;
use ferry_api::{ProviderConfig, ServerlessService};
use ferry_provider::backend::Backend;
use ferry_provider_containerinstances::ContainerInstances;
use serde_json::Value;

const EXAMPLE: &str = include_str!("../../../deploy/examples/containerinstances-hello.yaml");
const PROVIDER_CONFIG: &str = include_str!("../../../deploy/examples/providerconfig-azure.yaml");

fn example() -> (ServerlessService, ProviderConfig) {
    let mut svc: ServerlessService = serde_saphyr::from_str(EXAMPLE).unwrap();
    svc.metadata.uid = Some(ferry_testkit::builders::UID.into());
    let config: ProviderConfig = serde_saphyr::from_str(PROVIDER_CONFIG).unwrap();
    (svc, config)
}

fn rendered(config: Option<&ProviderConfig>) -> (String, Value) {
    let (svc, _) = example();
    let desired = ferry_testkit::builders::desired_of(&svc, &ContainerInstances);
    let out = ContainerInstances
        .render(&desired, "azure-prod", config.map(|c| &c.spec))
        .unwrap();
    (out.comment, serde_json::from_str(&out.body).unwrap())
}

#[tokio::test]
async fn the_example_renders_a_put_microsofts_definitions_accept() {
    let fake = AzureFake::shared().await.unwrap();
    let (_, config) = example();
    for config in [Some(&config), None] {
        let (comment, request) = rendered(config);
        assert_eq!(request["method"], "PUT");
        let violation = fake
            .check_request("ContainerGroups_CreateOrUpdate", &request["body"])
            .await
            .unwrap();
        assert_eq!(violation, None, "{comment}\n{request:#}");
    }
    let (comment, request) = rendered(Some(&config));
    assert_eq!(
        request["path"],
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod-rg/providers/\
         Microsoft.ContainerInstance/containerGroups/shop-hello-cd5cea3a?api-version=2026-05-01"
    );
    assert!(!comment.contains("placeholders:"), "{comment}");
    let env = &request["body"]["properties"]["containers"][0]["properties"]["environmentVariables"];
    assert_eq!(
        env[1]["secureValue"],
        "<value of key password of Secret shop/db>"
    );
    assert_eq!(env[2]["secureValueReference"], "api-key");
}

#[test]
fn without_its_provider_config_the_render_says_what_is_a_placeholder() {
    let (comment, request) = rendered(None);
    assert!(
        comment.contains("ProviderConfig azure-prod is not in the files given"),
        "{comment}"
    );
    assert_eq!(
        request["body"]["location"],
        "<location of ProviderConfig azure-prod>"
    );
    assert!(
        request["path"]
            .as_str()
            .unwrap()
            .starts_with("/subscriptions/<subscriptionId of ProviderConfig azure-prod>/")
    );
}
