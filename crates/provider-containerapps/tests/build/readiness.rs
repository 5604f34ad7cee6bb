//! `diff`, `readiness` and `released` against what Azure describes: an app as ARM answers a GET
//! once it holds exactly what Ferry sent (defaults filled in, secret values left out), checked
//! against the definitions too.

use ferry_api::conditions::reasons;
use ferry_core::status::Readiness;
use ferry_provider_containerapps::build::{self, Change, Requests, SecretValues};
use serde_json::{Value, json};

use crate::common::{UID, assert_valid_body, fake, requests, simple};

const REVISION: &str = "v9k2m1x";

/// What ARM describes once it holds exactly `requests` and its latest revision is ready.
fn mirror(r: &Requests) -> Value {
    let mut app = r.body.clone();
    let name = &r.place.name;
    app["id"] = r.place.id().into();
    app["name"] = name.as_str().into();
    app["type"] = "Microsoft.App/containerApps".into();
    app["systemData"] = json!({"createdBy": "ferry", "createdByType": "Application",
                               "createdAt": "2026-12-07T10:00:00Z"});
    let p = &mut app["properties"];
    p["provisioningState"] = "Succeeded".into();
    p["runningStatus"] = "Running".into();
    p["managedEnvironmentId"] = p["environmentId"].clone();
    p["latestRevisionName"] = format!("{name}--{REVISION}").into();
    p["latestReadyRevisionName"] = format!("{name}--{REVISION}").into();
    p["latestRevisionFqdn"] =
        format!("{name}--{REVISION}.prod-4f2k.westeurope.azurecontainerapps.io").into();
    p["outboundIpAddresses"] = json!(["20.1.2.3"]);
    p["customDomainVerificationId"] = "ABCDEF".into();
    let ingress = &mut p["configuration"]["ingress"];
    ingress["fqdn"] = format!("{name}.prod-4f2k.westeurope.azurecontainerapps.io").into();
    ingress["transport"] = ingress
        .get("transport")
        .cloned()
        .unwrap_or_else(|| "auto".into());
    ingress["allowInsecure"] = false.into();
    if ingress.get("traffic").is_none() {
        ingress["traffic"] = json!([{"weight": 100, "latestRevision": true}]);
    }
    p["configuration"]["maxInactiveRevisions"] = 100.into();
    for secret in p["configuration"]["secrets"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        secret.as_object_mut().unwrap().remove("value");
    }
    for c in p["template"]["containers"].as_array_mut().unwrap() {
        c["resources"]["ephemeralStorage"] = "2Gi".into();
    }
    let scale = &mut p["template"]["scale"];
    if scale.get("maxReplicas").is_none() {
        scale["maxReplicas"] = 10.into();
    }
    app
}

fn revision(state: (&str, &str, &str), error: Option<&str>) -> Value {
    let mut revision = json!({
        "id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.App/containerApps/a/revisions/a--b",
        "name": "shop-hello--b",
        "type": "Microsoft.App/containerApps/revisions",
        "properties": {"provisioningState": state.0, "runningState": state.1,
                       "healthState": state.2, "replicas": 0, "active": true},
    });
    if let Some(error) = error {
        revision["properties"]["provisioningError"] = error.into();
    }
    revision
}

#[tokio::test]
async fn what_azure_describes_for_the_body_fits_the_definitions() {
    let r = requests(&simple(
        "env: [{name: KEY, secret: {name: api}}]",
        "containerApps: {secrets: [{name: api, fromSecret: {name: hello-api, key: key}}]}",
    ));
    let violation = fake()
        .await
        .check_response("ContainerApps_Get", 200, &mirror(&r))
        .await
        .unwrap();
    assert!(violation.is_none(), "{violation:?}");
}

#[test]
fn an_app_holding_the_body_is_up_to_date_whatever_defaults_azure_adds() {
    for spec in [
        simple("", ""),
        simple(
            "",
            "concurrency: 30, scaling: {minInstances: 1, maxInstances: 4}",
        ),
        simple(
            "",
            "traffic: [{latestRevision: true, percent: 60, tag: next}, \
             {revisionName: shop-hello-1a2b3c4d--v1, percent: 40}]",
        ),
    ] {
        let r = requests(&spec);
        assert_eq!(build::diff(&r, &mirror(&r)), [], "{spec}");
    }
}

#[test]
fn a_spec_change_or_a_change_behind_ferrys_back_is_seen() {
    let r = requests(&simple("", "scaling: {maxInstances: 4}"));
    let have = mirror(&r);
    let changed = requests(&simple("", "scaling: {maxInstances: 5}"));
    assert_eq!(
        build::diff(&changed, &have),
        [Change::Spec, Change::Drift("template.scale")]
    );
    let mut drifted = have.clone();
    drifted["properties"]["template"]["containers"][0]["image"] = "nginx".into();
    drifted["properties"]["configuration"]["ingress"]["external"] = false.into();
    drifted["properties"]["configuration"]["activeRevisionsMode"] = "Multiple".into();
    assert_eq!(
        build::diff(&r, &drifted),
        [
            Change::Drift("template.containers[].image"),
            Change::Drift("configuration.ingress"),
            Change::Drift("configuration.activeRevisionsMode"),
        ]
    );
    let mut released = have.clone();
    released["tags"]
        .as_object_mut()
        .unwrap()
        .remove("ferry-uid");
    assert_eq!(build::diff(&r, &released), [Change::Tags]);
    let mut split = have;
    split["properties"]["configuration"]["activeRevisionsMode"] = "Multiple".into();
    let multiple = requests(&simple(
        "",
        "scaling: {maxInstances: 4}, traffic: [{latestRevision: true, percent: 50}, \
         {revisionName: shop-hello-1a2b3c4d--v1, percent: 50}]",
    ));
    split["tags"] = multiple.body["tags"].clone();
    split["properties"]["configuration"]["ingress"]["traffic"] =
        json!([{"latestRevision": true, "weight": 100}]);
    assert_eq!(
        build::diff(&multiple, &split),
        [Change::Drift("configuration.ingress.traffic")]
    );
}

#[test]
fn ownership_is_the_uid_tag_or_a_released_ferry_app() {
    let r = requests(&simple("", ""));
    let app = mirror(&r);
    assert!(build::is_ours(&app, Some(UID)));
    assert!(!build::is_ours(&app, Some("another-uid")));
    let mut released = app.clone();
    released["tags"]
        .as_object_mut()
        .unwrap()
        .remove("ferry-uid");
    assert!(build::is_ours(&released, Some("another-uid")));
    let mut foreign = app;
    foreign["tags"] = json!({"team": "web"});
    assert!(!build::is_ours(&foreign, Some(UID)));
}

#[test]
fn a_ready_app_is_ready_with_its_url_revision_and_id() {
    let r = requests(&simple("", ""));
    let app = mirror(&r);
    assert_eq!(build::revision_to_read(&app), None);
    let (readiness, outputs) = build::readiness(&app, None, None);
    assert_eq!(readiness, Readiness::Ready);
    let name = &r.place.name;
    assert_eq!(
        outputs.url.as_deref(),
        Some(format!("https://{name}.prod-4f2k.westeurope.azurecontainerapps.io").as_str())
    );
    assert_eq!(outputs.address_url, outputs.url);
    assert_eq!(
        outputs.latest_ready_revision,
        Some(format!("{name}--{REVISION}"))
    );
    assert_eq!(outputs.resource_id, Some(r.place.id()));
}

#[test]
fn provisioning_and_rolling_out_are_progressing() {
    let r = requests(&simple("", ""));
    let mut app = mirror(&r);
    app["properties"]["provisioningState"] = "InProgress".into();
    assert!(build::in_progress(&app));
    assert_eq!(build::revision_to_read(&app), None);
    assert!(matches!(
        build::readiness(&app, None, None).0,
        Readiness::Progressing(m) if m.starts_with("Container Apps is provisioning the app")
    ));
    app["properties"]["provisioningState"] = "Succeeded".into();
    app["properties"]["latestRevisionName"] = "shop-hello--new".into();
    assert_eq!(build::revision_to_read(&app), Some("shop-hello--new"));
    let rolling = revision(("Provisioning", "Processing", "None"), None);
    assert_eq!(
        build::readiness(&app, Some(&rolling), None).0,
        Readiness::Progressing("Container Apps is rolling out (revision shop-hello--new)".into())
    );
}

#[test]
fn failures_name_ferrys_reasons() {
    let r = requests(&simple("", ""));
    let mut app = mirror(&r);
    app["properties"]["provisioningState"] = "Failed".into();
    app["properties"]["latestRevisionName"] = "shop-hello--bad".into();
    let missing = "Field 'template.containers.app.image' is invalid with details: 'Invalid \
                   value: \"acme/none:1\": MANIFEST_UNKNOWN: manifest tagged by \"1\" is not found'";
    assert_eq!(
        build::readiness(
            &app,
            Some(&revision(("Failed", "Failed", "Unhealthy"), Some(missing))),
            None
        )
        .0,
        Readiness::Failed {
            reason: reasons::IMAGE_NOT_FOUND,
            message: missing.into()
        }
    );
    // Without a revision, the operation's error says it.
    assert_eq!(
        build::readiness(
            &app,
            None,
            Some("ContainerAppOperationError: Failed to provision revision: image pull failed")
        )
        .0,
        Readiness::Failed {
            reason: reasons::IMAGE_NOT_FOUND,
            message: "ContainerAppOperationError: Failed to provision revision: image pull failed"
                .into()
        }
    );
    app["properties"]["provisioningState"] = "Succeeded".into();
    let crash = "Container 'app' of revision 'shop-hello--bad' terminated with exit code 1 and is \
                 restarting (CrashLoopBackOff).";
    assert_eq!(
        build::readiness(
            &app,
            Some(&revision(
                ("Provisioned", "Degraded", "Unhealthy"),
                Some(crash)
            )),
            None
        )
        .0,
        Readiness::Failed {
            reason: reasons::CONTAINER_FAILED,
            message: crash.into()
        }
    );
    assert!(matches!(
        build::readiness(&app, Some(&revision(("Failed", "Failed", "Unhealthy"), None)), None).0,
        Readiness::Failed { reason, .. } if reason == reasons::REVISION_FAILED
    ));
    let mut stopped = mirror(&r);
    stopped["properties"]["runningStatus"] = "Stopped".into();
    assert!(matches!(
        build::readiness(&stopped, None, None).0,
        Readiness::Failed { reason, message } if reason == reasons::REVISION_FAILED && message.contains("az containerapp start")
    ));
}

#[tokio::test]
async fn a_released_body_drops_the_uid_tag_and_what_is_read_only() {
    let r = requests(&simple(
        "env: [{name: KEY, secret: {name: api}}]",
        "containerApps: {secrets: [{name: api, fromSecret: {name: hello-api, key: key}}]}",
    ));
    let app = mirror(&r);
    assert_eq!(build::released(&app, &SecretValues::new()), None);
    let values = crate::common::values_for(&crate::common::desired(&simple(
        "env: [{name: KEY, secret: {name: api}}]",
        "containerApps: {secrets: [{name: api, fromSecret: {name: hello-api, key: key}}]}",
    )));
    let body = build::released(&app, &values).unwrap();
    assert_eq!(body["tags"].get("ferry-uid"), None);
    assert_eq!(body["tags"]["managed-by"], "ferry");
    assert_eq!(
        body["properties"]["configuration"]["secrets"],
        json!([{"name": "api", "value": "value of api"}])
    );
    assert_valid_body(&body).await;
}

#[test]
fn an_app_in_another_environment_is_a_change_no_put_makes() {
    let r = requests(&simple("", ""));
    let mut elsewhere = mirror(&r);
    elsewhere["properties"]["environmentId"] = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod-rg/providers/Microsoft.App/managedEnvironments/old".into();
    let changes = build::diff(&r, &elsewhere);
    assert_eq!(changes, [Change::Environment]);
    assert!(!changes[0].writable());
    // ARM may spell the id in another case: the same environment.
    let mut shouted = mirror(&r);
    shouted["properties"]["environmentId"] = r.body["properties"]["environmentId"]
        .as_str()
        .unwrap()
        .to_ascii_uppercase()
        .into();
    assert_eq!(build::diff(&r, &shouted), []);
}
