//! Helpers: ServerlessServices from inline YAML, validated as the controller validates them, and
//! the schema each built object must pass: Kubernetes' own OpenAPI definitions (k8s-openapi's,
//! as the kube stand-in serves them) for the built-in kinds, and the real upstream CRD for the
//! VerticalPodAutoscaler.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use ferry_api::ServerlessService;
use ferry_core::desired::Desired;
use ferry_core::schema::CrdSchema;
use ferry_provider_kubernetes::build::{Kind, children};
use ferry_testkit::builders::simple_spec;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_standin::builtin::schema_of;
use serde_json::Value;

/// The desired model of `svc`, validated by this backend's rules.
pub(crate) fn desired_of(svc: &ServerlessService) -> Desired {
    ferry_testkit::builders::desired_of(svc, &ferry_provider_kubernetes::Kubernetes)
}

/// The VPA's CRDs as the autoscaler's project publishes them (`vpa-v1-crd.yaml`).
fn vpa_crd_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/vpa/vpa-v1-crd.yaml")
}

/// `verticalpodautoscalers.autoscaling.k8s.io` v1, from the upstream CRD file.
fn vpa_schema() -> CrdSchema {
    let path = vpa_crd_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: the tests check every built VerticalPodAutoscaler against the upstream CRD",
            path.display()
        )
    });
    let crds: Vec<CustomResourceDefinition> =
        serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let crd = crds
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("verticalpodautoscalers.autoscaling.k8s.io"))
        .unwrap_or_else(|| panic!("{} lacks the VerticalPodAutoscaler CRD", path.display()));
    CrdSchema::new(crd, "v1").unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schema the API server checks objects of `kind` against, loaded once.
pub(crate) fn schema(kind: Kind) -> &'static CrdSchema {
    static SCHEMAS: OnceLock<BTreeMap<Kind, Arc<CrdSchema>>> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        Kind::ALL
            .into_iter()
            .map(|kind| {
                let schema = match kind {
                    Kind::Deployment => schema_of::<Deployment>(),
                    Kind::Service => schema_of::<Service>(),
                    Kind::HorizontalPodAutoscaler => schema_of::<HorizontalPodAutoscaler>(),
                    Kind::PodDisruptionBudget => schema_of::<PodDisruptionBudget>(),
                    Kind::Ingress => schema_of::<Ingress>(),
                    Kind::VerticalPodAutoscaler => Ok(Arc::new(vpa_schema())),
                };
                (kind, schema.unwrap_or_else(|e| panic!("{kind:?}: {e}")))
            })
            .collect()
    });
    &schemas[&kind]
}

/// What the API server would refuse in `object`, as `kind`, under strict field validation.
pub(crate) fn violations(kind: Kind, object: &Value) -> Vec<String> {
    schema(kind)
        .check(object)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Panics unless the API server would take `object` as a `kind`.
pub(crate) fn assert_valid(kind: Kind, object: &Value) {
    let schema = schema(kind);
    assert_eq!(
        (object["apiVersion"].as_str(), object["kind"].as_str()),
        (
            Some(schema.api_version.as_str()),
            Some(schema.kind.as_str())
        ),
        "{kind:?} is built with the wrong apiVersion or kind"
    );
    let violations = violations(kind, object);
    assert!(
        violations.is_empty(),
        "the API server refuses the built {kind:?}:\n{}\n{}",
        violations.join("\n"),
        serde_json::to_string_pretty(object).unwrap()
    );
}

/// The children built from `desired`, each checked against its kind's schema.
pub(crate) fn build_checked(desired: &Desired) -> BTreeMap<Kind, Value> {
    let children = children(desired);
    for (kind, child) in &children {
        assert_valid(*kind, child);
    }
    children
}

/// A ServerlessService `hello` in namespace `shop`, not stored yet (no UID), with `spec` (YAML,
/// usually a flow mapping).
pub(crate) fn serverless_service(spec: &str) -> ServerlessService {
    let yaml = format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessService\n\
         metadata: {{name: hello, namespace: shop}}\nspec: {spec}\n"
    );
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// The desired model for `spec`.
pub(crate) fn desired(spec: &str) -> Desired {
    desired_of(&serverless_service(spec))
}

/// The children for `spec`, each checked against its schema.
pub(crate) fn build(spec: &str) -> BTreeMap<Kind, Value> {
    build_checked(&desired(spec))
}

/// A single-container kubernetes spec with `extra` spec fields (YAML, no braces) and the
/// container fields `container` added to `name: app, image: ..., port: 8080`.
pub(crate) fn simple(container: &str, extra: &str) -> String {
    simple_spec("kubernetes", "ghcr.io/acme/hello:1.4.2", container, extra)
}

/// The kinds built, in order.
pub(crate) fn kinds(children: &BTreeMap<Kind, Value>) -> Vec<Kind> {
    children.keys().copied().collect()
}
