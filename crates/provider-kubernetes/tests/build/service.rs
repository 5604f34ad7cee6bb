//! Table tests: each part of a ServerlessService and the objects and fields it becomes.

use std::collections::BTreeMap;

use ferry_provider_kubernetes::build::{
    FIELD_MANAGER, FINGERPRINT_ANNOTATION, Kind, MANAGED_BY, SELECTOR_LABEL, TEMPLATE_ANNOTATION,
    children, fingerprint_of, is_up_to_date,
};
use serde_json::{Value, json};

use crate::common::{build, build_checked, desired, kinds, simple};

type Children = BTreeMap<Kind, Value>;

fn deployment(children: &Children) -> &Value {
    &children[&Kind::Deployment]
}

fn pod_spec(children: &Children) -> &Value {
    &deployment(children)["spec"]["template"]["spec"]
}

fn first_container(children: &Children) -> &Value {
    &pod_spec(children)["containers"][0]
}

/// Removes the fingerprint annotation of `child` (and `annotations` if it held nothing else).
fn take_fingerprint(child: &mut Value) -> String {
    let meta = child["metadata"].as_object_mut().unwrap();
    let annotations = meta["annotations"].as_object_mut().unwrap();
    let fingerprint = annotations.remove(FINGERPRINT_ANNOTATION).unwrap();
    if annotations.is_empty() {
        meta.remove("annotations");
    }
    fingerprint.as_str().unwrap().to_owned()
}

/// The pod template's fingerprint, taken off the Deployment.
fn take_template_fingerprint(deployment: &mut Value) -> String {
    let meta = deployment["spec"]["template"]["metadata"]
        .as_object_mut()
        .unwrap();
    let annotations = meta["annotations"].as_object_mut().unwrap();
    let fingerprint = annotations.remove(TEMPLATE_ANNOTATION).unwrap();
    if annotations.is_empty() {
        meta.remove("annotations");
    }
    fingerprint.as_str().unwrap().to_owned()
}

/// `children` without their fingerprints, which the exact comparisons cannot spell out.
fn without_fingerprints(mut children: Children) -> Children {
    if let Some(deployment) = children.get_mut(&Kind::Deployment) {
        let fingerprint = take_template_fingerprint(deployment);
        assert!(
            fingerprint.len() == 16 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()),
            "{fingerprint}"
        );
    }
    for child in children.values_mut() {
        let fingerprint = take_fingerprint(child);
        assert!(
            fingerprint.len() == 16 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()),
            "{fingerprint}"
        );
    }
    children
}

/// The metadata every child of `hello` in `shop` has, offline (no UID).
fn meta() -> Value {
    json!({
        "name": "hello",
        "namespace": "shop",
        "labels": {
            "app.kubernetes.io/managed-by": "ferry",
            "app.kubernetes.io/name": "hello",
        },
    })
}

/// The pod template's fingerprint tells the pods of the current rollout from older ones: it
/// moves with what the pods run, and not with what only the Deployment holds.
#[test]
fn the_template_fingerprint_moves_with_the_pods_only() {
    let template = |spec: &str| {
        let mut children = build(spec);
        take_template_fingerprint(children.get_mut(&Kind::Deployment).unwrap())
    };
    let base = template(&simple("", ""));
    assert_eq!(base, template(&simple("", "")));
    assert_ne!(
        base,
        template(&simple("", "").replace("hello:1.4.2", "hello:1.4.3"))
    );
    assert_eq!(base, template(&simple("", "scaling: {minInstances: 3}")));
}

#[test]
fn the_field_manager_and_labels_are_ferrys() {
    assert_eq!(FIELD_MANAGER, "ferry");
    assert_eq!(MANAGED_BY, ("app.kubernetes.io/managed-by", "ferry"));
    assert_eq!(SELECTOR_LABEL, "ferry.dev/service");
}

#[test]
fn a_minimal_service_is_exactly_this() {
    let children = without_fingerprints(build(&simple("", "")));
    let expected: Children = [
        (
            Kind::Deployment,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta(),
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"ferry.dev/service": "hello"}},
                    "template": {
                        "metadata": {"labels": {
                            "app.kubernetes.io/managed-by": "ferry",
                            "app.kubernetes.io/name": "hello",
                            "ferry.dev/service": "hello",
                        }},
                        "spec": {"containers": [{
                            "name": "app",
                            "image": "ghcr.io/acme/hello:1.4.2",
                            "ports": [{"containerPort": 8080}],
                        }]},
                    },
                },
            }),
        ),
        (
            Kind::Service,
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(),
                "spec": {
                    "type": "ClusterIP",
                    "selector": {"ferry.dev/service": "hello"},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                },
            }),
        ),
        (
            Kind::Ingress,
            json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": meta(),
                "spec": {"rules": [{"http": {"paths": [{
                    "path": "/",
                    "pathType": "Prefix",
                    "backend": {"service": {"name": "hello", "port": {"number": 80}}},
                }]}}]},
            }),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(children, expected);
}

#[test]
fn scaling_decides_the_replicas_the_autoscaler_and_the_disruption_budget() {
    use Kind::{Deployment, HorizontalPodAutoscaler as Hpa, PodDisruptionBudget as Pdb, Service};
    // (scaling, kinds built (ingress internal), Deployment's spec.replicas)
    let cases: &[(&str, &[Kind], Option<u32>)] = &[
        ("", &[Deployment, Service], Some(1)),
        (
            "scaling: {minInstances: 1}",
            &[Deployment, Service],
            Some(1),
        ),
        (
            "scaling: {minInstances: 1, maxInstances: 1}",
            &[Deployment, Service],
            Some(1),
        ),
        (
            "scaling: {minInstances: 2}",
            &[Deployment, Service, Pdb],
            Some(2),
        ),
        (
            "scaling: {minInstances: 3, maxInstances: 3}",
            &[Deployment, Service, Pdb],
            Some(3),
        ),
        (
            "scaling: {minInstances: 1, maxInstances: 2}",
            &[Deployment, Service, Hpa],
            None,
        ),
        (
            "scaling: {minInstances: 2, maxInstances: 10}",
            &[Deployment, Service, Hpa, Pdb],
            None,
        ),
        (
            "scaling: {maxInstances: 4, metric: memory}",
            &[Deployment, Service, Hpa],
            None,
        ),
    ];
    for (scaling, want_kinds, replicas) in cases {
        let extra = if scaling.is_empty() {
            "ingress: internal".to_owned()
        } else {
            format!("ingress: internal, {scaling}")
        };
        let children = build(&simple("resources: {cpu: 500m, memory: 256Mi}", &extra));
        assert_eq!(kinds(&children), *want_kinds, "{scaling}");
        assert_eq!(
            deployment(&children)["spec"].get("replicas"),
            replicas.map(|r| json!(r)).as_ref(),
            "{scaling}: with an autoscaler, the replica count is its to set"
        );
        if let Some(pdb) = children.get(&Kind::PodDisruptionBudget) {
            assert_eq!(
                pdb["spec"],
                json!({"maxUnavailable": 1, "selector": {"matchLabels": {"ferry.dev/service": "hello"}}}),
                "{scaling}"
            );
        }
    }
}

#[test]
fn the_autoscaler_scales_the_deployment_on_utilization() {
    let hpa = |metric: &str, target: Value, extra: Value| {
        let mut spec = json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [{"type": "Resource", "resource": {
                "name": metric,
                "target": {"type": "Utilization", "averageUtilization": target},
            }}],
        });
        if let (Value::Object(spec), Value::Object(extra)) = (&mut spec, extra) {
            spec.extend(extra);
        }
        spec
    };
    // (scaling, the HorizontalPodAutoscaler's spec)
    let cases: Vec<(&str, Value)> = vec![
        (
            "scaling: {minInstances: 2, maxInstances: 10, metric: cpu, target: 70}",
            hpa("cpu", json!(70), json!({})),
        ),
        (
            "scaling: {minInstances: 2, maxInstances: 10}",
            hpa("cpu", json!(80), json!({})),
        ),
        (
            "scaling: {minInstances: 2, maxInstances: 10, metric: memory, target: 65}",
            hpa("memory", json!(65), json!({})),
        ),
        (
            "scaling: {minInstances: 2, maxInstances: 10, metric: memory}",
            hpa("memory", json!(80), json!({})),
        ),
        (
            "scaling: {minInstances: 2, maxInstances: 10, scaleDownDelaySeconds: 300}",
            hpa(
                "cpu",
                json!(80),
                json!({"behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}}),
            ),
        ),
        (
            "scaling: {minInstances: 2, maxInstances: 10, scaleDownDelaySeconds: 0}",
            hpa(
                "cpu",
                json!(80),
                json!({"behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}),
            ),
        ),
        (
            "scaling: {minInstances: 2, maxInstances: 10, scaleDownDelaySeconds: 3600}",
            hpa(
                "cpu",
                json!(80),
                json!({"behavior": {"scaleDown": {"stabilizationWindowSeconds": 3600}}}),
            ),
        ),
    ];
    for (scaling, expected) in cases {
        let children = build(&simple("resources: {cpu: 500m, memory: 256Mi}", scaling));
        let hpa = &children[&Kind::HorizontalPodAutoscaler];
        assert_eq!(hpa["spec"], expected, "{scaling}");
        assert_eq!(hpa["metadata"]["name"], "hello");
    }
}

#[test]
fn a_public_service_gets_an_ingress_and_an_internal_one_none() {
    let backend = json!({"service": {"name": "hello", "port": {"number": 80}}});
    let rule = |host: Option<&str>| {
        let mut rule = json!({"http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": backend},
        ]}});
        if let Some(host) = host {
            rule["host"] = json!(host);
        }
        rule
    };
    // (spec fields, the Ingress's spec and its annotations besides the fingerprint; None: no
    // Ingress)
    let cases: Vec<(&str, Option<(Value, Value)>)> = vec![
        ("ingress: internal", None),
        (
            "ingress: internal, kubernetes: {ingressClassName: nginx, host: hello.example.com}",
            None,
        ),
        ("", Some((json!({"rules": [rule(None)]}), json!({})))),
        (
            "ingress: public",
            Some((json!({"rules": [rule(None)]}), json!({}))),
        ),
        (
            "ingress: public, kubernetes: {ingressClassName: nginx, host: hello.shop.example.com}",
            Some((
                json!({"ingressClassName": "nginx", "rules": [rule(Some("hello.shop.example.com"))]}),
                json!({}),
            )),
        ),
        (
            "kubernetes: {ingressClassName: nginx, \
             ingressAnnotations: {nginx.ingress.kubernetes.io/proxy-read-timeout: '120'}}",
            Some((
                json!({"ingressClassName": "nginx", "rules": [rule(None)]}),
                json!({"nginx.ingress.kubernetes.io/proxy-read-timeout": "120"}),
            )),
        ),
        (
            "kubernetes: {ingressClassName: alb}",
            Some((
                json!({"ingressClassName": "alb", "rules": [rule(None)]}),
                json!({"alb.ingress.kubernetes.io/target-type": "ip"}),
            )),
        ),
        (
            "kubernetes: {ingressClassName: alb, host: api.example.com, \
             ingressAnnotations: {alb.ingress.kubernetes.io/scheme: internet-facing}}",
            Some((
                json!({"ingressClassName": "alb", "rules": [rule(Some("api.example.com"))]}),
                json!({
                    "alb.ingress.kubernetes.io/scheme": "internet-facing",
                    "alb.ingress.kubernetes.io/target-type": "ip",
                }),
            )),
        ),
        // The user's own target type stays.
        (
            "kubernetes: {ingressClassName: alb, \
             ingressAnnotations: {alb.ingress.kubernetes.io/target-type: instance}}",
            Some((
                json!({"ingressClassName": "alb", "rules": [rule(None)]}),
                json!({"alb.ingress.kubernetes.io/target-type": "instance"}),
            )),
        ),
        // Only the alb class gets the target type.
        (
            "kubernetes: {ingressClassName: traefik}",
            Some((
                json!({"ingressClassName": "traefik", "rules": [rule(None)]}),
                json!({}),
            )),
        ),
    ];
    for (extra, expected) in cases {
        let mut children = build(&simple("", extra));
        match expected {
            None => assert!(
                !children.contains_key(&Kind::Ingress),
                "{extra}: internal services have the ClusterIP Service only"
            ),
            Some((spec, annotations)) => {
                let ingress = children.get_mut(&Kind::Ingress).unwrap();
                take_fingerprint(ingress);
                assert_eq!(ingress["spec"], spec, "{extra}");
                assert_eq!(
                    ingress["metadata"]
                        .get("annotations")
                        .cloned()
                        .unwrap_or_else(|| json!({})),
                    annotations,
                    "{extra}"
                );
            }
        }
        assert_eq!(
            children[&Kind::Service]["spec"]["type"],
            "ClusterIP",
            "{extra}"
        );
    }
}

#[test]
fn ingress_annotations_go_on_the_ingress_only() {
    let children = build(&simple(
        "",
        "kubernetes: {ingressClassName: alb, ingressAnnotations: {example.com/team: payments}}",
    ));
    for (kind, child) in &children {
        let annotations = child["metadata"]["annotations"].as_object().unwrap();
        let keys: Vec<&str> = annotations.keys().map(String::as_str).collect();
        if *kind == Kind::Ingress {
            assert_eq!(
                keys,
                [
                    "alb.ingress.kubernetes.io/target-type",
                    "example.com/team",
                    FINGERPRINT_ANNOTATION
                ]
            );
        } else {
            assert_eq!(keys, [FINGERPRINT_ANNOTATION], "{kind:?}");
        }
    }
}

#[test]
fn fargate_profile_labels_go_on_the_pods_and_never_in_the_selector() {
    let children = build(&simple(
        "resources: {cpu: 500m, memory: 512Mi}",
        "scaling: {minInstances: 2, maxInstances: 4}, \
         kubernetes: {ingressClassName: alb, \
                      fargateProfile: {labels: {compute: fargate, team: payments}}}",
    ));
    let template_labels = &deployment(&children)["spec"]["template"]["metadata"]["labels"];
    assert_eq!(
        *template_labels,
        json!({
            "app.kubernetes.io/managed-by": "ferry",
            "app.kubernetes.io/name": "hello",
            "compute": "fargate",
            "ferry.dev/service": "hello",
            "team": "payments",
        })
    );
    let selector = json!({"ferry.dev/service": "hello"});
    assert_eq!(
        deployment(&children)["spec"]["selector"]["matchLabels"],
        selector
    );
    assert_eq!(children[&Kind::Service]["spec"]["selector"], selector);
    assert_eq!(
        children[&Kind::PodDisruptionBudget]["spec"]["selector"]["matchLabels"],
        selector
    );
    for (kind, child) in &children {
        assert!(
            child["metadata"]["labels"].get("compute").is_none(),
            "{kind:?}: the profile matches pods; the objects keep Ferry's labels only"
        );
    }

    // A profile label that collides with Ferry's own loses: the selector must match the pods.
    let children = build(&simple(
        "resources: {cpu: 500m, memory: 512Mi}",
        "ingress: internal, kubernetes: {fargateProfile: {labels: {ferry.dev/service: other, \
         app.kubernetes.io/managed-by: someone}}}",
    ));
    let labels = &deployment(&children)["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels["ferry.dev/service"], "hello");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "ferry");
}

#[test]
fn the_selector_always_matches_the_pods() {
    for extra in [
        "",
        "ingress: internal",
        "kubernetes: {fargateProfile: {labels: {compute: fargate}}}",
        "kubernetes: {fargateProfile: {labels: {}}}",
        "scaling: {minInstances: 2, maxInstances: 3}",
    ] {
        let children = build(&simple("resources: {cpu: 500m, memory: 512Mi}", extra));
        let pods = deployment(&children)["spec"]["template"]["metadata"]["labels"]
            .as_object()
            .unwrap();
        for (kind, pointer) in [
            (Kind::Deployment, "/spec/selector/matchLabels"),
            (Kind::Service, "/spec/selector"),
            (Kind::PodDisruptionBudget, "/spec/selector/matchLabels"),
        ] {
            let Some(child) = children.get(&kind) else {
                continue;
            };
            let selector = child.pointer(pointer).unwrap().as_object().unwrap();
            assert!(!selector.is_empty(), "{extra}: {kind:?}");
            for (key, value) in selector {
                assert_eq!(
                    pods.get(key),
                    Some(value),
                    "{extra}: {kind:?} selects {key}"
                );
            }
        }
    }
}

#[test]
fn env_keeps_order_and_reads_secrets_by_key() {
    let children = build(&simple(
        "env: [{name: MODE, value: prod}, {name: DB_PASSWORD, secret: {name: db, key: password}}, \
         {name: EMPTY, value: ''}]",
        "",
    ));
    assert_eq!(
        first_container(&children)["env"],
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
fn probes_always_name_their_port() {
    // (serving container's probes, sidecar's probes, expected serving probes, expected sidecar)
    let cases: &[(&str, &str, &str, Value, Value)] = &[
        (
            "an http probe without a port probes the container's port",
            "{readiness: {httpGet: {path: /ready}}}",
            "{readiness: {httpGet: {path: /healthz, port: 9000}}}",
            json!({"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}),
            json!({"readinessProbe": {"httpGet": {"path": "/healthz", "port": 9000}}}),
        ),
        (
            "a path defaults to /, and an explicit port stays",
            "{liveness: {httpGet: {port: 8081}, periodSeconds: 15}}",
            "{liveness: {tcpSocket: {port: 9000}}}",
            json!({"livenessProbe": {"httpGet": {"path": "/", "port": 8081}, "periodSeconds": 15}}),
            json!({"livenessProbe": {"tcpSocket": {"port": 9000}}}),
        ),
        (
            "tcp and grpc",
            "{startup: {tcpSocket: {}, failureThreshold: 30, periodSeconds: 2}, \
             liveness: {grpc: {service: health}}}",
            "{startup: {grpc: {port: 9001}}}",
            json!({
                "startupProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2, "failureThreshold": 30},
                "livenessProbe": {"grpc": {"port": 8080, "service": "health"}},
            }),
            json!({"startupProbe": {"grpc": {"port": 9001}}}),
        ),
        (
            "headers and every timing field",
            "{readiness: {httpGet: {path: /ready, httpHeaders: [{name: X-Probe, value: 'yes'}]}, \
             initialDelaySeconds: 3, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 4}}",
            "{}",
            json!({"readinessProbe": {
                "httpGet": {"path": "/ready", "port": 8080, "httpHeaders": [{"name": "X-Probe", "value": "yes"}]},
                "initialDelaySeconds": 3,
                "periodSeconds": 5,
                "timeoutSeconds": 2,
                "failureThreshold": 4,
            }}),
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
            "{{provider: kubernetes, containers: [\
             {{name: app, image: 'ghcr.io/acme/app:1', port: 8080, probes: {serving}}}, \
             {{name: proxy, image: 'ghcr.io/acme/proxy:1', probes: {sidecar}}}]}}"
        );
        let children = build(&spec);
        let containers = &pod_spec(&children)["containers"];
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
fn the_service_forwards_to_the_serving_container_wherever_it_is() {
    let children = build(
        "{provider: kubernetes, containers: [\
         {name: proxy, image: 'ghcr.io/acme/proxy:1'}, \
         {name: app, image: 'ghcr.io/acme/app:1', port: 9000}]}",
    );
    let containers = &pod_spec(&children)["containers"];
    assert!(containers[0].get("ports").is_none());
    assert_eq!(containers[1]["ports"][0]["containerPort"], 9000);
    assert_eq!(
        children[&Kind::Service]["spec"]["ports"],
        json!([{"name": "http", "port": 80, "targetPort": 9000, "protocol": "TCP"}])
    );
}

#[test]
fn command_args_and_pod_settings_are_written_when_set() {
    let children = build(&simple(
        "command: [/bin/server], args: ['--port', '8080']",
        "kubernetes: {serviceAccountName: runner, \
         nodeSelector: {kubernetes.io/arch: arm64, pool: general}}",
    ));
    let spec = pod_spec(&children);
    assert_eq!(spec["containers"][0]["command"], json!(["/bin/server"]));
    assert_eq!(spec["containers"][0]["args"], json!(["--port", "8080"]));
    assert_eq!(spec["serviceAccountName"], "runner");
    assert_eq!(
        spec["nodeSelector"],
        json!({"kubernetes.io/arch": "arm64", "pool": "general"})
    );

    let bare = build(&simple("", ""));
    let spec = pod_spec(&bare).as_object().unwrap();
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
fn a_vertical_pod_autoscaler_targets_the_deployment_in_the_mode_asked() {
    // (the section, the VPA's update mode; None: no VPA)
    let cases: &[(&str, Option<&str>)] = &[
        ("", None),
        ("kubernetes: {}", None),
        ("kubernetes: {verticalPodAutoscaler: {}}", Some("Off")),
        (
            "kubernetes: {verticalPodAutoscaler: {updateMode: 'Off'}}",
            Some("Off"),
        ),
        (
            "kubernetes: {verticalPodAutoscaler: {updateMode: Initial}}",
            Some("Initial"),
        ),
        (
            "kubernetes: {verticalPodAutoscaler: {updateMode: Recreate}}",
            Some("Recreate"),
        ),
    ];
    for (section, mode) in cases {
        let extra = if section.is_empty() {
            "ingress: internal".to_owned()
        } else {
            format!("ingress: internal, {section}")
        };
        let children = build(&simple("resources: {cpu: 500m, memory: 256Mi}", &extra));
        match mode {
            None => assert!(
                !children.contains_key(&Kind::VerticalPodAutoscaler),
                "{section}"
            ),
            Some(mode) => assert_eq!(
                children[&Kind::VerticalPodAutoscaler]["spec"],
                json!({
                    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello"},
                    "updatePolicy": {"updateMode": mode},
                }),
                "{section}"
            ),
        }
    }
    // Recommendations only sit beside a HorizontalPodAutoscaler.
    let children = build(&simple(
        "resources: {cpu: 500m, memory: 256Mi}",
        "scaling: {maxInstances: 5}, kubernetes: {verticalPodAutoscaler: {updateMode: 'Off'}}",
    ));
    assert!(children.contains_key(&Kind::HorizontalPodAutoscaler));
    assert!(children.contains_key(&Kind::VerticalPodAutoscaler));
}

#[test]
fn every_child_is_named_and_labelled_after_the_object() {
    let children = build(&simple(
        "resources: {cpu: 500m, memory: 256Mi}",
        "scaling: {minInstances: 2, maxInstances: 5}, \
         kubernetes: {verticalPodAutoscaler: {}, ingressClassName: nginx}",
    ));
    assert_eq!(kinds(&children), Kind::ALL, "this spec makes every kind");
    for (kind, child) in &children {
        assert_eq!(child["apiVersion"], kind.api_version(), "{kind:?}");
        assert_eq!(child["kind"], kind.name(), "{kind:?}");
        let metadata = &child["metadata"];
        assert_eq!(metadata["name"], "hello", "{kind:?}");
        assert_eq!(metadata["namespace"], "shop", "{kind:?}");
        assert_eq!(metadata["labels"], meta()["labels"], "{kind:?}");
        let keys: Vec<&String> = child.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["apiVersion", "kind", "metadata", "spec"],
            "{kind:?} never carries status"
        );
    }
}

#[test]
fn the_owner_reference_needs_a_uid() {
    let spec = simple(
        "resources: {cpu: 500m, memory: 256Mi}",
        "scaling: {minInstances: 2, maxInstances: 5}, kubernetes: {verticalPodAutoscaler: {}}",
    );
    let mut d = desired(&spec);
    for (kind, child) in build_checked(&d) {
        assert!(
            child["metadata"].get("ownerReferences").is_none(),
            "{kind:?}: offline rendering has no UID and no owner reference"
        );
    }
    d.object.uid = Some("6f1c0a52-3d1e-4b8a-9d55-0a4c2f2f9e10".into());
    let children = build_checked(&d);
    assert_eq!(children.len(), Kind::ALL.len());
    for (kind, child) in children {
        assert_eq!(
            child["metadata"]["ownerReferences"],
            json!([{
                "apiVersion": "ferry.dev/v1alpha1",
                "kind": "ServerlessService",
                "name": "hello",
                "uid": "6f1c0a52-3d1e-4b8a-9d55-0a4c2f2f9e10",
                "controller": true,
                "blockOwnerDeletion": true,
            }]),
            "{kind:?}"
        );
    }
}

#[test]
fn every_child_carries_the_fingerprint_of_its_own_content() {
    let fingerprints = |spec: &str| -> BTreeMap<Kind, String> {
        build(spec)
            .iter()
            .map(|(kind, child)| (*kind, fingerprint_of(child).unwrap().to_owned()))
            .collect()
    };
    let base = simple(
        "resources: {cpu: 500m, memory: 256Mi}",
        "scaling: {minInstances: 2, maxInstances: 5}, \
         kubernetes: {verticalPodAutoscaler: {}, host: hello.example.com}",
    );
    let before = fingerprints(&base);
    assert_eq!(before.len(), Kind::ALL.len());
    assert_eq!(
        before,
        fingerprints(&base),
        "the same spec, the same fingerprints"
    );

    // (what changes, the changed spec, the kinds whose fingerprint changes)
    let cases: Vec<(&str, String, &[Kind])> = vec![
        (
            "the image",
            base.replace("hello:1.4.2", "hello:1.4.3"),
            &[Kind::Deployment],
        ),
        (
            "maxInstances",
            base.replace("maxInstances: 5", "maxInstances: 6"),
            &[Kind::HorizontalPodAutoscaler],
        ),
        (
            "the host",
            base.replace("hello.example.com", "hi.example.com"),
            &[Kind::Ingress],
        ),
        (
            "the port",
            base.replace("port: 8080", "port: 8081"),
            &[Kind::Deployment, Kind::Service],
        ),
        (
            "the VPA's mode",
            base.replace(
                "verticalPodAutoscaler: {}",
                "verticalPodAutoscaler: {updateMode: 'Off'}",
            ),
            &[],
        ),
    ];
    for (what, spec, changed) in cases {
        let after = fingerprints(&spec);
        assert_eq!(after.len(), Kind::ALL.len(), "{what}");
        for kind in Kind::ALL {
            assert_eq!(
                before[&kind] != after[&kind],
                changed.contains(&kind),
                "{what}: {kind:?}'s fingerprint"
            );
        }
    }

    // A UID is part of the object (its owner reference), so it changes every fingerprint.
    let mut d = desired(&base);
    d.object.uid = Some("6f1c0a52-3d1e-4b8a-9d55-0a4c2f2f9e10".into());
    for (kind, child) in children(&d) {
        assert_ne!(fingerprint_of(&child).unwrap(), before[&kind], "{kind:?}");
    }
}

#[test]
fn a_field_ferry_stops_setting_makes_the_live_object_out_of_date() {
    let before = build(&simple("", "kubernetes: {serviceAccountName: runner}"));
    let after = build(&simple("", ""));
    // The live Deployment still has everything `after` sets, and the service account.
    let (before, after) = (deployment(&before), deployment(&after));
    assert_eq!(
        before["spec"]["template"]["spec"]["serviceAccountName"],
        "runner"
    );
    assert!(!is_up_to_date(after, before));
    assert!(is_up_to_date(before, before));
}

#[test]
fn the_same_model_builds_byte_identical_json() {
    let spec = simple(
        "env: [{name: B, value: '2'}, {name: A, value: '1'}], resources: {cpu: 500m, memory: 256Mi}",
        "kubernetes: {ingressAnnotations: {z.example.com/last: z, a.example.com/first: a}, \
         nodeSelector: {zone: b, arch: amd64}, fargateProfile: {labels: {z: '1', a: '2'}}}, \
         scaling: {maxInstances: 3}",
    );
    let render =
        || serde_json::to_string(&children(&desired(&spec)).values().collect::<Vec<_>>()).unwrap();
    let first = render();
    for _ in 0..5 {
        assert_eq!(first, render());
    }
    let env = first.find("\"B\"").unwrap() < first.find("\"A\"").unwrap();
    assert!(env, "env keeps the spec's order");
}
