//! Validation examples, with the backends this build registers: what valid specs become, and
//! the reasons and paths of what is refused. (The CLI tests cover the invalid fixtures end to
//! end.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferry_api::{
    AutoscalerClass, CapacityProvider, ExecutionEnvironment, OperatingSystemFamily, Provider,
    ScalingMetric, ServerlessServiceSpec,
};
use serde_json::{Value, json};

use ferry_core::desired::{EnvValue, ObjectRef, SecretSource};
use ferry_core::{Invalid, Severity, Valid, validate_spec};
use ferry_provider_cloudrun::model::CloudRunModel;
use ferry_provider_fargate::model::FargateModel;
use ferry_provider_knative::model::KnativeModel;
use ferry_provider_kubernetes::model::KubernetesModel;

fn object() -> ObjectRef {
    ObjectRef {
        namespace: "shop".into(),
        name: "hello".into(),
        uid: Some("6b1f3f3e-0c1f-4a4e-9d7c-2f9c2b9b1a11".into()),
        generation: Some(1),
    }
}

fn spec(value: Value) -> ServerlessServiceSpec {
    serde_json::from_value(value).expect("test spec deserializes")
}

/// Validates `spec` with its provider's rules, as the operator and `ferry validate` do.
fn check(spec: &ServerlessServiceSpec) -> Result<Valid, Invalid> {
    let registry = ferry::backends::registry().unwrap();
    validate_spec(object(), spec, registry.get(spec.provider))
}

fn valid(value: Value) -> Valid {
    match check(&spec(value)) {
        Ok(v) => v,
        Err(e) => panic!("expected valid, got: {e}"),
    }
}

fn invalid(value: Value) -> Invalid {
    match check(&spec(value)) {
        Ok(v) => panic!("expected invalid, got {v:?}"),
        Err(e) => e,
    }
}

#[allow(clippy::needless_pass_by_value)] // `app(json!({..}))` reads best at the call sites
fn app(resources: Value) -> Value {
    json!([{"name": "app", "image": "ghcr.io/acme/hello:1", "port": 8080, "resources": resources}])
}

#[test]
fn fargate_task_size_is_the_sum_of_the_containers() {
    let v = valid(json!({
        "provider": "fargate",
        "containers": [
            {"name": "app", "image": "app:1", "port": 8080, "resources": {"cpu": "750m", "memory": "1536Mi"}},
            {"name": "proxy", "image": "envoy:1", "resources": {"cpu": "250m", "memory": "512Mi"}},
        ],
    }));
    let Some(f) = v.desired.backend.get::<FargateModel>() else {
        panic!("fargate")
    };
    assert_eq!((f.task_cpu_units, f.task_memory_mib), (1024, 2048));
    assert_eq!(f.platform_version, "LATEST");
    assert!(f.assign_public_ip, "ingress defaults to public");
    assert_eq!(f.capacity_provider, CapacityProvider::Fargate);
}

#[test]
fn fargate_defaults_to_the_smallest_task_the_os_can_use() {
    let v = valid(json!({"provider": "fargate", "containers": app(json!({}))}));
    let Some(f) = v.desired.backend.get::<FargateModel>() else {
        panic!("fargate")
    };
    assert_eq!((f.task_cpu_units, f.task_memory_mib), (256, 512));

    let v = valid(json!({
        "provider": "fargate", "containers": app(json!({})),
        "fargate": {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"},
    }));
    let Some(f) = v.desired.backend.get::<FargateModel>() else {
        panic!("fargate")
    };
    assert_eq!((f.task_cpu_units, f.task_memory_mib), (1024, 2048));
    assert_eq!(
        f.operating_system_family,
        OperatingSystemFamily::WindowsServer2022Core
    );
}

#[test]
fn fargate_memory_alone_takes_the_smallest_cpu_that_sells_it() {
    // No CPU asked for: 0.25 vCPU, which sells 2 GiB.
    let v = valid(json!({"provider": "fargate", "containers": app(json!({"memory": "2Gi"}))}));
    let Some(f) = v.desired.backend.get::<FargateModel>() else {
        panic!("fargate")
    };
    assert_eq!((f.task_cpu_units, f.task_memory_mib), (256, 2048));
    // 3 GiB is not sold with 0.25 vCPU: the message says what is.
    let e = invalid(json!({"provider": "fargate", "containers": app(json!({"memory": "3Gi"}))}));
    assert_eq!(e.errors[0].field, "spec.containers[0].resources.memory");
    assert!(
        e.errors[0]
            .message
            .contains("0.25 vCPU with 512Mi, 1Gi or 2Gi"),
        "{e}"
    );
}

#[test]
fn fargate_ephemeral_storage_up_to_the_included_20_gib_needs_no_setting() {
    let v = valid(
        json!({"provider": "fargate", "containers": app(json!({"ephemeralStorage": "10Gi"}))}),
    );
    let Some(f) = v.desired.backend.get::<FargateModel>() else {
        panic!("fargate")
    };
    assert_eq!(f.ephemeral_storage_gib, None);
    let v = valid(
        json!({"provider": "fargate", "containers": app(json!({"ephemeralStorage": "100Gi"}))}),
    );
    let Some(f) = v.desired.backend.get::<FargateModel>() else {
        panic!("fargate")
    };
    assert_eq!(f.ephemeral_storage_gib, Some(100));
    let e = invalid(
        json!({"provider": "fargate", "containers": app(json!({"ephemeralStorage": "21.5Gi"}))}),
    );
    assert!(e.errors[0].message.contains("whole GiB"), "{e}");
}

#[test]
fn fargate_scaling_defaults_to_a_fixed_count_of_one_task_on_cpu() {
    let v = valid(json!({"provider": "fargate", "containers": app(json!({}))}));
    let s = &v.desired.scaling;
    assert_eq!(
        (s.min_instances, s.max_instances, s.metric),
        (1, Some(1), ScalingMetric::Cpu)
    );
    let v = valid(json!({
        "provider": "fargate", "containers": app(json!({})),
        "scaling": {"minInstances": 2, "target": 60},
    }));
    assert_eq!(v.desired.scaling.max_instances, Some(2));
    assert_eq!(
        v.warnings.len(),
        1,
        "a target with no room to scale is worth a warning"
    );
    assert_eq!(v.warnings[0].field, "spec.scaling.maxInstances");
}

#[test]
fn fargate_secrets_become_value_from_arns() {
    let v = valid(json!({
        "provider": "fargate",
        "containers": [{"name": "app", "image": "app:1", "port": 8080, "env": [
            {"name": "DB_PASSWORD", "secret": {"name": "db", "key": "password"}},
            {"name": "API_TOKEN", "secret": {"name": "token"}},
        ]}],
        "fargate": {"secrets": [
            {"name": "db", "arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"},
            {"name": "token", "arn": "arn:aws:ssm:us-east-1:123456789012:parameter/token"},
        ]},
    }));
    let env = &v.desired.containers[0].env;
    assert_eq!(
        env[0].value,
        EnvValue::Secret(SecretSource::Store {
            name: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::"
                .into(),
            version: None,
        })
    );
    assert_eq!(
        env[1].value,
        EnvValue::Secret(SecretSource::Store {
            name: "arn:aws:ssm:us-east-1:123456789012:parameter/token".into(),
            version: None,
        })
    );
}

#[test]
fn cloud_run_fractional_cpu_runs_on_gen1_with_cpu_only_during_requests() {
    let v = valid(json!({
        "provider": "cloudRun", "containers": app(json!({"cpu": "0.5", "memory": "1Gi"})),
        "concurrency": 1,
    }));
    let Some(c) = v.desired.backend.get::<CloudRunModel>() else {
        panic!("cloud run")
    };
    assert_eq!(c.execution_environment, Some(ExecutionEnvironment::Gen1));
    assert!(c.cpu_idle);
    // 0.08 vCPU allows 512Mi at most.
    let e = invalid(json!({
        "provider": "cloudRun", "containers": app(json!({"cpu": "80m", "memory": "1Gi"})),
        "concurrency": 1,
    }));
    assert_eq!(e.errors[0].field, "spec.containers[0].resources.memory");
    assert!(e.errors[0].message.contains("128Mi to 512Mi"), "{e}");
}

#[test]
fn cloud_run_with_a_gpu_keeps_cpu_allocated() {
    let v = valid(json!({
        "provider": "cloudRun",
        "containers": app(json!({"cpu": "4", "memory": "16Gi", "gpu": {"count": 1, "type": "nvidia-l4"}})),
    }));
    let Some(c) = v.desired.backend.get::<CloudRunModel>() else {
        panic!("cloud run")
    };
    assert!(!c.cpu_idle);
    let v = valid(json!({
        "provider": "cloudRun",
        "containers": app(json!({"cpu": "20", "memory": "80Gi", "gpu": {"count": 1, "type": "nvidia-rtx-pro-6000"}})),
    }));
    assert_eq!(v.desired.containers[0].resources.cpu_millis, Some(20_000));
    let e = invalid(json!({
        "provider": "cloudRun",
        "containers": app(json!({"cpu": "20", "memory": "80Gi"})),
    }));
    assert!(
        e.errors[0].message.contains("got 20"),
        "20 vCPU needs the RTX PRO 6000: {e}"
    );
}

#[test]
fn cloud_run_sidecars_share_the_instance_limits() {
    let e = invalid(json!({
        "provider": "cloudRun",
        "containers": [
            {"name": "app", "image": "app:1", "port": 8080, "resources": {"cpu": "8", "memory": "16Gi"}},
            {"name": "proxy", "image": "envoy:1", "resources": {"cpu": "1", "memory": "512Mi"}},
        ],
    }));
    assert_eq!(e.errors[0].field, "spec.containers");
    assert!(e.errors[0].message.contains("at most 8 vCPU"), "{e}");
}

#[test]
fn cloud_run_warns_above_the_default_instance_quota() {
    let v = valid(json!({
        "provider": "cloudRun", "containers": app(json!({"cpu": "2", "memory": "1Gi"})),
        "scaling": {"maxInstances": 600},
    }));
    assert_eq!(v.warnings.len(), 1);
    assert!(
        v.warnings[0]
            .message
            .contains("about 500 instances of 2 vCPU"),
        "{:?}",
        v.warnings
    );
}

#[test]
fn cloud_run_secret_versions_default_to_latest() {
    let v = valid(json!({
        "provider": "cloudRun",
        "containers": [{"name": "app", "image": "app:1", "port": 8080, "env": [
            {"name": "A", "secret": {"name": "projects/acme-prod/secrets/a"}},
            {"name": "B", "secret": {"name": "b", "key": "3"}},
        ]}],
    }));
    let versions: Vec<_> = v.desired.containers[0]
        .env
        .iter()
        .map(|e| match &e.value {
            EnvValue::Secret(SecretSource::Store { version, .. }) => version.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(versions, [Some("latest".to_owned()), Some("3".to_owned())]);
}

#[test]
fn knative_picks_the_autoscaler_from_the_metric() {
    let v = valid(json!({"provider": "knative", "containers": app(json!({}))}));
    let Some(k) = v.desired.backend.get::<KnativeModel>() else {
        panic!("knative")
    };
    assert_eq!(k.autoscaler_class, AutoscalerClass::Kpa);
    assert_eq!(v.desired.scaling.min_instances, 0);

    let v = valid(json!({
        "provider": "knative", "containers": app(json!({"memory": "256Mi"})),
        "scaling": {"minInstances": 1, "metric": "memory", "target": 80},
    }));
    let Some(k) = v.desired.backend.get::<KnativeModel>() else {
        panic!("knative")
    };
    assert_eq!(k.autoscaler_class, AutoscalerClass::Hpa);

    let e = invalid(json!({
        "provider": "knative", "containers": app(json!({"cpu": "1"})),
        "scaling": {"minInstances": 1, "metric": "cpu"},
        "knative": {"autoscalerClass": "kpa"},
    }));
    assert_eq!(e.errors[0].field, "spec.knative.autoscalerClass");
}

#[test]
fn knative_warns_where_a_cluster_may_differ_from_the_defaults() {
    let v =
        valid(json!({"provider": "knative", "containers": app(json!({})), "timeoutSeconds": 900}));
    assert_eq!(v.warnings.len(), 1);
    assert_eq!(v.warnings[0].field, "spec.timeoutSeconds");
    assert_eq!(v.warnings[0].severity, Severity::Warning);
}

#[test]
fn knative_tags_must_fit_one_dns_label_with_the_name() {
    let long = "t".repeat(58);
    let e = invalid(json!({
        "provider": "knative", "containers": app(json!({})),
        "traffic": [{"latestRevision": true, "percent": 100, "tag": long}],
    }));
    assert_eq!(e.errors[0].field, "spec.traffic[0].tag");
}

#[test]
fn probes_resolve_their_port_and_keep_unset_timing_unset() {
    let v = valid(json!({
        "provider": "knative",
        "containers": [{"name": "app", "image": "app:1", "port": 8080,
            "probes": {"liveness": {"httpGet": {"path": "/health"}, "periodSeconds": 5}}}],
    }));
    let probe = v.desired.containers[0].probes.liveness.as_ref().unwrap();
    assert_eq!(
        probe.action,
        ferry_core::desired::ProbeAction::HttpGet {
            path: "/health".into(),
            port: 8080,
            headers: vec![]
        }
    );
    assert_eq!(
        (probe.period_seconds, probe.timeout_seconds),
        (Some(5), None)
    );

    let e = invalid(json!({
        "provider": "knative",
        "containers": [
            {"name": "app", "image": "app:1", "port": 8080},
            {"name": "proxy", "image": "envoy:1", "probes": {"readiness": {"tcpSocket": {}}}},
        ],
    }));
    assert_eq!(
        e.errors[0].field,
        "spec.containers[1].probes.readiness.tcpSocket.port"
    );
}

#[test]
fn a_spec_refused_only_for_provider_limits_reports_unsupported() {
    let e = invalid(json!({"provider": "fargate", "containers": app(json!({"cpu": "3"}))}));
    assert_eq!(e.reason(), "Unsupported");
    let e = invalid(json!({"provider": "fargate", "containers": app(json!({"cpu": "three"}))}));
    assert_eq!(e.reason(), "InvalidSpec");
}

#[test]
fn unsupported_fields_are_refused_with_the_capability_note() {
    let e =
        invalid(json!({"provider": "fargate", "containers": app(json!({})), "concurrency": 10}));
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].field, "spec.concurrency");
    assert_eq!(e.errors[0].severity, Severity::Unsupported);
    assert_eq!(
        e.errors[0].message,
        "Fargate does not support spec.concurrency: ECS does not limit requests per task"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let e = invalid(json!({
        "provider": "cloudRun",
        "containers": [{"name": "app", "image": "app:1", "port": 8080, "resources": {"cpu": "3", "ephemeralStorage": "1Gi"}}],
        "concurrency": 5000,
        "scaling": {"target": 10},
    }));
    let fields: Vec<&str> = e.errors.iter().map(|f| f.field.as_str()).collect();
    for expected in [
        "spec.containers[0].resources.ephemeralStorage",
        "spec.scaling.target",
        "spec.concurrency",
        "spec.containers[0].resources.cpu",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
}

#[test]
fn provider_values_round_trip() {
    for p in Provider::ALL {
        let v: Provider = serde_json::from_value(json!(p.as_str())).unwrap();
        assert_eq!(v, p);
    }
}

#[test]
fn cloud_run_unauthenticated_calls_need_a_public_service() {
    let e = invalid(json!({
        "provider": "cloudRun", "containers": app(json!({})),
        "ingress": "internal", "cloudRun": {"allowUnauthenticated": true},
    }));
    assert_eq!(e.errors[0].field, "spec.cloudRun.allowUnauthenticated");
    assert!(e.errors[0].message.contains("public"), "{e}");
    let v = valid(json!({
        "provider": "cloudRun", "containers": app(json!({})),
        "cloudRun": {"allowUnauthenticated": true},
    }));
    let Some(c) = v.desired.backend.get::<CloudRunModel>() else {
        panic!("cloud run")
    };
    assert!(c.allow_unauthenticated, "public is the default ingress");
}

#[test]
fn kubernetes_defaults_to_a_fixed_count_of_one_pod_and_a_public_ingress() {
    let v = valid(json!({"provider": "kubernetes", "containers": app(json!({}))}));
    let s = &v.desired.scaling;
    assert_eq!(
        (s.min_instances, s.max_instances, s.metric),
        (1, Some(1), ScalingMetric::Cpu)
    );
    assert_eq!(v.desired.ingress, ferry_api::Ingress::Public);
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    let Some(k) = v.desired.backend.get::<KubernetesModel>() else {
        panic!("kubernetes")
    };
    assert_eq!(*k, KubernetesModel::default());
    assert!(!k.on_fargate());

    // A target or a delay with no room to scale has no autoscaler to go to.
    let v = valid(json!({
        "provider": "kubernetes", "containers": app(json!({})),
        "scaling": {"minInstances": 2, "target": 60, "scaleDownDelaySeconds": 30},
    }));
    let fields: Vec<&str> = v.warnings.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(
        fields,
        ["spec.scaling.target", "spec.scaling.scaleDownDelaySeconds"]
    );
}

#[test]
fn kubernetes_autoscaling_needs_what_it_measures_on_every_container() {
    let two = |metric: &str| {
        json!({
            "provider": "kubernetes",
            "containers": [
                {"name": "app", "image": "app:1", "port": 8080, "resources": {"cpu": "500m"}},
                {"name": "proxy", "image": "envoy:1", "resources": {"memory": "64Mi"}},
            ],
            "scaling": {"minInstances": 1, "maxInstances": 5, "metric": metric},
        })
    };
    let e = invalid(two("cpu"));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].field, "spec.containers[1].resources.cpu");
    assert_eq!(e.errors[0].severity, Severity::Invalid);
    assert!(e.errors[0].message.contains("cpu utilization"), "{e}");

    let e = invalid(two("memory"));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].field, "spec.containers[0].resources.memory");

    // The default metric is cpu.
    let e = invalid(json!({
        "provider": "kubernetes", "containers": app(json!({"memory": "256Mi"})),
        "scaling": {"maxInstances": 3},
    }));
    assert_eq!(e.errors[0].field, "spec.containers[0].resources.cpu");

    // A fixed count has no autoscaler, so nothing to measure.
    valid(json!({
        "provider": "kubernetes", "containers": app(json!({})),
        "scaling": {"minInstances": 3, "maxInstances": 3},
    }));
}

#[test]
fn kubernetes_scale_down_delay_is_at_most_an_hour() {
    let spec = |delay: u32| {
        json!({
            "provider": "kubernetes", "containers": app(json!({"cpu": "1"})),
            "scaling": {"maxInstances": 4, "scaleDownDelaySeconds": delay},
        })
    };
    let v = valid(spec(3600));
    assert_eq!(v.desired.scaling.scale_down_delay_seconds, Some(3600));
    let e = invalid(spec(3601));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].field, "spec.scaling.scaleDownDelaySeconds");
    assert!(e.errors[0].message.contains("at most 3600 seconds"), "{e}");
}

#[test]
fn kubernetes_labels_it_puts_on_pods_are_checked_as_the_api_server_would() {
    let e = invalid(json!({
        "provider": "kubernetes", "containers": app(json!({"cpu": "1"})),
        "kubernetes": {
            "fargateProfile": {"labels": {"compute": "on fargate"}},
            "nodeSelector": {"-zone": "a"},
        },
    }));
    let fields: Vec<&str> = e.errors.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.kubernetes.nodeSelector[-zone]",
            "spec.kubernetes.fargateProfile.labels[compute]"
        ],
        "{e}"
    );
    assert!(
        e.errors[0].message.contains("not a Kubernetes label key"),
        "{e}"
    );
    assert!(e.errors[1].message.contains("got \"on fargate\""), "{e}");
}

#[test]
fn kubernetes_a_resizing_vpa_cannot_sit_beside_an_hpa() {
    let spec = |mode: &str, max: u32| {
        json!({
            "provider": "kubernetes", "containers": app(json!({"cpu": "1", "memory": "1Gi"})),
            "scaling": {"minInstances": 2, "maxInstances": max},
            "kubernetes": {"verticalPodAutoscaler": {"updateMode": mode}},
        })
    };
    for mode in ["Recreate", "Initial"] {
        let e = invalid(spec(mode, 6));
        assert_eq!(e.errors.len(), 1, "{mode}: {e}");
        assert_eq!(
            e.errors[0].field, "spec.kubernetes.verticalPodAutoscaler.updateMode",
            "{mode}"
        );
        assert!(e.errors[0].message.contains("updateMode Off"), "{e}");
        // With a fixed count, nothing fights it.
        let v = valid(spec(mode, 2));
        let Some(k) = v.desired.backend.get::<KubernetesModel>() else {
            panic!("kubernetes")
        };
        assert_eq!(k.vpa.map(ferry_api::VpaUpdateMode::as_str), Some(mode));
    }
    // Recommendations only are fine beside an autoscaler.
    let v = valid(spec("Off", 6));
    let Some(k) = v.desired.backend.get::<KubernetesModel>() else {
        panic!("kubernetes")
    };
    assert_eq!(k.vpa, Some(ferry_api::VpaUpdateMode::Off));
    // No mode is Off.
    let v = valid(json!({
        "provider": "kubernetes", "containers": app(json!({"cpu": "1"})),
        "scaling": {"maxInstances": 6},
        "kubernetes": {"verticalPodAutoscaler": {}},
    }));
    let Some(k) = v.desired.backend.get::<KubernetesModel>() else {
        panic!("kubernetes")
    };
    assert_eq!(k.vpa, Some(ferry_api::VpaUpdateMode::Off));
}

/// A kubernetes spec on EKS Fargate (profile label `compute: fargate`, the ALB) with `containers`.
#[allow(clippy::needless_pass_by_value)] // `on_fargate(app(..))` reads best at the call sites
fn on_fargate(containers: Value) -> Value {
    json!({
        "provider": "kubernetes", "containers": containers,
        "kubernetes": {"fargateProfile": {"labels": {"compute": "fargate"}}, "ingressClassName": "alb"},
    })
}

#[test]
fn kubernetes_on_fargate_the_pod_labels_and_the_alb_target_type_are_set() {
    let v = valid(on_fargate(app(json!({"cpu": "500m", "memory": "512Mi"}))));
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    let Some(k) = v.desired.backend.get::<KubernetesModel>() else {
        panic!("kubernetes")
    };
    assert!(k.on_fargate());
    assert_eq!(
        k.fargate_labels,
        Some([("compute".to_owned(), "fargate".to_owned())].into())
    );
    assert_eq!(
        k.ingress_annotations,
        [(
            "alb.ingress.kubernetes.io/target-type".to_owned(),
            "ip".to_owned()
        )]
        .into()
    );
}

#[test]
fn kubernetes_on_fargate_has_no_gpus() {
    let e = invalid(on_fargate(app(
        json!({"cpu": "4", "memory": "16Gi", "gpu": {"count": 1}}),
    )));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].field, "spec.containers[0].resources.gpu");
    assert!(e.errors[0].message.contains("no GPUs"), "{e}");
    // Off Fargate, a GPU is a node's business.
    valid(json!({
        "provider": "kubernetes",
        "containers": app(json!({"cpu": "4", "memory": "16Gi", "gpu": {"count": 1}})),
    }));
}

#[test]
fn kubernetes_on_fargate_a_pod_fits_the_largest_size_after_the_256_mib_eks_adds() {
    // 16 vCPU and 119 GiB + 256 MiB rounds up to 120 GB: the largest size.
    valid(on_fargate(app(json!({"cpu": "16", "memory": "119Gi"}))));
    // 120 GiB + 256 MiB does not fit.
    let e = invalid(on_fargate(app(json!({"cpu": "16", "memory": "120Gi"}))));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].field, "spec.containers");
    assert!(e.errors[0].message.contains("256 MiB"), "{e}");
    assert!(e.errors[0].message.contains("16 vCPU and 120Gi"), "{e}");
    // The containers count together.
    let e = invalid(on_fargate(json!([
        {"name": "app", "image": "app:1", "port": 8080, "resources": {"cpu": "12", "memory": "8Gi"}},
        {"name": "proxy", "image": "envoy:1", "resources": {"cpu": "5", "memory": "1Gi"}},
    ])));
    assert_eq!(e.errors[0].field, "spec.containers");
    // Off Fargate, the nodes decide.
    valid(
        json!({"provider": "kubernetes", "containers": app(json!({"cpu": "16", "memory": "120Gi"}))}),
    );
}

#[test]
fn kubernetes_on_fargate_ephemeral_storage_is_at_most_175_gib() {
    valid(on_fargate(app(
        json!({"cpu": "1", "memory": "2Gi", "ephemeralStorage": "175Gi"}),
    )));
    let e = invalid(on_fargate(app(
        json!({"cpu": "1", "memory": "2Gi", "ephemeralStorage": "300Gi"}),
    )));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].field, "spec.containers");
    assert!(e.errors[0].message.contains("175 GiB"), "{e}");
}

#[test]
fn kubernetes_on_fargate_warns_when_the_ingress_cannot_reach_pod_ips() {
    let spec = |ingress: &str, class: Option<&str>| {
        let mut spec = on_fargate(app(json!({"cpu": "500m", "memory": "1Gi"})));
        spec["ingress"] = json!(ingress);
        match class {
            Some(class) => spec["kubernetes"]["ingressClassName"] = json!(class),
            None => {
                spec["kubernetes"]
                    .as_object_mut()
                    .unwrap()
                    .remove("ingressClassName");
            }
        }
        spec
    };
    for class in [None, Some("nginx")] {
        let v = valid(spec("public", class));
        assert_eq!(v.warnings.len(), 1, "{class:?}: {:?}", v.warnings);
        assert_eq!(v.warnings[0].field, "spec.kubernetes.ingressClassName");
        assert_eq!(v.warnings[0].severity, Severity::Warning);
        assert!(v.warnings[0].message.contains("ingressClassName alb"));
    }
    assert!(valid(spec("public", Some("alb"))).warnings.is_empty());
    assert!(valid(spec("internal", None)).warnings.is_empty());
    // Without a profile there is no such rule.
    let v = valid(
        json!({"provider": "kubernetes", "containers": app(json!({})),
                         "kubernetes": {"ingressClassName": "nginx"}}),
    );
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
}

#[test]
fn kubernetes_refuses_what_a_deployment_cannot_do_with_the_capability_note() {
    use ferry_core::capabilities::Feature;

    let e =
        invalid(json!({"provider": "kubernetes", "containers": app(json!({})), "concurrency": 10}));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].field, "spec.concurrency");
    assert_eq!(e.errors[0].severity, Severity::Unsupported);
    assert_eq!(
        e.errors[0].message,
        "Kubernetes does not support spec.concurrency: a Service does not limit requests per pod"
    );
    assert_eq!(e.reason(), "Unsupported");

    // (the spec's extra fields, the feature, the field refused)
    let cases = [
        (
            json!({"timeoutSeconds": 60}),
            Feature::TimeoutSeconds,
            "spec.timeoutSeconds",
        ),
        (
            json!({"traffic": [{"revisionName": "hello-00001", "percent": 50},
                               {"latestRevision": true, "percent": 50}]}),
            Feature::TrafficSplit,
            "spec.traffic[0]",
        ),
        (
            json!({"scaling": {"minInstances": 0, "maxInstances": 3}}),
            Feature::ScaleToZero,
            "spec.scaling.minInstances",
        ),
        (
            json!({"scaling": {"maxInstances": 3, "metric": "rps", "target": 100}}),
            Feature::MetricRps,
            "spec.scaling.metric",
        ),
        (
            json!({"scaling": {"maxInstances": 3, "metric": "concurrency"}}),
            Feature::MetricConcurrency,
            "spec.scaling.metric",
        ),
        (
            json!({"scaling": {"initialInstances": 2, "maxInstances": 3}}),
            Feature::InitialInstances,
            "spec.scaling.initialInstances",
        ),
    ];
    let note = |feature: Feature| {
        ferry::backends::registry()
            .unwrap()
            .get(Provider::Kubernetes)
            .support(feature)
            .note
    };
    for (extra, feature, field) in cases {
        let mut spec = json!({"provider": "kubernetes", "containers": app(json!({"cpu": "1"}))});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let e = invalid(spec);
        let fields: Vec<&str> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&field), "{feature:?}: {fields:?}");
        let refusal = e.errors.iter().find(|f| f.field == field).unwrap();
        assert_eq!(refusal.severity, Severity::Unsupported, "{feature:?}");
        assert_eq!(
            refusal.message,
            format!(
                "Kubernetes does not support {}: {}",
                feature.field(),
                note(feature)
            ),
            "{feature:?}"
        );
        assert!(
            e.errors.iter().all(|f| f.severity == Severity::Unsupported),
            "{feature:?}: only the refusal: {e}"
        );
    }
}

#[test]
fn kubernetes_an_unsupported_metric_asks_for_no_resources() {
    // Refused for the metric; the cpu rule of the autoscaler that will never be made is no
    // second error.
    for metric in ["rps", "concurrency"] {
        let e = invalid(json!({
            "provider": "kubernetes", "containers": app(json!({})),
            "scaling": {"maxInstances": 3, "metric": metric},
        }));
        let fields: Vec<&str> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["spec.scaling.metric"], "{metric}: {e}");
    }
}
