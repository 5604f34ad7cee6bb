//! The PUT body for each part of a spec, and every body checked against Microsoft's
//! definitions by the fake ARM (also over generated specs).

use ferry_provider_containerapps::build::{self, API_VERSION, BuildError, SecretValues};
use ferry_testkit::builders::desired_of;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::common::{
    UID, assert_valid_body, config, desired, example, requests, requests_for, simple,
};

const ENVIRONMENT: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod-rg/providers/Microsoft.App/managedEnvironments/prod";

#[tokio::test]
async fn a_simple_service_is_a_single_revision_app_with_public_ingress() {
    let r = requests(&simple("", ""));
    let name = ferry_provider_containerapps::names::app_name("shop", "hello");
    assert_eq!(r.place.name, name);
    assert_eq!(
        r.path(),
        format!(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod-rg/providers/\
             Microsoft.App/containerApps/{name}?api-version={API_VERSION}"
        )
    );
    assert_eq!(
        r.body,
        json!({
            "location": "westeurope",
            "tags": {
                "managed-by": "ferry",
                "ferry-uid": UID,
                "ferry-object": "shop/hello",
                "ferry-fingerprint": r.fingerprint,
            },
            "properties": {
                "environmentId": ENVIRONMENT,
                "configuration": {
                    "activeRevisionsMode": "Single",
                    "ingress": {"external": true, "targetPort": 8080},
                },
                "template": {
                    "containers": [{
                        "name": "app",
                        "image": "acmeprod.azurecr.io/hello:1.4.2",
                        "resources": {"cpu": 0.5, "memory": "1Gi"},
                    }],
                    "scale": {"minReplicas": 0},
                },
            },
        })
    );
    assert_valid_body(&r.body).await;
}

#[tokio::test]
async fn containers_carry_their_command_env_sizes_and_probes() {
    let r = requests(&simple(
        "command: [/hello], args: [serve, --port=8080], \
         env: [{name: MODE, value: prod}, {name: KEY, secret: {name: api}}], \
         resources: {cpu: '1', memory: 2Gi}, \
         probes: {startup: {tcpSocket: {}, failureThreshold: 10}, \
                  readiness: {httpGet: {path: /ready, httpHeaders: [{name: X-Probe, value: ready}]}, periodSeconds: 5}, \
                  liveness: {httpGet: {path: /health, port: 9090}, initialDelaySeconds: 10, timeoutSeconds: 2}}",
        "containerApps: {secrets: [{name: api, fromSecret: {name: hello-api, key: key}}]}",
    ));
    let p = &r.body["properties"];
    assert_eq!(
        p["template"]["containers"][0],
        json!({
            "name": "app",
            "image": "acmeprod.azurecr.io/hello:1.4.2",
            "command": ["/hello"],
            "args": ["serve", "--port=8080"],
            "env": [{"name": "MODE", "value": "prod"}, {"name": "KEY", "secretRef": "api"}],
            "resources": {"cpu": 1.0, "memory": "2Gi"},
            "probes": [
                {"type": "Startup", "tcpSocket": {"port": 8080}, "failureThreshold": 10},
                {"type": "Readiness",
                 "httpGet": {"path": "/ready", "port": 8080,
                             "httpHeaders": [{"name": "X-Probe", "value": "ready"}]},
                 "periodSeconds": 5},
                {"type": "Liveness", "httpGet": {"path": "/health", "port": 9090},
                 "initialDelaySeconds": 10, "timeoutSeconds": 2},
            ],
        })
    );
    assert_eq!(
        p["configuration"]["secrets"],
        json!([{"name": "api", "value": "value of api"}])
    );
    assert_valid_body(&r.body).await;
}

#[tokio::test]
async fn scaling_becomes_replicas_rules_and_a_cooldown() {
    let r = requests(&simple(
        "",
        "concurrency: 40, scaling: {minInstances: 2, maxInstances: 30, metric: cpu, target: 65, \
         scaleDownDelaySeconds: 600}",
    ));
    assert_eq!(
        r.body["properties"]["template"]["scale"],
        json!({
            "minReplicas": 2,
            "maxReplicas": 30,
            "cooldownPeriod": 600,
            "rules": [
                {"name": "cpu", "custom": {"type": "cpu",
                                           "metadata": {"type": "Utilization", "value": "65"}}},
                {"name": "http", "http": {"metadata": {"concurrentRequests": "40"}}},
            ],
        })
    );
    assert_valid_body(&r.body).await;
    let tcp = requests(&simple(
        "",
        "concurrency: 100, ingress: internal, containerApps: {transport: tcp}",
    ));
    assert_eq!(
        tcp.body["properties"]["configuration"]["ingress"],
        json!({"external": false, "targetPort": 8080, "transport": "tcp"})
    );
    assert_eq!(
        tcp.body["properties"]["template"]["scale"]["rules"],
        json!([{"name": "tcp", "tcp": {"metadata": {"concurrentConnections": "100"}}}])
    );
    assert_valid_body(&tcp.body).await;
}

#[tokio::test]
async fn a_traffic_split_is_multiple_mode_with_weights_and_labels() {
    let r = requests(&simple(
        "",
        "traffic: [{latestRevision: true, percent: 75, tag: next}, \
                   {revisionName: shop-hello-1a2b3c4d--v1, percent: 25, tag: stable}]",
    ));
    let configuration = &r.body["properties"]["configuration"];
    assert_eq!(configuration["activeRevisionsMode"], "Multiple");
    assert_eq!(
        configuration["ingress"]["traffic"],
        json!([
            {"latestRevision": true, "weight": 75, "label": "next"},
            {"revisionName": "shop-hello-1a2b3c4d--v1", "weight": 25, "label": "stable"},
        ])
    );
    assert_valid_body(&r.body).await;
}

#[tokio::test]
async fn the_spec_can_name_its_own_environment_group_profile_and_identity() {
    let identity = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web";
    let environment = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/web-rg/providers/Microsoft.App/managedEnvironments/web";
    let r = requests(&simple(
        "env: [{name: DB, secret: {name: db}}], resources: {cpu: '2', memory: 4Gi}",
        &format!(
            "containerApps: {{environment: '{environment}', resourceGroup: web-rg, \
             workloadProfile: Consumption, identity: '{identity}', transport: http2, \
             secrets: [{{name: db, keyVaultUrl: 'https://acme.vault.azure.net/secrets/db'}}]}}"
        ),
    ));
    assert_eq!(r.place.resource_group, "web-rg");
    let p = &r.body["properties"];
    assert_eq!(p["environmentId"], environment);
    assert_eq!(p["workloadProfileName"], "Consumption");
    assert_eq!(
        r.body["identity"],
        json!({"type": "UserAssigned", "userAssignedIdentities": {identity: {}}})
    );
    assert_eq!(
        p["configuration"]["secrets"],
        json!([{"name": "db", "keyVaultUrl": "https://acme.vault.azure.net/secrets/db",
                "identity": identity}])
    );
    // The image's Azure Container Registry is pulled with the identity.
    assert_eq!(
        p["configuration"]["registries"],
        json!([{"server": "acmeprod.azurecr.io", "identity": identity}])
    );
    assert_eq!(p["configuration"]["ingress"]["transport"], "http2");
    assert_valid_body(&r.body).await;
}

#[test]
fn without_an_environment_there_is_no_body() {
    let mut config = config();
    config.container_apps_environment = None;
    let want = desired(&simple("", ""));
    assert_eq!(
        build::requests(&want, &config, &SecretValues::new()),
        Err(BuildError::NoEnvironment)
    );
    let with_secret = desired(&simple(
        "env: [{name: KEY, secret: {name: api}}]",
        "containerApps: {secrets: [{name: api, fromSecret: {name: hello-api, key: key}}]}",
    ));
    assert_eq!(
        build::requests(&with_secret, &crate::common::config(), &SecretValues::new()),
        Err(BuildError::SecretNotRead("api".into()))
    );
}

#[test]
fn the_fingerprint_follows_the_spec_and_secret_versions_not_values() {
    let spec = simple(
        "env: [{name: KEY, secret: {name: api}}]",
        "containerApps: {secrets: [{name: api, fromSecret: {name: hello-api, key: key}}]}",
    );
    let want = desired(&spec);
    let with = |value: &str, version: &str| {
        let values = [(
            "api".to_owned(),
            build::SecretValue {
                value: value.into(),
                version: version.into(),
            },
        )]
        .into();
        build::requests(&want, &config(), &values).unwrap()
    };
    let first = with("s3cret", "7");
    assert_eq!(first.fingerprint, with("other", "7").fingerprint);
    assert_ne!(first.fingerprint, with("s3cret", "8").fingerprint);
    assert_ne!(
        first.fingerprint,
        requests(&simple("", "scaling: {maxInstances: 3}")).fingerprint
    );
    assert!(!format!("{first:?}").contains("s3cret"));
    assert!(!first.fingerprint.contains("s3cret"));
}

#[tokio::test]
async fn the_example_renders_a_body_the_definitions_take() {
    let (svc, _) = example();
    let want = desired_of(&svc, &ferry_provider_containerapps::ContainerApps);
    let r = requests_for(&want);
    assert_eq!(
        r.body["properties"]["configuration"]["activeRevisionsMode"],
        "Multiple"
    );
    assert_valid_body(&r.body).await;
}

/// A valid Container Apps spec: sizes Consumption sells split over one or two containers,
/// replica bounds, a scaling signal, probes, env and a traffic split.
fn specs() -> impl Strategy<Value = String> {
    let sizes = (1u64..=16, 0u64..=3, any::<bool>()).prop_map(|(quarters, sidecar, cpu_only)| {
        let sidecar = sidecar.min(quarters - 1);
        let main = quarters - sidecar;
        let size = |q: u64| {
            let cpu = format!("{}", q * 250);
            if cpu_only {
                format!("{{cpu: {cpu}m}}")
            } else {
                format!("{{cpu: {cpu}m, memory: {}Mi}}", q * 512)
            }
        };
        (size(main), (sidecar > 0).then(|| size(sidecar)))
    });
    let scaling = (0u32..=3, 1u32..=1000, 0usize..3, 1u32..=100, proptest::option::of(0u32..3600))
        .prop_map(|(min, max, metric, target, delay)| {
            let metric = ["concurrency", "cpu", "memory"][metric];
            let min = if metric == "concurrency" { min } else { min.max(1) };
            let max = max.max(min);
            let delay = delay.map(|d| format!(", scaleDownDelaySeconds: {d}")).unwrap_or_default();
            format!("scaling: {{minInstances: {min}, maxInstances: {max}, metric: {metric}, target: {target}{delay}}}")
        });
    let probes = (0usize..3, 1u32..=60, 1u32..=240).prop_map(|(kind, delay, period)| {
        let action = ["httpGet: {path: /health}", "tcpSocket: {}", "httpGet: {path: /ready, port: 9000}"][kind];
        format!("probes: {{liveness: {{{action}, initialDelaySeconds: {delay}, periodSeconds: {period}}}}}")
    });
    let traffic = (0u32..=100, any::<bool>()).prop_map(|(latest, tagged)| {
        if latest == 100 {
            String::new()
        } else {
            let tag = if tagged { ", tag: old" } else { "" };
            format!(
                ", traffic: [{{latestRevision: true, percent: {latest}}}, \
                     {{revisionName: shop-hello-1a2b3c4d--v1, percent: {}{tag}}}]",
                100 - latest
            )
        }
    });
    (sizes, scaling, probes, traffic, any::<bool>()).prop_map(
        |((main, sidecar), scaling, probes, traffic, internal)| {
            let sidecar = sidecar
                .map(|s| {
                    format!(", {{name: proxy, image: 'envoyproxy/envoy:v1.31', resources: {s}}}")
                })
                .unwrap_or_default();
            let ingress = if internal { "internal" } else { "public" };
            format!(
                "{{provider: containerApps, containers: [{{name: app, \
                 image: 'ghcr.io/acme/hello:1', port: 8080, resources: {main}, {probes}, \
                 env: [{{name: MODE, value: prod}}]}}{sidecar}], ingress: {ingress}, \
                 {scaling}{traffic}}}"
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_valid_spec_builds_a_body_the_definitions_take(spec in specs()) {
        let r = requests(&spec);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let violation = runtime.block_on(async {
            crate::common::fake().await.check_request(crate::common::CREATE_OR_UPDATE, &r.body).await.unwrap()
        });
        prop_assert!(violation.is_none(), "{violation:?}\n{spec}\n{}", r.body);
        let cpu: f64 = r.body["properties"]["template"]["containers"]
            .as_array().unwrap().iter()
            .map(|c| c["resources"]["cpu"].as_f64().unwrap()).sum();
        prop_assert!((0.25..=4.0).contains(&cpu));
        let _: &Value = &r.body;
    }
}
