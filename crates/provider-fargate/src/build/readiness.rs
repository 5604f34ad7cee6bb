//! What the observed service means in Ferry's terms: ready, still rolling out, or failed (and
//! why, from the rollout and the service events), and the outputs that go into status.

use super::observed::{Observed, Rollout};
use super::requests::Requests;
use ferry_api::conditions::reasons;
use ferry_core::status::{Outputs, Readiness};

/// What the observed service means in Ferry's terms, and what goes into status.
pub fn readiness(requests: &Requests, observed: &Observed) -> (Readiness, Outputs) {
    let service = &observed.service;
    let revision = observed
        .task_definition
        .as_ref()
        .map(|t| format!("{}:{}", t.family, t.revision));
    let completed = service
        .rollout
        .as_ref()
        .is_some_and(|r| r.state == "COMPLETED");
    let outputs = Outputs {
        url: None,
        address_url: None,
        latest_ready_revision: if completed { revision.clone() } else { None },
        resource_id: Some(service.arn.clone()).filter(|a| !a.is_empty()),
        instances: Some((service.desired_count, service.running_count)),
        operation: None,
    };
    (
        service_readiness(requests, observed, revision.as_deref()),
        outputs,
    )
}

fn service_readiness(
    requests: &Requests,
    observed: &Observed,
    revision: Option<&str>,
) -> Readiness {
    let service = &observed.service;
    if let Some(failed) = &service.failed_rollout
        && observed
            .failed_task_definition
            .as_ref()
            .is_some_and(|t| t.is_requested(requests))
    {
        return failed_readiness(failed, &service.events);
    }
    let revision = revision.unwrap_or("the task definition");
    let Some(rollout) = &service.rollout else {
        return Readiness::Progressing("waiting for ECS to start a deployment".into());
    };
    match rollout.state.as_str() {
        "FAILED" => failed_readiness(rollout, &service.events),
        "COMPLETED" if service.running_count >= service.desired_count => Readiness::Ready,
        "COMPLETED" => Readiness::Progressing(format!(
            "{} of {} tasks of {revision} running",
            service.running_count, service.desired_count
        )),
        _ => Readiness::Progressing(format!(
            "ECS is rolling out {revision}: {} of {} tasks running{}",
            service.running_count,
            service.desired_count,
            rollout
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )),
    }
}

fn failed_readiness(rollout: &Rollout, events: &[String]) -> Readiness {
    let reason_text = rollout
        .reason
        .clone()
        .unwrap_or_else(|| "the ECS deployment failed".into());
    // The rollout reason names the circuit breaker; the service events name the cause.
    let all = std::iter::once(reason_text.as_str())
        .chain(events.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let reason = if all.contains("CannotPullContainer") || all.contains("pull image") {
        reasons::IMAGE_NOT_FOUND
    } else if all.contains("failed container health checks")
        || all.contains("Essential container")
        || all.contains("tasks failed to start")
    {
        reasons::CONTAINER_FAILED
    } else {
        reasons::REVISION_FAILED
    };
    let message = match events.first() {
        Some(event) if !reason_text.contains(event.as_str()) => {
            format!("{}: {event}", reason_text.trim_end_matches('.'))
        }
        _ => reason_text,
    };
    Readiness::Failed { reason, message }
}
