//! Whether what AWS holds matches the requests: the list of changes `update` makes, empty when
//! the object is up to date.

use super::observed::{Observed, ObservedPolicy};
use super::requests::Requests;
use super::scaling::ScalingPolicy;
use super::tags::{TAG_FINGERPRINT, TAG_UID, Tag};

/// One thing to bring in line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Register a new task definition revision and deploy it.
    TaskDefinition,
    /// Update the service's settings (network, capacity, load balancer, deployment).
    Service,
    /// Tag the service with the object's UID (it adopts a released service).
    Tags,
    /// Register the scalable target with new bounds.
    ScalableTarget,
    /// Put the target-tracking policy.
    ScalingPolicy,
    /// Delete Ferry's policy (the service no longer autoscales).
    RemoveScalingPolicy,
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// What must change for AWS to match `requests`; empty when nothing.
pub fn diff(requests: &Requests, observed: &Observed) -> Vec<Change> {
    let mut changes = Vec::new();
    let service = &observed.service;
    // A revision whose rollout failed and was rolled back is not deployed again until the
    // spec changes: that would fail the same way, over and over.
    let failed_is_requested = observed
        .failed_task_definition
        .as_ref()
        .is_some_and(|t| t.is_requested(requests));
    let deployed = observed
        .task_definition
        .as_ref()
        .is_some_and(|t| t.is_requested(requests));
    if !deployed && !failed_is_requested {
        changes.push(Change::TaskDefinition);
    }
    let want = &requests.service;
    let vpc = &want.network_configuration.awsvpc_configuration;
    let capacity_matches = if want.capacity_provider_strategy.is_empty() {
        service.launch_type.as_deref() == Some("FARGATE")
            || service.capacity_providers == ["FARGATE"]
    } else {
        service.capacity_providers == ["FARGATE_SPOT"]
    };
    let service_matches = service.tags.get(TAG_FINGERPRINT) == Some(&requests.service_fingerprint)
        && capacity_matches
        && same_set(&service.subnets, &vpc.subnets)
        && same_set(&service.security_groups, &vpc.security_groups)
        && service
            .assign_public_ip
            .is_none_or(|on| on == (vpc.assign_public_ip == "ENABLED"))
        && same_set(
            &service.target_group_arns,
            &want
                .load_balancers
                .iter()
                .map(|l| l.target_group_arn.clone())
                .collect::<Vec<_>>(),
        );
    let uid_tag = |tags: &[Tag]| {
        tags.iter()
            .find(|t| t.key == TAG_UID)
            .map(|t| t.value.clone())
    };
    if !service_matches {
        changes.push(Change::Service);
    } else if service.tags.get(TAG_UID).cloned() != uid_tag(&want.tags) {
        // A service released by an earlier object of this name, now adopted.
        changes.push(Change::Tags);
    }
    let target = &requests.scalable_target;
    match &observed.scaling {
        Some(s) if s.min == target.min_capacity && s.max == target.max_capacity => {}
        _ => changes.push(Change::ScalableTarget),
    }
    let policy = observed.scaling.as_ref().and_then(|s| s.policy.as_ref());
    match (&requests.scaling_policy, policy) {
        (Some(want), Some(have)) if policy_matches(want, have) => {}
        (Some(_), _) => changes.push(Change::ScalingPolicy),
        (None, Some(_)) => changes.push(Change::RemoveScalingPolicy),
        (None, None) => {}
    }
    changes
}

fn policy_matches(want: &ScalingPolicy, have: &ObservedPolicy) -> bool {
    let tracking = &want.target_tracking_scaling_policy_configuration;
    let metric = &tracking.predefined_metric_specification;
    have.metric == metric.predefined_metric_type
        && (have.target_value - tracking.target_value).abs() < f64::EPSILON
        && have
            .scale_in_cooldown
            .is_none_or(|c| c == tracking.scale_in_cooldown)
        && have.resource_label == metric.resource_label
}
