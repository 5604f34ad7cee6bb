//! Request bodies, the published examples, and polling.

use azure_fake::{Answer, ArmError, AzureFake, specs_dir};
use http::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) const GROUP: &str = "rg";
pub(crate) const ENVIRONMENT: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/\
    resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env";

pub(crate) async fn fake() -> &'static AzureFake {
    AzureFake::shared().await.unwrap()
}

/// The `parameters` of a published example, read in place from the shared azure-specs.
pub(crate) fn example(relative: &str) -> Value {
    let path = specs_dir().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error} (set FERRY_SHARED_DIR)", path.display()));
    serde_json::from_str::<Value>(&text).unwrap()["parameters"].clone()
}

pub(crate) const APP_EXAMPLE: &str = "app/resource-manager/Microsoft.App/ContainerApps/stable/\
    2026-01-01/examples/ContainerApps_CreateOrUpdate.json";
pub(crate) const GROUP_EXAMPLE: &str = "containerinstance/resource-manager/\
    Microsoft.ContainerInstance/ContainerInstance/stable/2026-05-01/examples/\
    ContainerGroupsCreateOrUpdate.json";

/// A container app in Single mode with external ingress, running `image` with `suffix`.
pub(crate) fn app(image: &str, suffix: &str) -> Value {
    json!({
        "location": "westeurope",
        "tags": {"owner": "ferry"},
        "properties": {
            "environmentId": ENVIRONMENT,
            "configuration": {"ingress": {"external": true, "targetPort": 8080}},
            "template": {
                "revisionSuffix": suffix,
                "containers": [{"name": "web", "image": image}],
            },
        },
    })
}

/// A Linux container group of one container running `image`, with a public IP and a DNS label.
pub(crate) fn group(image: &str) -> Value {
    json!({
        "location": "West Europe",
        "properties": {
            "osType": "Linux",
            "containers": [{
                "name": "web",
                "properties": {
                    "image": image,
                    "ports": [{"port": 80}],
                    "resources": {"requests": {"cpu": 1.0, "memoryInGB": 1.5}},
                },
            }],
            "ipAddress": {"type": "Public", "dnsNameLabel": "ferry-web", "ports": [{"port": 80}]},
        },
    })
}

pub(crate) async fn send(
    fake: &AzureFake,
    method: Method,
    url: &str,
    body: Option<&Value>,
) -> Answer {
    fake.send_raw(method, url, body).await.unwrap()
}

pub(crate) async fn get(fake: &AzureFake, url: &str) -> Answer {
    send(fake, Method::GET, url, None).await
}

pub(crate) async fn put(fake: &AzureFake, url: &str, body: &Value) -> Answer {
    let answer = send(fake, Method::PUT, url, Some(body)).await;
    assert!(
        answer.status == StatusCode::CREATED || answer.status == StatusCode::OK,
        "{answer:?}\n{}",
        fake.log()
    );
    answer
}

/// Polls the answer's `Azure-AsyncOperation` until the operation is no longer `InProgress`:
/// the final operation status and how many polls it took.
pub(crate) async fn wait(fake: &AzureFake, answer: &Answer) -> (Value, usize) {
    let url = answer
        .header("azure-asyncoperation")
        .unwrap_or_else(|| panic!("no Azure-AsyncOperation: {answer:?}"))
        .to_owned();
    for polls in 1..=10 {
        let status = fake.follow(&url).await.unwrap();
        assert_eq!(status.status, StatusCode::OK, "{status:?}");
        if status.body["status"] != "InProgress" {
            return (status.body, polls);
        }
    }
    panic!("{url} still in progress after 10 polls");
}

/// The ARM error of a refusal with `status`.
pub(crate) fn refusal(answer: &Answer, status: StatusCode) -> ArmError {
    assert_eq!(answer.status, status, "{answer:?}");
    answer
        .arm_error()
        .unwrap_or_else(|| panic!("not an ARM error: {answer:?}"))
}

/// Checks an answer's body against the response definition of `operation`.
pub(crate) async fn assert_fits(fake: &AzureFake, operation: &str, answer: &Answer) {
    let violation = fake
        .check_response(operation, answer.status.as_u16(), &answer.body)
        .await
        .unwrap();
    assert_eq!(violation, None, "{operation} answer {}", answer.body);
}
