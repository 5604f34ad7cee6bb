//! A managed environment's storages (ManagedEnvironmentsStorages, which an environment's owner
//! creates and an azureFile volume of a container app names), and what ARM never answers of a
//! container group's volumes.

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::{GROUP, assert_fits, fake, get, group, put, refusal, send, wait};

#[tokio::test]
async fn a_storage_is_put_read_without_its_account_key_and_deleted() {
    let fake = fake().await;
    let subscription = fake.subscription("storage-crud");
    let url = subscription.environment_storage_url(GROUP, "env", "files");
    let missing = get(fake, &url).await;
    assert_eq!(
        refusal(&missing, StatusCode::NOT_FOUND).code,
        "ResourceNotFound"
    );

    let body = json!({"properties": {"azureFile": {
        "accountName": "acmefiles", "accountKey": "a2V5", "shareName": "files",
        "accessMode": "ReadOnly",
    }}});
    let created = put(fake, &url, &body).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        created.header("azure-asyncoperation"),
        None,
        "not long-running"
    );
    let read = get(fake, &url).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_fits(fake, "ManagedEnvironmentsStorages_Get", &read).await;
    assert_eq!(
        read.body["properties"]["azureFile"],
        json!({"accountName": "acmefiles", "shareName": "files", "accessMode": "ReadOnly"}),
        "accountKey is x-ms-secret"
    );
    assert_eq!(
        read.body["type"],
        "Microsoft.App/managedEnvironments/storages"
    );
    assert!(
        read.body["id"]
            .as_str()
            .unwrap()
            .ends_with("/managedEnvironments/env/storages/files")
    );
    // The same storage again: 200, a change of mode kept.
    let mut again = body.clone();
    again["properties"]["azureFile"]["accessMode"] = json!("ReadWrite");
    assert_eq!(put(fake, &url, &again).await.status, StatusCode::OK);
    assert_eq!(
        get(fake, &url).await.body["properties"]["azureFile"]["accessMode"],
        "ReadWrite"
    );

    let deleted = send(fake, Method::DELETE, &url, None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(get(fake, &url).await.status, StatusCode::NOT_FOUND);
    let again = send(fake, Method::DELETE, &url, None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_storage_body_is_checked_against_the_definitions() {
    let fake = fake().await;
    let subscription = fake.subscription("storage-strict");
    let url = subscription.environment_storage_url(GROUP, "env", "files");
    let unknown = json!({"properties": {"azureFile": {"accountName": "a", "shareName": "s",
        "readOnly": true}}});
    let error = refusal(
        &send(fake, Method::PUT, &url, Some(&unknown)).await,
        StatusCode::BAD_REQUEST,
    );
    assert_eq!(
        error.target.as_deref(),
        Some("properties.azureFile.readOnly")
    );
    let mode = json!({"properties": {"azureFile": {"accountName": "a", "shareName": "s",
        "accessMode": "readonly"}}});
    let error = refusal(
        &send(fake, Method::PUT, &url, Some(&mode)).await,
        StatusCode::BAD_REQUEST,
    );
    assert_eq!(
        error.target.as_deref(),
        Some("properties.azureFile.accessMode")
    );
    let neither = json!({"properties": {}});
    refusal(
        &send(fake, Method::PUT, &url, Some(&neither)).await,
        StatusCode::BAD_REQUEST,
    );
    assert_eq!(get(fake, &url).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_group_is_answered_without_account_keys_secure_values_or_secret_files() {
    let fake = fake().await;
    let subscription = fake.subscription("group-secrets");
    let url = subscription.container_group_url(GROUP, "web");
    let mut body = group("nginx:1");
    let properties = &mut body["properties"];
    properties["containers"][0]["properties"]["environmentVariables"] =
        json!([{"name": "PLAIN", "value": "1"}, {"name": "KEY", "secureValue": "s3cret"}]);
    properties["containers"][0]["properties"]["volumeMounts"] = json!([
        {"name": "files", "mountPath": "/mnt/files", "readOnly": true},
        {"name": "config", "mountPath": "/etc/app"},
        {"name": "scratch", "mountPath": "/scratch"},
    ]);
    properties["volumes"] = json!([
        {"name": "files", "azureFile": {"shareName": "files", "storageAccountName": "acmefiles",
            "storageAccountKey": "a2V5", "readOnly": true}},
        {"name": "config", "secret": {"app.json": "e30="}},
        {"name": "scratch", "emptyDir": {}},
    ]);
    let created = put(fake, &url, &body).await;
    assert_fits(fake, "ContainerGroups_CreateOrUpdate", &created).await;
    wait(fake, &created).await;
    let read = get(fake, &url).await;
    assert_fits(fake, "ContainerGroups_Get", &read).await;
    for answer in [created, read] {
        let properties = &answer.body["properties"];
        assert_eq!(
            properties["volumes"],
            json!([
                {"name": "files", "azureFile": {"shareName": "files",
                    "storageAccountName": "acmefiles", "readOnly": true}},
                {"name": "config", "secret": {}},
                {"name": "scratch", "emptyDir": {}},
            ])
        );
        assert_eq!(
            properties["containers"][0]["properties"]["environmentVariables"],
            json!([{"name": "PLAIN", "value": "1"}, {"name": "KEY"}])
        );
        assert!(!answer.body.to_string().contains("s3cret"));
    }
}
