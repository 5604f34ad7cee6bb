//! Helpers: ServerlessServices from inline YAML, validated as the controller validates them, and
//! Knative's real Service schema that every built object must pass.

use std::path::PathBuf;
use std::sync::OnceLock;

use ferry_api::ServerlessService;
use ferry_core::desired::Desired;
use ferry_core::schema::CrdSchema;
use ferry_provider_knative::build::knative_service;
// What every builder test shares, from the testkit, under the names the tests use.
/// The desired model of `svc`, validated by this backend's rules.
pub(crate) fn desired_of(svc: &ferry_api::ServerlessService) -> Desired {
    ferry_testkit::builders::desired_of(svc, &ferry_provider_knative::Knative)
}
use ferry_testkit::builders::simple_spec;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

/// `../shared` beside the repository, or `FERRY_SHARED_DIR`.
pub(crate) fn shared_dir() -> PathBuf {
    std::env::var_os("FERRY_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    )
}

/// Knative Serving's `services.serving.knative.dev` schema, loaded once.
pub(crate) fn service_schema() -> &'static CrdSchema {
    static SCHEMA: OnceLock<CrdSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = shared_dir().join("data/knative-serving-crds/service.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: the tests check every built Service against Knative's real CRD; set \
                 FERRY_SHARED_DIR to the folder holding data/knative-serving-crds",
                path.display()
            )
        });
        let crd: CustomResourceDefinition =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        CrdSchema::new(&crd, "v1").unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// Panics unless the API server would take `service` as a Knative Service.
pub(crate) fn assert_valid_knative_service(service: &Value) {
    let violations = service_schema().check(service);
    assert!(
        violations.is_empty(),
        "Knative's CRD refuses the built Service:\n{}\n{}",
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        serde_json::to_string_pretty(service).unwrap()
    );
}

/// A ServerlessService `hello` in namespace `shop` with `spec` (YAML, usually a flow mapping).
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

/// The Knative Service built from `desired`, checked against Knative's schema.
pub(crate) fn build_checked(desired: &Desired) -> Value {
    let service = knative_service(desired);
    assert_valid_knative_service(&service);
    service
}

/// The Knative Service for `spec`, checked against Knative's schema.
pub(crate) fn build(spec: &str) -> Value {
    build_checked(&desired(spec))
}

/// A single-container Knative spec with `extra` spec fields (YAML, no braces) and the container
/// fields `container` added to `name: app, image: ..., port: 8080`.
pub(crate) fn simple(container: &str, extra: &str) -> String {
    simple_spec("knative", "ghcr.io/acme/hello:1.4.2", container, extra)
}
