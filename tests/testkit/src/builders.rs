//! What the backends' builder tests share: ServerlessServices from inline YAML, validated as the
//! controller validates them, and the objects of `deploy/examples/` (the ServerlessServices of
//! a provider, named as their snapshots are, and the ProviderConfigs they name).

// Test support: a failure is the calling test's failure, reported by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use ferry_api::{ProviderConfig, ProviderConfigSpec, ServerlessService};
use ferry_core::backend::Rules;
use ferry_core::desired::Desired;
use serde::Serialize;
use serde_json::{Value, json};

/// The UID the API server gave the test's object.
pub const UID: &str = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f";

/// The repository's `deploy/examples/`.
pub fn examples_dir() -> PathBuf {
    // This crate is tests/testkit: the repository is two levels up.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples")
}

/// A ServerlessService `hello` in namespace `shop`, with [`UID`], and `spec` (YAML, usually a
/// flow mapping).
pub fn serverless_service(spec: &str) -> ServerlessService {
    let yaml = format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessService\n\
         metadata: {{name: hello, namespace: shop, uid: {UID}}}\nspec: {spec}\n"
    );
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// [`serverless_service`] of `spec`, renamed `name` (in `namespace` when given), with `uid` as
/// the API server would have given one (`None`: not stored yet): a named snapshot case.
pub fn named_service(
    namespace: Option<&str>,
    name: &str,
    uid: Option<&str>,
    spec: &str,
) -> ServerlessService {
    let mut svc = serverless_service(spec);
    if let Some(namespace) = namespace {
        svc.metadata.namespace = Some(namespace.to_owned());
    }
    svc.metadata.name = Some(name.to_owned());
    svc.metadata.uid = uid.map(str::to_owned);
    svc
}

/// The desired model of `svc` by its provider's `rules`; `svc` must be valid.
pub fn desired_of(svc: &ServerlessService, rules: &dyn Rules) -> Desired {
    match ferry_core::validate(svc, rules) {
        Ok(valid) => valid.desired,
        Err(invalid) => panic!("the test's spec is invalid: {invalid}"),
    }
}

/// The desired model for `spec` by its provider's `rules`.
pub fn desired(spec: &str, rules: &dyn Rules) -> Desired {
    desired_of(&serverless_service(spec), rules)
}

/// A ServerlessJob `report` in namespace `shop`, with [`UID`], at generation 1, and `spec`
/// (YAML, usually a flow mapping).
pub fn serverless_job(spec: &str) -> ferry_api::ServerlessJob {
    let yaml = format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessJob\n\
         metadata: {{name: report, namespace: shop, uid: {UID}, generation: 1}}\nspec: {spec}\n"
    );
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// The desired model of the job [`serverless_job`] makes of `spec`, by its provider's `rules`;
/// the spec must be valid.
pub fn desired_job(spec: &str, rules: &dyn Rules) -> ferry_core::job::DesiredJob {
    match ferry_core::job::validate_job(&serverless_job(spec), rules) {
        Ok(valid) => valid.desired,
        Err(invalid) => panic!("the test's job spec is invalid: {invalid}"),
    }
}

/// A single-container spec for `provider` with `extra` spec fields (YAML, no braces) and the
/// container fields `container` added to `name: app, image: IMAGE, port: 8080`.
pub fn simple_spec(provider: &str, image: &str, container: &str, extra: &str) -> String {
    let container = if container.is_empty() {
        String::new()
    } else {
        format!(", {container}")
    };
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    format!(
        "{{provider: {provider}, containers: [{{name: app, image: '{image}', \
         port: 8080{container}}}]{extra}}}"
    )
}

/// `value` as JSON.
pub fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// The section `section` picks from the spec of ProviderConfig `name` in
/// `deploy/examples/FILE`.
pub fn example_provider_config<C>(
    file: &str,
    name: &str,
    section: impl FnOnce(ProviderConfigSpec) -> Option<C>,
) -> C {
    let path = examples_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let config: ProviderConfig =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(config.metadata.name.as_deref(), Some(name));
    section(config.spec)
        .unwrap_or_else(|| panic!("{} lacks the provider's section", path.display()))
}

/// Every ServerlessService of `provider` (as `spec.provider` spells it) in `deploy/examples/`,
/// named after its file (and its name, when a file holds several).
pub fn example_services(provider: &str) -> Vec<(String, ServerlessService)> {
    let docs: Vec<(PathBuf, Value)> = crate::yaml_documents(&examples_dir())
        .into_iter()
        .filter(|(_, d)| d["kind"] == "ServerlessService" && d["spec"]["provider"] == provider)
        .collect();
    let mut out = Vec::new();
    for (file, doc) in &docs {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let several = docs.iter().filter(|(f, _)| f == file).count() > 1;
        let svc: ServerlessService = serde_json::from_value(doc.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = if several {
            format!("{stem}-{}", svc.metadata.name.clone().unwrap_or_default())
        } else {
            stem
        };
        out.push((name, svc));
    }
    out
}

/// The ProviderConfigs of `deploy/examples/` that have the section `section` picks, by name.
pub fn example_provider_configs<C>(
    section: impl Fn(ProviderConfigSpec) -> Option<C>,
) -> Vec<(String, C)> {
    crate::yaml_documents(&examples_dir())
        .into_iter()
        .filter(|(_, d)| d["kind"] == "ProviderConfig")
        .filter_map(|(file, d)| {
            let config: ProviderConfig =
                serde_json::from_value(d).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            Some((config.metadata.name.clone()?, section(config.spec)?))
        })
        .collect()
}

/// An example of `deploy/examples/` and the ProviderConfig it names there.
pub struct Example<C> {
    /// Its snapshot's name (see [`example_services`]).
    pub name: String,
    /// The object.
    pub svc: ServerlessService,
    /// The name of the ProviderConfig it names (`default` when it names none).
    pub config_name: String,
    /// That ProviderConfig's section for the provider.
    pub config: C,
}

/// [`example_services`] of `provider`, each with the section `section` picks from the
/// ProviderConfig of `deploy/examples/` it names; fails when one names a ProviderConfig the
/// examples lack.
pub fn examples_with_configs<C: Clone>(
    provider: &str,
    section: impl Fn(ProviderConfigSpec) -> Option<C>,
) -> Vec<Example<C>> {
    let configs = example_provider_configs(section);
    example_services(provider)
        .into_iter()
        .map(|(name, svc)| {
            let config_name = svc
                .spec
                .provider_config_ref
                .as_ref()
                .map_or("default", |r| r.name.as_str())
                .to_owned();
            let Some((_, config)) = configs.iter().find(|(name, _)| *name == config_name) else {
                panic!(
                    "the example {name}: names ProviderConfig {config_name}, which \
                     deploy/examples/ lacks"
                )
            };
            let config = config.clone();
            Example {
                name,
                svc,
                config_name,
                config,
            }
        })
        .collect()
}

/// JSON pointers to every node under `value`, with whether each is a leaf.
fn pointers(value: &Value, at: &str, out: &mut Vec<(String, bool)>) {
    let mut child = |pointer: String, v: &Value| {
        out.push((pointer.clone(), !(v.is_object() || v.is_array())));
        pointers(v, &pointer, out);
    };
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                child(
                    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")),
                    v,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                child(format!("{at}/{i}"), v);
            }
        }
        _ => {}
    }
}

/// JSON pointers to every node of `value` (`/spec/template/0`...), with whether each is a leaf:
/// what a test walks to change or remove each field in turn.
pub fn all_pointers(value: &Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    pointers(value, "", &mut out);
    out
}

/// A different value of the same type for a leaf.
pub fn changed(value: &Value) -> Value {
    match value {
        Value::String(s) => json!(format!("{s}-changed")),
        Value::Number(n) => json!(n.as_i64().unwrap() + 1),
        Value::Bool(b) => json!(!b),
        other => panic!("not a leaf: {other}"),
    }
}

/// A pointer's parent pointer and its last key, unescaped.
pub fn parent_and_last(pointer: &str) -> (&str, String) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    (parent, last.replace("~1", "/").replace("~0", "~"))
}

/// A catalog of `rules` for its provider and, for every other provider, rules that price and
/// refuse nothing: what a price table needs (a catalog of every provider) when a backend's own
/// tests price it alone.
pub fn catalog_of(rules: &std::sync::Arc<dyn Rules>) -> ferry_core::backend::Catalog {
    let all: Vec<std::sync::Arc<dyn Rules>> = ferry_api::Provider::ALL
        .iter()
        .map(|&p| -> std::sync::Arc<dyn Rules> {
            if p == rules.provider() {
                std::sync::Arc::clone(rules)
            } else {
                std::sync::Arc::new(NoRules(p))
            }
        })
        .collect();
    ferry_core::backend::Catalog::new(&all).unwrap_or_else(|e| panic!("{e}"))
}

/// Another provider in [`catalog_of`]: no prices, no refusals.
struct NoRules(ferry_api::Provider);

impl Rules for NoRules {
    fn provider(&self) -> ferry_api::Provider {
        self.0
    }
    fn support(&self, _: ferry_core::capabilities::Feature) -> ferry_core::capabilities::Support {
        ferry_core::capabilities::yes("")
    }
    fn secret(
        &self,
        _: &mut ferry_core::Findings,
        _: &str,
        _: &ferry_api::SecretRef,
        _: &ferry_api::ServerlessServiceSpec,
    ) -> Option<ferry_core::desired::SecretSource> {
        None
    }
    fn check(
        &self,
        _: &mut ferry_core::Findings,
        _: &ferry_core::desired::ObjectRef,
        _: &ferry_core::backend::Parts<'_>,
    ) -> Option<ferry_core::backend::BackendModel> {
        None
    }
    fn embedded_prices(&self) -> &'static str {
        "[]"
    }
    fn check_prices(&self, _: &[serde_json::Value]) -> Vec<String> {
        Vec::new()
    }
    fn estimate(&self, _: &ferry_core::backend::EstimateInput<'_>) -> ferry_core::cost::Priced {
        ferry_core::cost::Priced::unavailable("", Vec::new())
    }
}

/// One backend's ServerlessJob cost estimates, for its cost tests: under its embedded price
/// table (in a catalog of [`catalog_of`]), or under a table the test made.
pub struct JobCosts {
    rules: std::sync::Arc<dyn Rules>,
    catalog: ferry_core::backend::Catalog,
    prices: ferry_core::cost::PriceTable,
}

impl JobCosts {
    /// The estimates of `rules` under its embedded price table.
    pub fn embedded(rules: std::sync::Arc<dyn Rules>) -> Self {
        let catalog = catalog_of(&rules);
        let prices =
            ferry_core::cost::PriceTable::embedded(&catalog).unwrap_or_else(|e| panic!("{e}"));
        Self {
            rules,
            catalog,
            prices,
        }
    }

    /// The catalog the prices are read with (a table of the test's own parses with it).
    pub fn catalog(&self) -> &ferry_core::backend::Catalog {
        &self.catalog
    }

    /// The embedded price table.
    pub fn prices(&self) -> &ferry_core::cost::PriceTable {
        &self.prices
    }

    /// The estimate of the job `spec` (YAML, as [`serverless_job`] takes it), each task running
    /// `task_seconds` (default: its timeoutSeconds), in `config`'s region (none: the table's
    /// first).
    pub fn estimate(
        &self,
        spec: &str,
        task_seconds: Option<u32>,
        config: Option<&ProviderConfigSpec>,
    ) -> ferry_core::job::cost::JobEstimate {
        self.estimate_in(&self.prices, spec, task_seconds, config)
    }

    /// [`Self::estimate`] under `prices`.
    pub fn estimate_in(
        &self,
        prices: &ferry_core::cost::PriceTable,
        spec: &str,
        task_seconds: Option<u32>,
        config: Option<&ProviderConfigSpec>,
    ) -> ferry_core::job::cost::JobEstimate {
        let job = serverless_job(spec);
        ferry_core::job::cost::estimate_job(&*self.rules, &job.spec, task_seconds, prices, config)
    }
}

/// Whether any of the estimate's assumptions says `words`.
pub fn says(e: &ferry_core::job::cost::JobEstimate, words: &str) -> bool {
    e.assumptions.iter().any(|a| a.contains(words))
}
