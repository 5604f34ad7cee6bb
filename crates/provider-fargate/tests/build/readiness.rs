//! `readiness` on hand-written ECS descriptions: deployments in each rollout state, and failures
//! in Ferry's documented reasons with ECS's own words kept.

use ferry_core::status::{Outputs, Readiness};
use ferry_provider_fargate::build::{Observed, Requests, Rollout, readiness};

use crate::common::{mirror, requests, simple};

fn hello() -> Requests {
    requests(&simple("", "scaling: {minInstances: 2, maxInstances: 10}"))
}

/// AWS holding `requests` with its PRIMARY deployment in `state`, `running` of `desired` tasks
/// up, and `events` newest first.
fn deployment(
    requests: &Requests,
    state: &str,
    reason: Option<&str>,
    (desired, running): (i32, i32),
    events: &[&str],
) -> Observed {
    let mut observed = mirror(requests);
    let service = &mut observed.service;
    service.rollout = Some(Rollout {
        state: state.into(),
        reason: reason.map(str::to_owned),
        task_definition: service.task_definition.clone(),
    });
    service.desired_count = desired;
    service.running_count = running;
    service.pending_count = desired - running;
    service.events = events.iter().map(|e| (*e).to_owned()).collect();
    observed
}

fn failed(reason: &'static str, message: &str) -> Readiness {
    Readiness::Failed {
        reason,
        message: message.to_owned(),
    }
}

#[test]
fn a_completed_deployment_with_every_task_running_is_ready() {
    let p = hello();
    let observed = deployment(&p, "COMPLETED", None, (2, 2), &[]);
    let (state, outputs) = readiness(&p, &observed);
    assert_eq!(state, Readiness::Ready);
    assert_eq!(
        outputs,
        Outputs {
            url: None,
            address_url: None,
            latest_ready_revision: Some("shop_hello:3".into()),
            resource_id: Some("arn:aws:ecs:us-east-1:123456789012:service/prod/shop_hello".into()),
            instances: Some((2, 2)),
            operation: None,
        }
    );
}

#[test]
fn ecs_states_in_ferrys_terms() {
    let p = hello();
    let cases: Vec<(&str, Observed, Readiness)> = vec![
        (
            "rolling out",
            deployment(&p, "IN_PROGRESS", None, (2, 1), &[]),
            Readiness::Progressing("ECS is rolling out shop_hello:3: 1 of 2 tasks running".into()),
        ),
        (
            "rolling out, with ECS's reason",
            deployment(
                &p,
                "IN_PROGRESS",
                Some("ECS deployment ecs-svc/1 in progress."),
                (3, 0),
                &[],
            ),
            Readiness::Progressing(
                "ECS is rolling out shop_hello:3: 0 of 3 tasks running \
                 (ECS deployment ecs-svc/1 in progress.)"
                    .into(),
            ),
        ),
        (
            "completed, but a task is missing",
            deployment(&p, "COMPLETED", None, (3, 2), &[]),
            Readiness::Progressing("2 of 3 tasks of shop_hello:3 running".into()),
        ),
        (
            "an image that cannot be pulled",
            deployment(
                &p,
                "FAILED",
                Some("ECS deployment circuit breaker: tasks failed to start."),
                (2, 0),
                &[
                    "(service shop_hello) (task 1f2e) failed to start: CannotPullContainerError: \
                   pull image manifest has been retried 5 time(s): ghcr.io/acme/hello:1.4.2: not \
                   found",
                ],
            ),
            failed(
                "ImageNotFound",
                "ECS deployment circuit breaker: tasks failed to start: (service shop_hello) \
                 (task 1f2e) failed to start: CannotPullContainerError: pull image manifest has \
                 been retried 5 time(s): ghcr.io/acme/hello:1.4.2: not found",
            ),
        ),
        (
            "tasks that fail to start",
            deployment(
                &p,
                "FAILED",
                Some("ECS deployment circuit breaker: tasks failed to start."),
                (2, 0),
                &[],
            ),
            failed(
                "ContainerFailed",
                "ECS deployment circuit breaker: tasks failed to start.",
            ),
        ),
        (
            "an essential container that exits",
            deployment(
                &p,
                "FAILED",
                None,
                (2, 0),
                &[
                    "(service shop_hello) (task 9a8b) stopped: Essential container in task \
                   exited",
                ],
            ),
            failed(
                "ContainerFailed",
                "the ECS deployment failed: (service shop_hello) (task 9a8b) stopped: Essential \
                 container in task exited",
            ),
        ),
        (
            "health checks that fail",
            deployment(
                &p,
                "FAILED",
                Some("ECS deployment circuit breaker: 2 tasks failed container health checks."),
                (2, 0),
                &[],
            ),
            failed(
                "ContainerFailed",
                "ECS deployment circuit breaker: 2 tasks failed container health checks.",
            ),
        ),
        (
            "another failure",
            deployment(&p, "FAILED", Some("quota exceeded"), (2, 0), &[]),
            failed("RevisionFailed", "quota exceeded"),
        ),
    ];
    for (case, observed, want) in cases {
        assert_eq!(readiness(&p, &observed).0, want, "{case}");
    }
}

#[test]
fn only_a_completed_deployment_has_a_ready_revision() {
    let p = hello();
    for state in ["IN_PROGRESS", "FAILED"] {
        let (_, outputs) = readiness(&p, &deployment(&p, state, None, (2, 1), &[]));
        assert_eq!(outputs.latest_ready_revision, None, "{state}");
        assert_eq!(outputs.instances, Some((2, 1)), "{state}");
    }
}

#[test]
fn a_service_without_a_deployment_waits_for_ecs() {
    let p = hello();
    let mut observed = mirror(&p);
    observed.service.rollout = None;
    observed.service.arn.clear();
    let (state, outputs) = readiness(&p, &observed);
    assert_eq!(
        state,
        Readiness::Progressing("waiting for ECS to start a deployment".into())
    );
    assert_eq!(outputs.resource_id, None, "no ARN, no resource id");
}
