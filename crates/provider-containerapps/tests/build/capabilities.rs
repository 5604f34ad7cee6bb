//! Container Apps' column of the capability table agrees with the CRD: every `no` cell is
//! refused at admission by a CEL rule and by Ferry's validation with the cell's note, and every
//! other cell's sample is admitted and not refused as unsupported. (The same check as
//! crates/ferry/tests/capabilities.rs, for this column, until the registry lists it.)

use ferry_api::Provider;
use ferry_core::backend::Rules;
use ferry_core::capabilities::{Feature, Level, occurrences};
use ferry_core::desired::ObjectRef;
use ferry_core::schema::CrdSchema;
use ferry_provider_containerapps::ContainerApps;
use serde_json::{Value, json};

/// A spec that uses `feature` (the samples of crates/ferry/tests/capabilities.rs).
fn using(feature: Feature) -> Option<Value> {
    let mut spec = json!({
        "provider": "containerApps",
        "containers": [{"name": "app", "image": "ghcr.io/acme/hello:1", "port": 8080}],
    });
    let container = &mut spec["containers"][0];
    match feature {
        Feature::EphemeralStorage => container["resources"] = json!({"ephemeralStorage": "30Gi"}),
        Feature::Gpu => container["resources"] = json!({"gpu": {"count": 1}}),
        Feature::GpuType => {
            container["resources"] = json!({"gpu": {"count": 1, "type": "nvidia-l4"}});
        }
        Feature::StartupProbe => container["probes"] = json!({"startup": {"httpGet": {}}}),
        Feature::ReadinessProbe => container["probes"] = json!({"readiness": {"httpGet": {}}}),
        Feature::Concurrency => spec["concurrency"] = json!(10),
        Feature::TimeoutSeconds => spec["timeoutSeconds"] = json!(60),
        Feature::ScaleToZero => spec["scaling"] = json!({"minInstances": 0}),
        Feature::InitialInstances => {
            spec["scaling"] = json!({"minInstances": 1, "initialInstances": 2});
        }
        Feature::MetricConcurrency => spec["scaling"] = json!({"metric": "concurrency"}),
        Feature::MetricRps => spec["scaling"] = json!({"metric": "rps"}),
        Feature::MetricCpu => spec["scaling"] = json!({"minInstances": 1, "metric": "cpu"}),
        Feature::MetricMemory => spec["scaling"] = json!({"minInstances": 1, "metric": "memory"}),
        Feature::ScalingTarget => spec["scaling"] = json!({"minInstances": 1, "target": 50}),
        Feature::ScaleDownDelay => {
            spec["scaling"] = json!({"minInstances": 1, "scaleDownDelaySeconds": 60});
        }
        Feature::TrafficSplit => {
            spec["traffic"] = json!([
                {"latestRevision": true, "percent": 50},
                {"revisionName": "hello-00001", "percent": 50, "tag": "old"},
            ]);
        }
        Feature::ProviderConfigRef => spec["providerConfigRef"] = json!({"name": "default"}),
        _ => return None,
    }
    Some(spec)
}

#[test]
fn the_crd_and_ferry_refuse_exactly_what_the_column_says() {
    let schema = CrdSchema::new(
        &<ferry_api::ServerlessService as kube::CustomResourceExt>::crd(),
        "v1alpha1",
    )
    .unwrap();
    assert_eq!(ContainerApps.provider(), Provider::ContainerApps);
    let mut refusals = 0;
    for feature in Feature::ALL {
        let cell = ContainerApps.support(feature);
        let Some(spec) = using(feature) else {
            assert!(
                cell.level != Level::No,
                "{feature:?} is refused: give it a sample"
            );
            continue;
        };
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessService",
            "metadata": {"name": "hello", "namespace": "shop"}, "spec": spec,
        });
        let violations = schema.check(&object);
        let typed = serde_json::from_value(spec).unwrap();
        let used = occurrences(feature, &typed);
        let ferry = ferry_core::validate_spec(
            ObjectRef {
                namespace: "shop".into(),
                name: "hello".into(),
                ..ObjectRef::default()
            },
            &typed,
            &ContainerApps,
        );
        let refusal = ferry.as_ref().err().and_then(|e| {
            e.errors
                .iter()
                .find(|f| used.contains(&f.field) && f.message.contains(&cell.note))
        });
        match cell.level {
            Level::No => {
                refusals += 1;
                assert!(
                    violations
                        .iter()
                        .any(|v| used.iter().any(|u| u.starts_with(&v.field))),
                    "{feature:?}: the CRD admits it: {violations:?}"
                );
                assert!(refusal.is_some(), "{feature:?}: Ferry admits it: {ferry:?}");
            }
            Level::NotApplicable => {}
            Level::Yes | Level::Partial => {
                assert!(
                    violations.is_empty(),
                    "{feature:?}: the CRD refuses what the table allows: {violations:?}"
                );
                assert!(refusal.is_none(), "{feature:?}: refused as unsupported");
                assert!(
                    ferry.is_ok(),
                    "{feature:?}: the sample is refused: {ferry:?}"
                );
            }
        }
    }
    assert_eq!(
        refusals, 5,
        "timeoutSeconds, initialInstances, rps, ephemeralStorage, gpu"
    );
}
