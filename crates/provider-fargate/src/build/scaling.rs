//! Application Auto Scaling: the scalable target that bounds a service's task count, and the
//! target-tracking policy that moves it between the bounds.

use super::to_i32;
use crate::model::FargateModel;
use ferry_api::ScalingMetric;
use ferry_core::desired::Desired;
use serde::Serialize;

/// Application Auto Scaling's names for an ECS service's task count.
pub const SCALING_NAMESPACE: &str = "ecs";
/// The scalable dimension of an ECS service.
pub const SCALABLE_DIMENSION: &str = "ecs:service:DesiredCount";

/// Target utilisation, in percent, when `spec.scaling.target` is not set for cpu or memory.
pub const DEFAULT_UTILIZATION_TARGET: u32 = 70;
/// Scale-out cooldown: AWS's own default for ECS target tracking.
const SCALE_OUT_COOLDOWN_SECONDS: i32 = 60;
/// Scale-in cooldown when `spec.scaling.scaleDownDelaySeconds` is not set (AWS's default).
const SCALE_IN_COOLDOWN_SECONDS: i32 = 300;

/// `RegisterScalableTarget`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalableTarget {
    /// `ecs`.
    pub service_namespace: String,
    /// `service/CLUSTER/SERVICE`.
    pub resource_id: String,
    /// `ecs:service:DesiredCount`.
    pub scalable_dimension: String,
    /// Fewest tasks.
    pub min_capacity: i32,
    /// Most tasks.
    pub max_capacity: i32,
}

/// `PutScalingPolicy` with target tracking.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingPolicy {
    /// `ferry-SERVICE`.
    pub policy_name: String,
    /// `ecs`.
    pub service_namespace: String,
    /// `service/CLUSTER/SERVICE`.
    pub resource_id: String,
    /// `ecs:service:DesiredCount`.
    pub scalable_dimension: String,
    /// `TargetTrackingScaling`.
    pub policy_type: String,
    /// What to track.
    pub target_tracking_scaling_policy_configuration: TargetTracking,
}

/// `TargetTrackingScalingPolicyConfiguration`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetTracking {
    /// The value to hold the metric at.
    pub target_value: f64,
    /// The metric.
    pub predefined_metric_specification: PredefinedMetric,
    /// Seconds after a scale-in before the next.
    pub scale_in_cooldown: i32,
    /// Seconds after a scale-out before the next.
    pub scale_out_cooldown: i32,
}

/// `PredefinedMetricSpecification`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PredefinedMetric {
    /// `ECSServiceAverageCPUUtilization`, `ECSServiceAverageMemoryUtilization` or
    /// `ALBRequestCountPerTarget`.
    pub predefined_metric_type: String,
    /// The load balancer and target group, for `ALBRequestCountPerTarget`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<String>,
}

/// Application Auto Scaling's id of a service.
pub fn scaling_resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

/// The name of Ferry's target-tracking policy for a service.
pub fn policy_name(service: &str) -> String {
    format!("ferry-{service}")
}

/// The task count bounds of `want`'s service: `minInstances` to `maxInstances`, or no room to
/// scale when `maxInstances` is not set.
pub(super) fn scalable_target(want: &Desired, resource_id: String) -> ScalableTarget {
    let min = to_i32(want.scaling.min_instances);
    let max = want.scaling.max_instances.map_or(min, to_i32).max(min);
    ScalableTarget {
        service_namespace: SCALING_NAMESPACE.into(),
        resource_id,
        scalable_dimension: SCALABLE_DIMENSION.into(),
        min_capacity: min,
        max_capacity: max,
    }
}

pub(super) fn scaling_policy(
    want: &Desired,
    model: &FargateModel,
    service: &str,
    resource_id: String,
) -> ScalingPolicy {
    let s = &want.scaling;
    let (metric, target, resource_label) = match s.metric {
        ScalingMetric::Memory => (
            "ECSServiceAverageMemoryUtilization",
            s.target.unwrap_or(DEFAULT_UTILIZATION_TARGET),
            None,
        ),
        // ALBRequestCountPerTarget counts requests per target per minute; the spec's target is
        // per second.
        ScalingMetric::Rps => (
            "ALBRequestCountPerTarget",
            s.target.unwrap_or(1).saturating_mul(60),
            alb_resource_label(model),
        ),
        // cpu is the default; validation refuses concurrency on Fargate.
        _ => (
            "ECSServiceAverageCPUUtilization",
            s.target.unwrap_or(DEFAULT_UTILIZATION_TARGET),
            None,
        ),
    };
    ScalingPolicy {
        policy_name: policy_name(service),
        service_namespace: SCALING_NAMESPACE.into(),
        resource_id,
        scalable_dimension: SCALABLE_DIMENSION.into(),
        policy_type: "TargetTrackingScaling".into(),
        target_tracking_scaling_policy_configuration: TargetTracking {
            target_value: f64::from(target),
            predefined_metric_specification: PredefinedMetric {
                predefined_metric_type: metric.into(),
                resource_label,
            },
            scale_in_cooldown: s
                .scale_down_delay_seconds
                .map_or(SCALE_IN_COOLDOWN_SECONDS, to_i32),
            scale_out_cooldown: SCALE_OUT_COOLDOWN_SECONDS,
        },
    }
}

/// `app/LB-NAME/LB-ID/targetgroup/TG-NAME/TG-ID`, the resource label
/// `ALBRequestCountPerTarget` takes, from the two ARNs.
fn alb_resource_label(model: &FargateModel) -> Option<String> {
    let lb = model.load_balancer_arn.as_deref()?;
    let tg = model.target_group_arn.as_deref()?;
    let lb = &lb[lb.find("loadbalancer/")? + "loadbalancer/".len()..];
    let tg = &tg[tg.find("targetgroup/")?..];
    Some(format!("{lb}/{tg}"))
}
