//! Every request the plans make, checked offline against botocore's own ECS and Application Auto
//! Scaling service models by `tests/botocore_validate.py` (unknown keys, required keys, types,
//! enum values, lengths), since moto accepts much that AWS refuses.
//!
//! Needs botocore for `python3` (or `FERRY_PYTHON`); it comes with moto, which CI installs. The
//! tests fail, never skip, without it.

use ferry_api::ServerlessService;
use ferry_provider_fargate::build::{self, Plan, update_service};
use ferry_testkit::{Checker, Verdict};
use serde_json::{Value, json};

use crate::common::{
    AWS_PROD, LOAD_BALANCER, TARGET_GROUP, crate_dir, desired_of, example_provider_config,
    examples_dir, json, mirror, serverless_service, simple, task_definition_arn,
};

const INSTALL: &str = "python3 -m pip install 'moto[server]==5.2.5'";

/// Runs the checker on `docs`.
fn check(docs: &[Value]) -> Verdict {
    Checker {
        script: &crate_dir().join("tests/botocore_validate.py"),
        with: "botocore",
        install: INSTALL,
    }
    .check(docs)
}

fn doc(service: &str, operation: &str, params: Value) -> Value {
    let mut doc = json!({"service": service, "operation": operation});
    doc["params"] = params;
    doc
}

/// Every request Ferry sends for `plan`: register, create (with the ARN and token the client
/// adds), both kinds of update, and the scaling calls.
fn requests(name: &str, want: &ferry_core::desired::Desired, plan: &Plan) -> Vec<(String, Value)> {
    let arn = task_definition_arn(&plan.task_definition.family, 1);
    let mut create = json(&plan.service);
    create["taskDefinition"] = json!(arn);
    // As the client does (client.rs `create`).
    create["clientToken"] = json!(build::client_token(want, plan));
    let on_launch_type = mirror(plan).service;
    let mut on_strategy = on_launch_type.clone();
    on_strategy.launch_type = None;
    on_strategy.capacity_providers = vec!["FARGATE_SPOT".into()];
    let mut out = vec![
        (
            format!("{name}: RegisterTaskDefinition"),
            doc("ecs", "RegisterTaskDefinition", json(&plan.task_definition)),
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
                json(&update_service(plan, &on_launch_type, &arn)),
            ),
        ),
        (
            format!("{name}: UpdateService from a strategy"),
            doc(
                "ecs",
                "UpdateService",
                json(&update_service(plan, &on_strategy, &arn)),
            ),
        ),
        (
            format!("{name}: RegisterScalableTarget"),
            doc(
                "application-autoscaling",
                "RegisterScalableTarget",
                json(&plan.scalable_target),
            ),
        ),
    ];
    if let Some(policy) = &plan.scaling_policy {
        out.push((
            format!("{name}: PutScalingPolicy"),
            doc("application-autoscaling", "PutScalingPolicy", json(policy)),
        ));
    }
    out
}

/// The Fargate example of deploy/examples/ and specs that between them use every field the
/// builder writes.
fn cases() -> Vec<(&'static str, ServerlessService)> {
    let path = examples_dir().join("fargate-hello.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut example: ServerlessService =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    example.metadata.uid = Some(crate::common::UID.into());
    vec![
        ("deploy/examples/fargate-hello.yaml", example),
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
        let plan = build::plan(&want, &config, AWS_PROD).unwrap_or_else(|e| panic!("{name}: {e}"));
        labelled.extend(requests(name, &want, &plan));
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
    let docs: Vec<Value> = labelled.iter().map(|(_, d)| d.clone()).collect();
    let verdict = check(&docs);
    let index: Vec<String> = labelled
        .iter()
        .enumerate()
        .map(|(i, (label, _))| format!("[{i}] {label}"))
        .collect();
    assert_eq!(
        verdict.code,
        Some(0),
        "botocore refuses requests Ferry builds:\n{}\n\nrequests:\n{}\n\n{}",
        verdict.stdout,
        index.join("\n"),
        serde_json::to_string_pretty(&docs).unwrap()
    );
    assert_eq!(
        verdict
            .stdout
            .lines()
            .filter(|l| l.ends_with(": ok"))
            .count(),
        docs.len(),
        "each request was checked:\n{}",
        verdict.stdout
    );
}

#[test]
fn the_checker_refuses_what_aws_refuses() {
    let want = desired_of(&serverless_service(&simple(
        "",
        "scaling: {minInstances: 1, maxInstances: 3}",
    )));
    let plan = build::plan(&want, &example_provider_config(), AWS_PROD).unwrap();
    let docs: Vec<Value> = requests("broken", &want, &plan)
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
    assert_eq!(check(&docs).code, Some(0), "the unbroken requests pass");
    let broken: Vec<Value> = cases.iter().map(|(_, d, _)| d.clone()).collect();
    let verdict = check(&broken);
    assert_eq!(verdict.code, Some(1), "{}", verdict.stdout);
    for (i, (case, _, expected)) in cases.iter().enumerate() {
        let said: Vec<&str> = verdict
            .stdout
            .lines()
            .filter(|l| l.starts_with(&format!("[{i}] ")))
            .collect();
        assert!(
            !said.is_empty() && said.iter().all(|l| !l.ends_with(": ok")),
            "{case} passed the checker:\n{}",
            verdict.stdout
        );
        assert!(
            said.iter().any(|l| l.contains(expected)),
            "{case}: {expected:?} not in\n{}",
            said.join("\n")
        );
    }
}
