//! Application Auto Scaling for ECS services, as Ferry's Fargate backend uses it.

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget,
    ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};

use crate::support::aws;

const DIMENSION: ScalableDimension = ScalableDimension::EcsServiceDesiredCount;

#[tokio::test]
async fn scalable_target_and_target_tracking_policy_round_trip() {
    let aws = aws().await;
    let cluster = "autoscaling";
    let task_definition = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    aws.create_service(cluster, "web", &task_definition, 1)
        .await;
    aws.create_service(cluster, "web-2", &task_definition, 1)
        .await;
    let web = format!("service/{cluster}/web");
    let web_2 = format!("service/{cluster}/web-2");

    for (resource, max) in [(&web, 5), (&web, 6), (&web_2, 3)] {
        aws.scaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(resource)
            .scalable_dimension(DIMENSION)
            .min_capacity(1)
            .max_capacity(max)
            .send()
            .await
            .unwrap();
    }
    let targets = aws
        .scaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(&web)
        .send()
        .await
        .unwrap();
    let targets = targets.scalable_targets();
    assert_eq!(targets.len(), 1);
    assert_eq!(
        (targets[0].min_capacity(), targets[0].max_capacity()),
        (1, 6)
    );

    let tracking = TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(60.0)
        .predefined_metric_specification(
            PredefinedMetricSpecification::builder()
                .predefined_metric_type(MetricType::EcsServiceAverageCpuUtilization)
                .build()
                .unwrap(),
        )
        .scale_in_cooldown(60)
        .scale_out_cooldown(30)
        .build()
        .unwrap();
    for resource in [&web, &web_2] {
        aws.scaling
            .put_scaling_policy()
            .policy_name("cpu")
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(resource)
            .scalable_dimension(DIMENSION)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(tracking.clone())
            .send()
            .await
            .unwrap();
    }
    let policies = |names: &'static [&'static str]| {
        aws.scaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&web)
            .scalable_dimension(DIMENSION)
            .set_policy_names(Some(names.iter().map(|n| (*n).to_owned()).collect()))
            .send()
    };
    let described = policies(&["cpu"]).await.unwrap();
    let described = described.scaling_policies();
    assert_eq!(described.len(), 1, "web-2's policy is not web's");
    assert_eq!(described[0].resource_id(), web);
    assert_eq!(
        described[0].target_tracking_scaling_policy_configuration(),
        Some(&tracking)
    );
    assert_eq!(policies(&["memory"]).await.unwrap().scaling_policies(), []);

    aws.scaling
        .delete_scaling_policy()
        .policy_name("cpu")
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&web)
        .scalable_dimension(DIMENSION)
        .send()
        .await
        .unwrap();
    assert_eq!(policies(&["cpu"]).await.unwrap().scaling_policies(), []);

    aws.scaling
        .deregister_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&web)
        .scalable_dimension(DIMENSION)
        .send()
        .await
        .unwrap();
    let remaining = aws
        .scaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(&web)
        .resource_ids(&web_2)
        .send()
        .await
        .unwrap();
    let remaining: Vec<_> = remaining
        .scalable_targets()
        .iter()
        .map(ScalableTarget::resource_id)
        .collect();
    assert_eq!(remaining, [web_2.as_str()]);
}

#[tokio::test]
async fn deregistering_a_target_deletes_its_policies() {
    let aws = aws().await;
    let cluster = "autoscaling-deregister";
    let task_definition = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    aws.create_service(cluster, "web", &task_definition, 1)
        .await;
    let web = format!("service/{cluster}/web");
    aws.scaling
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&web)
        .scalable_dimension(DIMENSION)
        .min_capacity(1)
        .max_capacity(2)
        .send()
        .await
        .unwrap();
    let tracking = TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(70.0)
        .predefined_metric_specification(
            PredefinedMetricSpecification::builder()
                .predefined_metric_type(MetricType::EcsServiceAverageMemoryUtilization)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    aws.scaling
        .put_scaling_policy()
        .policy_name("memory")
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&web)
        .scalable_dimension(DIMENSION)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(tracking)
        .send()
        .await
        .unwrap();

    aws.scaling
        .deregister_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&web)
        .scalable_dimension(DIMENSION)
        .send()
        .await
        .unwrap();

    let policies = aws
        .scaling
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&web)
        .send()
        .await
        .unwrap();
    assert_eq!(policies.scaling_policies(), []);
}
