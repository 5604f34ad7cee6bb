//! What Container Apps' rules accept, and what they refuse with which message.

use ferry_provider_containerapps::build;
use ferry_provider_containerapps::model::{AppSecret, AppSecretSource, ScaleRule, Size};

use crate::common::{desired, refusals, simple, warnings};

const PAIRS: &str = "0.25 vCPU/0.5Gi, 0.5 vCPU/1Gi, 0.75 vCPU/1.5Gi, 1 vCPU/2Gi, \
                     1.25 vCPU/2.5Gi, 1.5 vCPU/3Gi, 1.75 vCPU/3.5Gi, 2 vCPU/4Gi, 2.25 vCPU/4.5Gi, \
                     2.5 vCPU/5Gi, 2.75 vCPU/5.5Gi, 3 vCPU/6Gi, 3.25 vCPU/6.5Gi, 3.5 vCPU/7Gi, \
                     3.75 vCPU/7.5Gi or 4 vCPU/8Gi";

fn sizes(spec: &str) -> Vec<(u64, u64)> {
    build::model(&desired(spec))
        .unwrap()
        .sizes
        .iter()
        .map(
            |Size {
                 cpu_millis,
                 memory_centi_gib,
             }| (*cpu_millis, *memory_centi_gib),
        )
        .collect()
}

#[test]
fn sizes_are_per_container_with_unset_halves_paired_and_defaults_filled_in() {
    assert_eq!(sizes(&simple("", "")), [(500, 100)]);
    assert_eq!(
        sizes(&simple("resources: {cpu: '1', memory: 2Gi}", "")),
        [(1000, 200)]
    );
    assert_eq!(sizes(&simple("resources: {cpu: 250m}", "")), [(250, 50)]);
    assert_eq!(
        sizes(&simple("resources: {memory: 3Gi}", "")),
        [(1500, 300)]
    );
    assert_eq!(
        sizes(&simple("resources: {cpu: '1.75', memory: 3584Mi}", "")),
        [(1750, 350)]
    );
    let sidecar = "{provider: containerApps, containers: [\
        {name: app, image: 'ghcr.io/acme/hello:1', port: 8080, resources: {cpu: '0.75', memory: 1.5Gi}}, \
        {name: proxy, image: 'envoyproxy/envoy:v1.31', resources: {cpu: '0.25', memory: 0.5Gi}}]}";
    assert_eq!(sizes(sidecar), [(750, 150), (250, 50)]);
    // Neither container sets a size: 0.5 vCPU and 1Gi each, 1 vCPU and 2Gi together.
    let two = "{provider: containerApps, containers: [\
        {name: app, image: 'ghcr.io/acme/hello:1', port: 8080}, \
        {name: proxy, image: 'envoyproxy/envoy:v1.31'}]}";
    assert_eq!(sizes(two), [(500, 100), (500, 100)]);
}

#[test]
fn a_dedicated_workload_profile_takes_other_pairs() {
    let spec = simple(
        "resources: {cpu: '3', memory: 5Gi}",
        "containerApps: {workloadProfile: D4}",
    );
    assert_eq!(sizes(&spec), [(3000, 500)]);
    assert_eq!(
        refusals(&simple("resources: {cpu: '3', memory: 5Gi}", "")),
        [format!(
            "spec.containers[0].resources: on the Consumption profile a container app's CPU and \
             memory must be one of {PAIRS}; got 3 vCPU and 5Gi"
        )]
    );
}

#[test]
fn consumption_refuses_pairs_it_does_not_sell_listing_those_it_does() {
    assert_eq!(
        refusals(&simple("resources: {cpu: '1', memory: 1Gi}", "")),
        [format!(
            "spec.containers[0].resources: on the Consumption profile a container app's CPU and \
             memory must be one of {PAIRS}; got 1 vCPU and 1Gi"
        )]
    );
    assert_eq!(
        refusals(&simple("resources: {cpu: '5', memory: 10Gi}", "")),
        [format!(
            "spec.containers[0].resources: on the Consumption profile a container app's CPU and \
             memory must be one of {PAIRS}; got 5 vCPU and 10Gi"
        )]
    );
    let three = "{provider: containerApps, containers: [\
        {name: app, image: 'ghcr.io/acme/hello:1', port: 8080, resources: {cpu: '4', memory: 8Gi}}, \
        {name: proxy, image: 'envoyproxy/envoy:v1.31'}]}";
    assert_eq!(
        refusals(three),
        [format!(
            "spec.containers: on the Consumption profile the CPU and memory of a container app's \
             containers together must be one of {PAIRS}; got 4.5 vCPU and 9Gi (a container that \
             sets neither counts as 0.5 vCPU and 1Gi)"
        )]
    );
}

#[test]
fn memory_must_be_gi_with_two_decimals() {
    assert_eq!(
        refusals(&simple("resources: {cpu: 50m, memory: 100Mi}", "")),
        [
            "spec.containers[0].resources.memory: Container Apps takes memory in Gi with at most two \
          decimals (0.5Gi, 1.25Gi, 512Mi); got 100Mi"
        ]
    );
}

#[test]
fn replica_bounds_are_container_apps_own() {
    assert_eq!(
        refusals(&simple("", "scaling: {maxInstances: 1001}")),
        ["spec.scaling.maxInstances: Container Apps runs 1 to 1000 replicas at most; got 1001"]
    );
    assert_eq!(
        refusals(&simple(
            "",
            "scaling: {minInstances: 1001, maxInstances: 1001}"
        )),
        [
            "spec.scaling.minInstances: Container Apps keeps 0 to 1000 replicas at least; got 1001",
            "spec.scaling.maxInstances: Container Apps runs 1 to 1000 replicas at most; got 1001",
        ]
    );
    assert_eq!(
        refusals(&simple("", "scaling: {minInstances: 20}")),
        [
            "spec.scaling.minInstances: is above Container Apps' default maxReplicas (10): set \
          spec.scaling.maxInstances too"
        ]
    );
    assert!(
        refusals(&simple(
            "",
            "scaling: {minInstances: 1000, maxInstances: 1000}"
        ))
        .is_empty()
    );
}

#[test]
fn scale_rules_follow_concurrency_and_the_metric() {
    let rules = |spec: &str| build::model(&desired(spec)).unwrap().rules.clone();
    assert_eq!(rules(&simple("", "")), []);
    assert_eq!(
        rules(&simple("", "concurrency: 50")),
        [ScaleRule::Http {
            concurrent_requests: 50
        }]
    );
    assert_eq!(
        rules(&simple("", "scaling: {target: 30}")),
        [ScaleRule::Http {
            concurrent_requests: 30
        }]
    );
    assert_eq!(
        rules(&simple(
            "",
            "concurrency: 20, containerApps: {transport: tcp}"
        )),
        [ScaleRule::Tcp {
            concurrent_connections: 20
        }]
    );
    assert_eq!(
        rules(&simple("", "scaling: {minInstances: 1, metric: cpu}")),
        [ScaleRule::Cpu { utilization: 70 }]
    );
    assert_eq!(
        rules(&simple(
            "",
            "concurrency: 40, scaling: {minInstances: 2, maxInstances: 5, metric: memory, target: 80}"
        )),
        [
            ScaleRule::Memory { utilization: 80 },
            ScaleRule::Http {
                concurrent_requests: 40
            }
        ]
    );
}

#[test]
fn utilization_rules_cannot_scale_to_zero() {
    assert_eq!(
        refusals(&simple("", "scaling: {metric: cpu}")),
        [
            "spec.scaling.minInstances: Container Apps cannot scale to zero on cpu utilization: \
          nothing would start a replica again; set spec.scaling.minInstances to 1 or more (the \
          default is 0), or scale on concurrency"
        ]
    );
    assert_eq!(
        refusals(&simple("", "scaling: {minInstances: 0, metric: memory}")),
        [
            "spec.scaling.minInstances: Container Apps cannot scale to zero on memory utilization: \
          nothing would start a replica again; set spec.scaling.minInstances to 1 or more, or \
          scale on concurrency"
        ]
    );
}

#[test]
fn one_threshold_for_requests_in_flight() {
    assert_eq!(
        refusals(&simple("", "concurrency: 10, scaling: {target: 20}")),
        [
            "spec.scaling.target: Container Apps has one threshold for requests in flight (the \
          HTTP scale rule's concurrentRequests, which adds a replica; no per-replica limit): \
          spec.concurrency (10) and spec.scaling.target (20) differ; remove one or give both \
          the same value"
        ]
    );
    assert!(refusals(&simple("", "concurrency: 10, scaling: {target: 10}")).is_empty());
}

#[test]
fn fields_container_apps_never_takes_are_refused_with_the_capability_note() {
    assert_eq!(
        refusals(&simple("", "timeoutSeconds: 60")),
        [
            "spec.timeoutSeconds: Container Apps does not support spec.timeoutSeconds: its ingress \
          ends a request after 240 seconds and has no setting; remove it"
        ]
    );
    assert_eq!(
        refusals(&simple("resources: {gpu: {count: 1}}", "")),
        [
            "spec.containers[0].resources.gpu: Container Apps does not support \
          spec.containers[].resources.gpu: its GPUs come with GPU workload profiles (serverless \
          or dedicated), which Ferry does not manage yet; use provider cloudRun or knative"
        ]
    );
    assert_eq!(
        refusals(&simple(
            "",
            "scaling: {minInstances: 1, initialInstances: 2}"
        )),
        [
            "spec.scaling.initialInstances: Container Apps does not support \
          spec.scaling.initialInstances: Container Apps has no initial scale; minInstances keeps \
          replicas warm"
        ]
    );
    assert_eq!(
        refusals(&simple("resources: {ephemeralStorage: 4Gi}", "")),
        [
            "spec.containers[0].resources.ephemeralStorage: Container Apps does not support \
          spec.containers[].resources.ephemeralStorage: the platform sizes a replica's \
          ephemeral storage from its CPU (2 GiB per 0.5 vCPU on Consumption); remove it"
        ]
    );
}

#[test]
fn probes_are_http_or_tcp_within_container_apps_timings() {
    assert!(
        refusals(&simple(
            "probes: {startup: {tcpSocket: {}, periodSeconds: 240, failureThreshold: 10}, \
             readiness: {httpGet: {path: /ready}, initialDelaySeconds: 60, timeoutSeconds: 5}}",
            ""
        ))
        .is_empty()
    );
    assert_eq!(
        refusals(&simple(
            "probes: {liveness: {httpGet: {}, periodSeconds: 300, initialDelaySeconds: 0, \
             failureThreshold: 11}}",
            ""
        )),
        [
            "spec.containers[0].probes.liveness.initialDelaySeconds: Container Apps takes a \
             probe's initialDelaySeconds from 1 to 60; got 0",
            "spec.containers[0].probes.liveness.periodSeconds: Container Apps takes a probe's \
             periodSeconds from 1 to 240; got 300",
            "spec.containers[0].probes.liveness.failureThreshold: Container Apps takes a probe's \
             failureThreshold from 1 to 10; got 11",
        ]
    );
    assert_eq!(
        refusals(&simple("probes: {readiness: {grpc: {}}}", "")),
        [
            "spec.containers[0].probes.readiness.grpc: Container Apps does not support grpc probes: \
          use httpGet or tcpSocket"
        ]
    );
}

#[test]
fn traffic_splits_need_http() {
    let split = "traffic: [{latestRevision: true, percent: 80}, \
                 {revisionName: shop-hello-1a2b3c4d--old, percent: 20, tag: old}]";
    let model = desired(&simple("", split));
    assert!(build::model(&model).unwrap().multiple_revisions);
    assert!(
        !build::model(&desired(&simple(
            "",
            "traffic: [{latestRevision: true, percent: 100}]"
        )))
        .unwrap()
        .multiple_revisions
    );
    // A tag alone needs Multiple mode too: labels exist only there.
    assert!(
        build::model(&desired(&simple(
            "",
            "traffic: [{latestRevision: true, percent: 100, tag: live}]"
        )))
        .unwrap()
        .multiple_revisions
    );
    assert_eq!(
        refusals(&simple(
            "",
            &format!("{split}, containerApps: {{transport: tcp}}")
        )),
        [
            "spec.traffic: Container Apps splits traffic between revisions only over HTTP: remove \
          the split (or its tags), or set spec.containerApps.transport to auto, http or http2"
        ]
    );
}

const IDENTITY: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/hello";

#[test]
fn env_secrets_name_entries_of_the_section() {
    let spec = simple(
        "env: [{name: DB, secret: {name: db}}, {name: KEY, secret: {name: api}}]",
        &format!(
            "containerApps: {{identity: '{IDENTITY}', secrets: [\
             {{name: api, fromSecret: {{name: hello-api, key: key}}}}, \
             {{name: db, keyVaultUrl: 'https://acme.vault.azure.net/secrets/db'}}]}}"
        ),
    );
    assert_eq!(
        build::model(&desired(&spec)).unwrap().secrets,
        [
            AppSecret {
                name: "api".into(),
                source: AppSecretSource::Kubernetes {
                    secret: "hello-api".into(),
                    key: "key".into()
                }
            },
            AppSecret {
                name: "db".into(),
                source: AppSecretSource::KeyVault {
                    url: "https://acme.vault.azure.net/secrets/db".into(),
                    identity: IDENTITY.into()
                }
            },
        ]
    );
    assert_eq!(
        refusals(&simple("env: [{name: DB, secret: {name: db}}]", "")),
        [
            "spec.containers[0].env[0].secret.name: Container Apps reads secrets through \
          spec.containerApps.secrets: add {name: db, keyVaultUrl: \
          https://VAULT.vault.azure.net/secrets/NAME} (read with spec.containerApps.identity) or \
          {name: db, fromSecret: {name: SECRET, key: KEY}} (a key of a Secret in this namespace, \
          copied into the app)"
        ]
    );
    assert_eq!(
        refusals(&simple(
            "env: [{name: DB, secret: {name: db, key: password}}]",
            "containerApps: {secrets: [{name: db, fromSecret: {name: db, key: password}}]}"
        )),
        [
            "spec.containers[0].env[0].secret.key: on Container Apps the entry db of \
          spec.containerApps.secrets says where the value is: remove the key (a Kubernetes \
          Secret's key goes in its fromSecret.key)"
        ]
    );
    assert_eq!(
        refusals(&simple(
            "env: [{name: DB, secret: {name: db}}]",
            "containerApps: {secrets: [{name: db, keyVaultUrl: 'https://acme.vault.azure.net/secrets/db'}]}"
        )),
        [
            "spec.containerApps.secrets[0].keyVaultUrl: Container Apps reads a Key Vault secret \
          with a managed identity: set spec.containerApps.identity to a user-assigned identity \
          that may read it, or copy the value from a Kubernetes Secret with fromSecret"
        ]
    );
}

#[test]
fn secrets_nothing_reads_are_not_sent_and_said_so() {
    let spec = simple(
        "",
        "containerApps: {secrets: [{name: spare, fromSecret: {name: spare, key: k}}]}",
    );
    assert_eq!(build::model(&desired(&spec)).unwrap().secrets, []);
    assert_eq!(
        warnings(&spec),
        [
            "spec.containerApps.secrets[0].name: no env[].secret or secret volume reads spare: \
          it is not sent to Container Apps; remove it or use it"
        ]
    );
}
