//! Table tests: each part of a ServerlessService and its ProviderConfig, and the `CreateService`
//! fields they become, checked on the request JSON.

use ferry_provider_fargate::build::{self, TAG_FINGERPRINT, TAG_UID};
use serde_json::{Value, json};

use crate::common::{
    AWS_PROD, LOAD_BALANCER, TARGET_GROUP, UID, desired, json, provider_config, requests, simple,
};

/// The `CreateService` request for `spec` under the example ProviderConfig.
fn service(spec: &str) -> Value {
    json(&requests(spec).service)
}

#[test]
fn a_minimal_service_is_exactly_this() {
    let requests = requests(&simple("", ""));
    assert_eq!(
        json(&requests.service),
        json!({
            "cluster": "prod",
            "serviceName": "shop_hello",
            "desiredCount": 1,
            "launchType": "FARGATE",
            "platformVersion": "LATEST",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"],
                    "securityGroups": ["sg-0123456789abcdef0"],
                    "assignPublicIp": "ENABLED",
                },
            },
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {"enable": true, "rollback": true},
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            },
            "schedulingStrategy": "REPLICA",
            "propagateTags": "SERVICE",
            "enableECSManagedTags": true,
            "tags": [
                {"key": "ferry.dev/managed-by", "value": "ferry"},
                {"key": "ferry.dev/namespace", "value": "shop"},
                {"key": "ferry.dev/name", "value": "hello"},
                {"key": TAG_UID, "value": UID},
                {"key": TAG_FINGERPRINT, "value": requests.service_fingerprint},
            ],
        })
    );
    assert_ne!(
        requests.service_fingerprint,
        requests.task_definition_fingerprint
    );
}

#[test]
fn the_cluster_is_the_services_own_over_the_provider_configs() {
    assert_eq!(service(&simple("", ""))["cluster"], "prod");
    let p = requests(&simple("", "fargate: {cluster: shop-cluster}"));
    assert_eq!(json(&p.service)["cluster"], "shop-cluster");
    assert_eq!(p.account.cluster, "shop-cluster");
}

#[test]
fn on_demand_uses_the_launch_type_and_spot_a_capacity_provider_strategy_never_both() {
    let cases = [
        ("", Some("FARGATE"), None),
        (
            "fargate: {capacityProvider: FARGATE}",
            Some("FARGATE"),
            None,
        ),
        (
            "fargate: {capacityProvider: FARGATE_SPOT}",
            None,
            Some(json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1}])),
        ),
    ];
    for (extra, launch_type, strategy) in cases {
        let s = service(&simple("", extra));
        assert_eq!(
            s.get("launchType"),
            launch_type.map(Value::from).as_ref(),
            "{extra}"
        );
        assert_eq!(
            s.get("capacityProviderStrategy"),
            strategy.as_ref(),
            "{extra}"
        );
        assert!(
            s.get("launchType").is_some() != s.get("capacityProviderStrategy").is_some(),
            "ECS refuses a launch type together with a strategy: {s}"
        );
    }
}

#[test]
fn networking_is_the_services_own_over_the_defaults() {
    let vpc = |s: &Value| s["networkConfiguration"]["awsvpcConfiguration"].clone();
    let s = service(&simple(
        "",
        "fargate: {subnets: [subnet-0aaa], securityGroups: [sg-0bbb, sg-0ccc]}",
    ));
    assert_eq!(vpc(&s)["subnets"], json!(["subnet-0aaa"]));
    assert_eq!(vpc(&s)["securityGroups"], json!(["sg-0bbb", "sg-0ccc"]));

    let s = service(&simple("", "fargate: {subnets: [subnet-0aaa]}"));
    assert_eq!(vpc(&s)["subnets"], json!(["subnet-0aaa"]));
    assert_eq!(
        vpc(&s)["securityGroups"],
        json!(["sg-0123456789abcdef0"]),
        "security groups still from the defaults"
    );

    let config =
        provider_config("{region: us-east-1, cluster: prod, defaults: {subnets: [subnet-0a1]}}");
    let p = build::requests(&desired(&simple("", "")), &config, AWS_PROD).unwrap();
    let vpc = &json(&p.service)["networkConfiguration"]["awsvpcConfiguration"];
    assert_eq!(vpc["subnets"], json!(["subnet-0a1"]));
    assert!(
        vpc.get("securityGroups").is_none(),
        "no groups anywhere: ECS uses the VPC's default group: {vpc}"
    );
}

#[test]
fn public_ingress_assigns_public_ips_unless_the_service_says_otherwise() {
    let cases = [
        ("", "ENABLED"),
        ("ingress: public", "ENABLED"),
        ("ingress: internal", "DISABLED"),
        (
            "ingress: public, fargate: {assignPublicIp: false}",
            "DISABLED",
        ),
        (
            "ingress: internal, fargate: {assignPublicIp: true}",
            "ENABLED",
        ),
    ];
    for (extra, assign) in cases {
        let s = service(&simple("", extra));
        assert_eq!(
            s["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"], assign,
            "{extra}"
        );
    }
}

#[test]
fn a_target_group_receives_the_serving_container_on_its_port() {
    let s = service(&format!(
        "{{provider: fargate, containers: [\
          {{name: envoy, image: 'docker.io/envoyproxy/envoy:v1.31.0'}}, \
          {{name: web, image: 'ghcr.io/acme/hello:1', port: 9000}}], \
          fargate: {{loadBalancer: {{targetGroupArn: '{TARGET_GROUP}', \
                                    loadBalancerArn: '{LOAD_BALANCER}'}}}}}}"
    ));
    assert_eq!(
        s["loadBalancers"],
        json!([{"targetGroupArn": TARGET_GROUP, "containerName": "web", "containerPort": 9000}])
    );
    assert!(service(&simple("", "")).get("loadBalancers").is_none());
}

#[test]
fn with_a_target_group_the_grace_period_is_the_liveness_probes_initial_delay() {
    let lb = format!("fargate: {{loadBalancer: {{targetGroupArn: '{TARGET_GROUP}'}}}}");
    let delayed = "probes: {liveness: {httpGet: {path: /health}, initialDelaySeconds: 45}}";
    let cases = [
        ("a target group and a delay", delayed, lb.as_str(), Some(45)),
        ("no target group", delayed, "", None),
        (
            "no delay",
            "probes: {liveness: {httpGet: {path: /health}}}",
            lb.as_str(),
            None,
        ),
        ("no probe", "", lb.as_str(), None),
    ];
    for (case, container, extra, grace) in cases {
        let s = service(&simple(container, extra));
        assert_eq!(
            s.get("healthCheckGracePeriodSeconds"),
            grace.map(Value::from).as_ref(),
            "{case}"
        );
    }
    let sidecar_probe = service(&format!(
        "{{provider: fargate, containers: [\
          {{name: app, image: 'ghcr.io/acme/hello:1', port: 8080}}, \
          {{name: envoy, image: 'docker.io/envoyproxy/envoy:v1.31.0', \
           probes: {{liveness: {{httpGet: {{path: /ready, port: 9901}}, initialDelaySeconds: 60}}}}}}], \
          {lb}}}"
    ));
    assert!(
        sidecar_probe.get("healthCheckGracePeriodSeconds").is_none(),
        "only the serving container's probe counts: {sidecar_probe}"
    );
}

#[test]
fn deployments_roll_back_on_failure_and_tasks_carry_the_services_tags() {
    let s = service(&simple("", ""));
    assert_eq!(
        s["deploymentConfiguration"]["deploymentCircuitBreaker"],
        json!({"enable": true, "rollback": true})
    );
    assert_eq!(s["deploymentConfiguration"]["minimumHealthyPercent"], 100);
    assert_eq!(s["deploymentConfiguration"]["maximumPercent"], 200);
    assert_eq!(s["propagateTags"], "SERVICE");
    assert_eq!(s["enableECSManagedTags"], true);
    assert_eq!(s["schedulingStrategy"], "REPLICA");
}

#[test]
fn the_platform_version_is_latest_unless_given() {
    assert_eq!(service(&simple("", ""))["platformVersion"], "LATEST");
    assert_eq!(
        service(&simple("", "fargate: {platformVersion: 1.4.0}"))["platformVersion"],
        "1.4.0"
    );
}

#[test]
fn the_first_desired_count_is_initial_instances_else_min_instances() {
    let cases = [
        ("", 1),
        ("scaling: {minInstances: 3}", 3),
        ("scaling: {minInstances: 2, maxInstances: 10}", 2),
        (
            "scaling: {minInstances: 2, maxInstances: 10, initialInstances: 5}",
            5,
        ),
    ];
    for (extra, count) in cases {
        assert_eq!(
            service(&simple("", extra))["desiredCount"],
            count,
            "{extra}"
        );
    }
}

#[test]
fn service_and_task_definition_carry_different_fingerprints_in_the_same_tags() {
    let p = requests(&simple("", ""));
    let keys = |tags: &[build::Tag]| tags.iter().map(|t| t.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&p.service.tags), keys(&p.task_definition.tags));
    let fingerprint = |tags: &[build::Tag]| {
        tags.iter()
            .find(|t| t.key == TAG_FINGERPRINT)
            .map(|t| t.value.clone())
    };
    assert_eq!(
        fingerprint(&p.service.tags),
        Some(p.service_fingerprint.clone())
    );
    assert_eq!(
        fingerprint(&p.task_definition.tags),
        Some(p.task_definition_fingerprint.clone())
    );
}
