//! GET, PUT, DELETE, list and long-running operations, as the fake answers them.

use azure_fake::{CONTAINER_INSTANCES_API_VERSION, ImageBehaviour};
use ferry_azure::{Operation, OperationKind, OperationStatus, Recorded, resource_id};
use http::Method;
use serde_json::json;

use crate::support::{APPS_API, GROUP, anonymous, app, app_id, fake};

/// Polls until the operation is no longer in progress (the fake finishes after 2 looks).
async fn settle(arm: &ferry_azure::Arm, operation: &Operation) -> (OperationStatus, usize) {
    for polls in 1..=5 {
        let status = arm.poll(operation).await.unwrap();
        if status != OperationStatus::InProgress {
            return (status, polls);
        }
    }
    panic!("{operation:?} still in progress after 5 polls");
}

#[tokio::test]
async fn a_container_app_is_created_read_listed_and_deleted() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-lifecycle");
    let arm = anonymous(fake, subscription.id());
    assert_eq!(arm.subscription_id(), subscription.id());
    let id = app_id(subscription.id(), "web");

    assert_eq!(arm.get(&id, APPS_API).await.unwrap(), None);

    let created = arm
        .put(&id, APPS_API, &app(subscription.id(), "nginx"))
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    assert!(!created.gone);
    assert_eq!(created.retry_after, Some(std::time::Duration::ZERO));
    let body = created.body.unwrap();
    assert_eq!(body["properties"]["provisioningState"], "InProgress");
    let operation = created.operation.unwrap();
    assert_eq!(operation.kind(), OperationKind::AsyncOperation);
    assert!(!operation.is_delete());

    // What status.operation keeps, read back by a later reconcile.
    let stored = operation.encode();
    let operation = Operation::decode(&stored).unwrap();
    assert_eq!(
        settle(&arm, &operation).await,
        (OperationStatus::Succeeded, 2)
    );

    let read = arm.get(&id, APPS_API).await.unwrap().unwrap();
    assert_eq!(read["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        read["tags"]["ferry-uid"],
        "0b9f3c1e-0000-4000-8000-000000000001"
    );

    let collection = format!(
        "/subscriptions/{}/resourceGroups/{GROUP}/providers/Microsoft.App/containerApps",
        subscription.id()
    );
    let listed = arm.list(&collection, APPS_API).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "web");

    let deleting = arm.delete(&id, APPS_API).await.unwrap();
    assert_eq!(deleting.status, 202);
    assert!(!deleting.gone);
    let operation = deleting.operation.unwrap();
    assert!(operation.is_delete());
    assert_eq!(settle(&arm, &operation).await.0, OperationStatus::Succeeded);
    assert_eq!(arm.get(&id, APPS_API).await.unwrap(), None);

    let again = arm.delete(&id, APPS_API).await.unwrap();
    assert_eq!(
        (again.status, again.gone, again.operation),
        (204, true, None)
    );
    assert!(arm.list(&collection, APPS_API).await.unwrap().is_empty());

    // Every call carried its api-version.
    for call in subscription.requests().await.unwrap() {
        assert!(call.param("api-version").is_some(), "{call:?}");
    }
}

#[tokio::test]
async fn a_failed_deployment_polls_to_failed_with_the_error() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-failed-operation");
    subscription
        .set_image("registry.example/missing:1", ImageBehaviour::Missing)
        .await
        .unwrap();
    let arm = anonymous(fake, subscription.id());
    let id = app_id(subscription.id(), "broken");
    let accepted = arm
        .put(
            &id,
            APPS_API,
            &app(subscription.id(), "registry.example/missing:1"),
        )
        .await
        .unwrap();
    let (status, _) = settle(&arm, accepted.operation.as_ref().unwrap()).await;
    match status {
        OperationStatus::Failed { code, message } => {
            assert_eq!(code, "ContainerAppOperationError");
            assert!(message.contains("MANIFEST_UNKNOWN"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let read = arm.get(&id, APPS_API).await.unwrap().unwrap();
    assert_eq!(read["properties"]["provisioningState"], "Failed");
}

#[tokio::test]
async fn the_recorded_operation_is_polled_once_per_look() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-recorded");
    subscription
        .set_image("registry.example/missing:2", ImageBehaviour::Missing)
        .await
        .unwrap();
    let arm = anonymous(fake, subscription.id());

    // Nothing recorded, or another backend's string: done, without a request.
    assert_eq!(arm.poll_recorded(None).await.unwrap(), Recorded::Done);
    let cloud_run = "projects/p/locations/us-central1/operations/1";
    assert_eq!(
        arm.poll_recorded(Some(cloud_run)).await.unwrap(),
        Recorded::Done
    );
    assert!(subscription.requests().await.unwrap().is_empty());

    let put = |name: &'static str, image: &'static str| {
        let arm = arm.clone();
        let body = app(subscription.id(), image);
        let id = app_id(subscription.id(), name);
        async move { arm.put(&id, APPS_API, &body).await.unwrap() }
    };
    let started = put("recorded", "nginx").await.operation.unwrap().encode();
    // The fake finishes after two looks.
    assert_eq!(
        arm.poll_recorded(Some(&started)).await.unwrap(),
        Recorded::Running
    );
    assert_eq!(
        arm.poll_recorded(Some(&started)).await.unwrap(),
        Recorded::Done
    );

    let failing = put("recorded-broken", "registry.example/missing:2")
        .await
        .operation
        .unwrap()
        .encode();
    let mut looks = 0;
    let failed = loop {
        looks += 1;
        assert!(looks <= 5, "still running after 5 looks");
        match arm.poll_recorded(Some(&failing)).await.unwrap() {
            Recorded::Running => {}
            other => break other,
        }
    };
    assert!(
        matches!(&failed, Recorded::Failed { code, .. } if code == "ContainerAppOperationError"),
        "{failed:?}"
    );
}

#[tokio::test]
async fn location_urls_answer_202_while_running_and_404_once_deleted() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-location");
    let arm = anonymous(fake, subscription.id());
    let id = resource_id(
        subscription.id(),
        GROUP,
        "Microsoft.ContainerInstance/containerGroups",
        "group",
    );
    let group = json!({
        "location": "westeurope",
        "properties": {
            "osType": "Linux",
            "containers": [{"name": "web", "properties": {
                "image": "nginx", "resources": {"requests": {"cpu": 1.0, "memoryInGB": 1.5}}}}],
        },
    });
    let created = arm
        .put(&id, CONTAINER_INSTANCES_API_VERSION, &group)
        .await
        .unwrap();
    assert_eq!(
        settle(&arm, created.operation.as_ref().unwrap()).await.0,
        OperationStatus::Succeeded
    );

    // The DELETE's Location, as a client that kept only that one would poll it.
    let answer = fake
        .send_raw(
            Method::DELETE,
            &format!("{id}?api-version={CONTAINER_INSTANCES_API_VERSION}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(answer.status, http::StatusCode::ACCEPTED);
    let location = answer.header("location").unwrap().to_owned();
    let operation = Operation::new(OperationKind::Location, true, location);
    assert_eq!(
        arm.poll(&operation).await.unwrap(),
        OperationStatus::InProgress
    );
    assert_eq!(
        arm.poll(&operation).await.unwrap(),
        OperationStatus::Succeeded
    );
    assert_eq!(
        arm.get(&id, CONTAINER_INSTANCES_API_VERSION).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_body_arm_refuses_is_terminal_invalid_spec_with_the_code() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-invalid-body");
    let arm = anonymous(fake, subscription.id());
    let mut body = app(subscription.id(), "nginx");
    body["properties"]["template"]["containers"][0]["imagee"] = json!("typo");
    let error = arm
        .put(&app_id(subscription.id(), "web"), APPS_API, &body)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "InvalidSpec");
    assert!(error.is_terminal());
    let arm_error = ferry_azure::arm_error_of(&error).unwrap();
    assert_eq!(arm_error.status, 400);
    assert_eq!(arm_error.code, "InvalidRequestContent");
    assert_eq!(
        arm_error.target.as_deref(),
        Some("properties.template.containers[0].imagee")
    );
    assert_eq!(
        subscription
            .writes()
            .await
            .unwrap()
            .get("ContainerApps_CreateOrUpdate"),
        Some(&1),
        "refused, not retried"
    );
}

#[tokio::test]
async fn operation_urls_off_the_endpoint_are_not_followed() {
    let fake = fake().await;
    let arm = anonymous(fake, fake.subscription("arm-foreign-operation").id());
    let foreign = Operation::new(
        OperationKind::AsyncOperation,
        false,
        "https://attacker.example/op?api-version=1",
    );
    let error = arm.poll(&foreign).await.unwrap_err();
    assert!(error.is_terminal());
    assert!(
        error
            .to_string()
            .contains("not on the Resource Manager endpoint"),
        "{error}"
    );
}

#[tokio::test]
async fn check_reads_the_resource_group() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-check");
    let arm = anonymous(fake, subscription.id());
    let answer = arm.check().await.unwrap();
    assert!(
        answer.contains("resource group rg (westeurope)"),
        "{answer}"
    );
    assert_eq!(
        subscription
            .calls()
            .await
            .unwrap()
            .get("ResourceGroups_Get"),
        Some(&1)
    );
}
