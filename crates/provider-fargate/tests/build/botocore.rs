//! Every request Ferry builds, checked offline against botocore's own ECS and Application Auto
//! Scaling service models by `tests/botocore_validate.py` (unknown keys, required keys, types,
//! enum values, lengths), since moto accepts much that AWS refuses.
//!
//! botocore comes with moto, in the project's virtualenv (or the interpreter `FERRY_PYTHON`
//! names). The tests fail, never skip, without it.

use ferry_api::ServerlessService;
use ferry_provider_fargate::build::{self, Requests, update_service};
use ferry_testkit::Checker;
use serde_json::{Value, json};

use crate::common::{
    AWS_PROD, LOAD_BALANCER, TARGET_GROUP, crate_dir, desired_of, example_provider_config,
    examples_dir, json, mirror, serverless_service, simple, task_definition_arn,
};

/// The checker, run by the project's virtualenv (which has botocore, from moto).
fn checker() -> Checker {
    Checker {
        script: crate_dir().join("tests/botocore_validate.py"),
        with: "botocore",
        install: moto_standin::INSTALL_HINT,
        ok: ": ok",
    }
}

fn doc(service: &str, operation: &str, params: Value) -> Value {
    let mut doc = json!({"service": service, "operation": operation});
    doc["params"] = params;
    doc
}

/// Every request Ferry sends for `requests`: register, create (with the ARN and token the client
/// adds), both kinds of update, and the scaling calls.
fn request_documents(
    name: &str,
    want: &ferry_core::desired::Desired,
    requests: &Requests,
) -> Vec<(String, Value)> {
    let arn = task_definition_arn(&requests.task_definition.family, 1);
    let mut create = json(&requests.service);
    create["taskDefinition"] = json!(arn);
    // As the client does (client.rs `create`).
    create["clientToken"] = json!(build::client_token(want, requests));
    let on_launch_type = mirror(requests).service;
    let mut on_strategy = on_launch_type.clone();
    on_strategy.launch_type = None;
    on_strategy.capacity_providers = vec!["FARGATE_SPOT".into()];
    let mut out = vec![
        (
            format!("{name}: RegisterTaskDefinition"),
            doc(
                "ecs",
                "RegisterTaskDefinition",
                json(&requests.task_definition),
            ),
        ),
        (
            format!("{name}: CreateService"),
            doc("ecs", "CreateService", create),
        ),
        (
            format!("{name}: UpdateService from a launch type"),
            doc(
                "ecs",
                "UpdateService",
                json(&update_service(requests, &on_launch_type, &arn)),
            ),
        ),
        (
            format!("{name}: UpdateService from a strategy"),
            doc(
                "ecs",
                "UpdateService",
                json(&update_service(requests, &on_strategy, &arn)),
            ),
        ),
        (
            format!("{name}: RegisterScalableTarget"),
            doc(
                "application-autoscaling",
                "RegisterScalableTarget",
                json(&requests.scalable_target),
            ),
        ),
    ];
    if let Some(policy) = &requests.scaling_policy {
        out.push((
            format!("{name}: PutScalingPolicy"),
            doc("application-autoscaling", "PutScalingPolicy", json(policy)),
        ));
    }
    out
}

/// The Fargate examples of deploy/examples/ and specs that between them use every field the
/// builder writes.
fn cases() -> Vec<(&'static str, ServerlessService)> {
    let example = |file: &str| {
        let path = examples_dir().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut example: ServerlessService =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        example.metadata.uid = Some(crate::common::UID.into());
        example
    };
    vec![
        (
            "deploy/examples/fargate-hello.yaml",
            example("fargate-hello.yaml"),
        ),
        (
            "deploy/examples/fargate-volumes.yaml",
            example("fargate-volumes.yaml"),
        ),
        ("minimal", serverless_service(&simple("", ""))),
        (
            "spot, rps, load balancer",
            serverless_service(&format!(
                "{{provider: fargate, containers: [\
                  {{name: app, image: 'ghcr.io/acme/hello:1.4.2', port: 8080, \
                    command: [/bin/hello], args: [serve], \
                    env: [{{name: MODE, value: prod}}, {{name: TOKEN, secret: {{name: token}}}}], \
                    resources: {{cpu: '2', memory: 8Gi, ephemeralStorage: 40Gi}}, \
                    probes: {{liveness: {{httpGet: {{path: /health, \
                                                    httpHeaders: [{{name: X-Probe, value: '1'}}]}}, \
                                         initialDelaySeconds: 20, periodSeconds: 10, \
                                         timeoutSeconds: 5, failureThreshold: 3}}}}}}, \
                  {{name: envoy, image: 'docker.io/envoyproxy/envoy:v1.31.0'}}], \
                  ingress: internal, \
                  scaling: {{minInstances: 2, maxInstances: 20, initialInstances: 4, metric: rps, \
                            target: 150, scaleDownDelaySeconds: 120}}, \
                  fargate: {{capacityProvider: FARGATE_SPOT, cpuArchitecture: ARM64, \
                            platformVersion: 1.4.0, cluster: shop, \
                            taskRoleArn: 'arn:aws:iam::123456789012:role/shop-app', \
                            loadBalancer: {{targetGroupArn: '{TARGET_GROUP}', \
                                           loadBalancerArn: '{LOAD_BALANCER}'}}, \
                            secrets: [{{name: token, \
                              arn: 'arn:aws:ssm:us-east-1:123456789012:parameter/shop/token'}}]}}}}"
            )),
        ),
        (
            "windows",
            serverless_service(&simple(
                "resources: {cpu: '2', memory: 4Gi}",
                "scaling: {minInstances: 1, maxInstances: 3, metric: memory, target: 80}, \
                 fargate: {operatingSystemFamily: WINDOWS_SERVER_2022_CORE, assignPublicIp: false}",
            )),
        ),
    ]
}

#[test]
fn every_request_matches_botocores_service_models() {
    let config = example_provider_config();
    let mut labelled = Vec::new();
    for (name, svc) in cases() {
        let want = desired_of(&svc);
        let requests =
            build::requests(&want, &config, AWS_PROD).unwrap_or_else(|e| panic!("{name}: {e}"));
        labelled.extend(request_documents(name, &want, &requests));
    }
    let operations: std::collections::BTreeSet<String> = labelled
        .iter()
        .map(|(_, d)| d["operation"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        operations.into_iter().collect::<Vec<_>>(),
        [
            "CreateService",
            "PutScalingPolicy",
            "RegisterScalableTarget",
            "RegisterTaskDefinition",
            "UpdateService"
        ],
        "every operation is covered"
    );
    checker().assert_accepts(&labelled);
}

#[test]
fn the_checker_refuses_what_aws_refuses() {
    let want = desired_of(&serverless_service(&simple(
        "",
        "scaling: {minInstances: 1, maxInstances: 3}",
    )));
    let requests = build::requests(&want, &example_provider_config(), AWS_PROD).unwrap();
    let docs: Vec<Value> = request_documents("broken", &want, &requests)
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let find = |operation: &str| {
        docs.iter()
            .find(|d| d["operation"] == operation)
            .cloned()
            .unwrap()
    };
    let rename = |mut d: Value, from: &str, to: &str| {
        let params = d["params"].as_object_mut().unwrap();
        let value = params.remove(from).unwrap();
        params.insert(to.into(), value);
        d
    };
    let set = |mut d: Value, pointer: &str, value: Value| {
        *d.pointer_mut(pointer).unwrap() = value;
        d
    };
    let remove = |mut d: Value, key: &str| {
        d["params"].as_object_mut().unwrap().remove(key).unwrap();
        d
    };
    let cases = [
        (
            "a misspelled key",
            rename(find("CreateService"), "serviceName", "servicename"),
            "Unknown parameter",
        ),
        (
            "a misspelled nested key",
            set(
                find("RegisterTaskDefinition"),
                "/params/containerDefinitions/0/portMappings/0",
                json!({"containerPort": 8080, "protocol": "tcp", "nam": "http"}),
            ),
            "Unknown parameter",
        ),
        (
            "a camelCase key where PascalCase is wanted",
            rename(find("RegisterScalableTarget"), "MinCapacity", "minCapacity"),
            "Unknown parameter",
        ),
        (
            "a missing required key",
            remove(find("RegisterTaskDefinition"), "family"),
            "Missing required parameter",
        ),
        (
            "a number as a string",
            set(find("CreateService"), "/params/desiredCount", json!("1")),
            "Invalid type",
        ),
        (
            "a value outside the enum",
            set(
                find("CreateService"),
                "/params/launchType",
                json!("FARGATE_SPOT"),
            ),
            "is not one of",
        ),
        (
            "a metric outside the enum",
            set(
                find("PutScalingPolicy"),
                "/params/TargetTrackingScalingPolicyConfiguration/PredefinedMetricSpecification/PredefinedMetricType",
                json!("ECSServiceAverageCpuUtilization"),
            ),
            "is not one of",
        ),
    ];
    checker().assert_refuses(&docs, &cases);
}
