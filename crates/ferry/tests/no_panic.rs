//! No input makes `ferry validate` (or a cost estimate) panic, and the schema and the Rust types
//! agree: random specs shaped by the CRD's own schema (with wrong types, out-of-range numbers
//! and odd strings mixed in) always get a report, and whatever the schema admits, the types can
//! read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use ferry::validate::{Source, validate_text};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, Value, json};

/// Builds values from a stream of random choices, so proptest can shrink a failure to the few
/// choices that matter.
struct Choices<'a> {
    choices: &'a [u16],
    next: usize,
}

impl Choices<'_> {
    fn pick(&mut self, n: usize) -> usize {
        let c = self.choices.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        usize::from(c) % n.max(1)
    }

    fn one<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.pick(items.len())].clone()
    }
}

fn strings() -> Vec<Value> {
    [
        "",
        "app",
        "hello",
        "PORT",
        "a/b",
        "ghcr.io/acme/hello:1",
        "nvidia-l4",
        "nvidia-h100",
        "latest",
        "3",
        "0",
        "/health",
        "subnet-0a1b",
        "sg-01",
        "FARGATE_SPOT",
        "LINUX",
        "gen2",
        "projects/p/secrets/s",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        "arn:aws:ssm:us-east-1:123456789012:parameter/x",
        "autoscaling.knative.dev/min-scale",
        "x-y_z",
        "ü",
        "1e99",
        "default",
        "MODE",
        "us-east-1",
        "europe-west1",
        "acme-prod",
        "hello@acme-prod.iam.gserviceaccount.com",
        "LATEST",
        "arn:aws:iam::123456789012:role/task",
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/hello/6d0ecf831eec9f09",
        "projects/p/locations/r/connectors/c",
        "https://localhost:4566",
    ]
    .into_iter()
    .map(Value::from)
    .chain([Value::from("x".repeat(300))])
    .collect()
}

fn quantities() -> Vec<Value> {
    vec![
        json!("0"),
        json!("1"),
        json!("0.25"),
        json!("250m"),
        json!("512Mi"),
        json!("2Gi"),
        json!("3"),
        json!("8"),
        json!("20"),
        json!("16Gi"),
        json!("80Gi"),
        json!("21.5Gi"),
        json!("300Gi"),
        json!("1e99"),
        json!("-1"),
        json!("abc"),
        json!(3),
        json!(0.5),
        json!(-2),
    ]
}

fn integers() -> Vec<Value> {
    vec![
        json!(0),
        json!(1),
        json!(-1),
        json!(2),
        json!(4),
        json!(10),
        json!(80),
        json!(100),
        json!(101),
        json!(600),
        json!(1000),
        json!(1001),
        json!(3600),
        json!(8012),
        json!(65535),
        json!(65536),
        json!(i32::MAX),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
    ]
}

fn wild(c: &mut Choices) -> Value {
    c.one(&[
        json!(null),
        json!(true),
        json!(1.5),
        json!("str"),
        json!([]),
        json!({}),
        json!({"x": 1}),
        json!(7),
    ])
}

/// Mostly a string the field's pattern accepts, sometimes any string.
fn string(c: &mut Choices, schema: &Value) -> Value {
    let pool = strings();
    let pattern = schema["pattern"]
        .as_str()
        .and_then(|p| regex::Regex::new(p).ok());
    match pattern {
        Some(re) if c.pick(4) != 0 => {
            let fitting: Vec<Value> = pool
                .iter()
                .filter(|s| s.as_str().is_some_and(|s| re.is_match(s)))
                .cloned()
                .collect();
            if fitting.is_empty() {
                c.one(&pool)
            } else {
                c.one(&fitting)
            }
        }
        _ => c.one(&pool),
    }
}

fn value(c: &mut Choices, schema: &Value, depth: usize) -> Value {
    if depth > 12 || c.pick(64) == 0 {
        return wild(c);
    }
    if schema["x-kubernetes-int-or-string"] == true {
        return c.one(&quantities());
    }
    if let Some(allowed) = schema["enum"].as_array() {
        return c.one(allowed);
    }
    match schema["type"].as_str() {
        Some("object") => {
            let mut map = Map::new();
            if let Some(props) = schema["properties"].as_object() {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for (name, sub) in props {
                    // Required fields are there 15 times in 16, others one time in four.
                    let keep = if required.contains(&name.as_str()) {
                        c.pick(16) != 0
                    } else {
                        c.pick(4) == 0
                    };
                    if keep {
                        map.insert(name.clone(), value(c, sub, depth + 1));
                    }
                }
            }
            if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
                for _ in 0..c.pick(3) {
                    let key = c.one(&strings()).as_str().unwrap_or("k").to_owned();
                    map.insert(key, value(c, values, depth + 1));
                }
            }
            if c.pick(40) == 0 {
                map.insert("unknownField".into(), json!(1));
            }
            Value::Object(map)
        }
        Some("array") => {
            let n = if c.pick(24) == 0 { 11 } else { c.pick(3) + 1 };
            Value::Array(
                (0..n)
                    .map(|_| value(c, &schema["items"], depth + 1))
                    .collect(),
            )
        }
        Some("string") => string(c, schema),
        Some("integer") => c.one(&integers()),
        Some("boolean") => json!(c.pick(2) == 0),
        _ => wild(c),
    }
}

fn spec_schema(kind: &str) -> Value {
    let crd = ferry_api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap();
    let schema = ferry_core::schema::openapi_schema(&crd, ferry_api::VERSION).unwrap();
    schema["properties"]["spec"].clone()
}

fn document(c: &mut Choices, kind: &str, spec_schema: &Value) -> Value {
    let name = c.one(&[
        json!("hello"),
        json!("Hello"),
        json!("a".repeat(70)),
        json!(""),
    ]);
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "shop"},
        "spec": value(c, spec_schema, 0),
    })
}

/// A spec that is mostly well-formed, so that the provider rules (not only the schema) run:
/// one serving container, in-range numbers, the provider's own section, quantities near the
/// providers' size tables.
fn plausible(c: &mut Choices) -> Value {
    let provider = c.one(&["knative", "fargate", "cloudRun"]);
    let cpu = [
        json!("250m"),
        json!("0.5"),
        json!("1"),
        json!(2),
        json!("3"),
        json!("4"),
        json!("8"),
        json!("20"),
        json!("80m"),
    ];
    let memory = [
        json!("128Mi"),
        json!("512Mi"),
        json!("1Gi"),
        json!("2Gi"),
        json!("3Gi"),
        json!("16Gi"),
        json!("32Gi"),
        json!("80Gi"),
        json!("1G"),
    ];
    let mut containers = Vec::new();
    for i in 0..=c.pick(3) {
        let mut container = json!({"name": if i == 0 { "app".to_owned() } else { format!("sidecar{i}") }, "image": "ghcr.io/acme/app:1"});
        if i == 0 {
            container["port"] = c.one(&[json!(8080), json!(8080), json!(8012), json!(9000)]);
        }
        if c.pick(2) == 0 {
            let mut resources = json!({"cpu": c.one(&cpu), "memory": c.one(&memory)});
            if c.pick(6) == 0 {
                resources["ephemeralStorage"] =
                    c.one(&[json!("10Gi"), json!("50Gi"), json!("300Gi")]);
            }
            if c.pick(8) == 0 {
                resources["gpu"] =
                    json!({"count": 1, "type": c.one(&["nvidia-l4", "nvidia-rtx-pro-6000"])});
            }
            container["resources"] = resources;
        }
        if c.pick(3) == 0 {
            let action = c.one(&[
                json!({"httpGet": {"path": "/health"}}),
                json!({"tcpSocket": {}}),
                json!({"grpc": {}}),
            ]);
            let kind = c.one(&["startup", "readiness", "liveness"]);
            container["probes"] = json!({kind: action});
            if c.pick(2) == 0 {
                container["probes"][kind]["periodSeconds"] =
                    c.one(&[json!(1), json!(10), json!(300), json!(600)]);
            }
        }
        if c.pick(3) == 0 {
            container["env"] = c.one(&[
                json!([{"name": "MODE", "value": "prod"}]),
                json!([{"name": "DB", "secret": {"name": "db", "key": "password"}}]),
                json!([{"name": "DB", "secret": {"name": "db"}}]),
            ]);
        }
        containers.push(container);
    }
    let mut spec = json!({"provider": provider, "containers": containers});
    if c.pick(2) == 0 {
        let min = c.one(&[json!(0), json!(1), json!(2)]);
        let mut scaling = json!({"minInstances": min, "maxInstances": c.one(&[json!(2), json!(10), json!(2000)])});
        if c.pick(2) == 0 {
            scaling["metric"] = json!(c.one(&["concurrency", "rps", "cpu", "memory"]));
            scaling["target"] = c.one(&[json!(50), json!(100)]);
        }
        spec["scaling"] = scaling;
    }
    if c.pick(3) == 0 {
        spec["concurrency"] = c.one(&[json!(1), json!(80), json!(1000), json!(5000)]);
    }
    if c.pick(3) == 0 {
        spec["timeoutSeconds"] = c.one(&[json!(60), json!(900), json!(7200)]);
    }
    if c.pick(4) == 0 {
        spec["traffic"] = json!([{"latestRevision": true, "percent": 100}]);
    }
    match provider {
        "fargate" if c.pick(2) == 0 => {
            spec["fargate"] = json!({
                "capacityProvider": c.one(&["FARGATE", "FARGATE_SPOT"]),
                "operatingSystemFamily": c.one(&["LINUX", "LINUX", "WINDOWS_SERVER_2022_CORE"]),
                "secrets": [{"name": "db", "arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}],
            });
        }
        "cloudRun" if c.pick(2) == 0 => {
            spec["cloudRun"] = json!({"executionEnvironment": c.one(&["gen1", "gen2"]), "cpuIdle": c.pick(2) == 0});
        }
        "knative" if c.pick(3) == 0 => {
            spec["knative"] = json!({"autoscalerClass": c.one(&["kpa", "hpa"])});
        }
        _ => {}
    }
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": "hello", "namespace": "shop"},
        "spec": spec,
    })
}

fn catalog() -> &'static ferry_core::backend::Catalog {
    ferry::backends::registry().unwrap().catalog()
}

fn check(doc: &Value) {
    for text in [
        serde_json::to_string(doc).unwrap(),
        serde_saphyr::to_string(doc).unwrap(),
    ] {
        let report = validate_text("random.yaml", &text, catalog());
        assert!(
            report.error.is_none(),
            "generated YAML must parse: {:?}\n{text}",
            report.error
        );
        let d = &report.documents[0];
        for m in &d.messages {
            assert!(
                m.source != Source::Ferry
                    || !m.field.is_empty()
                    || m.message.starts_with("cannot be read"),
                "every finding names its field: {m:?}"
            );
            assert!(
                !(m.source == Source::Ferry && m.message.starts_with("cannot be read")),
                "the schema admitted what the types cannot read: {m:?}\n{text}"
            );
        }
        if d.outcome == "valid" && doc["kind"] == "ServerlessService" {
            let svc: ferry_api::ServerlessService = serde_json::from_value(doc.clone()).unwrap();
            let valid = ferry_core::validate(&svc, catalog().get(svc.spec.provider))
                .expect("a valid report means a valid spec");
            assert!(valid.desired.serving_container < valid.desired.containers.len());
        }
    }
    if doc["kind"] == "ServerlessService"
        && let Ok(svc) = serde_json::from_value::<ferry_api::ServerlessService>(doc.clone())
    {
        check_cost(&svc.spec);
    }
}

/// Any spec the types can read gets an estimate or a reason, never a panic, and a figure is
/// the sum of its lines.
fn check_cost(spec: &ferry_api::ServerlessServiceSpec) {
    use ferry_core::cost::{self, Figure, PriceTable, Traffic};
    let prices = PriceTable::embedded(catalog()).unwrap();
    for traffic in [Traffic::default(), Traffic::none()] {
        let c = cost::compare(spec, &traffic, &prices, None, catalog());
        for e in &c.estimates {
            if let Figure::Priced {
                monthly_usd,
                breakdown,
            } = &e.figure
            {
                assert_eq!(*monthly_usd, breakdown.total(), "{e:?}");
            }
        }
    }
    let _ = cost::baseline(catalog().get(spec.provider), spec, &prices, None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_serverless_services_never_panic(choices in prop::collection::vec(any::<u16>(), 64..512)) {
        let schema = spec_schema("ServerlessService");
        check(&document(&mut Choices { choices: &choices, next: 0 }, "ServerlessService", &schema));
    }

    #[test]
    fn plausible_serverless_services_never_panic(choices in prop::collection::vec(any::<u16>(), 64..256)) {
        check(&plausible(&mut Choices { choices: &choices, next: 0 }));
    }

    #[test]
    fn random_provider_configs_never_panic(choices in prop::collection::vec(any::<u16>(), 32..256)) {
        let schema = spec_schema("ProviderConfig");
        check(&document(&mut Choices { choices: &choices, next: 0 }, "ProviderConfig", &schema));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(\\PC|\n| {2}|- |: |---\n|\\[|\\]|\\{|\\}|&a|\\*a|!!str ){0,200}") {
        let _ = validate_text("random.yaml", &text, catalog());
    }

    #[test]
    fn mangled_examples_never_panic(cut in 0usize..2000, insert in "(\\PC|\n| |:|-){0,8}") {
        let example = include_str!("../../../deploy/examples/fargate-hello.yaml");
        let cut = cut.min(example.len());
        let cut = (0..=cut).rev().find(|&i| example.is_char_boundary(i)).unwrap_or(0);
        let text = format!("{}{insert}{}", &example[..cut], &example[cut..]);
        let _ = validate_text("mangled.yaml", &text, catalog());
    }
}

/// The generators reach both valid specs and specs the provider rules refuse, so the properties
/// above exercise Ferry's rules, not only the schema.
#[test]
fn the_generators_reach_the_provider_rules() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(any::<u16>(), 64..256);
    let (mut valid, mut ferry_refusals) = (0, 0);
    for _ in 0..2000 {
        let choices = strategy.new_tree(&mut runner).unwrap().current();
        let doc = plausible(&mut Choices {
            choices: &choices,
            next: 0,
        });
        let report = validate_text(
            "random.yaml",
            &serde_json::to_string(&doc).unwrap(),
            catalog(),
        );
        let d = &report.documents[0];
        valid += usize::from(d.outcome == "valid");
        ferry_refusals += usize::from(
            d.messages
                .iter()
                .any(|m| m.source == Source::Ferry && m.severity == "error"),
        );
    }
    assert!(
        valid > 100 && ferry_refusals > 100,
        "valid {valid}, refused by Ferry {ferry_refusals}"
    );
}
