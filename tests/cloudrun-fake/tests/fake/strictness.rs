//! What the fake refuses: whatever Google's own definitions refuse.

use cloudrun_fake::{Answer, CloudRunFake};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{client, create, name, parent};

const ALT: &str = "%24alt=json%3Benum-encoding%3Dint";

async fn create_raw(fake: &CloudRunFake, project: &str, query: &str, body: &Value) -> Answer {
    let path = format!("/v2/{}/services?{query}", parent(project));
    fake.send_raw(Method::POST, &path, Some(body))
        .await
        .unwrap()
}

/// The single field violation of a 400 INVALID_ARGUMENT answer: (field, description).
fn violation(answer: &Answer) -> (String, String) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
    let error = &answer.body["error"];
    assert_eq!(error["status"], "INVALID_ARGUMENT", "{answer:?}");
    let details = error["details"].as_array().unwrap();
    assert_eq!(
        details[0]["@type"], "type.googleapis.com/google.rpc.BadRequest",
        "{answer:?}"
    );
    let violations = details[0]["fieldViolations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{answer:?}");
    let field = violations[0]["field"].as_str().unwrap().to_owned();
    let description = violations[0]["description"].as_str().unwrap().to_owned();
    (field, description)
}

#[tokio::test]
async fn unknown_field_is_invalid_argument_naming_it() {
    let fake = CloudRunFake::shared().await.unwrap();
    let body = json!({"template": {"containers": [{"image": "x", "imagee": "y"}]}});

    let answer = create_raw(
        fake,
        "unknown-field",
        &format!("serviceId=web&{ALT}"),
        &body,
    )
    .await;

    let (field, description) = violation(&answer);
    assert_eq!(field, "service.template.containers[0].imagee");
    assert!(
        description.contains("Unknown name \"imagee\""),
        "{description}"
    );
    let get = fake
        .send_raw(
            Method::GET,
            &format!("/v2/{}", name("unknown-field", "web")),
            None,
        )
        .await
        .unwrap();
    assert_eq!(get.status, StatusCode::NOT_FOUND, "nothing was created");
}

#[tokio::test]
async fn misplaced_and_mistyped_fields_are_refused() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "misplaced";
    let query = format!("serviceId=web&{ALT}");
    let cases = [
        // `image` belongs to a container, not to the template.
        (
            json!({"template": {"image": "x", "containers": [{"image": "x"}]}}),
            "service.template.image",
        ),
        (
            json!({"template": {"containers": [{"image": 5}]}}),
            "service.template.containers[0].image",
        ),
        (
            json!({"template": {"containers": {"image": "x"}}}),
            "service.template.containers",
        ),
        (
            json!({"template": {"timeout": 30, "containers": [{"image": "x"}]}}),
            "service.template.timeout",
        ),
        (
            json!({"ingress": 17, "template": {"containers": [{"image": "x"}]}}),
            "service.ingress",
        ),
        (
            json!({"ingress": "EVERYONE", "template": {"containers": [{"image": "x"}]}}),
            "service.ingress",
        ),
        // proto-plus's Python name of `type`, which Google does not accept.
        (
            json!({"traffic": [{"type_": 1, "percent": 100}], "template": {"containers": [{"image": "x"}]}}),
            "service.traffic[0].type_",
        ),
        (
            json!({"labels": {"team": 7}, "template": {"containers": [{"image": "x"}]}}),
            "service.labels",
        ),
        (
            json!({"template": {"containers": []}}),
            "service.template.containers",
        ),
    ];
    for (body, expected) in cases {
        let answer = create_raw(fake, project, &query, &body).await;
        assert_eq!(violation(&answer).0, expected, "{body}");
    }
}

#[tokio::test]
async fn unknown_or_mistyped_query_parameters_are_refused() {
    let fake = CloudRunFake::shared().await.unwrap();
    let body = json!({"template": {"containers": [{"image": "x"}]}});
    let cases = [
        (format!("serviceId=web&force=true&{ALT}"), "force"),
        (
            format!("serviceId=web&validateOnly=yes&{ALT}"),
            "validateOnly",
        ),
        (format!("serviceId=web&serviceId=api&{ALT}"), "serviceId"),
        // The body's field cannot come from the query too.
        (format!("serviceId=web&service=x&{ALT}"), "service"),
        (format!("serviceId=Web_1&{ALT}"), "serviceId"),
        ("serviceId=web&%24alt=proto".to_owned(), "$alt"),
    ];
    for (query, expected) in cases {
        let answer = create_raw(fake, "bad-query", &query, &body).await;
        assert_eq!(violation(&answer).0, expected, "{query}");
    }
    // A read takes no query parameter but $alt.
    let path = format!("/v2/{}?view=full", name("bad-query", "web"));
    let answer = fake.send_raw(Method::GET, &path, None).await.unwrap();
    assert_eq!(violation(&answer).0, "view");
}

#[tokio::test]
async fn enums_are_answered_as_numbers_only_when_asked() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "enum-encoding";
    let client = client(fake).await;
    create(&client, project, "web", "nginx:1").await;
    let path = format!("/v2/{}", name(project, "web"));

    let ints = fake
        .send_raw(Method::GET, &format!("{path}?{ALT}"), None)
        .await
        .unwrap();
    let names = fake.send_raw(Method::GET, &path, None).await.unwrap();

    assert_eq!(ints.body["terminalCondition"]["state"], 2);
    assert_eq!(ints.body["ingress"], 1);
    assert_eq!(ints.body["generation"], "1", "int64 is a JSON string");
    assert_eq!(ints.body["template"]["timeout"], "300s");
    assert_eq!(
        names.body["terminalCondition"]["state"],
        "CONDITION_SUCCEEDED"
    );
    assert_eq!(names.body["ingress"], "INGRESS_TRAFFIC_ALL");
}

#[tokio::test]
async fn unimplemented_methods_say_so() {
    let fake = CloudRunFake::shared().await.unwrap();
    let path = format!("/v2/{}/revisions", name("unimplemented", "web"));

    let answer = fake.send_raw(Method::GET, &path, None).await.unwrap();

    assert_eq!(answer.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(answer.body["error"]["status"], "UNIMPLEMENTED");
}

#[tokio::test]
async fn volumes_and_mounts_are_refused_where_the_protos_and_cloud_run_refuse_them() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "volume-rules";
    let query = format!("serviceId=web&{ALT}");
    let with = |volumes: Value, mounts: Value| {
        json!({"template": {
            "volumes": volumes,
            "containers": [{"image": "x", "volumeMounts": mounts}],
        }})
    };
    let scratch = json!([{"name": "scratch", "emptyDir": {"medium": 1, "sizeLimit": "64Mi"}}]);
    let cases = [
        (
            with(
                scratch.clone(),
                json!([{"name": "other", "mountPath": "/tmp"}]),
            ),
            "service.template.containers[0].volumeMounts[0].name",
        ),
        (
            with(
                scratch.clone(),
                json!([{"name": "scratch", "mountPath": "/a:b"}]),
            ),
            "service.template.containers[0].volumeMounts[0].mountPath",
        ),
        (
            with(
                scratch.clone(),
                json!([{"name": "scratch", "mountPath": "/proc/x"}]),
            ),
            "service.template.containers[0].volumeMounts[0].mountPath",
        ),
        (
            with(
                json!([{"name": "s", "secret": {"secret": "token", "items": [{"path": "token"}]}}]),
                json!([]),
            ),
            "service.template.volumes[0].secret.items[0].version",
        ),
        (
            with(json!([{"name": "s", "secret": {}}]), json!([])),
            "service.template.volumes[0].secret.secret",
        ),
        (
            with(json!([{"name": "m", "emptyDir": {"medium": 7}}]), json!([])),
            "service.template.volumes[0].emptyDir.medium",
        ),
    ];
    for (body, expected) in cases {
        let answer = create_raw(fake, project, &query, &body).await;
        assert_eq!(violation(&answer).0, expected, "{body}");
    }
    // What Cloud Run takes is kept as sent, volumes and mounts alike.
    let good = with(
        json!([
            {"name": "scratch", "emptyDir": {"medium": 1, "sizeLimit": "64Mi"}},
            {"name": "token", "secret": {"secret": "token", "items": [{"path": "token", "version": "2"}]}},
            {"name": "assets", "gcs": {"bucket": "acme-assets", "readOnly": true}},
            {"name": "shared", "nfs": {"server": "10.0.0.2", "path": "/exports"}},
        ]),
        json!([
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "token", "mountPath": "/secrets"},
            {"name": "assets", "mountPath": "/assets"},
            {"name": "shared", "mountPath": "/shared", "subPath": "a"},
        ]),
    );
    let mut body = good.clone();
    body["template"]["executionEnvironment"] = json!(2);
    let answer = create_raw(fake, project, &query, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let get = fake
        .send_raw(
            Method::GET,
            &format!("/v2/{}?{ALT}", name(project, "web")),
            None,
        )
        .await
        .unwrap();
    let template = &get.body["template"];
    assert_eq!(template["volumes"], good["template"]["volumes"]);
    assert_eq!(
        template["containers"][0]["volumeMounts"],
        good["template"]["containers"][0]["volumeMounts"]
    );
    assert_eq!(template["executionEnvironment"], 2);
}
