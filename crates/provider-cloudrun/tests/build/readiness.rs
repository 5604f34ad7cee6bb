//! `readiness` on Services as Cloud Run describes them while rolling out, once serving, and
//! after failing, with failures in Ferry's documented reasons and Cloud Run's own words kept.

use ferry_core::status::{Outputs, Readiness};
use ferry_provider_cloudrun::build::readiness;
use google_cloud_run_v2::model::{self, Condition, condition};

use crate::common::{mirror, requests, revision_id, simple};

fn hello() -> model::Service {
    mirror(&requests(&simple("", "")))
}

fn condition(type_: &str, state: condition::State, message: &str) -> Condition {
    Condition::new()
        .set_type(type_)
        .set_state(state)
        .set_message(message)
}

/// Cloud Run after generation 4 of `hello` failed: still serving generation 3 (Cloud Run
/// leaves observedGeneration and latestReadyRevision at the last serving state).
fn failed_with(terminal: Condition, others: Vec<Condition>) -> model::Service {
    let mut s = hello();
    s.generation = 4;
    s.latest_created_revision = s.latest_ready_revision.replace("00003", "00004");
    s.terminal_condition = Some(terminal);
    s.conditions = others;
    s
}

fn failed(reason: &'static str, message: &str) -> Readiness {
    Readiness::Failed {
        reason,
        message: message.to_owned(),
    }
}

#[test]
fn a_service_cloud_run_finished_rolling_out_is_ready_with_its_url_and_revision() {
    let observed = hello();
    let p = requests(&simple("", ""));
    let (state, outputs) = readiness(&observed);
    assert_eq!(state, Readiness::Ready);
    assert_eq!(
        outputs,
        Outputs {
            url: Some("https://shop-hello-cd5cea3a-4xkq2mzvda-ew.a.run.app".into()),
            address_url: Some("https://shop-hello-cd5cea3a-4xkq2mzvda-ew.a.run.app".into()),
            latest_ready_revision: Some(revision_id(&p)),
            resource_id: Some(
                "projects/acme-prod/locations/europe-west1/services/shop-hello-cd5cea3a".into()
            ),
            ..Outputs::default()
        }
    );
    assert_eq!(
        outputs.instances, None,
        "Cloud Run does not report instances"
    );
}

#[test]
fn a_service_being_reconciled_is_progressing() {
    let mut observed = hello();
    observed.reconciling = true;
    observed.generation = 4;
    observed.latest_created_revision = "shop-hello-cd5cea3a-00004-b7q".into();
    observed.terminal_condition = Some(condition(
        "Ready",
        condition::State::ConditionReconciling,
        "Deploying revision.",
    ));
    assert_eq!(
        readiness(&observed).0,
        Readiness::Progressing(
            "Cloud Run is rolling out generation 4 (revision shop-hello-cd5cea3a-00004-b7q): \
             Deploying revision."
                .into()
        )
    );

    // Reconciling wins over an earlier failure still in the terminal condition.
    observed.terminal_condition = Some(condition(
        "Ready",
        condition::State::ConditionFailed,
        "old failure",
    ));
    assert!(matches!(readiness(&observed).0, Readiness::Progressing(_)));
}

#[test]
fn a_generation_cloud_run_has_not_looked_at_is_progressing() {
    let mut observed = hello();
    observed.generation = 5;
    assert_eq!(
        readiness(&observed).0,
        Readiness::Progressing(
            "Cloud Run is rolling out generation 5 (revision shop-hello-cd5cea3a-00003-xk2)".into()
        )
    );
}

#[test]
fn a_new_service_without_a_condition_yet_is_progressing() {
    let mut observed = hello();
    observed.terminal_condition = None;
    observed.uri.clear();
    observed.latest_ready_revision.clear();
    let (state, outputs) = readiness(&observed);
    assert!(matches!(state, Readiness::Progressing(_)), "{state:?}");
    assert_eq!(outputs.url, None);
    assert_eq!(outputs.latest_ready_revision, None);

    observed.terminal_condition = Some(condition(
        "Ready",
        condition::State::ConditionPending,
        "Waiting for the first revision.",
    ));
    assert_eq!(
        readiness(&observed).0,
        Readiness::Progressing("Waiting for the first revision.".into())
    );
}

#[test]
fn an_image_that_cannot_be_found_or_pulled_is_image_not_found() {
    let message = "Revision 'shop-hello-cd5cea3a-00004-b7q' is not ready and cannot serve \
                   traffic. Image 'europe-docker.pkg.dev/acme-prod/apps/hello:typo' not found.";
    let by_message = failed_with(
        condition("Ready", condition::State::ConditionFailed, message),
        vec![],
    );
    assert_eq!(
        readiness(&by_message).0,
        failed("ImageNotFound", message),
        "a failure is read although observedGeneration stays behind"
    );

    let by_code = failed_with(
        condition("Ready", condition::State::ConditionFailed, "Not ready.")
            .set_reason(condition::CommonReason::ContainerMissing),
        vec![],
    );
    assert_eq!(readiness(&by_code).0, failed("ImageNotFound", "Not ready."));

    let denied = failed_with(
        condition("Ready", condition::State::ConditionFailed, "Not ready.")
            .set_reason(condition::CommonReason::ContainerPermissionDenied),
        vec![],
    );
    assert_eq!(readiness(&denied).0, failed("ImageNotFound", "Not ready."));
}

#[test]
fn a_container_that_fails_to_start_or_its_probes_is_container_failed() {
    for message in [
        "Revision 'shop-hello-cd5cea3a-00004-b7q' is not ready and cannot serve traffic. The \
         user-provided container failed to start and listen on the port defined provided by \
         the PORT=8080 environment variable within the allocated timeout.",
        "Revision 'shop-hello-cd5cea3a-00004-b7q' is not ready and cannot serve traffic. The \
         user-provided container failed the configured startup probe checks.",
        "Container called exit(1).",
    ] {
        let observed = failed_with(
            condition("Ready", condition::State::ConditionFailed, message),
            vec![],
        );
        assert_eq!(
            readiness(&observed).0,
            failed("ContainerFailed", message),
            "{message}"
        );
    }
    let by_code = failed_with(
        condition("Ready", condition::State::ConditionFailed, "Not ready.")
            .set_revision_reason(condition::RevisionReason::HealthCheckContainerError),
        vec![],
    );
    assert_eq!(
        readiness(&by_code).0,
        failed("ContainerFailed", "Not ready.")
    );
}

#[test]
fn the_cause_in_a_sub_condition_names_the_reason_and_the_terminal_message_is_kept() {
    let observed = failed_with(
        condition(
            "Ready",
            condition::State::ConditionFailed,
            "Revision 'shop-hello-cd5cea3a-00004-b7q' is not ready and cannot serve traffic.",
        )
        .set_reason(condition::CommonReason::RevisionFailed),
        vec![
            condition("RoutesReady", condition::State::ConditionSucceeded, ""),
            condition(
                "ConfigurationsReady",
                condition::State::ConditionFailed,
                "Image 'hello:typo' not found.",
            ),
        ],
    );
    assert_eq!(
        readiness(&observed).0,
        failed(
            "ImageNotFound",
            "Revision 'shop-hello-cd5cea3a-00004-b7q' is not ready and cannot serve traffic."
        )
    );
}

#[test]
fn a_rollout_past_its_deadline_is_rollout_timeout() {
    let observed = failed_with(
        condition(
            "Ready",
            condition::State::ConditionFailed,
            "Revision did not become ready in time.",
        )
        .set_reason(condition::CommonReason::ProgressDeadlineExceeded),
        vec![],
    );
    assert_eq!(
        readiness(&observed).0,
        failed("RolloutTimeout", "Revision did not become ready in time.")
    );
}

#[test]
fn any_other_failure_is_revision_failed_in_cloud_runs_words() {
    let message = "spec.template.spec.containers[0].env[0].value_from.secret_key_ref.name: \
                   Permission denied on secret: projects/123/secrets/db/versions/latest for \
                   Revision service account hello@acme-prod.iam.gserviceaccount.com.";
    let observed = failed_with(
        condition("Ready", condition::State::ConditionFailed, message)
            .set_reason(condition::CommonReason::SecretsAccessCheckFailed),
        vec![],
    );
    let (state, outputs) = readiness(&observed);
    assert_eq!(state, failed("RevisionFailed", message));
    assert_eq!(
        outputs.latest_ready_revision.as_deref(),
        Some("shop-hello-cd5cea3a-00003-xk2"),
        "the revision that still serves"
    );

    let silent = failed_with(
        condition("Ready", condition::State::ConditionFailed, ""),
        vec![],
    );
    assert!(
        matches!(
            readiness(&silent).0,
            Readiness::Failed { reason: "RevisionFailed", ref message } if !message.is_empty()
        ),
        "a message even when Cloud Run gives none"
    );
}
