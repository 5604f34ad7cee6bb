//! Table tests: each part of a ServerlessService and the `RegisterTaskDefinition` fields it
//! becomes, checked on the request JSON.

use ferry_core::desired::{EnvModel, EnvValue};
use ferry_provider_fargate::build::{self, TAG_FINGERPRINT, TAG_MANAGED_BY, TAG_UID};
use serde_json::{Value, json};

use crate::common::{
    AWS_PROD, UID, bare_provider_config, desired, json, provider_config, requests, requests_for,
    simple,
};

/// The task definition request for `spec` under the example ProviderConfig.
fn task_definition(spec: &str) -> Value {
    json(&requests(spec).task_definition)
}

/// The task definition request for `spec` under a ProviderConfig with subnets only: no roles,
/// no log group.
fn task_definition_without_logs(spec: &str) -> Value {
    let config =
        provider_config("{region: eu-west-1, cluster: bare, defaults: {subnets: [subnet-0a1]}}");
    json(
        &build::requests(&desired(spec), &config, "subnets-only")
            .unwrap()
            .task_definition,
    )
}

#[test]
fn the_task_is_a_fargate_awsvpc_family_named_after_namespace_and_name() {
    let td = task_definition(&simple("", ""));
    assert_eq!(td["family"], "shop_hello");
    assert_eq!(td["networkMode"], "awsvpc");
    assert_eq!(td["requiresCompatibilities"], json!(["FARGATE"]));
    assert_eq!(
        td["executionRoleArn"], "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "from the ProviderConfig's defaults"
    );
    assert!(td.get("taskRoleArn").is_none(), "{td}");
    assert_eq!(td["containerDefinitions"][0]["essential"], true);
}

#[test]
fn a_minimal_container_definition_is_exactly_this() {
    let td = task_definition_without_logs(&simple("", ""));
    assert_eq!(
        td["containerDefinitions"],
        json!([{
            "name": "app",
            "image": "ghcr.io/acme/hello:1.4.2",
            "essential": true,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp", "name": "http"}],
            "environment": [{"name": "PORT", "value": "8080"}],
        }])
    );
    assert!(td.get("executionRoleArn").is_none(), "{td}");
    assert!(td.get("ephemeralStorage").is_none(), "{td}");
}

#[test]
fn roles_come_from_the_service_over_the_provider_config() {
    let td = task_definition(&simple(
        "",
        "fargate: {executionRoleArn: 'arn:aws:iam::123456789012:role/shop-exec', \
                   taskRoleArn: 'arn:aws:iam::123456789012:role/shop-app'}",
    ));
    assert_eq!(
        td["executionRoleArn"],
        "arn:aws:iam::123456789012:role/shop-exec"
    );
    assert_eq!(td["taskRoleArn"], "arn:aws:iam::123456789012:role/shop-app");

    let config = provider_config(
        "{region: us-east-1, cluster: prod, defaults: {subnets: [subnet-0a1], \
          taskRoleArn: 'arn:aws:iam::123456789012:role/default-app'}}",
    );
    let td = json(
        &build::requests(&desired(&simple("", "")), &config, AWS_PROD)
            .unwrap()
            .task_definition,
    );
    assert_eq!(
        td["taskRoleArn"],
        "arn:aws:iam::123456789012:role/default-app"
    );
}

/// A case, the containers, the task's CPU and memory, and each container's own.
type SizeCase = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Vec<(Value, Value)>,
);

#[test]
fn task_cpu_and_memory_are_the_sums_of_the_containers() {
    // (case, the containers, task cpu, task memory, each container's own cpu and memory)
    let cases: Vec<SizeCase> = vec![
        (
            "nothing asked for: the smallest Linux task",
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080}",
            "256",
            "512",
            vec![(Value::Null, Value::Null)],
        ),
        (
            "1 vCPU and 2Gi",
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
              resources: {cpu: '1', memory: 2Gi}}",
            "1024",
            "2048",
            vec![(json!(1024), json!(2048))],
        ),
        (
            "cpu only: the least memory that CPU allows",
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, resources: {cpu: '2'}}",
            "2048",
            "4096",
            vec![(json!(2048), Value::Null)],
        ),
        (
            "0.25 vCPU with the most memory it allows",
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
              resources: {cpu: 250m, memory: 2Gi}}",
            "256",
            "2048",
            vec![(json!(256), json!(2048))],
        ),
        (
            "two containers add up",
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
              resources: {cpu: 750m, memory: 1536Mi}}, \
             {name: envoy, image: 'docker.io/envoyproxy/envoy:v1.31.0', \
              resources: {cpu: 250m, memory: 512Mi}}",
            "1024",
            "2048",
            vec![(json!(768), json!(1536)), (json!(256), json!(512))],
        ),
        (
            "8 vCPU and 32Gi",
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
              resources: {cpu: '8', memory: 32Gi}}",
            "8192",
            "32768",
            vec![(json!(8192), json!(32768))],
        ),
    ];
    for (case, containers, cpu, memory, each) in cases {
        let td = task_definition(&format!(
            "{{provider: fargate, containers: [{containers}]}}"
        ));
        assert_eq!(td["cpu"], cpu, "{case}");
        assert_eq!(td["memory"], memory, "{case}");
        let defs = td["containerDefinitions"].as_array().unwrap();
        assert_eq!(defs.len(), each.len(), "{case}");
        for (def, (cpu, memory)) in defs.iter().zip(&each) {
            assert_eq!(def.get("cpu").unwrap_or(&Value::Null), cpu, "{case}: {def}");
            assert_eq!(
                def.get("memory").unwrap_or(&Value::Null),
                memory,
                "{case}: {def}"
            );
        }
    }
}

#[test]
fn the_serving_container_gets_the_port_mapping_and_port_but_sidecars_do_not() {
    let td = task_definition_without_logs(
        "{provider: fargate, containers: [\
          {name: envoy, image: 'docker.io/envoyproxy/envoy:v1.31.0', \
           env: [{name: ENVOY_UID, value: '0'}]}, \
          {name: app, image: 'ghcr.io/acme/hello:1', port: 9000, \
           env: [{name: MODE, value: prod}, {name: LOG_LEVEL, value: debug}]}]}",
    );
    let defs = &td["containerDefinitions"];
    assert_eq!(defs[0]["name"], "envoy");
    assert!(defs[0].get("portMappings").is_none(), "{}", defs[0]);
    assert_eq!(
        defs[0]["environment"],
        json!([{"name": "ENVOY_UID", "value": "0"}])
    );
    assert_eq!(defs[1]["name"], "app");
    assert_eq!(
        defs[1]["portMappings"],
        json!([{"containerPort": 9000, "protocol": "tcp", "name": "http"}])
    );
    assert_eq!(
        defs[1]["environment"],
        json!([
            {"name": "MODE", "value": "prod"},
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "PORT", "value": "9000"},
        ]),
        "spec order, then PORT"
    );
}

#[test]
fn a_port_variable_already_in_the_model_is_not_added_twice() {
    // Validation refuses PORT in a spec (the platform sets it); the builder still must not
    // send two of them if the model ever carries one.
    let mut want = desired(&simple("", ""));
    want.containers[0].env.push(EnvModel {
        name: "PORT".into(),
        value: EnvValue::Literal("8081".into()),
    });
    let td = json(&requests_for(&want).task_definition);
    assert_eq!(
        td["containerDefinitions"][0]["environment"],
        json!([{"name": "PORT", "value": "8081"}])
    );
}

#[test]
fn secrets_become_value_from_arns() {
    let td = task_definition(
        "{provider: fargate, containers: [{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
          env: [{name: MODE, value: prod}, \
                {name: DB_PASSWORD, secret: {name: db, key: password}}, \
                {name: DB_URL, secret: {name: db}}, \
                {name: API_TOKEN, secret: {name: token}}]}], \
          fargate: {secrets: [\
            {name: db, arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf'}, \
            {name: token, arn: 'arn:aws:ssm:us-east-1:123456789012:parameter/shop/token'}]}}",
    );
    let app = &td["containerDefinitions"][0];
    assert_eq!(
        app["secrets"],
        json!([
            {"name": "DB_PASSWORD",
             "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf:password::"},
            {"name": "DB_URL",
             "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf"},
            {"name": "API_TOKEN",
             "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/shop/token"},
        ])
    );
    assert_eq!(
        app["environment"],
        json!([{"name": "MODE", "value": "prod"}, {"name": "PORT", "value": "8080"}]),
        "secrets never appear as literal environment"
    );
}

#[test]
fn command_and_args_become_entry_point_and_command() {
    let td = task_definition(&simple(
        "command: [/bin/hello], args: [serve, --verbose]",
        "",
    ));
    let app = &td["containerDefinitions"][0];
    assert_eq!(app["entryPoint"], json!(["/bin/hello"]));
    assert_eq!(app["command"], json!(["serve", "--verbose"]));

    let td = task_definition(&simple("", ""));
    let app = &td["containerDefinitions"][0];
    assert!(
        app.get("entryPoint").is_none() && app.get("command").is_none(),
        "{app}"
    );
}

#[test]
fn logs_go_to_awslogs_only_with_a_log_group() {
    let td = task_definition(
        "{provider: fargate, containers: [\
          {name: app, image: 'ghcr.io/acme/hello:1', port: 8080}, \
          {name: envoy, image: 'docker.io/envoyproxy/envoy:v1.31.0'}]}",
    );
    for (i, name) in ["app", "envoy"].into_iter().enumerate() {
        assert_eq!(
            td["containerDefinitions"][i]["logConfiguration"],
            json!({
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ferry/prod",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": name,
                },
            })
        );
    }

    let td = task_definition(&simple("", "fargate: {logGroup: /shop/hello}"));
    assert_eq!(
        td["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-group"],
        "/shop/hello",
        "the service's own log group wins"
    );

    let td = task_definition_without_logs(&simple("", ""));
    assert!(
        td["containerDefinitions"][0]
            .get("logConfiguration")
            .is_none(),
        "{td}"
    );
}

#[test]
fn a_liveness_http_get_becomes_a_curl_health_check() {
    let cases: &[(&str, &str, Value)] = &[
        (
            "path and every timing",
            "probes: {liveness: {httpGet: {path: /health}, initialDelaySeconds: 30, \
                                 periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 4}}",
            json!({
                "command": ["CMD-SHELL",
                            "curl -fsS -o /dev/null 'http://localhost:8080/health' || exit 1"],
                "interval": 15,
                "timeout": 3,
                "retries": 4,
                "startPeriod": 30,
            }),
        ),
        (
            "no timings: ECS's defaults",
            "probes: {liveness: {httpGet: {path: /health}}}",
            json!({
                "command": ["CMD-SHELL",
                            "curl -fsS -o /dev/null 'http://localhost:8080/health' || exit 1"],
            }),
        ),
        (
            "another port, headers quoted for the shell",
            "probes: {liveness: {httpGet: {path: '/live?deep=1', port: 9901, \
                                           httpHeaders: [{name: X-Probe, value: \"it's me\"}, \
                                                         {name: Accept, value: '*/*'}]}, \
                                 periodSeconds: 5}}",
            json!({
                "command": ["CMD-SHELL",
                            "curl -fsS -o /dev/null -H 'X-Probe: it'\\''s me' -H 'Accept: */*' \
                             'http://localhost:9901/live?deep=1' || exit 1"],
                "interval": 5,
            }),
        ),
    ];
    for (case, container, health_check) in cases {
        let td = task_definition(&simple(container, ""));
        assert_eq!(
            td["containerDefinitions"][0]["healthCheck"], *health_check,
            "{case}"
        );
    }
    let td = task_definition(&simple("", ""));
    assert!(
        td["containerDefinitions"][0].get("healthCheck").is_none(),
        "no liveness probe, no health check"
    );
}

#[test]
fn a_windows_health_check_does_not_need_a_posix_shell() {
    let td = task_definition(&simple(
        "resources: {cpu: '1', memory: 2Gi}, probes: {liveness: {httpGet: {path: /health}}}",
        "fargate: {operatingSystemFamily: WINDOWS_SERVER_2022_CORE}",
    ));
    let command = &td["containerDefinitions"][0]["healthCheck"]["command"];
    let words = command.to_string();
    assert!(
        !words.contains("/dev/null") && !words.contains('\''),
        "cmd.exe takes single quotes literally and has no /dev/null: {command}"
    );
    assert_eq!(
        command[1],
        "curl.exe -fsS -o NUL \"http://localhost:8080/health\" || exit 1"
    );
}

#[test]
fn the_runtime_platform_is_the_architecture_and_os() {
    let cases = [
        (
            "",
            json!({"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}),
        ),
        (
            "fargate: {cpuArchitecture: ARM64}",
            json!({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}),
        ),
        (
            "fargate: {operatingSystemFamily: WINDOWS_SERVER_2022_CORE}",
            json!({"cpuArchitecture": "X86_64",
                   "operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}),
        ),
    ];
    for (extra, platform) in cases {
        let container = if extra.contains("WINDOWS") {
            "resources: {cpu: '1', memory: 2Gi}"
        } else {
            ""
        };
        let td = task_definition(&simple(container, extra));
        assert_eq!(td["runtimePlatform"], platform, "{extra}");
    }
}

#[test]
fn ephemeral_storage_is_set_only_above_the_included_20_gib() {
    let cases: &[(&str, Option<i64>)] = &[
        (
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080}",
            None,
        ),
        (
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
              resources: {ephemeralStorage: 10Gi}}",
            None,
        ),
        (
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
              resources: {ephemeralStorage: 20Gi}}",
            None,
        ),
        (
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
              resources: {ephemeralStorage: 21Gi}}",
            Some(21),
        ),
        (
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
              resources: {ephemeralStorage: 15Gi}}, \
             {name: cache, image: 'docker.io/library/redis:7.4', \
              resources: {ephemeralStorage: 15Gi}}",
            Some(30),
        ),
        (
            "{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
              resources: {ephemeralStorage: 200Gi}}",
            Some(200),
        ),
    ];
    for (containers, gib) in cases {
        let td = task_definition(&format!(
            "{{provider: fargate, containers: [{containers}]}}"
        ));
        assert_eq!(
            td.get("ephemeralStorage"),
            gib.map(|g| json!({"sizeInGiB": g})).as_ref(),
            "{containers}"
        );
    }
}

#[test]
fn tags_name_the_object_and_carry_the_fingerprint() {
    let requests = requests(&simple("", ""));
    let td = json(&requests.task_definition);
    assert_eq!(
        td["tags"],
        json!([
            {"key": TAG_MANAGED_BY, "value": "ferry"},
            {"key": "ferry.dev/namespace", "value": "shop"},
            {"key": "ferry.dev/name", "value": "hello"},
            {"key": TAG_UID, "value": UID},
            {"key": TAG_FINGERPRINT, "value": requests.task_definition_fingerprint},
        ])
    );
    let fingerprint = &requests.task_definition_fingerprint;
    assert!(
        fingerprint.len() == 16 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()),
        "{fingerprint}"
    );

    let mut anonymous = desired(&simple("", ""));
    anonymous.object.uid = None;
    let td = json(&requests_for(&anonymous).task_definition);
    assert!(
        td["tags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["key"] != TAG_UID),
        "no UID yet, no UID tag: {td}"
    );
}

#[test]
fn a_service_that_is_not_for_fargate_has_no_requests() {
    // Another backend's settings, as a desired model for another provider carries them.
    let mut knative = desired(&simple("", ""));
    knative.backend = ferry_core::backend::BackendModel::new("another backend's settings");
    assert_eq!(
        build::requests(&knative, &bare_provider_config(), "bare"),
        Err(build::AccountError::NotFargate)
    );
}
