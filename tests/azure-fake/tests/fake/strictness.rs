//! What the fake refuses: whatever Microsoft's definitions refuse, in ARM's error shape naming
//! the path; and what it accepts: the bodies Microsoft publishes.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    APP_EXAMPLE, GROUP, GROUP_EXAMPLE, app, assert_fits, example, fake, get, group, put, refusal,
    send,
};

#[tokio::test]
async fn published_container_app_example_is_accepted_and_answered_within_the_definitions() {
    let fake = fake().await;
    let subscription = fake.subscription("app-example");
    let body = example(APP_EXAMPLE)["containerAppEnvelope"].clone();
    let url = subscription.container_app_url(GROUP, "testcontainerapp0");

    let created = put(fake, &url, &body).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_fits(fake, "ContainerApps_CreateOrUpdate", &created).await;
    let read = get(fake, &url).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_fits(fake, "ContainerApps_Get", &read).await;
    assert_eq!(
        read.body["properties"]["template"]["containers"][0]["image"],
        "repo/testcontainerapp0:v1"
    );
}

#[tokio::test]
async fn published_container_group_example_is_accepted_and_answered_within_the_definitions() {
    let fake = fake().await;
    let subscription = fake.subscription("group-example");
    let body = example(GROUP_EXAMPLE)["containerGroup"].clone();
    let url = subscription.container_group_url(GROUP, "demo1");

    let created = put(fake, &url, &body).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_fits(fake, "ContainerGroups_CreateOrUpdate", &created).await;
    let read = get(fake, &url).await;
    assert_fits(fake, "ContainerGroups_Get", &read).await;
    assert_eq!(read.body["properties"]["volumes"][1]["emptyDir"], json!({}));
}

/// Sends `body` as a new container app and returns the refusal's (code, target).
async fn refused_app(name: &str, body: &Value) -> (String, Option<String>) {
    let fake = fake().await;
    let subscription = fake.subscription("app-refusals");
    let url = subscription.container_app_url(GROUP, name);
    let answer = send(fake, Method::PUT, &url, Some(body)).await;
    let error = refusal(&answer, StatusCode::BAD_REQUEST);
    let after = get(fake, &url).await;
    assert_eq!(after.status, StatusCode::NOT_FOUND, "nothing was created");
    (error.code, error.target)
}

#[tokio::test]
async fn unknown_property_anywhere_is_refused_naming_its_path() {
    let mut body = app("nginx:1", "v1");
    body["properties"]["template"]["containers"][0]["imagee"] = json!("nginx:1");
    let (code, target) = refused_app("unknown", &body).await;
    assert_eq!(code, "InvalidRequestContent");
    assert_eq!(
        target.as_deref(),
        Some("properties.template.containers[0].imagee")
    );

    let mut body = app("nginx:1", "v1");
    body["spec"] = json!({});
    assert_eq!(
        refused_app("unknown-top", &body).await.1.as_deref(),
        Some("spec")
    );
}

#[tokio::test]
async fn wrong_types_are_refused_naming_their_path() {
    let cases = [
        (
            "/properties/configuration/ingress/targetPort",
            json!("8080"),
            "properties.configuration.ingress.targetPort",
        ),
        (
            "/properties/configuration/ingress/external",
            json!("true"),
            "properties.configuration.ingress.external",
        ),
        (
            "/properties/template/containers/0/image",
            json!(["nginx"]),
            "properties.template.containers[0].image",
        ),
        (
            "/properties/template/containers",
            json!({"name": "web"}),
            "properties.template.containers",
        ),
        (
            "/properties/configuration/ingress/targetPort",
            json!(4_294_967_296_u64),
            "properties.configuration.ingress.targetPort",
        ),
        ("/tags/owner", json!(1), "tags.owner"),
    ];
    for (pointer, value, path) in cases {
        let mut body = app("nginx:1", "v1");
        *body.pointer_mut(pointer).unwrap() = value.clone();
        let (code, target) = refused_app("mistyped", &body).await;
        assert_eq!(code, "InvalidRequestContent", "{value}");
        assert_eq!(target.as_deref(), Some(path), "{value}");
    }
}

#[tokio::test]
async fn values_outside_an_enum_are_refused_even_where_the_enum_is_open() {
    // x-ms-enum modelAsString: true lets clients send other values; the fake does not.
    let mut body = app("nginx:1", "v1");
    body["properties"]["configuration"]["activeRevisionsMode"] = json!("single");
    let (code, target) = refused_app("bad-enum", &body).await;
    assert_eq!(code, "InvalidRequestContent");
    assert_eq!(
        target.as_deref(),
        Some("properties.configuration.activeRevisionsMode")
    );
}

#[tokio::test]
async fn missing_required_properties_are_refused_naming_their_path() {
    let mut body = app("nginx:1", "v1");
    body.as_object_mut().unwrap().remove("location");
    let (code, target) = refused_app("no-location", &body).await;
    assert_eq!(
        (code.as_str(), target.as_deref()),
        ("LocationRequired", Some("location"))
    );

    let fake = fake().await;
    let subscription = fake.subscription("group-refusals");
    let mut body = group("nginx:1");
    body["properties"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let url = subscription.container_group_url(GROUP, "nameless");
    let answer = send(fake, Method::PUT, &url, Some(&body)).await;
    let error = refusal(&answer, StatusCode::BAD_REQUEST);
    assert_eq!(error.code, "InvalidRequestContent");
    assert_eq!(
        error.target.as_deref(),
        Some("properties.containers[0].name")
    );
    assert!(
        error.message.contains("Required property 'name'"),
        "{error:?}"
    );
}

#[tokio::test]
async fn read_only_properties_sent_are_refused_naming_their_path() {
    let cases = [
        (
            "/properties/provisioningState",
            json!("Succeeded"),
            "properties.provisioningState",
        ),
        (
            "/properties/latestRevisionName",
            json!("x--y"),
            "properties.latestRevisionName",
        ),
        ("/id", json!("/subscriptions/x"), "id"),
        (
            "/properties/configuration/ingress/fqdn",
            json!("web.example"),
            "properties.configuration.ingress.fqdn",
        ),
    ];
    for (pointer, value, path) in cases {
        let mut body = app("nginx:1", "v1");
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = if parent.is_empty() {
            &mut body
        } else {
            body.pointer_mut(parent).unwrap()
        };
        parent[key] = value;
        let (code, target) = refused_app("read-only", &body).await;
        assert_eq!(code, "InvalidRequestContent");
        assert_eq!(target.as_deref(), Some(path));
    }
}

#[tokio::test]
async fn container_app_rules_beyond_the_schema_are_enforced() {
    let mut body = app("nginx:1", "v1");
    body["properties"]["template"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("image");
    let (code, target) = refused_app("imageless", &body).await;
    assert_eq!(code, "ContainerAppInvalidSchema");
    assert_eq!(
        target.as_deref(),
        Some("properties.template.containers[0].image")
    );

    let fake = fake().await;
    let subscription = fake.subscription("app-refusals");
    let answer = send(
        fake,
        Method::PUT,
        &subscription.container_app_url(GROUP, "Web--App"),
        Some(&app("nginx:1", "v1")),
    )
    .await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST).code,
        "ContainerAppInvalidName"
    );
}

#[tokio::test]
async fn api_version_must_be_the_served_one() {
    let fake = fake().await;
    let subscription = fake.subscription("api-versions");
    let path = subscription.container_app(GROUP, "web");
    let body = app("nginx:1", "v1");
    let cases = [
        (path.clone(), "MissingApiVersionParameter"),
        (
            format!("{path}?api-version=2025-01-01"),
            "NoRegisteredProviderFound",
        ),
        (
            format!("{path}?api-version=latest"),
            "InvalidApiVersionParameter",
        ),
        // Container Instances' version is not Container Apps' one.
        (
            format!("{path}?api-version=2026-05-01"),
            "NoRegisteredProviderFound",
        ),
    ];
    for (url, code) in cases {
        let answer = send(fake, Method::PUT, &url, Some(&body)).await;
        assert_eq!(
            refusal(&answer, StatusCode::BAD_REQUEST).code,
            code,
            "{url}"
        );
    }
    let group_url = format!(
        "{}?api-version=2026-01-01",
        subscription.container_group(GROUP, "web")
    );
    let answer = get(fake, &group_url).await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST).code,
        "NoRegisteredProviderFound"
    );
}

#[tokio::test]
async fn malformed_subscription_ids_and_unknown_types_are_refused() {
    let fake = fake().await;
    let answer = get(
        fake,
        "/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.App/containerApps/web\
         ?api-version=2026-01-01",
    )
    .await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST).code,
        "InvalidSubscriptionId"
    );
    let subscription = fake.subscription("unknown-types");
    let cases = [
        ("Microsoft.App/containerAppz/web", "InvalidResourceType"),
        (
            "Microsoft.Apps/containerApps/web",
            "InvalidResourceNamespace",
        ),
    ];
    for (tail, code) in cases {
        let url = format!(
            "/subscriptions/{}/resourceGroups/rg/providers/{tail}?api-version=2026-01-01",
            subscription.id()
        );
        let answer = get(fake, &url).await;
        assert_eq!(
            refusal(&answer, StatusCode::BAD_REQUEST).code,
            code,
            "{tail}"
        );
    }
}

#[tokio::test]
async fn location_cannot_change_once_created() {
    let fake = fake().await;
    let subscription = fake.subscription("location-change");
    let url = subscription.container_app_url(GROUP, "web");
    let body = app("nginx:1", "v1");
    crate::support::wait(fake, &put(fake, &url, &body).await).await;

    let mut same = body.clone();
    same["location"] = json!("West Europe");
    let accepted = send(fake, Method::PUT, &url, Some(&same)).await;
    assert_eq!(
        accepted.status,
        StatusCode::OK,
        "the same region, written differently"
    );
    crate::support::wait(fake, &accepted).await;

    let mut moved = body;
    moved["location"] = json!("eastus");
    let answer = send(fake, Method::PUT, &url, Some(&moved)).await;
    assert_eq!(
        refusal(&answer, StatusCode::CONFLICT).code,
        "InvalidResourceLocation"
    );
}

#[tokio::test]
async fn bodies_are_checked_offline_against_the_definitions() {
    let fake = fake().await;
    let good = app("nginx:1", "v1");
    assert_eq!(
        fake.check_request("ContainerApps_CreateOrUpdate", &good)
            .await
            .unwrap(),
        None
    );
    let mut bad = good;
    bad["properties"]["template"]["scale"] = json!({"minReplicas": 1.5});
    let violation = fake
        .check_request("ContainerApps_CreateOrUpdate", &bad)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        violation.target.as_deref(),
        Some("properties.template.scale.minReplicas")
    );
    let answer = json!({"location": "westeurope", "properties": {"runningStatus": "Sleeping"}});
    let violation = fake
        .check_response("ContainerApps_Get", 200, &answer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        violation.target.as_deref(),
        Some("properties.runningStatus")
    );
}
