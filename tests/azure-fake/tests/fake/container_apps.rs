//! Container apps: the long-running operations, revisions per template change, Single and
//! Multiple modes, failing images, deletes.

use azure_fake::ImageBehaviour;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{GROUP, app, assert_fits, fake, get, put, refusal, send, wait};

fn revision_states(list: &Value) -> Vec<(String, bool, i64, String)> {
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|revision| {
            let properties = &revision["properties"];
            (
                revision["name"].as_str().unwrap().to_owned(),
                properties["active"].as_bool().unwrap(),
                properties["trafficWeight"].as_i64().unwrap(),
                properties["runningState"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn create_answers_201_in_progress_and_succeeds_after_exactly_n_polls() {
    let fake = fake().await;
    let polls = fake.options().operation_polls;
    let subscription = fake.subscription("app-create");
    let url = subscription.container_app_url(GROUP, "web");

    let created = put(fake, &url, &app("nginx:1", "v1")).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        created.body["properties"]["provisioningState"],
        "InProgress"
    );
    assert_eq!(created.header("retry-after"), Some("0"));
    let operation = created.header("azure-asyncoperation").unwrap().to_owned();
    assert!(
        operation.starts_with(&format!(
            "{}/subscriptions/{}/providers/Microsoft.App/locations/westeurope/\
             containerappOperationStatuses/",
            fake.endpoint(),
            subscription.id()
        )),
        "{operation}"
    );
    assert!(
        operation.ends_with("?api-version=2026-01-01"),
        "{operation}"
    );
    for poll in 1..polls {
        let status = fake.follow(&operation).await.unwrap();
        assert_eq!(status.body["status"], "InProgress", "poll {poll}");
        assert_fits_status(&status.body);
    }
    let done = fake.follow(&operation).await.unwrap();
    assert_eq!(done.body["status"], "Succeeded", "poll {polls}");
    assert!(done.body["endTime"].is_string());

    let read = get(fake, &url).await;
    assert_fits(fake, "ContainerApps_Get", &read).await;
    let properties = &read.body["properties"];
    assert_eq!(properties["provisioningState"], "Succeeded");
    assert_eq!(properties["runningStatus"], "Running");
    assert_eq!(properties["latestRevisionName"], "web--v1");
    assert_eq!(properties["latestReadyRevisionName"], "web--v1");
    let fqdn = properties["configuration"]["ingress"]["fqdn"]
        .as_str()
        .unwrap();
    assert!(fqdn.starts_with("web.env-") && fqdn.ends_with(".westeurope.azurecontainerapps.io"));
    assert_eq!(
        properties["latestRevisionFqdn"].as_str().unwrap(),
        fqdn.replacen("web.", "web--v1.", 1)
    );
    assert_eq!(read.body["id"], subscription.container_app(GROUP, "web"));
    assert_eq!(read.body["type"], "Microsoft.App/containerApps");
    assert_eq!(read.body["systemData"]["createdByType"], "User");
    assert_eq!(properties["configuration"]["activeRevisionsMode"], "Single");
    assert_eq!(
        properties["template"]["containers"][0]["resources"],
        json!({"cpu": 0.5, "memory": "1Gi", "ephemeralStorage": "2Gi"}),
        "Container Apps' defaults are answered"
    );
    assert!(
        !properties["outboundIpAddresses"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let calls = subscription.calls().await.unwrap();
    assert_eq!(calls.get("OperationStatus_Get"), Some(&polls));
    assert_eq!(
        subscription
            .writes()
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [("ContainerApps_CreateOrUpdate".to_owned(), 1)]
    );
}

fn assert_fits_status(body: &Value) {
    assert!(body["id"].as_str().unwrap().starts_with("/subscriptions/"));
    assert!(body["name"].is_string() && body["startTime"].is_string());
}

#[tokio::test]
async fn reading_the_app_also_moves_its_operation_on() {
    let fake = fake().await;
    let subscription = fake.subscription("app-read-progress");
    let url = subscription.container_app_url(GROUP, "web");
    put(fake, &url, &app("nginx:1", "v1")).await;

    let mut states = Vec::new();
    for _ in 0..fake.options().operation_polls {
        states.push(get(fake, &url).await.body["properties"]["provisioningState"].clone());
    }

    let mut expected = vec![json!("InProgress"); fake.options().operation_polls - 1];
    expected.push(json!("Succeeded"));
    assert_eq!(states, expected);
}

#[tokio::test]
async fn a_template_change_makes_a_revision_and_single_mode_deactivates_the_old_one() {
    let fake = fake().await;
    let subscription = fake.subscription("app-single");
    let url = subscription.container_app_url(GROUP, "web");
    wait(fake, &put(fake, &url, &app("nginx:1", "v1")).await).await;

    // The same template again (a tag changes): no new revision.
    let mut tagged = app("nginx:1", "v1");
    tagged["tags"]["team"] = json!("platform");
    let updated = put(fake, &url, &tagged).await;
    assert_eq!(updated.status, StatusCode::OK);
    wait(fake, &updated).await;
    let revisions = get(
        fake,
        &format!(
            "{}/revisions?api-version=2026-01-01",
            subscription.container_app(GROUP, "web")
        ),
    )
    .await;
    assert_eq!(revisions.body["value"].as_array().unwrap().len(), 1);

    let changed = put(fake, &url, &app("nginx:2", "v2")).await;
    assert_eq!(changed.body["properties"]["latestRevisionName"], "web--v2");
    assert_eq!(
        changed.body["properties"]["latestReadyRevisionName"], "web--v1",
        "the old revision serves until the new one is ready"
    );
    let (status, _) = wait(fake, &changed).await;
    assert_eq!(status["status"], "Succeeded");

    let revisions_url = format!(
        "{}/revisions?api-version=2026-01-01",
        subscription.container_app(GROUP, "web")
    );
    let revisions = get(fake, &revisions_url).await;
    assert_fits(fake, "ContainerAppsRevisions_ListRevisions", &revisions).await;
    assert_eq!(
        revision_states(&revisions.body),
        [
            ("web--v1".to_owned(), false, 0, "Stopped".to_owned()),
            ("web--v2".to_owned(), true, 100, "Running".to_owned()),
        ]
    );
    let one = get(
        fake,
        &format!(
            "{}/revisions/web--v2?api-version=2026-01-01",
            subscription.container_app(GROUP, "web")
        ),
    )
    .await;
    assert_fits(fake, "ContainerAppsRevisions_GetRevision", &one).await;
    assert_eq!(one.body["properties"]["healthState"], "Healthy");
    assert_eq!(one.body["properties"]["replicas"], 1);

    // Without a suffix, the fake names the revision itself.
    let mut unnamed = app("nginx:3", "");
    unnamed["properties"]["template"]
        .as_object_mut()
        .unwrap()
        .remove("revisionSuffix");
    let third = put(fake, &url, &unnamed).await;
    let name = third.body["properties"]["latestRevisionName"]
        .as_str()
        .unwrap();
    assert!(
        name.starts_with("web--") && name.len() == "web--".len() + 7,
        "{name}"
    );
}

#[tokio::test]
async fn a_reused_revision_suffix_with_another_template_is_refused() {
    let fake = fake().await;
    let subscription = fake.subscription("app-suffix");
    let url = subscription.container_app_url(GROUP, "web");
    wait(fake, &put(fake, &url, &app("nginx:1", "v1")).await).await;

    let answer = send(fake, Method::PUT, &url, Some(&app("nginx:2", "v1"))).await;

    let error = refusal(&answer, StatusCode::BAD_REQUEST);
    assert_eq!(
        error.target.as_deref(),
        Some("properties.template.revisionSuffix")
    );
}

#[tokio::test]
async fn multiple_mode_keeps_revisions_active_and_splits_traffic_by_weight() {
    let fake = fake().await;
    let subscription = fake.subscription("app-multiple");
    let url = subscription.container_app_url(GROUP, "web");
    let multiple = |image: &str, suffix: &str, traffic: Value| {
        let mut body = app(image, suffix);
        body["properties"]["configuration"]["activeRevisionsMode"] = json!("Multiple");
        body["properties"]["configuration"]["ingress"]["traffic"] = traffic;
        body
    };
    let first = multiple(
        "nginx:1",
        "blue",
        json!([{"latestRevision": true, "weight": 100}]),
    );
    wait(fake, &put(fake, &url, &first).await).await;

    let traffic = json!([
        {"revisionName": "web--blue", "weight": 80},
        {"latestRevision": true, "weight": 20, "label": "canary"},
    ]);
    wait(
        fake,
        &put(fake, &url, &multiple("nginx:2", "green", traffic)).await,
    )
    .await;

    let revisions = get(
        fake,
        &format!(
            "{}/revisions?api-version=2026-01-01",
            subscription.container_app(GROUP, "web")
        ),
    )
    .await;
    assert_eq!(
        revision_states(&revisions.body),
        [
            ("web--blue".to_owned(), true, 80, "Running".to_owned()),
            ("web--green".to_owned(), true, 20, "Running".to_owned()),
        ]
    );
    let read = get(fake, &url).await;
    assert_eq!(
        read.body["properties"]["configuration"]["ingress"]["traffic"][1]["label"],
        "canary"
    );

    let unknown = json!([{"revisionName": "web--red", "weight": 100}]);
    let answer = send(
        fake,
        Method::PUT,
        &url,
        Some(&multiple("nginx:3", "x", unknown)),
    )
    .await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST).target.as_deref(),
        Some("properties.configuration.ingress.traffic[0].revisionName")
    );
    let uneven = json!([{"revisionName": "web--blue", "weight": 50}]);
    let answer = send(
        fake,
        Method::PUT,
        &url,
        Some(&multiple("nginx:3", "y", uneven)),
    )
    .await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST).code,
        "ContainerAppInvalidTrafficWeight"
    );
}

#[tokio::test]
async fn a_missing_image_fails_the_operation_and_the_revision_while_the_old_one_serves() {
    let fake = fake().await;
    let subscription = fake.subscription("app-missing-image");
    subscription
        .set_image("registry.example/web:gone", ImageBehaviour::Missing)
        .await
        .unwrap();
    let url = subscription.container_app_url(GROUP, "web");
    wait(fake, &put(fake, &url, &app("nginx:1", "v1")).await).await;

    let (status, _) = wait(
        fake,
        &put(fake, &url, &app("registry.example/web:gone", "v2")).await,
    )
    .await;

    assert_eq!(status["status"], "Failed");
    assert_eq!(status["error"]["code"], "ContainerAppOperationError");
    let message = status["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Failed to provision revision for container app 'web'.")
            && message.contains("MANIFEST_UNKNOWN"),
        "{message}"
    );
    let read = get(fake, &url).await;
    assert_eq!(read.body["properties"]["provisioningState"], "Failed");
    assert_eq!(read.body["properties"]["latestRevisionName"], "web--v2");
    assert_eq!(
        read.body["properties"]["latestReadyRevisionName"],
        "web--v1"
    );
    let failed = get(
        fake,
        &format!(
            "{}/revisions/web--v2?api-version=2026-01-01",
            subscription.container_app(GROUP, "web")
        ),
    )
    .await;
    let properties = &failed.body["properties"];
    assert_eq!(properties["provisioningState"], "Failed");
    assert_eq!(properties["runningState"], "Failed");
    assert_eq!(properties["healthState"], "Unhealthy");
    assert!(
        properties["provisioningError"]
            .as_str()
            .unwrap()
            .contains("web:gone")
    );
    let old = get(
        fake,
        &format!(
            "{}/revisions/web--v1?api-version=2026-01-01",
            subscription.container_app(GROUP, "web")
        ),
    )
    .await;
    assert_eq!(old.body["properties"]["trafficWeight"], 100);

    // The image is per subscription: another one runs it.
    let other = fake.subscription("app-missing-image-elsewhere");
    let other_url = other.container_app_url(GROUP, "web");
    let (status, _) = wait(
        fake,
        &put(fake, &other_url, &app("registry.example/web:gone", "v1")).await,
    )
    .await;
    assert_eq!(status["status"], "Succeeded");
}

#[tokio::test]
async fn a_crashing_image_provisions_a_degraded_unhealthy_revision() {
    let fake = fake().await;
    let subscription = fake.subscription("app-crashing");
    subscription
        .set_image("registry.example/web:crash", ImageBehaviour::Crashing)
        .await
        .unwrap();
    let url = subscription.container_app_url(GROUP, "web");

    let (status, _) = wait(
        fake,
        &put(fake, &url, &app("registry.example/web:crash", "v1")).await,
    )
    .await;

    assert_eq!(
        status["status"], "Succeeded",
        "provisioning itself succeeds"
    );
    let read = get(fake, &url).await;
    assert_eq!(read.body["properties"]["provisioningState"], "Succeeded");
    assert!(
        read.body["properties"]
            .get("latestReadyRevisionName")
            .is_none()
    );
    let revision = get(
        fake,
        &format!(
            "{}/revisions/web--v1?api-version=2026-01-01",
            subscription.container_app(GROUP, "web")
        ),
    )
    .await;
    let properties = &revision.body["properties"];
    assert_eq!(properties["provisioningState"], "Provisioned");
    assert_eq!(properties["runningState"], "Degraded");
    assert_eq!(properties["healthState"], "Unhealthy");
    assert_eq!(properties["replicas"], 0);
    assert_fits(fake, "ContainerAppsRevisions_GetRevision", &revision).await;
}

#[tokio::test]
async fn delete_answers_202_and_the_app_is_gone_after_n_polls() {
    let fake = fake().await;
    let subscription = fake.subscription("app-delete");
    let url = subscription.container_app_url(GROUP, "web");
    wait(fake, &put(fake, &url, &app("nginx:1", "v1")).await).await;

    let deleted = send(fake, Method::DELETE, &url, None).await;

    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    let location = deleted.header("location").unwrap().to_owned();
    assert!(
        location.contains("/containerappOperationResults/"),
        "{location}"
    );
    assert!(deleted.header("azure-asyncoperation").is_some());
    let polls = fake.options().operation_polls;
    for poll in 1..polls {
        let answer = fake.follow(&location).await.unwrap();
        assert_eq!(answer.status, StatusCode::ACCEPTED, "poll {poll}");
        assert!(answer.header("retry-after").is_some());
    }
    // A list does not move operations on: it shows the app still being deleted.
    let list = get(
        fake,
        &format!(
            "/subscriptions/{}/resourceGroups/{GROUP}/providers/Microsoft.App/containerApps\
             ?api-version=2026-01-01",
            subscription.id()
        ),
    )
    .await;
    assert_eq!(
        list.body["value"][0]["properties"]["provisioningState"],
        "Deleting"
    );
    // The N-th look, at the app itself, finishes the delete.
    assert_eq!(
        refusal(&get(fake, &url).await, StatusCode::NOT_FOUND).code,
        "ResourceNotFound"
    );
    assert_eq!(
        fake.follow(&location).await.unwrap().status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(fake, Method::DELETE, &url, None).await.status,
        StatusCode::NO_CONTENT,
        "deleting what is gone"
    );
}

#[tokio::test]
async fn a_missing_app_is_resource_not_found() {
    let fake = fake().await;
    let subscription = fake.subscription("app-missing");
    let answer = get(fake, &subscription.container_app_url(GROUP, "nothing")).await;
    let error = refusal(&answer, StatusCode::NOT_FOUND);
    assert_eq!(error.code, "ResourceNotFound");
    assert!(
        error
            .message
            .contains("'Microsoft.App/containerApps/nothing'"),
        "{error:?}"
    );
}

#[tokio::test]
async fn writes_while_an_operation_is_pending_conflict_and_lists_show_the_group() {
    let fake = fake().await;
    let subscription = fake.subscription("app-pending");
    let url = subscription.container_app_url(GROUP, "web");
    let created = put(fake, &url, &app("nginx:1", "v1")).await;

    let again = send(fake, Method::PUT, &url, Some(&app("nginx:2", "v2"))).await;
    assert_eq!(
        refusal(&again, StatusCode::CONFLICT).code,
        "ContainerAppOperationInProgress"
    );
    wait(fake, &created).await;
    put(
        fake,
        &subscription.container_app_url("other", "api"),
        &app("nginx:1", "v1"),
    )
    .await;

    let list = get(
        fake,
        &format!(
            "/subscriptions/{}/resourceGroups/{GROUP}/providers/Microsoft.App/containerApps\
             ?api-version=2026-01-01",
            subscription.id()
        ),
    )
    .await;
    assert_fits(fake, "ContainerApps_ListByResourceGroup", &list).await;
    let names: Vec<_> = list.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web"]);
}

#[tokio::test]
async fn patch_merges_into_the_app() {
    let fake = fake().await;
    let subscription = fake.subscription("app-patch");
    let url = subscription.container_app_url(GROUP, "web");
    wait(fake, &put(fake, &url, &app("nginx:1", "v1")).await).await;

    let patched = send(
        fake,
        Method::PATCH,
        &url,
        Some(&json!({"tags": {"owner": null, "tier": "gold"}})),
    )
    .await;

    assert_eq!(patched.status, StatusCode::ACCEPTED);
    assert!(patched.header("location").is_some());
    let read = get(fake, &url).await;
    assert_eq!(read.body["tags"], json!({"tier": "gold"}));
    assert_eq!(read.body["properties"]["latestRevisionName"], "web--v1");
}

#[tokio::test]
async fn the_same_template_again_retries_a_revision_that_never_got_ready() {
    let fake = fake().await;
    let subscription = fake.subscription("app-retry");
    let image = "registry.example/web:later";
    subscription
        .set_image(image, ImageBehaviour::Missing)
        .await
        .unwrap();
    let url = subscription.container_app_url(GROUP, "web");
    let (status, _) = wait(fake, &put(fake, &url, &app(image, "v1")).await).await;
    assert_eq!(status["status"], "Failed");

    subscription
        .set_image(image, ImageBehaviour::Runs)
        .await
        .unwrap();
    let (status, _) = wait(fake, &put(fake, &url, &app(image, "v1")).await).await;

    assert_eq!(status["status"], "Succeeded");
    let read = get(fake, &url).await;
    assert_eq!(read.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        read.body["properties"]["latestReadyRevisionName"],
        "web--v1"
    );
}
