//! Helpers: Fargate specs and ProviderConfigs from inline YAML (validated by the testkit's
//! `builders`, as the controller validates them), their requests, and what AWS would describe
//! once it holds exactly those.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ferry_api::FargateProviderConfig;
use ferry_core::desired::Desired;
use ferry_provider_fargate::build::{
    self, Observed, ObservedPolicy, ObservedScaling, ObservedService, ObservedTaskDefinition,
    Requests, Rollout, Tag,
};
use ferry_testkit::builders::{self, simple_spec};
// What every builder test shares, from the testkit, under the names the tests use.
pub(crate) use ferry_testkit::builders::{UID, examples_dir, json, serverless_service};

/// The desired model of `svc`, validated by this backend's rules.
pub(crate) fn desired_of(svc: &ferry_api::ServerlessService) -> ferry_core::desired::Desired {
    ferry_testkit::builders::desired_of(svc, &ferry_provider_fargate::Fargate)
}

/// The desired model for `spec` (YAML), validated by this backend's rules.
pub(crate) fn desired(spec: &str) -> ferry_core::desired::Desired {
    ferry_testkit::builders::desired(spec, &ferry_provider_fargate::Fargate)
}

/// The ProviderConfig of deploy/examples/providerconfig-aws.yaml.
pub(crate) const AWS_PROD: &str = "aws-prod";
/// The account of that ProviderConfig.
pub(crate) const ACCOUNT_ID: &str = "123456789012";
/// A target group and its load balancer.
pub(crate) const TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/hello/6d0ecf831eec9f09";
pub(crate) const LOAD_BALANCER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188";

pub(crate) fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A single-container Fargate spec with `extra` spec fields (YAML, no braces) and the container
/// fields `container` added to `name: app, image: ..., port: 8080`.
pub(crate) fn simple(container: &str, extra: &str) -> String {
    simple_spec("fargate", "ghcr.io/acme/hello:1.4.2", container, extra)
}

/// `spec.fargate` of the ProviderConfig `aws-prod` in deploy/examples/providerconfig-aws.yaml.
pub(crate) fn example_provider_config() -> FargateProviderConfig {
    builders::example_provider_config("providerconfig-aws.yaml", AWS_PROD, |spec| spec.fargate)
}

/// A ProviderConfig's `spec.fargate` from YAML.
pub(crate) fn provider_config(yaml: &str) -> FargateProviderConfig {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// A ProviderConfig with only a region and a cluster: the service must give the rest.
pub(crate) fn bare_provider_config() -> FargateProviderConfig {
    provider_config("{region: eu-west-1, cluster: bare}")
}

/// The requests for `desired` under the example ProviderConfig.
pub(crate) fn requests_for(desired: &Desired) -> Requests {
    build::requests(desired, &example_provider_config(), AWS_PROD)
        .unwrap_or_else(|e| panic!("no requests: {e}"))
}

/// The requests for `spec` under the example ProviderConfig.
pub(crate) fn requests(spec: &str) -> Requests {
    requests_for(&desired(spec))
}

/// Tags as the map AWS describes.
pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// The ARN of revision `revision` of `family`.
pub(crate) fn task_definition_arn(family: &str, revision: i32) -> String {
    format!("arn:aws:ecs:us-east-1:{ACCOUNT_ID}:task-definition/{family}:{revision}")
}

/// The task definition revision `revision` registered from `requests`.
pub(crate) fn registered(requests: &Requests, revision: i32) -> ObservedTaskDefinition {
    let family = &requests.task_definition.family;
    ObservedTaskDefinition {
        arn: task_definition_arn(family, revision),
        family: family.clone(),
        revision,
        tags: tag_map(&requests.task_definition.tags),
    }
}

/// What AWS describes once it holds exactly `requests`, with revision 3 of the task definition
/// deployed and every task running. Lists come back in another order than they were sent, and
/// ECS reports the platform version it resolved `LATEST` to.
pub(crate) fn mirror(requests: &Requests) -> Observed {
    let s = &requests.service;
    let vpc = &s.network_configuration.awsvpc_configuration;
    let task_definition = registered(requests, 3);
    let reversed = |list: &[String]| list.iter().rev().cloned().collect::<Vec<_>>();
    let service = ObservedService {
        arn: format!(
            "arn:aws:ecs:us-east-1:{ACCOUNT_ID}:service/{}/{}",
            s.cluster, s.service_name
        ),
        name: s.service_name.clone(),
        status: "ACTIVE".into(),
        task_definition: task_definition.arn.clone(),
        desired_count: s.desired_count,
        running_count: s.desired_count,
        pending_count: 0,
        rollout: Some(Rollout {
            state: "COMPLETED".into(),
            reason: Some("ECS deployment ecs-svc/5503471093434367811 completed.".into()),
            task_definition: task_definition.arn.clone(),
        }),
        failed_rollout: None,
        launch_type: s.launch_type.clone(),
        capacity_providers: s
            .capacity_provider_strategy
            .iter()
            .map(|c| c.capacity_provider.clone())
            .collect(),
        platform_version: Some("1.4.0".into()),
        subnets: reversed(&vpc.subnets),
        security_groups: reversed(&vpc.security_groups),
        assign_public_ip: Some(vpc.assign_public_ip == "ENABLED"),
        target_group_arns: s
            .load_balancers
            .iter()
            .map(|l| l.target_group_arn.clone())
            .collect(),
        tags: tag_map(&s.tags),
        events: vec![format!(
            "(service {}) has reached a steady state.",
            s.service_name
        )],
    };
    let scaling = ObservedScaling {
        min: requests.scalable_target.min_capacity,
        max: requests.scalable_target.max_capacity,
        policy: requests.scaling_policy.as_ref().map(|p| {
            let tracking = &p.target_tracking_scaling_policy_configuration;
            ObservedPolicy {
                name: p.policy_name.clone(),
                metric: tracking
                    .predefined_metric_specification
                    .predefined_metric_type
                    .clone(),
                target_value: tracking.target_value,
                scale_in_cooldown: Some(tracking.scale_in_cooldown),
                resource_label: tracking
                    .predefined_metric_specification
                    .resource_label
                    .clone(),
            }
        }),
    };
    Observed {
        service,
        task_definition: Some(task_definition),
        failed_task_definition: None,
        scaling: Some(scaling),
    }
}
