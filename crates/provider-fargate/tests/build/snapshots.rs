//! Every object's requests as `ferry render` prints them, compared with the committed JSON in
//! `tests/snapshots/`: every Fargate example in `deploy/examples/` (under the ProviderConfig it
//! names there) and a few richer specs. `FERRY_BLESS=1` rewrites the files instead.

use ferry_api::FargateProviderConfig;
use ferry_provider_fargate::build;
use ferry_testkit::Snapshots;
use ferry_testkit::builders::{Example, examples_with_configs, named_service};

use crate::common::{
    AWS_PROD, LOAD_BALANCER, TARGET_GROUP, crate_dir, desired_of, example_provider_config,
};

/// A snapshot: its file name, the object, and the ProviderConfig its requests are built under.
type Case = Example<FargateProviderConfig>;

/// Every Fargate ServerlessService in `deploy/examples/`, under the ProviderConfig it names.
fn fargate_examples() -> Vec<Case> {
    examples_with_configs("fargate", |spec| spec.fargate)
}

/// Richer specs than the examples, each showing a part of the mapping.
fn inline_cases() -> Vec<Case> {
    // (snapshot, metadata.name, UID as the API server would have given one, spec)
    let cases = [
        (
            "spot-rps-sidecar",
            "shop",
            Some("3f0e8a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"),
            format!(
                "{{provider: fargate, \
                  containers: [\
                   {{name: app, image: 'ghcr.io/acme/shop:3.2.0', port: 8080, \
                     command: [/shop], args: [serve, --verbose], \
                     env: [{{name: LOG_LEVEL, value: info}}, \
                           {{name: DB_PASSWORD, secret: {{name: shop-db, key: password}}}}, \
                           {{name: API_TOKEN, secret: {{name: api-token}}}}], \
                     resources: {{cpu: 1500m, memory: 3Gi, ephemeralStorage: 30Gi}}, \
                     probes: {{liveness: {{httpGet: {{path: /live, \
                                                     httpHeaders: [{{name: X-Probe, value: live}}]}}, \
                                          initialDelaySeconds: 15, periodSeconds: 20, \
                                          timeoutSeconds: 4, failureThreshold: 5}}}}}}, \
                   {{name: envoy, image: 'docker.io/envoyproxy/envoy:v1.31.0', \
                     args: [-c, /etc/envoy/envoy.yaml], resources: {{cpu: 500m, memory: 1Gi}}}}], \
                  ingress: internal, \
                  scaling: {{minInstances: 2, maxInstances: 30, initialInstances: 4, metric: rps, \
                            target: 200, scaleDownDelaySeconds: 600}}, \
                  fargate: {{capacityProvider: FARGATE_SPOT, cpuArchitecture: ARM64, \
                            cluster: shop, platformVersion: 1.4.0, \
                            subnets: [subnet-0123456789abcdef0], \
                            taskRoleArn: 'arn:aws:iam::123456789012:role/shop-app', \
                            loadBalancer: {{targetGroupArn: '{TARGET_GROUP}', \
                                           loadBalancerArn: '{LOAD_BALANCER}'}}, \
                            secrets: [\
                              {{name: shop-db, \
                                arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf'}}, \
                              {{name: api-token, \
                                arn: 'arn:aws:ssm:us-east-1:123456789012:parameter/shop/api-token'}}]}}}}"
            ),
        ),
        (
            "windows-memory",
            "legacy",
            None,
            "{provider: fargate, \
              containers: [{name: web, image: 'mcr.microsoft.com/dotnet/framework/aspnet:4.8', \
                            port: 80, resources: {cpu: '2', memory: 8Gi}}], \
              scaling: {minInstances: 1, maxInstances: 4, metric: memory, target: 75}, \
              fargate: {operatingSystemFamily: WINDOWS_SERVER_2022_CORE, assignPublicIp: true, \
                        securityGroups: [sg-0fedcba9876543210]}}"
                .to_owned(),
        ),
        (
            "fixed-count",
            "worker",
            Some("9b2c7d10-1e2f-4a3b-8c4d-5e6f7a8b9c0d"),
            "{provider: fargate, \
              containers: [{name: worker, image: 'ghcr.io/acme/worker:1.1.0', port: 8080, \
                            resources: {cpu: 500m}}], \
              ingress: internal, scaling: {minInstances: 3}}"
                .to_owned(),
        ),
    ];
    cases
        .into_iter()
        .map(|(snapshot, name, uid, spec)| Case {
            name: snapshot.to_owned(),
            svc: named_service(None, name, uid, &spec),
            config_name: AWS_PROD.to_owned(),
            config: example_provider_config(),
        })
        .collect()
}

fn cases() -> Vec<Case> {
    let examples = fargate_examples();
    assert!(
        !examples.is_empty(),
        "deploy/examples/ holds no Fargate ServerlessService"
    );
    examples.into_iter().chain(inline_cases()).collect()
}

fn render(case: &Case) -> String {
    let requests = build::requests(&desired_of(&case.svc), &case.config, &case.config_name)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let mut json = serde_json::to_string_pretty(&requests.rendered()).unwrap();
    json.push('\n');
    json
}

fn snapshots() -> Snapshots {
    Snapshots {
        dir: crate_dir().join("tests/snapshots"),
        extension: "json",
        bless_command: "FERRY_BLESS=1 cargo test -p ferry-provider-fargate --test build",
    }
}

#[test]
fn built_requests_match_the_snapshots() {
    snapshots().compare(cases().iter().map(|case| (case.name.clone(), render(case))));
}

#[test]
fn every_snapshot_belongs_to_a_case() {
    snapshots().no_stale(cases().into_iter().map(|case| case.name));
}

#[test]
fn building_the_same_spec_twice_renders_the_same_bytes() {
    for case in cases() {
        assert_eq!(render(&case), render(&case), "{}", case.name);
    }
}
