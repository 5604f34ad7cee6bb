//! Container groups: the long-running operations, instance views, failing images, deletes.

use azure_fake::ImageBehaviour;
use http::{Method, StatusCode};
use serde_json::json;

use crate::support::{GROUP, assert_fits, fake, get, group, put, refusal, send, wait};

#[tokio::test]
async fn create_goes_pending_creating_succeeded_and_reports_address_and_instance_view() {
    let fake = fake().await;
    let polls = fake.options().operation_polls;
    let subscription = fake.subscription("group-create");
    let url = subscription.container_group_url(GROUP, "web");

    let created = put(fake, &url, &group("nginx:1")).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["properties"]["provisioningState"], "Pending");
    assert_eq!(
        created.body["properties"]["instanceView"]["state"],
        "Pending"
    );
    let operation = created.header("azure-asyncoperation").unwrap();
    assert!(
        operation
            .contains("/providers/Microsoft.ContainerInstance/locations/westeurope/operations/")
            && operation.ends_with("?api-version=2026-05-01"),
        "{operation}"
    );
    assert!(
        created
            .header("location")
            .unwrap()
            .contains("/operationResults/")
    );
    let mut states = Vec::new();
    for _ in 0..polls {
        let read = get(fake, &url).await;
        assert_fits(fake, "ContainerGroups_Get", &read).await;
        states.push(read.body["properties"]["provisioningState"].clone());
    }
    let mut expected = vec![json!("Creating"); polls - 1];
    expected.push(json!("Succeeded"));
    assert_eq!(states, expected);

    let read = get(fake, &url).await;
    let properties = &read.body["properties"];
    assert_eq!(
        properties["ipAddress"]["fqdn"],
        "ferry-web.westeurope.azurecontainer.io"
    );
    assert!(
        properties["ipAddress"]["ip"]
            .as_str()
            .unwrap()
            .starts_with("20.")
    );
    assert_eq!(properties["instanceView"]["state"], "Running");
    let container = &properties["containers"][0]["properties"]["instanceView"];
    assert_eq!(container["currentState"]["state"], "Running");
    assert_eq!(container["restartCount"], 0);
    assert!(!container["events"].as_array().unwrap().is_empty());
    assert_eq!(
        properties["restartPolicy"], "Always",
        "ACI's default is answered"
    );
    assert_eq!(
        read.body["type"],
        "Microsoft.ContainerInstance/containerGroups"
    );

    let list = get(
        fake,
        &format!(
            "/subscriptions/{}/providers/Microsoft.ContainerInstance/containerGroups\
             ?api-version=2026-05-01",
            subscription.id()
        ),
    )
    .await;
    assert_fits(fake, "ContainerGroups_List", &list).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_location_url_answers_the_group_once_done() {
    let fake = fake().await;
    let subscription = fake.subscription("group-location");
    let url = subscription.container_group_url(GROUP, "web");
    let created = put(fake, &url, &group("nginx:1")).await;
    let location = created.header("location").unwrap().to_owned();

    let mut statuses = Vec::new();
    let answer = loop {
        let answer = fake.follow(&location).await.unwrap();
        statuses.push(answer.status);
        if answer.status != StatusCode::ACCEPTED {
            break answer;
        }
    };

    assert_eq!(statuses.len(), fake.options().operation_polls);
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["properties"]["provisioningState"], "Succeeded");
}

#[tokio::test]
async fn a_missing_image_fails_the_deployment_as_inaccessible() {
    let fake = fake().await;
    let subscription = fake.subscription("group-missing-image");
    subscription
        .set_image("registry.example/web:gone", ImageBehaviour::Missing)
        .await
        .unwrap();
    let url = subscription.container_group_url(GROUP, "web");

    let (status, _) = wait(
        fake,
        &put(fake, &url, &group("registry.example/web:gone")).await,
    )
    .await;

    assert_eq!(status["status"], "Failed");
    assert_eq!(status["error"]["code"], "InaccessibleImage");
    assert_eq!(
        status["error"]["message"],
        "The image 'registry.example/web:gone' in container group 'web' is not accessible. \
         Please check the image and registry credential."
    );
    let read = get(fake, &url).await;
    assert_eq!(read.body["properties"]["provisioningState"], "Failed");
    let view = &read.body["properties"]["containers"][0]["properties"]["instanceView"];
    assert_eq!(view["currentState"]["state"], "Waiting");
    assert!(
        view["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["name"] == "Failed"),
        "{view}"
    );
}

#[tokio::test]
async fn a_crashing_image_runs_and_restarts_ever_more() {
    let fake = fake().await;
    let subscription = fake.subscription("group-crashing");
    subscription
        .set_image("registry.example/web:crash", ImageBehaviour::Crashing)
        .await
        .unwrap();
    let url = subscription.container_group_url(GROUP, "web");
    let (status, _) = wait(
        fake,
        &put(fake, &url, &group("registry.example/web:crash")).await,
    )
    .await;
    assert_eq!(status["status"], "Succeeded");

    let restarts = |read: &azure_fake::Answer| {
        read.body["properties"]["containers"][0]["properties"]["instanceView"]["restartCount"]
            .as_i64()
            .unwrap()
    };
    let first = get(fake, &url).await;
    let second = get(fake, &url).await;

    assert!(
        restarts(&second) > restarts(&first),
        "restarts grow with every look"
    );
    let view = &second.body["properties"]["containers"][0]["properties"]["instanceView"];
    assert_eq!(view["currentState"]["state"], "Waiting");
    assert_eq!(
        view["currentState"]["detailStatus"],
        "CrashLoopBackOff: Back-off restarting failed"
    );
    assert_eq!(view["previousState"]["exitCode"], 1);
    assert_eq!(second.body["properties"]["provisioningState"], "Succeeded");
    assert_fits(fake, "ContainerGroups_Get", &second).await;
}

#[tokio::test]
async fn an_update_answers_200_and_goes_pending_updating() {
    let fake = fake().await;
    let subscription = fake.subscription("group-update");
    let url = subscription.container_group_url(GROUP, "web");
    wait(fake, &put(fake, &url, &group("nginx:1")).await).await;

    let updated = put(fake, &url, &group("nginx:2")).await;

    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["properties"]["provisioningState"], "Pending");
    if fake.options().operation_polls > 1 {
        assert_eq!(
            get(fake, &url).await.body["properties"]["provisioningState"],
            "Updating"
        );
    }
    let again = send(fake, Method::PUT, &url, Some(&group("nginx:3"))).await;
    assert_eq!(
        refusal(&again, StatusCode::CONFLICT).code,
        "ContainerGroupTransitioning"
    );
}

#[tokio::test]
async fn delete_answers_202_then_the_group_is_gone() {
    let fake = fake().await;
    let subscription = fake.subscription("group-delete");
    let url = subscription.container_group_url(GROUP, "web");
    wait(fake, &put(fake, &url, &group("nginx:1")).await).await;

    let deleted = send(fake, Method::DELETE, &url, None).await;

    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    let (status, polls) = wait(fake, &deleted).await;
    assert_eq!(
        (status["status"].as_str(), polls),
        (Some("Succeeded"), fake.options().operation_polls)
    );
    assert_eq!(
        refusal(&get(fake, &url).await, StatusCode::NOT_FOUND).code,
        "ResourceNotFound"
    );
    assert_eq!(
        send(fake, Method::DELETE, &url, None).await.status,
        StatusCode::NO_CONTENT
    );
}
