//! The container group Ferry builds: checked against Microsoft's definitions (strictly, by the
//! Azure fake's checker) for golden specs and for generated ones; compared with the committed
//! renders in `tests/snapshots/`; and what the comparison with ARM's answer and the readiness
//! make of the groups ARM describes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use azure_fake::AzureFake;
use common::{IMAGE, config, desired, request, secrets_of, simple};
use ferry_api::conditions::reasons;
use ferry_core::status::Readiness;
use ferry_provider_containerinstances::build::{
    self, Change, Ownership, SecretValue, TAG_FINGERPRINT, diff, ownership, readiness,
};
use ferry_testkit::Snapshots;
use http::Method;
use proptest::prelude::*;
use serde_json::{Value, json};

const OPERATION: &str = "ContainerGroups_CreateOrUpdate";
const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/prod/subnets/aci";
const IDENTITY: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web";

/// Specs that show each part of the mapping: (snapshot name, spec).
fn golden() -> Vec<(&'static str, String)> {
    vec![
        ("hello", simple("", "")),
        (
            "sidecar-secrets-probes",
            format!(
                "{{provider: containerInstances, containers: [\
                  {{name: web, image: '{IMAGE}', port: 8080, command: [/app/server], args: [--port, '8080'], \
                    env: [{{name: MODE, value: prod}}, {{name: DB_PASSWORD, secret: {{name: db}}}}, \
                          {{name: API_KEY, secret: {{name: api}}}}], \
                    resources: {{cpu: 1500m, memory: 3Gi}}, \
                    probes: {{readiness: {{httpGet: {{path: /ready}}, periodSeconds: 5}}, \
                              liveness: {{httpGet: {{path: /live, httpHeaders: [{{name: X-Probe, value: live}}]}}, \
                                          initialDelaySeconds: 10, failureThreshold: 3, timeoutSeconds: 2}}}}}}, \
                  {{name: logs, image: 'fluent/fluent-bit:3.1', resources: {{cpu: 500m, memory: 512Mi}}}}], \
                 containerInstances: {{identity: '{IDENTITY}', dnsNameLabel: acme-web, \
                   secrets: [{{name: db, fromSecret: {{name: db-credentials, key: password}}}}, \
                             {{name: api, keyVaultUrl: 'https://acme.vault.azure.net/secrets/api-key'}}]}}}}"
            ),
        ),
        (
            "internal-windows",
            simple(
                "resources: {cpu: '2', memory: 4Gi}",
                &format!(
                    "ingress: internal, containerInstances: {{osType: Windows, resourceGroup: apps-rg, \
                     location: northeurope, subnetIds: ['{SUBNET}']}}"
                ),
            )
            .replace(IMAGE, "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022"),
        ),
        (
            "spot-worker",
            simple("resources: {cpu: '2', memory: 2Gi}", "containerInstances: {priority: Spot}"),
        ),
        (
            "gpu",
            simple("resources: {cpu: '6', memory: 56Gi, gpu: {count: 1, type: v100}}", ""),
        ),
    ]
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn every_golden_request_fits_microsofts_definitions() {
    let fake = AzureFake::shared().await.unwrap();
    for (name, spec) in golden() {
        let body = request(&spec).body;
        let violation = fake.check_request(OPERATION, &body).await.unwrap();
        assert_eq!(violation, None, "{name}: {body:#}");
    }
}

#[test]
fn golden_requests_match_their_snapshots() {
    let snapshots = Snapshots {
        dir: crate_dir().join("tests/snapshots"),
        extension: "json",
        bless_command: "FERRY_BLESS=1 cargo test -p ferry-provider-containerinstances --test build",
    };
    let cases: Vec<(String, String)> = golden()
        .into_iter()
        .map(|(name, spec)| {
            let rendered = serde_json::to_string_pretty(&request(&spec).rendered()).unwrap();
            (name.to_owned(), format!("{rendered}\n"))
        })
        .collect();
    snapshots.no_stale(cases.iter().map(|(n, _)| n.clone()));
    snapshots.compare(cases);
}

#[test]
fn the_command_list_is_the_command_followed_by_the_args() {
    let body = request(&simple("command: [/bin/app], args: [serve, --fast]", "")).body;
    assert_eq!(
        body["properties"]["containers"][0]["properties"]["command"],
        json!(["/bin/app", "serve", "--fast"])
    );
}

#[test]
fn secure_values_are_sent_but_only_their_secret_versions_are_fingerprinted() {
    let spec = simple(
        "env: [{name: DB, secret: {name: db}}]",
        "containerInstances: {secrets: [{name: db, fromSecret: {name: db, key: password}}]}",
    );
    let want = desired(&spec);
    let mut secrets = secrets_of(&want);
    let first = build::request(&want, &config(), &secrets).unwrap();
    assert_eq!(
        first.body["properties"]["containers"][0]["properties"]["environmentVariables"][0],
        json!({"name": "DB", "secureValue": "value-of-db-password"})
    );
    // Another value under the same resourceVersion cannot be: the fingerprint keeps.
    let key = ("db".to_owned(), "password".to_owned());
    secrets.insert(
        key.clone(),
        SecretValue {
            value: None,
            version: "41".into(),
        },
    );
    assert_eq!(
        build::request(&want, &config(), &secrets)
            .unwrap()
            .fingerprint,
        first.fingerprint
    );
    secrets.insert(
        key,
        SecretValue {
            value: Some("rotated".into()),
            version: "42".into(),
        },
    );
    let rotated = build::request(&want, &config(), &secrets).unwrap();
    assert_ne!(rotated.fingerprint, first.fingerprint);
    assert!(!rotated.body.to_string().contains("value-of-db-password"));
    // And no value ever reaches a tag.
    assert!(!first.body["tags"].to_string().contains("value-of"));
}

/// `request`'s group as the fake holds it once deployed: sent, then read back.
async fn held(name: &str, spec: &str) -> (build::Request, Value) {
    let fake = AzureFake::shared().await.unwrap();
    let subscription = fake.subscription(name);
    let mut config = config();
    config.subscription_id = subscription.id().to_owned();
    let want = desired(spec);
    let request = build::request(&want, &config, &secrets_of(&want)).unwrap();
    let url = format!("{}?api-version={}", request.target.id(), build::API_VERSION);
    let put = fake
        .send_raw(Method::PUT, &url, Some(&request.body))
        .await
        .unwrap();
    assert_eq!(put.status, 201, "{:#}", put.body);
    let mut got = fake.send_raw(Method::GET, &url, None).await.unwrap();
    for _ in 0..5 {
        if got.body["properties"]["provisioningState"] == "Succeeded" {
            break;
        }
        got = fake.send_raw(Method::GET, &url, None).await.unwrap();
    }
    (request, got.body)
}

#[tokio::test]
async fn a_group_read_back_from_arm_matches_what_was_sent() {
    let spec = golden()[1].1.clone();
    let (request, mut group) = held("read-back-matches", &spec).await;
    assert_eq!(diff(&request, &group), vec![]);
    assert_eq!(ownership(&group, Some(common::UID)), Ownership::Ours);
    // ARM never returns secure values: still the same.
    for c in group["properties"]["containers"].as_array_mut().unwrap() {
        for e in c["properties"]["environmentVariables"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            e.as_object_mut().unwrap().remove("secureValue");
        }
    }
    assert_eq!(diff(&request, &group), vec![]);
    let (readiness, outputs) = readiness(&group);
    assert_eq!(readiness, Readiness::Ready);
    assert_eq!(
        outputs.url.as_deref(),
        Some("http://acme-web.westeurope.azurecontainer.io:8080")
    );
}

#[tokio::test]
async fn changes_behind_ferrys_back_and_in_the_spec_are_found() {
    let (request, group) = held("changes-found", &simple("", "")).await;
    let mut changed = group.clone();
    changed["properties"]["containers"][0]["properties"]["image"] = json!("nginx:1");
    changed["properties"]["ipAddress"]
        .as_object_mut()
        .unwrap()
        .remove("dnsNameLabel");
    changed["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"] = json!(1);
    assert_eq!(
        diff(&request, &changed),
        vec![
            Change::Drift("properties.containers[0].properties.image".into()),
            Change::Drift("properties.ipAddress.dnsNameLabel".into()),
        ]
    );
    let mut retagged = group.clone();
    retagged["tags"][TAG_FINGERPRINT] = json!("0000000000000000");
    retagged["tags"]
        .as_object_mut()
        .unwrap()
        .remove(build::TAG_UID);
    assert_eq!(diff(&request, &retagged), vec![Change::Spec, Change::Tags]);
    assert_eq!(ownership(&retagged, Some(common::UID)), Ownership::Released);
    retagged["tags"][build::TAG_UID] = json!("someone-else");
    assert_eq!(ownership(&retagged, Some(common::UID)), Ownership::Foreign);
    let mut moved = group;
    moved["location"] = json!("West Europe");
    assert_eq!(diff(&request, &moved), vec![]);
}

#[allow(clippy::needless_pass_by_value)] // `json!` arguments read best inline
fn container_view(state: &str, detail: &str, restarts: u64, events: Value) -> Value {
    json!({"restartCount": restarts, "currentState": {"state": state, "detailStatus": detail}, "events": events})
}

#[allow(clippy::needless_pass_by_value)]
fn group_with(provisioning: &str, state: &str, view: Value) -> Value {
    json!({
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g",
        "location": "westeurope",
        "properties": {
            "provisioningState": provisioning,
            "containers": [{"name": "app", "properties": {"image": "x", "instanceView": view}}],
            "ipAddress": {"type": "Private", "ip": "10.1.2.3", "ports": [{"port": 8080}]},
            "instanceView": {"state": state, "events": []},
        },
    })
}

#[test]
fn readiness_tells_pulls_that_fail_from_crash_loops_and_progress() {
    let pull = group_with(
        "Failed",
        "Failed",
        container_view(
            "Waiting",
            "ErrImagePull",
            0,
            json!([{"name": "Failed", "type": "Warning", "message": "Failed to pull image \"x\": not found"}]),
        ),
    );
    assert_eq!(
        readiness(&pull).0,
        Readiness::Failed {
            reason: reasons::IMAGE_NOT_FOUND,
            message: "container app: Failed to pull image \"x\": not found".into()
        }
    );
    let mut crash = group_with(
        "Succeeded",
        "Running",
        container_view(
            "Waiting",
            "CrashLoopBackOff: Back-off restarting failed",
            4,
            json!([]),
        ),
    );
    crash["properties"]["containers"][0]["properties"]["instanceView"]["previousState"] =
        json!({"state": "Terminated", "exitCode": 1});
    assert_eq!(
        readiness(&crash).0,
        Readiness::Failed {
            reason: reasons::CONTAINER_FAILED,
            message: "container app exited with exit code 1 and was restarted 4 times \
                      (CrashLoopBackOff: Back-off restarting failed): read its logs with `az \
                      container logs --container-name app`"
                .into()
        }
    );
    let pending = group_with("Creating", "Pending", Value::Null);
    assert_eq!(
        readiness(&pending).0,
        Readiness::Progressing(
            "Container Instances is deploying the container group (provisioningState Creating, \
             state Pending)"
                .into()
        )
    );
    let running = group_with(
        "Succeeded",
        "Running",
        container_view("Running", "", 0, json!([])),
    );
    let (ready, outputs) = readiness(&running);
    assert_eq!(ready, Readiness::Ready);
    assert_eq!(outputs.url.as_deref(), Some("http://10.1.2.3:8080"));
    assert_eq!(outputs.instances, Some((1, 1)));
}

#[test]
fn failed_operations_map_to_documented_reasons() {
    assert_eq!(
        build::operation_failure("InaccessibleImage", "The image 'x' is not accessible."),
        Readiness::Failed {
            reason: reasons::IMAGE_NOT_FOUND,
            message: "InaccessibleImage: The image 'x' is not accessible.".into()
        }
    );
    assert!(matches!(
        build::operation_failure("InternalServerError", "boom"),
        Readiness::Failed {
            reason: reasons::REVISION_FAILED,
            ..
        }
    ));
}

prop_compose! {
    fn container(i: usize, serving: bool)(
        cpu in 1u64..=10,
        memory in 1u64..=20,
        env in proptest::collection::vec(("[A-Z][A-Z0-9_]{0,8}", "[ -~]{0,20}"), 0..3),
        command in proptest::option::of(proptest::collection::vec("[a-z/-]{1,8}", 1..3)),
        args in proptest::collection::vec("[a-z-]{1,8}", 0..3),
        liveness in any::<bool>(),
        readiness in any::<bool>(),
        period in proptest::option::of(1u32..60),
    ) -> Value {
        let mut c = json!({
            "name": format!("c{i}"),
            "image": format!("registry.example/app{i}:1.{cpu}"),
            "resources": {"cpu": format!("{}m", cpu * 100)},
        });
        // Memory in whole tenths of a GiB: 102.4 MiB steps, written as Mi when exact, else Gi.
        c["resources"]["memory"] = json!(if (memory * 1024) % 10 == 0 {
            format!("{}Mi", memory * 1024 / 10)
        } else {
            format!("{}.{}Gi", memory / 10, memory % 10)
        });
        let mut seen = std::collections::BTreeSet::new();
        let env: Vec<Value> = env
            .into_iter()
            .filter(|(n, _)| n != "PORT" && seen.insert(n.clone()))
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        if !env.is_empty() {
            c["env"] = json!(env);
        }
        if let Some(command) = command {
            c["command"] = json!(command);
            if !args.is_empty() {
                c["args"] = json!(args);
            }
        }
        if serving {
            c["port"] = json!(8080);
            let mut probes = serde_json::Map::new();
            if liveness {
                let mut p = json!({"httpGet": {"path": "/live"}});
                if let Some(period) = period {
                    p["periodSeconds"] = json!(period);
                }
                probes.insert("liveness".into(), p);
            }
            if readiness {
                probes.insert("readiness".into(), json!({"httpGet": {"path": "/ready", "port": 8080}}));
            }
            if !probes.is_empty() {
                c["probes"] = Value::Object(probes);
            }
        }
        c
    }
}

fn spec_strategy() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            container(0, true).prop_map(|c| vec![c]),
            (container(0, true), container(1, false)).prop_map(|(a, b)| vec![a, b]),
        ],
        0..4usize,
        any::<bool>(),
    )
        .prop_map(|(containers, address, secrets)| {
            let mut spec = json!({"provider": "containerInstances", "containers": containers});
            let mut section = serde_json::Map::new();
            match address {
                1 => {
                    spec["ingress"] = json!("internal");
                    section.insert("subnetIds".into(), json!([SUBNET]));
                }
                2 => {
                    section.insert("priority".into(), json!("Spot"));
                }
                3 => {
                    section.insert("dnsNameLabel".into(), json!("acme-generated"));
                }
                _ => {}
            }
            if secrets {
                section.insert("identity".into(), json!(IDENTITY));
                section.insert(
                    "secrets".into(),
                    json!([
                        {"name": "db", "fromSecret": {"name": "db", "key": "password"}},
                        {"name": "kv", "keyVaultUrl": "https://acme.vault.azure.net/secrets/kv"},
                    ]),
                );
                let env = spec["containers"][0]
                    .as_object_mut()
                    .unwrap()
                    .entry("env")
                    .or_insert_with(|| json!([]));
                env.as_array_mut().unwrap().extend([
                    json!({"name": "DB_PASSWORD", "secret": {"name": "db"}}),
                    json!({"name": "KV_VALUE", "secret": {"name": "kv"}}),
                ]);
            }
            if !section.is_empty() {
                spec["containerInstances"] = Value::Object(section);
            }
            spec
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Every valid generated spec builds a body Microsoft's definitions accept, whose
    /// fingerprint is stable and which compares equal to itself.
    #[test]
    fn generated_requests_fit_microsofts_definitions(spec in spec_strategy()) {
        let text = spec.to_string();
        let svc = common::serverless_service(&text);
        let Ok(valid) = ferry_core::validate(&svc, &ferry_provider_containerinstances::ContainerInstances) else {
            // Sizes above a group's limit are refused, as they should be.
            return Ok(());
        };
        let want = valid.desired;
        let secrets = secrets_of(&want);
        let request = build::request(&want, &config(), &secrets).unwrap();
        let again = build::request(&want, &config(), &secrets).unwrap();
        prop_assert_eq!(&request.fingerprint, &again.fingerprint);
        prop_assert_eq!(diff(&request, &request.body), vec![]);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let violation = runtime.block_on(async {
            let fake = AzureFake::shared().await.unwrap();
            fake.check_request(OPERATION, &request.body).await.unwrap()
        });
        prop_assert_eq!(violation, None, "{:#}", request.body);
    }
}

#[test]
fn no_secret_map_is_needed_without_secrets() {
    let want = desired(&simple("", ""));
    assert!(build::request(&want, &config(), &BTreeMap::new()).is_ok());
}
