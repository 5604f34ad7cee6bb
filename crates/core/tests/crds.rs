//! The CRDs as a real API server would take them: structural schemas, CEL rules that compile and
//! fit the cost budget, rules whose field paths exist. Also checks the schema checker itself
//! against Knative Serving's real CRDs (`../shared/data`). That the CEL rules agree with the
//! backends' capability cells is checked with the registry, in `crates/ferry/tests`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::path::PathBuf;

use ferry_core::schema::CrdSchema;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::estimate_rule_cost;
use serde_json::{Value, json};

fn schema_of(crd: &CustomResourceDefinition) -> Value {
    ferry_core::schema::openapi_schema(crd, ferry_api::VERSION).unwrap()
}

/// Calls `f(node, path, cardinality)` for every schema node; `cardinality` is how many times
/// the node can occur in one object (the product of the enclosing lists' and maps' bounds).
fn walk(node: &Value, path: &str, cardinality: u64, f: &mut dyn FnMut(&Value, &str, u64)) {
    f(node, path, cardinality);
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            walk(sub, &format!("{path}.{name}"), cardinality, f);
        }
    }
    if let Some(items) = node.get("items") {
        let n = node
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        walk(
            items,
            &format!("{path}[*]"),
            cardinality.saturating_mul(n),
            f,
        );
    }
    if let Some(values) = node.get("additionalProperties").filter(|v| v.is_object()) {
        let n = node
            .get("maxProperties")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        walk(
            values,
            &format!("{path}{{*}}"),
            cardinality.saturating_mul(n),
            f,
        );
    }
}

const ALLOWED_KEYS: &[&str] = &[
    "description",
    "type",
    "format",
    "title",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "properties",
    "additionalProperties",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
    "x-kubernetes-embedded-resource",
];
const SCALARS: &[&str] = &["string", "integer", "number", "boolean"];

/// The rules of https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
/// and of apiextensions' own validation that a derived schema could break.
#[test]
fn schemas_are_structural() {
    for crd in ferry_api::crds() {
        let name = crd.metadata.name.clone().unwrap();
        let mut problems = Vec::new();
        walk(&schema_of(&crd), "", 1, &mut |node, path, _| {
            let obj = node.as_object().unwrap();
            for key in obj.keys() {
                if !ALLOWED_KEYS.contains(&key.as_str()) {
                    problems.push(format!("{path}: {key} is not allowed in a CRD schema"));
                }
            }
            let int_or_string = node["x-kubernetes-int-or-string"] == true;
            let preserve = node["x-kubernetes-preserve-unknown-fields"] == true;
            match node.get("type").and_then(Value::as_str) {
                None if !int_or_string && !preserve => problems.push(format!("{path}: no type")),
                Some(_) if int_or_string => {
                    problems.push(format!("{path}: int-or-string with a type"));
                }
                Some(t) if !SCALARS.contains(&t) && t != "object" && t != "array" => {
                    problems.push(format!("{path}: unknown type {t}"));
                }
                _ => {}
            }
            if obj.contains_key("properties") && obj.contains_key("additionalProperties") {
                problems.push(format!(
                    "{path}: properties and additionalProperties together"
                ));
            }
            match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => {
                    let items = &node["items"];
                    let required: Vec<&str> = items["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    for key in node["x-kubernetes-list-map-keys"].as_array().unwrap() {
                        let key = key.as_str().unwrap();
                        let t = items["properties"][key]["type"].as_str().unwrap_or("");
                        if !required.contains(&key) || !SCALARS.contains(&t) {
                            problems.push(format!(
                                "{path}: list-map key {key} must be a required scalar"
                            ));
                        }
                    }
                }
                Some("set") => {
                    let t = node["items"]["type"].as_str().unwrap_or("");
                    if !SCALARS.contains(&t) {
                        problems.push(format!("{path}: a set of non-scalars"));
                    }
                }
                Some("atomic") | None => {}
                Some(other) => problems.push(format!("{path}: unknown list type {other}")),
            }
        });
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
}

#[test]
fn cel_rules_compile_and_fit_the_cost_budget() {
    // The API server's limits: 10M estimated per expression, 100M per CRD (each rule's estimate
    // times how often its node can occur). The per-rule figure here is kube-cel's coarse
    // estimate; the bounds checked in `schemas_are_structural` keep the real one finite too.
    const CRD_BUDGET: u64 = 100_000_000;
    for crd in ferry_api::crds() {
        let name = crd.metadata.name.clone().unwrap();
        let schema = CrdSchema::new(&crd, "v1alpha1").unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut rules = 0;
        let mut total: u64 = 0;
        walk(&schema_of(&crd), "", 1, &mut |node, path, cardinality| {
            let Some(list) = node
                .get("x-kubernetes-validations")
                .and_then(Value::as_array)
            else {
                return;
            };
            for rule in list {
                let rule = rule["rule"].as_str().unwrap();
                rules += 1;
                let warnings = estimate_rule_cost(rule, &compiled_for(node, rule));
                assert!(warnings.is_empty(), "{name} {path}: {rule}: {warnings:?}");
                assert_iterated_lists_are_bounded(node, rule, &format!("{name} {path}"));
                assert!(
                    cardinality < u64::MAX,
                    "{name} {path}: unbounded cardinality"
                );
                total = total.saturating_add(cardinality.saturating_mul(rule.len() as u64 * 10));
            }
        });
        assert!(rules > 0, "{name} has CEL rules");
        assert!(
            total < CRD_BUDGET,
            "{name}: rough CEL cost {total} over the CRD budget"
        );
        drop(schema);
    }
}

/// `node` compiled for estimating `rule`. kube-cel sizes every comprehension of a rule on an
/// object by the first list property it finds, in a hash map's (random) order and whether or not
/// the rule iterates it; sized instead by the largest list the rule names (`self.NAME`), the
/// estimate is the same on every run and an upper bound for those lists.
fn compiled_for(node: &Value, rule: &str) -> kube::core::cel::CompiledSchema {
    let mut compiled = kube::core::cel::compile_schema(node);
    if node["type"] == "object" {
        let largest = node["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(name, p)| p["type"] == "array" && rule.contains(&format!("self.{name}")))
            .filter_map(|(_, p)| p["maxItems"].as_u64())
            .max();
        if largest.is_some() {
            compiled.max_items = largest;
        }
    }
    compiled
}

/// The lists and maps a rule can iterate (the node itself, or descendants the rule names) must
/// be bounded, or the API server estimates its cost as unbounded and refuses the CRD.
fn assert_iterated_lists_are_bounded(node: &Value, rule: &str, at: &str) {
    fn visit(node: &Value, name: &str, is_root: bool, rule: &str, at: &str) {
        let named = is_root || rule.contains(&format!(".{name}"));
        if named && node["type"] == "array" {
            assert!(
                node.get("maxItems").is_some(),
                "{at}: {rule} iterates {name} without maxItems"
            );
        }
        if named
            && node
                .get("additionalProperties")
                .is_some_and(Value::is_object)
        {
            assert!(
                node.get("maxProperties").is_some(),
                "{at}: {rule} iterates {name} without maxProperties"
            );
        }
        for (child, sub) in node
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            visit(sub, child, false, rule, at);
        }
        if let Some(items) = node.get("items") {
            visit(items, name, false, rule, at);
        }
    }
    visit(node, "self", true, rule, at);
}

/// The API server refuses a CRD whose rule names a `fieldPath` its schema does not have.
#[test]
fn every_rule_field_path_is_in_the_schema() {
    for crd in ferry_api::crds() {
        walk(&schema_of(&crd), "", 1, &mut |node, path, _| {
            for rule in node["x-kubernetes-validations"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let Some(field_path) = rule["fieldPath"].as_str() else {
                    continue;
                };
                let mut target = node;
                for part in field_path.trim_start_matches('.').split('.') {
                    target = &target["properties"][part];
                }
                assert!(
                    target.is_object(),
                    "{path}: {rule}: fieldPath {field_path} is not in the schema"
                );
            }
        });
    }
}

fn shared_dir() -> PathBuf {
    std::env::var_os("FERRY_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    )
}

fn knative_crds() -> Vec<CustomResourceDefinition> {
    let dir = shared_dir().join("data/knative-serving-crds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (set FERRY_SHARED_DIR to the shared folder)",
                dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// The checker the CLI uses (and the test API server will) handles real-world CRDs, not only
/// Ferry's own.
#[test]
fn the_schema_checker_reads_knative_servings_real_crds() {
    let crds = knative_crds();
    assert_eq!(crds.len(), 11);
    for crd in &crds {
        let version = crd.spec.versions.iter().find(|v| v.storage).unwrap();
        CrdSchema::new(crd, &version.name)
            .unwrap_or_else(|e| panic!("{}: {e}", crd.metadata.name.clone().unwrap_or_default()));
    }
    let service = crds
        .iter()
        .find(|c| c.spec.names.kind == "Service")
        .unwrap();
    let schema = CrdSchema::new(service, "v1").unwrap();
    let ksvc = json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "shop"},
        "spec": {"template": {
            "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
            "spec": {
                "containerConcurrency": 80,
                "containers": [{
                    "image": "ghcr.io/acme/hello:1",
                    "ports": [{"containerPort": 8080}],
                    "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
                    "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
                }],
            },
        }, "traffic": [{"latestRevision": true, "percent": 100}]},
    });
    assert_eq!(schema.check(&ksvc), vec![]);
    let mut bad = ksvc.clone();
    bad["spec"]["template"]["spec"]["containers"][0]["ports"] = json!("8080");
    bad["spec"]["template"]["spec"]["containerConcurrency"] = json!("eighty");
    let fields: Vec<String> = schema.check(&bad).into_iter().map(|v| v.field).collect();
    assert!(
        fields.contains(&"spec.template.spec.containers[0].ports".to_owned()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"spec.template.spec.containerConcurrency".to_owned()),
        "{fields:?}"
    );
}

/// A ServerlessJob keeps its provider and ProviderConfig: its definition and runs live where it
/// was made. The transition rules refuse an update that changes either, and only an update.
#[test]
fn a_job_cannot_change_its_provider_or_provider_config() {
    let crd = ferry_api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == "ServerlessJob")
        .unwrap();
    let schema = CrdSchema::new(&crd, ferry_api::VERSION).unwrap();
    let job = |provider: &str, config: Option<&str>| {
        let mut spec = json!({
            "provider": provider,
            "containers": [{"name": "task", "image": "ghcr.io/acme/task:1"}],
        });
        if let Some(config) = config {
            spec["providerConfigRef"] = json!({ "name": config });
        }
        json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessJob",
               "metadata": {"name": "report", "namespace": "shop"}, "spec": spec})
    };
    let fields = |new: &Value, old: &Value| -> Vec<String> {
        schema
            .check_update(new, old)
            .into_iter()
            .map(|v| format!("{}: {}", v.field, v.message))
            .collect()
    };
    let fargate = job("fargate", Some("aws"));
    assert_eq!(schema.check(&job("cloudRun", Some("gcp"))), vec![]);
    assert_eq!(fields(&fargate, &fargate), Vec::<String>::new());
    let moved = fields(&job("cloudRun", Some("aws")), &fargate);
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(
        moved[0].starts_with("spec.provider: cannot change on a ServerlessJob"),
        "{moved:?}"
    );
    let other_account = fields(&job("fargate", Some("aws-prod")), &fargate);
    assert_eq!(other_account.len(), 1, "{other_account:?}");
    assert!(
        other_account[0].starts_with("spec.providerConfigRef: cannot change"),
        "{other_account:?}"
    );
    let named = fields(&fargate, &job("fargate", None));
    assert_eq!(named.len(), 1, "naming one where none was named: {named:?}");
    // Everything else may change.
    let mut changed = fargate.clone();
    changed["spec"]["containers"][0]["image"] = json!("ghcr.io/acme/task:2");
    assert_eq!(fields(&changed, &fargate), Vec::<String>::new());
}
