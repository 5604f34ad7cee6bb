//! `readiness` on hand-written Knative Service statuses.

use ferry_core::status::{Outputs, Readiness};
use ferry_provider_knative::build::readiness;
use serde_json::{Value, json};

/// A live Service at `generation` whose status observed `observed` and has `conditions`.
fn live(generation: i64, observed: Option<i64>, conditions: Value) -> Value {
    let mut status = json!({
        "url": "https://hello.shop.example.com",
        "address": {"url": "http://hello.shop.svc.cluster.local"},
        "latestReadyRevisionName": "hello-00002",
        "latestCreatedRevisionName": "hello-00003",
    });
    status["conditions"] = conditions;
    if let Some(observed) = observed {
        status["observedGeneration"] = json!(observed);
    }
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "shop", "generation": generation},
        "spec": {},
        "status": status,
    })
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": "2025-01-01T00:00:00Z"})
}

fn failed(reason: &'static str, message: &str) -> Readiness {
    Readiness::Failed {
        reason,
        message: message.to_owned(),
    }
}

#[test]
fn outputs_come_from_status() {
    let (_, outputs) = readiness(&live(
        2,
        Some(2),
        json!([condition("Ready", "True", "", "")]),
    ));
    assert_eq!(
        outputs,
        Outputs {
            url: Some("https://hello.shop.example.com".into()),
            address_url: Some("http://hello.shop.svc.cluster.local".into()),
            latest_ready_revision: Some("hello-00002".into()),
            resource_id: Some("services.serving.knative.dev/shop/hello".into()),
            instances: None,
            operation: None,
        }
    );
}

#[test]
fn a_service_without_status_has_only_its_resource_id() {
    let fresh = json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "shop", "generation": 1},
        "spec": {},
    });
    let (readiness, outputs) = readiness(&fresh);
    assert_eq!(
        readiness,
        Readiness::Progressing("Knative has not yet processed generation 1".into())
    );
    assert_eq!(
        outputs,
        Outputs {
            resource_id: Some("services.serving.knative.dev/shop/hello".into()),
            ..Outputs::default()
        }
    );
}

#[test]
fn knative_statuses_in_ferrys_terms() {
    let cases: Vec<(&str, Value, Readiness)> = vec![
        (
            "ready",
            live(
                3,
                Some(3),
                json!([
                    condition("ConfigurationsReady", "True", "", ""),
                    condition("Ready", "True", "", ""),
                    condition("RoutesReady", "True", "", ""),
                ]),
            ),
            Readiness::Ready,
        ),
        (
            "Ready=True for an older generation is not ready yet",
            live(4, Some(3), json!([condition("Ready", "True", "", "")])),
            Readiness::Progressing("Knative has not yet processed generation 4".into()),
        ),
        (
            "a failure of an older generation is not this one's",
            live(
                5,
                Some(4),
                json!([condition("Ready", "False", "ContainerMissing", "old image")]),
            ),
            Readiness::Progressing("Knative has not yet processed generation 5".into()),
        ),
        (
            "no observedGeneration yet",
            live(1, None, json!([])),
            Readiness::Progressing("Knative has not yet processed generation 1".into()),
        ),
        (
            "Unknown keeps Knative's message",
            live(
                2,
                Some(2),
                json!([condition(
                    "Ready",
                    "Unknown",
                    "RevisionMissing",
                    "Configuration \"hello\" is waiting for a Revision to become ready."
                )]),
            ),
            Readiness::Progressing(
                "Configuration \"hello\" is waiting for a Revision to become ready.".into(),
            ),
        ),
        (
            "Unknown without a message names the reason",
            live(
                2,
                Some(2),
                json!([{"type": "Ready", "status": "Unknown", "reason": "Deploying"}]),
            ),
            Readiness::Progressing("Knative is rolling out the Service (Deploying)".into()),
        ),
        (
            "no Ready condition yet",
            live(
                2,
                Some(2),
                json!([condition("RoutesReady", "True", "", "")]),
            ),
            Readiness::Progressing("waiting for Knative to report the Service ready".into()),
        ),
        (
            "ContainerMissing is ImageNotFound",
            live(
                2,
                Some(2),
                json!([condition(
                    "Ready",
                    "False",
                    "ContainerMissing",
                    "Unable to fetch image \"ghcr.io/acme/nope:1\": not found"
                )]),
            ),
            failed(
                "ImageNotFound",
                "Unable to fetch image \"ghcr.io/acme/nope:1\": not found",
            ),
        ),
        (
            "ExitCode1 is ContainerFailed",
            live(
                2,
                Some(2),
                json!([condition(
                    "Ready",
                    "False",
                    "ExitCode1",
                    "Container failed with: panic: no config"
                )]),
            ),
            failed("ContainerFailed", "Container failed with: panic: no config"),
        ),
        (
            "ExitCode137 is ContainerFailed",
            live(
                2,
                Some(2),
                json!([condition("Ready", "False", "ExitCode137", "OOMKilled")]),
            ),
            failed("ContainerFailed", "OOMKilled"),
        ),
        (
            "ProgressDeadlineExceeded is RolloutTimeout",
            live(
                2,
                Some(2),
                json!([condition(
                    "Ready",
                    "False",
                    "ProgressDeadlineExceeded",
                    "Initial scale was never achieved"
                )]),
            ),
            failed("RolloutTimeout", "Initial scale was never achieved"),
        ),
        (
            "RevisionFailed stays RevisionFailed",
            live(
                2,
                Some(2),
                json!([condition(
                    "Ready",
                    "False",
                    "RevisionFailed",
                    "Revision \"hello-00003\" failed with message: admission denied."
                )]),
            ),
            failed(
                "RevisionFailed",
                "Revision \"hello-00003\" failed with message: admission denied.",
            ),
        ),
        (
            "RevisionMissing alone is RevisionFailed",
            live(
                2,
                Some(2),
                json!([condition(
                    "Ready",
                    "False",
                    "RevisionMissing",
                    "Configuration \"hello\" does not have any ready Revision."
                )]),
            ),
            failed(
                "RevisionFailed",
                "Configuration \"hello\" does not have any ready Revision.",
            ),
        ),
        (
            "an unknown reason is RevisionFailed",
            live(
                2,
                Some(2),
                json!([condition("Ready", "False", "SomethingNew", "it broke")]),
            ),
            failed("RevisionFailed", "it broke"),
        ),
        (
            "the specific reason on ConfigurationsReady beats Ready's RevisionMissing",
            live(
                2,
                Some(2),
                json!([
                    condition(
                        "ConfigurationsReady",
                        "False",
                        "ContainerMissing",
                        "Unable to fetch image \"ghcr.io/acme/nope:1\""
                    ),
                    condition(
                        "Ready",
                        "False",
                        "RevisionMissing",
                        "Configuration \"hello\" does not have any ready Revision."
                    ),
                    condition(
                        "RoutesReady",
                        "False",
                        "RevisionMissing",
                        "Configuration \"hello\" does not have any ready Revision."
                    ),
                ]),
            ),
            failed(
                "ImageNotFound",
                "Unable to fetch image \"ghcr.io/acme/nope:1\"",
            ),
        ),
        (
            "the specific reason on RoutesReady counts too",
            live(
                2,
                Some(2),
                json!([
                    condition(
                        "ConfigurationsReady",
                        "False",
                        "RevisionFailed",
                        "revision failed"
                    ),
                    condition("Ready", "False", "RevisionMissing", "no ready revision"),
                    condition(
                        "RoutesReady",
                        "False",
                        "ProgressDeadlineExceeded",
                        "deadline exceeded"
                    ),
                ]),
            ),
            failed("RolloutTimeout", "deadline exceeded"),
        ),
        (
            "a specific reason on a True condition does not count",
            live(
                2,
                Some(2),
                json!([
                    condition("ConfigurationsReady", "True", "ExitCode1", "stale"),
                    condition("Ready", "False", "RevisionMissing", "no ready revision"),
                ]),
            ),
            failed("RevisionFailed", "no ready revision"),
        ),
        (
            "Ready's own specific reason wins over the others'",
            live(
                2,
                Some(2),
                json!([
                    condition("ConfigurationsReady", "False", "ContainerMissing", "image"),
                    condition("Ready", "False", "ExitCode2", "exited"),
                ]),
            ),
            failed("ContainerFailed", "exited"),
        ),
        (
            "a failure without a message says what Knative reported",
            live(
                2,
                Some(2),
                json!([{"type": "Ready", "status": "False", "reason": "ExitCode3"}]),
            ),
            failed("ContainerFailed", "Knative reports Ready=False (ExitCode3)"),
        ),
    ];
    for (what, live, expected) in cases {
        assert_eq!(readiness(&live).0, expected, "{what}");
    }
}

#[test]
fn every_reason_readiness_reports_is_documented() {
    for reason in [
        "ContainerMissing",
        "ExitCode1",
        "ProgressDeadlineExceeded",
        "RevisionMissing",
        "X",
    ] {
        let (r, _) = readiness(&live(
            1,
            Some(1),
            json!([condition("Ready", "False", reason, "m")]),
        ));
        let Readiness::Failed { reason, .. } = r else {
            panic!("{reason}: expected a failure, got {r:?}")
        };
        assert!(ferry_api::conditions::is_documented(reason), "{reason}");
    }
}
