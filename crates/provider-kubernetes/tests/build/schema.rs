//! The schema checks themselves: each kind's schema is the one its objects are served under, a
//! rich service builds every kind and each passes, and a misspelt field or a wrong type is
//! refused, so a check that passes is not a check that cannot fail.

use ferry_provider_kubernetes::build::Kind;
use serde_json::{Value, json};

use crate::common::{build, schema, simple, violations};

/// A spec that makes every kind, with most of the fields the builder can write.
fn every_kind() -> String {
    "{provider: kubernetes, \
      containers: [\
       {name: app, image: 'ghcr.io/acme/app:2', port: 8080, command: [/app], args: [serve], \
        env: [{name: MODE, value: prod}, {name: TOKEN, secret: {name: api, key: token}}], \
        resources: {cpu: '1', memory: 1Gi, ephemeralStorage: 2Gi}, \
        probes: {startup: {tcpSocket: {}, failureThreshold: 30}, \
                 readiness: {httpGet: {path: /ready, httpHeaders: [{name: X-Probe, value: '1'}]}, \
                             periodSeconds: 5, timeoutSeconds: 2, initialDelaySeconds: 1}, \
                 liveness: {grpc: {service: health}}}}, \
       {name: proxy, image: 'ghcr.io/acme/proxy:1', resources: {cpu: 100m, memory: 64Mi}, \
        probes: {readiness: {httpGet: {path: /ready, port: 9901}}}}], \
      scaling: {minInstances: 2, maxInstances: 6, metric: memory, target: 75, \
                scaleDownDelaySeconds: 120}, \
      kubernetes: {ingressClassName: nginx, host: hello.shop.example.com, \
                   ingressAnnotations: {nginx.ingress.kubernetes.io/proxy-body-size: 8m}, \
                   serviceAccountName: runner, nodeSelector: {pool: general}, \
                   verticalPodAutoscaler: {updateMode: 'Off'}}}"
        .to_owned()
}

#[test]
fn each_kind_is_checked_against_the_schema_it_is_served_under() {
    for kind in Kind::ALL {
        let schema = schema(kind);
        assert_eq!(schema.api_version, kind.api_version(), "{kind:?}");
        assert_eq!(schema.kind, kind.name(), "{kind:?}");
        assert!(schema.namespaced, "{kind:?}");
    }
}

#[test]
fn a_rich_service_builds_every_kind_and_each_passes_its_schema() {
    // `build` checks each object against its schema.
    let children = build(&every_kind());
    assert_eq!(children.keys().copied().collect::<Vec<_>>(), Kind::ALL);
}

/// Sets `pointer` (its parent must exist) in `object` to `value`.
fn set(object: &mut Value, pointer: &str, value: Value) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    object
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{parent} missing"))
        .as_object_mut()
        .unwrap_or_else(|| panic!("{parent} is not an object"))
        .insert(last.to_owned(), value);
}

#[test]
fn a_misspelt_field_or_a_wrong_type_is_refused() {
    let children = build(&every_kind());
    // (kind, where, what is put there, the field the refusal names)
    let cases: &[(Kind, &str, Value, &str)] = &[
        (Kind::Deployment, "/spec/replica", json!(2), "spec.replica"),
        (
            Kind::Deployment,
            "/spec/template/spec/containers/0/imagePullPolicyy",
            json!("Always"),
            "spec.template.spec.containers[0].imagePullPolicyy",
        ),
        (
            Kind::Deployment,
            "/spec/template/spec/containers/1/readinessProbe/httpGet/paht",
            json!("/ready"),
            "spec.template.spec.containers[1].readinessProbe.httpGet.paht",
        ),
        (
            Kind::Deployment,
            "/spec/replicas",
            json!("two"),
            "spec.replicas",
        ),
        (
            Kind::Deployment,
            "/spec/template/spec/containers/0/ports/0/containerPort",
            json!("8080"),
            "spec.template.spec.containers[0].ports[0].containerPort",
        ),
        (Kind::Service, "/spec/typ", json!("ClusterIP"), "spec.typ"),
        (
            Kind::Service,
            "/spec/ports/0/port",
            json!("80"),
            "spec.ports[0].port",
        ),
        (
            Kind::HorizontalPodAutoscaler,
            "/spec/metrics/0/resource/target/averageUtilisation",
            json!(70),
            "spec.metrics[0].resource.target.averageUtilisation",
        ),
        (
            Kind::HorizontalPodAutoscaler,
            "/spec/behavior/scaleDown/stabilizationWindow",
            json!(60),
            "spec.behavior.scaleDown.stabilizationWindow",
        ),
        (
            Kind::PodDisruptionBudget,
            "/spec/maxUnavailible",
            json!(1),
            "spec.maxUnavailible",
        ),
        (
            Kind::Ingress,
            "/spec/rules/0/http/paths/0/backend/service/port/numbr",
            json!(80),
            "spec.rules[0].http.paths[0].backend.service.port.numbr",
        ),
        (
            Kind::Ingress,
            "/spec/ingressClass",
            json!("nginx"),
            "spec.ingressClass",
        ),
        (
            Kind::VerticalPodAutoscaler,
            "/spec/updatePolicy/updateMod",
            json!("Off"),
            "spec.updatePolicy.updateMod",
        ),
        (
            Kind::VerticalPodAutoscaler,
            "/spec/updatePolicy/updateMode",
            json!("Sometimes"),
            "spec.updatePolicy.updateMode",
        ),
        (
            Kind::VerticalPodAutoscaler,
            "/spec/targetRef/nam",
            json!("hello"),
            "spec.targetRef.nam",
        ),
    ];
    for (kind, pointer, value, field) in cases {
        let mut broken = children[kind].clone();
        set(&mut broken, pointer, value.clone());
        let refused = violations(*kind, &broken);
        assert!(
            refused.iter().any(|v| v.starts_with(&format!("{field}:"))),
            "{kind:?} with {pointer} = {value} passes its schema: {refused:?}"
        );
    }
}

#[test]
fn a_missing_required_field_is_refused() {
    let children = build(&every_kind());
    // (kind, the field removed)
    let cases: &[(Kind, &str, &str)] = &[
        (Kind::Deployment, "/spec", "selector"),
        (Kind::Deployment, "/spec/template/spec/containers/0", "name"),
        (Kind::HorizontalPodAutoscaler, "/spec", "maxReplicas"),
        (Kind::HorizontalPodAutoscaler, "/spec", "scaleTargetRef"),
        (Kind::Ingress, "/spec/rules/0/http/paths/0", "pathType"),
        (Kind::VerticalPodAutoscaler, "/spec", "targetRef"),
    ];
    for (kind, parent, field) in cases {
        let mut broken = children[kind].clone();
        broken
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(*field)
            .unwrap();
        assert!(
            !violations(*kind, &broken).is_empty(),
            "{kind:?} without {parent}/{field} passes its schema"
        );
    }
}

#[test]
fn a_fixed_count_and_an_internal_service_pass_too() {
    // The other branches: replicas on the Deployment, no autoscaler, no Ingress.
    for extra in [
        "ingress: internal",
        "ingress: internal, scaling: {minInstances: 3}",
        "kubernetes: {fargateProfile: {labels: {compute: fargate}}, ingressClassName: alb, \
         verticalPodAutoscaler: {updateMode: Recreate}}",
        "scaling: {maxInstances: 3}, kubernetes: {fargateProfile: {labels: {}}}",
    ] {
        build(&simple("resources: {cpu: 250m, memory: 512Mi}", extra));
    }
    build(&simple("resources: {gpu: {count: 1}}", "ingress: internal"));
}
