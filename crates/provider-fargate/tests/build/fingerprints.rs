//! Fingerprints: stable for the same spec, and moving only for the resource whose request
//! changed, so a new image redeploys without touching the service and a networking change
//! updates the service without registering a task definition.

use ferry_provider_fargate::build;

use crate::common::{desired, requests, requests_for, simple};

#[test]
fn the_same_spec_twice_builds_the_same_requests() {
    let spec = simple(
        "resources: {cpu: '1', memory: 2Gi}, env: [{name: MODE, value: prod}]",
        "scaling: {minInstances: 2, maxInstances: 5}",
    );
    let (a, b) = (requests(&spec), requests(&spec));
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a.rendered()).unwrap(),
        serde_json::to_string(&b.rendered()).unwrap()
    );
}

#[test]
fn a_change_moves_only_the_fingerprint_of_the_request_it_is_part_of() {
    let base = simple("", "");
    let tg = "fargate: {loadBalancer: {targetGroupArn: \
              'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/hello/6d0ecf831eec9f09'}}";
    // (what changes, spec before, spec after, task definition fingerprint moves, service
    //  fingerprint moves)
    let cases: Vec<(&str, String, String, bool, bool)> = vec![
        (
            "the image",
            base.clone(),
            base.replace("hello:1.4.2", "hello:1.4.3"),
            true,
            false,
        ),
        (
            "an env var",
            base.clone(),
            simple("env: [{name: MODE, value: debug}]", ""),
            true,
            false,
        ),
        (
            "the size",
            base.clone(),
            simple("resources: {cpu: '1', memory: 2Gi}", ""),
            true,
            false,
        ),
        (
            "the port",
            base.clone(),
            base.replace("port: 8080", "port: 9000"),
            true,
            false,
        ),
        (
            "the architecture",
            base.clone(),
            simple("", "fargate: {cpuArchitecture: ARM64}"),
            true,
            false,
        ),
        (
            "the subnets",
            simple("", "fargate: {subnets: [subnet-0aaa]}"),
            simple("", "fargate: {subnets: [subnet-0bbb]}"),
            false,
            true,
        ),
        (
            "the ingress",
            base.clone(),
            simple("", "ingress: internal"),
            false,
            true,
        ),
        (
            "the capacity provider",
            base.clone(),
            simple("", "fargate: {capacityProvider: FARGATE_SPOT}"),
            false,
            true,
        ),
        (
            "the platform version",
            base.clone(),
            simple("", "fargate: {platformVersion: 1.4.0}"),
            false,
            true,
        ),
        (
            "the target group",
            base.clone(),
            simple("", tg),
            false,
            true,
        ),
        (
            "the scaling metric",
            simple("", "scaling: {minInstances: 1, maxInstances: 5}"),
            simple(
                "",
                "scaling: {minInstances: 1, maxInstances: 5, metric: memory}",
            ),
            false,
            false,
        ),
        (
            "maxInstances",
            simple("", "scaling: {minInstances: 1, maxInstances: 5}"),
            simple("", "scaling: {minInstances: 1, maxInstances: 9}"),
            false,
            false,
        ),
    ];
    for (case, before, after, td_moves, service_moves) in cases {
        let (before, after) = (requests(&before), requests(&after));
        assert_eq!(
            before.task_definition_fingerprint != after.task_definition_fingerprint,
            td_moves,
            "{case}: task definition fingerprint"
        );
        assert_eq!(
            before.service_fingerprint != after.service_fingerprint,
            service_moves,
            "{case}: service fingerprint"
        );
    }
}

#[test]
fn the_uid_changes_no_fingerprint_but_the_client_token() {
    let spec = simple("", "");
    let mut first = desired(&spec);
    let mut second = first.clone();
    first.object.uid = Some("11111111-1111-4111-8111-111111111111".into());
    second.object.uid = Some("22222222-2222-4222-8222-222222222222".into());
    let (a, b) = (requests_for(&first), requests_for(&second));
    assert_eq!(a.task_definition_fingerprint, b.task_definition_fingerprint);
    assert_eq!(a.service_fingerprint, b.service_fingerprint);
    assert_ne!(a.service.tags, b.service.tags, "the UID tag differs");

    let token_a = build::client_token(&first, &a);
    let token_b = build::client_token(&second, &b);
    assert_ne!(
        token_a, token_b,
        "a new object of the same name is a new create"
    );
    assert_eq!(token_a, build::client_token(&first, &a));
    for token in [token_a, token_b] {
        assert!(
            token.len() <= 36 && token.starts_with("ferry-"),
            "ECS allows 36 characters: {token}"
        );
    }
    let mut other_image = a.clone();
    other_image.task_definition_fingerprint = "0000000000000001".into();
    let mut other_service = a.clone();
    other_service.service_fingerprint = "0000000000000001".into();
    for other in [other_image, other_service] {
        assert_ne!(
            build::client_token(&first, &a),
            build::client_token(&first, &other),
            "another request is another create"
        );
    }
}

#[test]
fn task_count_bounds_do_not_change_the_service_fingerprint() {
    for (before, after) in [
        (
            "scaling: {minInstances: 1, maxInstances: 5}",
            "scaling: {minInstances: 2, maxInstances: 5}",
        ),
        (
            "scaling: {minInstances: 1, maxInstances: 5}",
            "scaling: {minInstances: 1, maxInstances: 5, initialInstances: 3}",
        ),
    ] {
        assert_eq!(
            requests(&simple("", before)).service_fingerprint,
            requests(&simple("", after)).service_fingerprint,
            "{before} -> {after}"
        );
    }
}
