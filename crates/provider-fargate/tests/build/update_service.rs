//! `update_service`: the `UpdateService` that brings an observed service to its requests, in
//! particular across capacity providers (ECS cannot go back from a strategy to a launch type).

use ferry_provider_fargate::build::update_service;
use serde_json::{Value, json};

use crate::common::{TARGET_GROUP, json, mirror, requests, simple, task_definition_arn};

const SPOT: &str = "fargate: {capacityProvider: FARGATE_SPOT}";

fn update(spec: &str, observed_spec: &str) -> Value {
    let observed = mirror(&requests(observed_spec)).service;
    json(&update_service(
        &requests(spec),
        &observed,
        &task_definition_arn("shop_hello", 4),
    ))
}

#[test]
fn an_update_carries_the_requested_settings_and_the_new_revision_but_no_task_count() {
    let spec = simple(
        "",
        &format!(
            "ingress: internal, scaling: {{minInstances: 2, maxInstances: 6}}, \
             fargate: {{loadBalancer: {{targetGroupArn: '{TARGET_GROUP}'}}}}"
        ),
    );
    let p = requests(&spec);
    let request = update(&spec, &spec);
    let create = json(&p.service);
    assert_eq!(
        request,
        json!({
            "cluster": "prod",
            "service": "shop_hello",
            "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/shop_hello:4",
            "platformVersion": "LATEST",
            "networkConfiguration": create["networkConfiguration"],
            "loadBalancers": [{"targetGroupArn": TARGET_GROUP, "containerName": "app",
                               "containerPort": 8080}],
            "deploymentConfiguration": create["deploymentConfiguration"],
            // No liveness delay: 0, so an earlier grace period does not linger.
            "healthCheckGracePeriodSeconds": 0,
            "propagateTags": "SERVICE",
            "enableECSManagedTags": true,
            "forceNewDeployment": false,
        })
    );
    assert_eq!(
        request["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"],
        "DISABLED"
    );
}

#[test]
fn removing_the_target_group_sends_an_empty_list() {
    let with_lb = simple(
        "",
        &format!("fargate: {{loadBalancer: {{targetGroupArn: '{TARGET_GROUP}'}}}}"),
    );
    let request = update(&simple("", ""), &with_lb);
    assert_eq!(
        request["loadBalancers"],
        json!([]),
        "an absent list would leave the target group attached"
    );
}

#[test]
fn an_update_carries_the_grace_period() {
    let spec = simple(
        "probes: {liveness: {httpGet: {path: /health}, initialDelaySeconds: 45}}",
        &format!("fargate: {{loadBalancer: {{targetGroupArn: '{TARGET_GROUP}'}}}}"),
    );
    assert_eq!(update(&spec, &spec)["healthCheckGracePeriodSeconds"], 45);
}

#[test]
fn dropping_the_initial_delay_resets_the_grace_period() {
    let lb = format!("fargate: {{loadBalancer: {{targetGroupArn: '{TARGET_GROUP}'}}}}");
    let before = simple(
        "probes: {liveness: {httpGet: {path: /health}, initialDelaySeconds: 45}}",
        &lb,
    );
    let after = simple("probes: {liveness: {httpGet: {path: /health}}}", &lb);
    assert_eq!(
        update(&after, &before).get("healthCheckGracePeriodSeconds"),
        Some(&json!(0)),
        "left out, ECS keeps the 45 s of the earlier spec"
    );
}

#[test]
fn on_demand_on_a_launch_type_service_stays_on_the_launch_type() {
    let request = update(&simple("", ""), &simple("", ""));
    assert!(
        request.get("capacityProviderStrategy").is_none(),
        "{request}"
    );
    assert_eq!(request["forceNewDeployment"], false);
}

#[test]
fn spot_on_a_launch_type_service_moves_to_a_strategy_with_a_new_deployment() {
    let request = update(&simple("", SPOT), &simple("", ""));
    assert_eq!(
        request["capacityProviderStrategy"],
        json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1}])
    );
    assert_eq!(request["forceNewDeployment"], true);
}

#[test]
fn on_demand_on_a_strategy_service_is_the_fargate_strategy() {
    let request = update(&simple("", ""), &simple("", SPOT));
    assert_eq!(
        request["capacityProviderStrategy"],
        json!([{"capacityProvider": "FARGATE", "weight": 1}])
    );
    assert_eq!(request["forceNewDeployment"], true);

    let mut observed = mirror(&requests(&simple("", ""))).service;
    observed.launch_type = None;
    observed.capacity_providers = vec!["FARGATE".into()];
    let request = json(&update_service(
        &requests(&simple("", "")),
        &observed,
        &task_definition_arn("shop_hello", 4),
    ));
    assert_eq!(
        request["capacityProviderStrategy"],
        json!([{"capacityProvider": "FARGATE", "weight": 1}])
    );
    assert_eq!(
        request["forceNewDeployment"], false,
        "already on the FARGATE strategy"
    );
}

#[test]
fn spot_on_a_spot_service_needs_no_new_deployment() {
    let request = update(&simple("", SPOT), &simple("", SPOT));
    assert_eq!(
        request["capacityProviderStrategy"],
        json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1}])
    );
    assert_eq!(request["forceNewDeployment"], false);
}
