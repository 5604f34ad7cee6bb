//! Table tests: each part of a ServerlessService and the Knative Service fields it becomes.

use ferry_api::KNATIVE_MANAGED_ANNOTATIONS;
use ferry_provider_knative::build::{
    FIELD_MANAGER, FINGERPRINT_ANNOTATION, MANAGED_BY, is_up_to_date, knative_service,
};
use serde_json::{Value, json};

use crate::common::{build, build_checked, desired, simple};

fn template_annotations(service: &Value) -> &Value {
    &service["spec"]["template"]["metadata"]["annotations"]
}

fn first_container(service: &Value) -> &Value {
    &service["spec"]["template"]["spec"]["containers"][0]
}

#[test]
fn the_field_manager_and_label_are_ferrys() {
    assert_eq!(FIELD_MANAGER, "ferry");
    assert_eq!(MANAGED_BY, ("app.kubernetes.io/managed-by", "ferry"));
}

#[test]
fn a_minimal_service_is_exactly_this() {
    let mut service = build(&simple("", ""));
    let fingerprint = take_fingerprint(&mut service);
    assert!(
        fingerprint.len() == 16 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()),
        "{fingerprint}"
    );
    assert_eq!(
        service,
        json!({
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {
                "name": "hello",
                "namespace": "shop",
                "labels": {
                    "app.kubernetes.io/managed-by": "ferry",
                    "app.kubernetes.io/name": "hello",
                },
            },
            "spec": {
                "template": {
                    "metadata": {
                        "labels": {"app.kubernetes.io/managed-by": "ferry"},
                        "annotations": {
                            "autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev",
                            "autoscaling.knative.dev/metric": "concurrency",
                            "autoscaling.knative.dev/min-scale": "0",
                        },
                    },
                    "spec": {
                        "containers": [{
                            "name": "app",
                            "image": "ghcr.io/acme/hello:1.4.2",
                            "ports": [{"containerPort": 8080}],
                        }],
                    },
                },
                "traffic": [{"latestRevision": true, "percent": 100}],
            },
        })
    );
}

#[test]
fn scaling_becomes_revision_annotations() {
    let cases: &[(&str, &str, Value)] = &[
        (
            "the defaults: kpa on concurrency, scale to zero",
            "",
            json!({
                "autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev",
                "autoscaling.knative.dev/metric": "concurrency",
                "autoscaling.knative.dev/min-scale": "0",
            }),
        ),
        (
            "every scaling field on kpa",
            "scaling: {minInstances: 1, maxInstances: 5, initialInstances: 2, metric: rps, \
             target: 150, scaleDownDelaySeconds: 90}",
            json!({
                "autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev",
                "autoscaling.knative.dev/metric": "rps",
                "autoscaling.knative.dev/target": "150",
                "autoscaling.knative.dev/min-scale": "1",
                "autoscaling.knative.dev/max-scale": "5",
                "autoscaling.knative.dev/initial-scale": "2",
                "autoscaling.knative.dev/scale-down-delay": "90s",
            }),
        ),
        (
            "a zero scale-down delay is still written",
            "scaling: {metric: concurrency, target: 60, scaleDownDelaySeconds: 0}",
            json!({
                "autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev",
                "autoscaling.knative.dev/metric": "concurrency",
                "autoscaling.knative.dev/target": "60",
                "autoscaling.knative.dev/min-scale": "0",
                "autoscaling.knative.dev/scale-down-delay": "0s",
            }),
        ),
        (
            "cpu chooses hpa, and the target stays a percentage",
            "scaling: {minInstances: 2, maxInstances: 8, metric: cpu, target: 70}",
            json!({
                "autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev",
                "autoscaling.knative.dev/metric": "cpu",
                "autoscaling.knative.dev/target": "70",
                "autoscaling.knative.dev/min-scale": "2",
                "autoscaling.knative.dev/max-scale": "8",
            }),
        ),
        (
            "user annotations are kept beside Ferry's",
            "knative: {annotations: {autoscaling.knative.dev/window: 40s, \
             example.com/team: payments}}",
            json!({
                "autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev",
                "autoscaling.knative.dev/metric": "concurrency",
                "autoscaling.knative.dev/min-scale": "0",
                "autoscaling.knative.dev/window": "40s",
                "example.com/team": "payments",
            }),
        ),
    ];
    for (what, extra, expected) in cases {
        let service = build(&simple("resources: {cpu: 500m, memory: 256Mi}", extra));
        assert_eq!(template_annotations(&service), expected, "{what}");
        assert_eq!(
            service["spec"]["template"]["metadata"]["labels"],
            json!({"app.kubernetes.io/managed-by": "ferry"}),
            "{what}"
        );
    }
}

#[test]
fn ferry_writes_only_annotations_users_may_not_set() {
    let service = build(&simple(
        "resources: {cpu: 500m, memory: 256Mi}",
        "scaling: {minInstances: 1, maxInstances: 5, initialInstances: 2, metric: memory, \
         target: 80, scaleDownDelaySeconds: 90}",
    ));
    let annotations = template_annotations(&service).as_object().unwrap();
    assert_eq!(annotations.len(), 7, "{annotations:?}");
    for (key, value) in annotations {
        assert!(
            KNATIVE_MANAGED_ANNOTATIONS.contains(&key.as_str()),
            "{key} is derived by Ferry, so spec.knative.annotations must refuse it"
        );
        assert!(value.is_string(), "{key}: annotation values are strings");
    }
}

#[test]
fn a_memory_target_becomes_mebibytes_of_the_pods_memory() {
    // (memory of each container, percent, MiB per pod Knative's HPA aims at)
    let cases: &[(&[&str], u32, &str)] = &[
        (&["256Mi"], 80, "205"),
        (&["1Gi"], 75, "768"),
        (&["512Mi", "512Mi"], 50, "512"),
        (&["1Gi", "256Mi"], 100, "1280"),
        (&["3Mi"], 50, "2"),
        (&["100Mi"], 1, "1"),
        (&["10Mi"], 1, "1"),
        (&["1G"], 90, "858"),
    ];
    for (memories, percent, expected) in cases {
        let containers: Vec<String> = memories
            .iter()
            .enumerate()
            .map(|(i, memory)| {
                let port = if i == 0 { ", port: 8080" } else { "" };
                format!("{{name: c{i}, image: 'ghcr.io/acme/c:1'{port}, resources: {{memory: {memory}}}}}")
            })
            .collect();
        let spec = format!(
            "{{provider: knative, containers: [{}], scaling: {{minInstances: 1, metric: memory, \
             target: {percent}}}}}",
            containers.join(", ")
        );
        let service = build(&spec);
        let annotations = template_annotations(&service);
        assert_eq!(
            annotations["autoscaling.knative.dev/target"], *expected,
            "{memories:?} at {percent}%"
        );
        assert_eq!(
            annotations["autoscaling.knative.dev/class"],
            "hpa.autoscaling.knative.dev"
        );
        assert_eq!(annotations["autoscaling.knative.dev/metric"], "memory");
    }
}

#[test]
fn probes_follow_knatives_port_rules() {
    // (serving container's probes, sidecar's probes, expected serving probes, expected sidecar)
    let cases: &[(&str, &str, &str, Value, Value)] = &[
        (
            "http on the serving port carries no port; on a sidecar it does",
            "{readiness: {httpGet: {path: /ready}}}",
            "{readiness: {httpGet: {path: /healthz, port: 9000}}}",
            json!({"readinessProbe": {"httpGet": {"path": "/ready"}}}),
            json!({"readinessProbe": {"httpGet": {"path": "/healthz", "port": 9000}}}),
        ),
        (
            "an explicit serving port equal to the container port is left out too",
            "{liveness: {httpGet: {path: /health, port: 8080}, periodSeconds: 15}}",
            "{liveness: {tcpSocket: {port: 9000}}}",
            json!({"livenessProbe": {"httpGet": {"path": "/health"}, "periodSeconds": 15}}),
            json!({"livenessProbe": {"tcpSocket": {"port": 9000}}}),
        ),
        (
            "tcp and grpc",
            "{startup: {tcpSocket: {}, failureThreshold: 30, periodSeconds: 2}, \
             liveness: {grpc: {service: health}}}",
            "{startup: {grpc: {port: 9001}}}",
            json!({
                "startupProbe": {"tcpSocket": {}, "periodSeconds": 2, "failureThreshold": 30},
                "livenessProbe": {"grpc": {"service": "health"}},
            }),
            json!({"startupProbe": {"grpc": {"port": 9001}}}),
        ),
        (
            "headers and every timing field",
            "{readiness: {httpGet: {path: /ready, httpHeaders: [{name: X-Probe, value: 'yes'}]}, \
             initialDelaySeconds: 3, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 4}}",
            "{}",
            json!({"readinessProbe": {
                "httpGet": {"path": "/ready", "httpHeaders": [{"name": "X-Probe", "value": "yes"}]},
                "initialDelaySeconds": 3,
                "periodSeconds": 5,
                "timeoutSeconds": 2,
                "failureThreshold": 4,
            }}),
            json!({}),
        ),
        (
            "a readiness timeout without a period gets the documented 10 s period",
            "{readiness: {httpGet: {}, timeoutSeconds: 2}, liveness: {httpGet: {}, timeoutSeconds: 2}}",
            "{readiness: {tcpSocket: {port: 9000}, failureThreshold: 5}}",
            json!({
                "readinessProbe": {"httpGet": {"path": "/"}, "periodSeconds": 10, "timeoutSeconds": 2},
                "livenessProbe": {"httpGet": {"path": "/"}, "timeoutSeconds": 2},
            }),
            json!({"readinessProbe": {"tcpSocket": {"port": 9000}, "periodSeconds": 10, "failureThreshold": 5}}),
        ),
        (
            "a serving probe on another port keeps it, for Knative to refuse",
            "{liveness: {tcpSocket: {port: 8081}}}",
            "{}",
            json!({"livenessProbe": {"tcpSocket": {"port": 8081}}}),
            json!({}),
        ),
    ];
    let probe_fields = ["startupProbe", "readinessProbe", "livenessProbe"];
    let probes_of = |container: &Value| -> Value {
        probe_fields
            .iter()
            .filter_map(|f| container.get(*f).map(|p| ((*f).to_owned(), p.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    for (what, serving, sidecar, want_serving, want_sidecar) in cases {
        let spec = format!(
            "{{provider: knative, containers: [\
             {{name: app, image: 'ghcr.io/acme/app:1', port: 8080, probes: {serving}}}, \
             {{name: proxy, image: 'ghcr.io/acme/proxy:1', probes: {sidecar}}}]}}"
        );
        let service = build(&spec);
        let containers = &service["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            probes_of(&containers[0]),
            *want_serving,
            "{what}: serving container"
        );
        assert_eq!(probes_of(&containers[1]), *want_sidecar, "{what}: sidecar");
        assert_eq!(
            containers[0]["ports"],
            json!([{"containerPort": 8080}]),
            "{what}"
        );
        assert!(
            containers[1].get("ports").is_none(),
            "{what}: only the serving container has ports"
        );
    }
}

#[test]
fn resources_become_kubernetes_quantities() {
    let cases: &[(&str, Value)] = &[
        ("{}", Value::Null),
        (
            "{cpu: 500m, memory: 512Mi}",
            json!({"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}),
        ),
        (
            "{cpu: '2', memory: 2Gi}",
            json!({"requests": {"cpu": "2", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}),
        ),
        (
            "{cpu: '0.25', memory: 1.5Gi}",
            json!({"requests": {"cpu": "250m", "memory": "1536Mi"}, "limits": {"cpu": "250m", "memory": "1536Mi"}}),
        ),
        (
            "{cpu: '1.5', memory: 1G}",
            // As the API server gives it back (its canonical form), so a read compares equal.
            json!({"requests": {"cpu": "1500m", "memory": "1G"}, "limits": {"cpu": "1500m", "memory": "1G"}}),
        ),
        (
            "{memory: 1000Ki, ephemeralStorage: 30Gi}",
            json!({"requests": {"memory": "1000Ki", "ephemeral-storage": "30Gi"}, "limits": {"memory": "1000Ki", "ephemeral-storage": "30Gi"}}),
        ),
        (
            "{ephemeralStorage: 2Ti}",
            json!({"requests": {"ephemeral-storage": "2Ti"}, "limits": {"ephemeral-storage": "2Ti"}}),
        ),
        (
            "{gpu: {count: 2}}",
            json!({"limits": {"nvidia.com/gpu": "2"}}),
        ),
        (
            "{cpu: '4', memory: 16Gi, gpu: {count: 1}}",
            json!({"requests": {"cpu": "4", "memory": "16Gi"}, "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}}),
        ),
    ];
    for (resources, expected) in cases {
        let service = build(&simple(&format!("resources: {resources}"), ""));
        let got = first_container(&service)
            .get("resources")
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(got, *expected, "resources {resources}");
    }
}

#[test]
fn env_keeps_order_and_reads_secrets_by_key() {
    let service = build(&simple(
        "env: [{name: MODE, value: prod}, {name: DB_PASSWORD, secret: {name: db, key: password}}, \
         {name: EMPTY, value: ''}]",
        "",
    ));
    assert_eq!(
        first_container(&service)["env"],
        json!([
            {"name": "MODE", "value": "prod"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "EMPTY", "value": ""},
        ])
    );
    let none = build(&simple("", ""));
    assert!(
        first_container(&none).get("env").is_none(),
        "no env, no field"
    );
}

#[test]
fn command_args_and_pod_settings_are_written_when_set() {
    let service = build(&simple(
        "command: [/bin/server], args: ['--port', '8080']",
        "concurrency: 50, timeoutSeconds: 120, knative: {serviceAccountName: runner, \
         nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4, pool: gpu}}",
    ));
    let spec = &service["spec"]["template"]["spec"];
    assert_eq!(spec["containers"][0]["command"], json!(["/bin/server"]));
    assert_eq!(spec["containers"][0]["args"], json!(["--port", "8080"]));
    assert_eq!(spec["containerConcurrency"], 50);
    assert_eq!(spec["timeoutSeconds"], 120);
    assert_eq!(spec["serviceAccountName"], "runner");
    assert_eq!(
        spec["nodeSelector"],
        json!({"cloud.google.com/gke-accelerator": "nvidia-l4", "pool": "gpu"})
    );

    let bare = build(&simple("", ""));
    let spec = bare["spec"]["template"]["spec"].as_object().unwrap();
    assert_eq!(
        spec.keys().collect::<Vec<_>>(),
        ["containers"],
        "nothing unset is written"
    );
    let container = spec["containers"][0].as_object().unwrap();
    assert_eq!(
        container.keys().collect::<Vec<_>>(),
        ["image", "name", "ports"]
    );
}

#[test]
fn traffic_always_names_its_targets() {
    let cases: &[(&str, Value)] = &[
        ("", json!([{"latestRevision": true, "percent": 100}])),
        (
            "traffic: [{latestRevision: true, percent: 100}]",
            json!([{"latestRevision": true, "percent": 100}]),
        ),
        (
            "traffic: [{revisionName: hello-00001, percent: 90, tag: stable}, \
             {latestRevision: true, percent: 10, tag: canary}]",
            json!([
                {"revisionName": "hello-00001", "percent": 90, "tag": "stable"},
                {"latestRevision": true, "percent": 10, "tag": "canary"},
            ]),
        ),
        (
            "traffic: [{latestRevision: true, percent: 100}, {revisionName: hello-00003, percent: 0, tag: preview}]",
            json!([
                {"latestRevision": true, "percent": 100},
                {"revisionName": "hello-00003", "percent": 0, "tag": "preview"},
            ]),
        ),
    ];
    for (traffic, expected) in cases {
        let service = build(&simple("", traffic));
        assert_eq!(service["spec"]["traffic"], *expected, "{traffic}");
    }
}

#[test]
fn internal_ingress_is_cluster_local_and_the_ingress_class_is_an_annotation() {
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("", None, None),
        ("ingress: public", None, None),
        ("ingress: internal", Some("cluster-local"), None),
        (
            "ingress: internal, knative: {ingressClass: kourier.ingress.networking.knative.dev}",
            Some("cluster-local"),
            Some("kourier.ingress.networking.knative.dev"),
        ),
    ];
    for (extra, visibility, class) in cases {
        let service = build(&simple("", extra));
        let meta = &service["metadata"];
        assert_eq!(
            meta["labels"]["networking.knative.dev/visibility"].as_str(),
            *visibility,
            "{extra}"
        );
        assert_eq!(
            meta["labels"]["app.kubernetes.io/managed-by"], "ferry",
            "{extra}"
        );
        assert_eq!(
            meta["annotations"].get("networking.knative.dev/ingress.class"),
            class.map(|c| json!(c)).as_ref(),
            "{extra}"
        );
    }
}

#[test]
fn the_owner_reference_needs_a_uid() {
    let mut d = desired(&simple("", ""));
    assert!(
        build_checked(&d)["metadata"]
            .get("ownerReferences")
            .is_none(),
        "offline rendering has no UID and no owner reference"
    );
    d.object.uid = Some("6f1c0a52-3d1e-4b8a-9d55-0a4c2f2f9e10".into());
    assert_eq!(
        build_checked(&d)["metadata"]["ownerReferences"],
        json!([{
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "name": "hello",
            "uid": "6f1c0a52-3d1e-4b8a-9d55-0a4c2f2f9e10",
            "controller": true,
            "blockOwnerDeletion": true,
        }])
    );
}

#[test]
fn the_same_model_builds_byte_identical_json() {
    let spec = simple(
        "env: [{name: B, value: '2'}, {name: A, value: '1'}], resources: {cpu: 500m, memory: 256Mi}",
        "knative: {annotations: {z.example.com/last: z, a.example.com/first: a}, \
         nodeSelector: {zone: b, arch: amd64}}, scaling: {maxInstances: 3}",
    );
    let first = serde_json::to_string(&knative_service(&desired(&spec))).unwrap();
    for _ in 0..5 {
        let again = serde_json::to_string(&knative_service(&desired(&spec))).unwrap();
        assert_eq!(first, again);
    }
    let env = first.find("\"B\"").unwrap() < first.find("\"A\"").unwrap();
    assert!(env, "env keeps the spec's order");
}

#[test]
fn a_service_never_carries_status() {
    let service = build(&simple("", ""));
    let keys: Vec<&String> = service.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
}

/// Removes the fingerprint annotation (and `annotations` if it held nothing else).
fn take_fingerprint(service: &mut Value) -> String {
    let meta = service["metadata"].as_object_mut().unwrap();
    let annotations = meta["annotations"].as_object_mut().unwrap();
    let fingerprint = annotations.remove(FINGERPRINT_ANNOTATION).unwrap();
    if annotations.is_empty() {
        meta.remove("annotations");
    }
    fingerprint.as_str().unwrap().to_owned()
}

#[test]
fn a_field_ferry_stops_setting_makes_the_live_service_out_of_date() {
    let before = build(&simple("", "scaling: {maxInstances: 5}"));
    let after = build(&simple("", ""));
    // The live Service still has everything `after` sets, and the max-scale annotation.
    assert!(
        template_annotations(&before)["autoscaling.knative.dev/max-scale"].is_string(),
        "{before:#}"
    );
    assert!(!is_up_to_date(&after, &before));
    assert!(is_up_to_date(&before, &before));
}

#[test]
fn the_fingerprint_depends_on_nothing_but_the_service() {
    let a = build(&simple("", "scaling: {maxInstances: 5}"));
    let b = build(&simple("", "scaling: {maxInstances: 5}"));
    let c = build(&simple("", "scaling: {maxInstances: 6}"));
    let print = |s: &Value| s["metadata"]["annotations"][FINGERPRINT_ANNOTATION].clone();
    assert_eq!(print(&a), print(&b));
    assert_ne!(print(&a), print(&c));
}
