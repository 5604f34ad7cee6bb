//! What AWS describes for one object, reduced to the facts [`diff`](super::diff()) and
//! [`readiness`](super::readiness()) need; `client/directory.rs` reads them from ECS and
//! Application Auto Scaling.

use std::collections::BTreeMap;

use super::requests::Requests;
use super::tags::TAG_FINGERPRINT;

/// A service as ECS describes it: the facts [`diff`](super::diff()) and
/// [`readiness`](super::readiness()) need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedService {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// The task definition ARN of the service.
    pub task_definition: String,
    /// Tasks wanted.
    pub desired_count: i32,
    /// Tasks running.
    pub running_count: i32,
    /// Tasks starting.
    pub pending_count: i32,
    /// The PRIMARY deployment.
    pub rollout: Option<Rollout>,
    /// The newest deployment that failed, when it is not the primary one (ECS rolled it back).
    pub failed_rollout: Option<Rollout>,
    /// `FARGATE`, unless a strategy is used.
    pub launch_type: Option<String>,
    /// Capacity providers of the strategy, in order.
    pub capacity_providers: Vec<String>,
    /// Platform version.
    pub platform_version: Option<String>,
    /// Subnets.
    pub subnets: Vec<String>,
    /// Security groups.
    pub security_groups: Vec<String>,
    /// Whether tasks get public IPs, when reported.
    pub assign_public_ip: Option<bool>,
    /// Target groups.
    pub target_group_arns: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The newest service events, newest first.
    pub events: Vec<String>,
}

/// One deployment's rollout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rollout {
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    pub state: String,
    /// ECS's explanation.
    pub reason: Option<String>,
    /// The task definition it deploys.
    pub task_definition: String,
}

/// A task definition revision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedTaskDefinition {
    /// ARN.
    pub arn: String,
    /// Family.
    pub family: String,
    /// Revision.
    pub revision: i32,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl ObservedTaskDefinition {
    /// Whether this revision is the task definition of `requests`.
    pub fn is_requested(&self, requests: &Requests) -> bool {
        self.family == requests.task_definition.family
            && self.tags.get(TAG_FINGERPRINT) == Some(&requests.task_definition_fingerprint)
    }
}

/// The scalable target of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedScaling {
    /// Fewest tasks.
    pub min: i32,
    /// Most tasks.
    pub max: i32,
    /// Ferry's policy, when one exists.
    pub policy: Option<ObservedPolicy>,
}

/// Ferry's target-tracking policy as described.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedPolicy {
    /// Name.
    pub name: String,
    /// The predefined metric.
    pub metric: String,
    /// Target.
    pub target_value: f64,
    /// Scale-in cooldown.
    pub scale_in_cooldown: Option<i32>,
    /// Resource label.
    pub resource_label: Option<String>,
}

/// What AWS holds for one object.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// The service.
    pub service: ObservedService,
    /// Its task definition.
    pub task_definition: Option<ObservedTaskDefinition>,
    /// The task definition of `service.failed_rollout`, when there is one.
    pub failed_task_definition: Option<ObservedTaskDefinition>,
    /// Its scaling.
    pub scaling: Option<ObservedScaling>,
}
