//! Table tests: `spec.scaling` and the `RegisterScalableTarget` and `PutScalingPolicy`
//! requests it becomes (Application Auto Scaling speaks PascalCase).

use ferry_provider_fargate::build::{SCALABLE_DIMENSION, SCALING_NAMESPACE};
use serde_json::{Value, json};

use crate::common::{LOAD_BALANCER, TARGET_GROUP, json, requests, simple};

fn policy(spec: &str) -> Value {
    json(&requests(spec).scaling_policy)
}

#[test]
fn the_scalable_target_is_the_services_desired_count_between_min_and_max() {
    let p = requests(&simple("", "scaling: {minInstances: 2, maxInstances: 10}"));
    assert_eq!(
        json(&p.scalable_target),
        json!({
            "ServiceNamespace": "ecs",
            "ResourceId": "service/prod/shop_hello",
            "ScalableDimension": "ecs:service:DesiredCount",
            "MinCapacity": 2,
            "MaxCapacity": 10,
        })
    );
    assert_eq!(SCALING_NAMESPACE, "ecs");
    assert_eq!(SCALABLE_DIMENSION, "ecs:service:DesiredCount");

    let p = requests(&simple("", "fargate: {cluster: shop-cluster}"));
    assert_eq!(
        p.scalable_target.resource_id,
        "service/shop-cluster/shop_hello"
    );
}

#[test]
fn a_fixed_task_count_has_no_policy() {
    for extra in [
        "",
        "scaling: {minInstances: 3}",
        "scaling: {minInstances: 3, maxInstances: 3, target: 50}",
    ] {
        let p = requests(&simple("", extra));
        assert_eq!(
            p.scalable_target.min_capacity, p.scalable_target.max_capacity,
            "{extra}"
        );
        assert_eq!(p.scaling_policy, None, "{extra}");
    }
}

#[test]
fn cpu_is_the_default_metric_with_a_70_percent_target() {
    let p = policy(&simple("", "scaling: {minInstances: 1, maxInstances: 4}"));
    assert_eq!(
        p,
        json!({
            "PolicyName": "ferry-shop_hello",
            "ServiceNamespace": "ecs",
            "ResourceId": "service/prod/shop_hello",
            "ScalableDimension": "ecs:service:DesiredCount",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 70.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ECSServiceAverageCPUUtilization",
                },
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
            },
        })
    );
}

#[test]
fn each_metric_tracks_its_predefined_metric() {
    let rps_lb = format!(
        "fargate: {{loadBalancer: {{targetGroupArn: '{TARGET_GROUP}', \
                                   loadBalancerArn: '{LOAD_BALANCER}'}}}}"
    );
    let cases: Vec<(String, Value)> = vec![
        (
            "scaling: {minInstances: 1, maxInstances: 4, metric: cpu, target: 60}".into(),
            json!({"TargetValue": 60.0,
                   "PredefinedMetricSpecification":
                       {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}),
        ),
        (
            "scaling: {minInstances: 1, maxInstances: 4, metric: memory}".into(),
            json!({"TargetValue": 70.0,
                   "PredefinedMetricSpecification":
                       {"PredefinedMetricType": "ECSServiceAverageMemoryUtilization"}}),
        ),
        (
            "scaling: {minInstances: 1, maxInstances: 4, metric: memory, target: 85}".into(),
            json!({"TargetValue": 85.0,
                   "PredefinedMetricSpecification":
                       {"PredefinedMetricType": "ECSServiceAverageMemoryUtilization"}}),
        ),
        (
            // ALBRequestCountPerTarget counts per minute, the spec's target is per second.
            format!(
                "scaling: {{minInstances: 1, maxInstances: 4, metric: rps, target: 100}}, {rps_lb}"
            ),
            json!({"TargetValue": 6000.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ALBRequestCountPerTarget",
                "ResourceLabel":
                    "app/shop/50dc6c495c0c9188/targetgroup/hello/6d0ecf831eec9f09",
            }}),
        ),
    ];
    for (extra, want) in cases {
        let p = policy(&simple("", &extra));
        let tracking = &p["TargetTrackingScalingPolicyConfiguration"];
        assert_eq!(tracking["TargetValue"], want["TargetValue"], "{extra}");
        assert_eq!(
            tracking["PredefinedMetricSpecification"], want["PredefinedMetricSpecification"],
            "{extra}"
        );
    }
}

#[test]
fn the_scale_in_cooldown_is_the_scale_down_delay() {
    let cases = [
        ("scaling: {minInstances: 1, maxInstances: 4}", 300),
        (
            "scaling: {minInstances: 1, maxInstances: 4, scaleDownDelaySeconds: 0}",
            0,
        ),
        (
            "scaling: {minInstances: 1, maxInstances: 4, scaleDownDelaySeconds: 120}",
            120,
        ),
    ];
    for (extra, cooldown) in cases {
        let p = policy(&simple("", extra));
        let tracking = &p["TargetTrackingScalingPolicyConfiguration"];
        assert_eq!(tracking["ScaleInCooldown"], cooldown, "{extra}");
        assert_eq!(tracking["ScaleOutCooldown"], 60, "{extra}");
    }
}
