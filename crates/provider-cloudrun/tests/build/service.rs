//! The Service Ferry builds for each part of a spec, field by field, as the capability table's
//! Cloud Run column says; read from the rendered JSON (enums by name) and checked once against
//! the JSON the client sends.

use ferry_provider_cloudrun::build::{self, FINGERPRINT_ANNOTATION};
use google_cloud_run_v2::model;
use serde_json::{Value, json};

use crate::common::{UID, requests, sent, simple};

/// The Service built for `spec`, as `ferry render` prints it.
fn service(spec: &str) -> Value {
    requests(spec).rendered()["createService"]["service"].clone()
}

fn template(spec: &str) -> Value {
    service(spec)["template"].clone()
}

fn app(spec: &str) -> Value {
    template(spec)["containers"][0].clone()
}

#[test]
fn a_minimal_spec_gets_one_container_all_traffic_to_latest_and_nothing_else() {
    let p = requests(&simple("", ""));
    assert_eq!(p.parent, "projects/acme-prod/locations/europe-west1");
    assert_eq!(p.service_id, "shop-hello-cd5cea3a");
    assert_eq!(
        p.name,
        "projects/acme-prod/locations/europe-west1/services/shop-hello-cd5cea3a"
    );
    assert_eq!(
        p.rendered(),
        json!({
            "createService": {
                "parent": "projects/acme-prod/locations/europe-west1",
                "serviceId": "shop-hello-cd5cea3a",
                "service": {
                    "name": p.name,
                    "labels": {
                        "managed-by": "ferry",
                        "ferry-namespace": "shop",
                        "ferry-name": "hello",
                        "ferry-uid": UID,
                    },
                    "annotations": {FINGERPRINT_ANNOTATION: p.fingerprint},
                    "client": "ferry",
                    "clientVersion": env!("CARGO_PKG_VERSION"),
                    "ingress": "INGRESS_TRAFFIC_ALL",
                    "template": {
                        "containers": [{
                            "name": "app",
                            "image": "europe-docker.pkg.dev/acme-prod/apps/hello:1.4.2",
                            "resources": {"cpuIdle": true},
                            "ports": [{"name": "http1", "containerPort": 8080}],
                        }],
                    },
                    "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
                },
            },
        })
    );
    assert_eq!(p.invoker, None, "not public without allowUnauthenticated");
}

#[test]
fn the_client_sends_the_same_service_with_enums_as_numbers() {
    let p = requests(&simple(
        "",
        "ingress: internal, cloudRun: {executionEnvironment: gen2, \
         vpcAccess: {connector: projects/acme-prod/locations/europe-west1/connectors/shop, \
                     egress: ALL_TRAFFIC}}",
    ));
    let wire = sent(&p);
    assert_eq!(wire["ingress"], 2);
    assert_eq!(wire["template"]["executionEnvironment"], 2);
    assert_eq!(wire["template"]["vpcAccess"]["egress"], 1);
    assert_eq!(wire["traffic"][0]["type"], 1);
    let readable = p.rendered()["createService"]["service"].clone();
    assert_eq!(readable["ingress"], "INGRESS_TRAFFIC_INTERNAL_ONLY");
    assert_eq!(
        readable["template"]["executionEnvironment"],
        "EXECUTION_ENVIRONMENT_GEN2"
    );
    assert_eq!(readable["template"]["vpcAccess"]["egress"], "ALL_TRAFFIC");
    let back: model::Service = serde_json::from_value(readable).unwrap();
    assert_eq!(back, p.service, "the rendered Service is the one sent");
}

#[test]
fn command_and_args_override_entrypoint_and_cmd() {
    let c = app(&simple(
        "command: [/bin/hello], args: [serve, --port, '8080']",
        "",
    ));
    assert_eq!(c["command"], json!(["/bin/hello"]));
    assert_eq!(c["args"], json!(["serve", "--port", "8080"]));
}

#[test]
fn env_literals_and_secret_manager_versions() {
    let c = app(&simple(
        "env: [{name: MODE, value: prod}, {name: EMPTY, value: ''}, \
               {name: DB_PASSWORD, secret: {name: db-password}}, \
               {name: API_KEY, secret: {name: projects/acme-shared/secrets/api-key, key: '7'}}]",
        "",
    ));
    assert_eq!(
        c["env"],
        json!([
            {"name": "MODE", "value": "prod"},
            {"name": "EMPTY", "value": ""},
            {"name": "DB_PASSWORD",
             "valueSource": {"secretKeyRef": {"secret": "db-password", "version": "latest"}}},
            {"name": "API_KEY",
             "valueSource": {"secretKeyRef": {"secret": "projects/acme-shared/secrets/api-key",
                                              "version": "7"}}},
        ])
    );
}

#[test]
fn the_platform_sets_port_so_ferry_does_not() {
    let c = app(&simple("", ""));
    assert!(c.get("env").is_none(), "{c}");
    assert_eq!(
        c["ports"],
        json!([{"name": "http1", "containerPort": 8080}])
    );
}

#[test]
fn cpu_and_memory_are_limits_in_cloud_runs_units() {
    for (resources, extra, cpu, memory) in [
        ("{cpu: '1', memory: 512Mi}", "", "1", "512Mi"),
        ("{cpu: 2000m, memory: 1.5Gi}", "", "2", "1536Mi"),
        ("{cpu: '4', memory: 16Gi}", "", "4", "16Gi"),
        ("{cpu: '1', memory: 1G}", "", "1", "1G"),
        (
            "{cpu: '0.5', memory: 256Mi}",
            "concurrency: 1",
            "500m",
            "256Mi",
        ),
        ("{cpu: 80m, memory: 128Mi}", "", "80m", "128Mi"),
    ] {
        let c = app(&simple(&format!("resources: {resources}"), extra));
        assert_eq!(
            c["resources"]["limits"],
            json!({"cpu": cpu, "memory": memory}),
            "{resources}"
        );
    }
    let c = app(&simple("resources: {memory: 1Gi}", ""));
    assert_eq!(
        c["resources"]["limits"],
        json!({"memory": "1Gi"}),
        "CPU left to Cloud Run's default"
    );
}

#[test]
fn cpu_is_idle_between_requests_unless_told_otherwise_and_boost_is_opt_in() {
    let c = app(&simple("", ""));
    assert_eq!(c["resources"], json!({"cpuIdle": true}));
    let c = app(&simple(
        "",
        "cloudRun: {cpuIdle: false, startupCpuBoost: true}",
    ));
    // proto3 JSON leaves false out: no cpuIdle is "CPU always allocated".
    assert_eq!(c["resources"], json!({"startupCpuBoost": true}));
}

#[test]
fn below_one_vcpu_the_execution_environment_is_gen1() {
    let t = template(&simple(
        "resources: {cpu: 250m, memory: 256Mi}",
        "concurrency: 1",
    ));
    assert_eq!(t["executionEnvironment"], "EXECUTION_ENVIRONMENT_GEN1");
    assert_eq!(t["maxInstanceRequestConcurrency"], 1);
    assert_eq!(t["containers"][0]["resources"]["cpuIdle"], true);
    assert!(
        template(&simple("", ""))
            .get("executionEnvironment")
            .is_none(),
        "left to Cloud Run"
    );
}

#[test]
fn a_gpu_is_a_limit_and_a_node_selector_with_cpu_always_allocated() {
    let t = template(&simple(
        "resources: {cpu: '4', memory: 16Gi, gpu: {count: 1, type: nvidia-l4}}",
        "",
    ));
    assert_eq!(t["nodeSelector"], json!({"accelerator": "nvidia-l4"}));
    assert_eq!(
        t["containers"][0]["resources"],
        json!({"limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}})
    );
    assert!(
        t.get("gpuZonalRedundancyDisabled").is_none(),
        "zonal redundancy stays Cloud Run's default"
    );
}

#[test]
fn probes_keep_their_kind_port_and_timing() {
    let c = app(&simple(
        "probes: {\
           startup: {tcpSocket: {}, periodSeconds: 5, failureThreshold: 24}, \
           liveness: {httpGet: {path: /health, httpHeaders: [{name: X-Probe, value: live}]}, \
                      initialDelaySeconds: 10, periodSeconds: 30, timeoutSeconds: 3, \
                      failureThreshold: 2}, \
           readiness: {grpc: {port: 9090, service: hello.v1.Hello}, timeoutSeconds: 2}}",
        "",
    ));
    assert_eq!(
        c["startupProbe"],
        json!({"periodSeconds": 5, "failureThreshold": 24, "tcpSocket": {"port": 8080}})
    );
    assert_eq!(
        c["livenessProbe"],
        json!({
            "initialDelaySeconds": 10, "timeoutSeconds": 3, "periodSeconds": 30,
            "failureThreshold": 2,
            "httpGet": {"path": "/health", "port": 8080,
                        "httpHeaders": [{"name": "X-Probe", "value": "live"}]},
        })
    );
    assert_eq!(
        c["readinessProbe"],
        json!({"timeoutSeconds": 2, "grpc": {"port": 9090, "service": "hello.v1.Hello"}})
    );
}

#[test]
fn readiness_probes_are_in_preview_so_the_service_opts_into_beta() {
    assert_eq!(
        service(&simple(
            "probes: {readiness: {httpGet: {path: /ready}}}",
            ""
        ))["launchStage"],
        "BETA"
    );
    assert!(
        service(&simple("probes: {liveness: {httpGet: {path: /live}}}", ""))
            .get("launchStage")
            .is_none(),
        "GA features need no launch stage"
    );
}

#[test]
fn sidecars_have_no_port_and_their_own_resources_and_probes() {
    let t = template(
        "{provider: cloudRun, containers: [\
           {name: app, image: 'europe-docker.pkg.dev/acme-prod/apps/hello:1.4.2', port: 8080, \
            resources: {cpu: '1', memory: 1Gi}}, \
           {name: collector, image: 'otel/opentelemetry-collector:0.110.0', \
            args: [--config, /etc/otel.yaml], resources: {cpu: '1', memory: 512Mi}, \
            env: [{name: GOOGLE_CLOUD_PROJECT, value: acme-prod}], \
            probes: {startup: {httpGet: {path: /, port: 13133}}}}], \
         cloudRun: {startupCpuBoost: true}}",
    );
    let sidecar = &t["containers"][1];
    assert_eq!(sidecar["name"], "collector");
    assert!(sidecar.get("ports").is_none(), "{sidecar}");
    assert!(
        sidecar.get("dependsOn").is_none(),
        "containers start as in a pod"
    );
    assert_eq!(
        sidecar["resources"],
        json!({"limits": {"cpu": "1", "memory": "512Mi"}, "cpuIdle": true, "startupCpuBoost": true})
    );
    assert_eq!(
        sidecar["startupProbe"],
        json!({"httpGet": {"path": "/", "port": 13133}})
    );
    assert_eq!(t["containers"][0]["ports"][0]["containerPort"], 8080);
}

#[test]
fn instance_bounds_concurrency_and_timeout() {
    let t = template(&simple(
        "",
        "concurrency: 250, timeoutSeconds: 900, scaling: {minInstances: 1, maxInstances: 50}",
    ));
    assert_eq!(
        t["scaling"],
        json!({"minInstanceCount": 1, "maxInstanceCount": 50})
    );
    assert_eq!(t["maxInstanceRequestConcurrency"], 250);
    assert_eq!(t["timeout"], "900s");

    let t = template(&simple("", "scaling: {minInstances: 2}"));
    assert_eq!(
        t["scaling"],
        json!({"minInstanceCount": 2}),
        "no maximum: Cloud Run's own"
    );
    let t = template(&simple(
        "",
        "scaling: {minInstances: 0, metric: concurrency}",
    ));
    for absent in ["scaling", "maxInstanceRequestConcurrency", "timeout"] {
        assert!(t.get(absent).is_none(), "{absent}: {t}");
    }
}

#[test]
fn service_account_and_execution_environment() {
    let t = template(&simple(
        "",
        "cloudRun: {serviceAccount: hello@acme-prod.iam.gserviceaccount.com, \
                    executionEnvironment: gen2}",
    ));
    assert_eq!(
        t["serviceAccount"],
        "hello@acme-prod.iam.gserviceaccount.com"
    );
    assert_eq!(t["executionEnvironment"], "EXECUTION_ENVIRONMENT_GEN2");
}

#[test]
fn vpc_access_by_connector_or_direct_egress() {
    let t = template(&simple(
        "",
        "cloudRun: {vpcAccess: {connector: projects/acme-prod/locations/europe-west1/connectors/shop}}",
    ));
    assert_eq!(
        t["vpcAccess"],
        json!({"connector": "projects/acme-prod/locations/europe-west1/connectors/shop"}),
        "egress left to Cloud Run's default (private ranges only)"
    );
    let t = template(&simple(
        "",
        "cloudRun: {executionEnvironment: gen2, vpcAccess: {egress: PRIVATE_RANGES_ONLY, \
           networkInterfaces: [{network: shop-vpc, subnetwork: shop-europe-west1, \
                                tags: [run, shop]}]}}",
    ));
    assert_eq!(
        t["vpcAccess"],
        json!({
            "egress": "PRIVATE_RANGES_ONLY",
            "networkInterfaces": [{"network": "shop-vpc", "subnetwork": "shop-europe-west1",
                                   "tags": ["run", "shop"]}],
        })
    );
}

#[test]
fn ingress_public_or_internal() {
    assert_eq!(service(&simple("", ""))["ingress"], "INGRESS_TRAFFIC_ALL");
    assert_eq!(
        service(&simple("", "ingress: public"))["ingress"],
        "INGRESS_TRAFFIC_ALL"
    );
    assert_eq!(
        service(&simple("", "ingress: internal"))["ingress"],
        "INGRESS_TRAFFIC_INTERNAL_ONLY"
    );
}

#[test]
fn traffic_splits_between_latest_and_named_revisions_with_tags() {
    let s = service(&simple(
        "",
        "traffic: [{latestRevision: true, percent: 80, tag: canary}, \
                   {revisionName: shop-hello-cd5cea3a-00001-abc, percent: 20}, \
                   {revisionName: shop-hello-cd5cea3a-00002-def, tag: previous}]",
    ));
    assert_eq!(
        s["traffic"],
        json!([
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 80, "tag": "canary"},
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
             "revision": "shop-hello-cd5cea3a-00001-abc", "percent": 20},
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
             "revision": "shop-hello-cd5cea3a-00002-def", "tag": "previous"},
        ])
    );
}

#[test]
fn a_public_service_that_allows_unauthenticated_calls_gets_the_invoker_binding() {
    let invoker = |extra: &str| requests(&simple("", extra)).invoker;
    let public = Some(build::public_invoker());
    assert_eq!(invoker("cloudRun: {allowUnauthenticated: true}"), public);
    assert_eq!(
        invoker("ingress: public, cloudRun: {allowUnauthenticated: true}"),
        public
    );
    // An internal service with allowUnauthenticated is refused by validation.
    assert_eq!(invoker("ingress: internal"), None);
    assert_eq!(invoker("cloudRun: {allowUnauthenticated: false}"), None);
    let public = requests(&simple("", "cloudRun: {allowUnauthenticated: true}"));
    assert_eq!(
        public.rendered()["invokerBinding"],
        json!({"role": "roles/run.invoker", "members": ["allUsers"]})
    );
    assert!(
        requests(&simple("", ""))
            .rendered()
            .get("invokerBinding")
            .is_none()
    );
}

/// Output-only fields of `Service` and what it contains (from the proto's documentation).
const OUTPUT_ONLY: [&str; 19] = [
    "uid",
    "generation",
    "createTime",
    "updateTime",
    "deleteTime",
    "expireTime",
    "creator",
    "lastModifier",
    "urls",
    "observedGeneration",
    "terminalCondition",
    "conditions",
    "latestReadyRevision",
    "latestCreatedRevision",
    "trafficStatuses",
    "uri",
    "satisfiesPzs",
    "threatDetectionEnabled",
    "reconciling",
];

#[test]
fn no_output_only_field_is_ever_set() {
    let p = requests(&simple(
        "probes: {readiness: {httpGet: {path: /ready}}}",
        "scaling: {minInstances: 1, maxInstances: 3}, cloudRun: {allowUnauthenticated: true}",
    ));
    let wire = sent(&p);
    for field in OUTPUT_ONLY {
        assert!(wire.get(field).is_none(), "{field} is output only: {wire}");
    }
    assert!(
        wire.get("etag").is_none(),
        "the client sets the etag it read"
    );
    let template = &wire["template"];
    assert!(
        template.get("revision").is_none(),
        "Cloud Run names revisions"
    );
    for c in template["containers"].as_array().unwrap() {
        assert!(c.get("buildInfo").is_none());
    }
}
