//! The capability table and the CRD agree: every cell a backend marks `no` is refused at
//! admission by the CRD's CEL rules and by Ferry's validation with the backend's note; every
//! other cell's sample passes admission.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use ferry_api::Provider;
use ferry_core::capabilities::{Feature, Level, occurrences, table};
use ferry_core::desired::ObjectRef;
use ferry_core::schema::CrdSchema;
use serde_json::{Value, json};

fn serverless_service_schema() -> CrdSchema {
    CrdSchema::new(
        &<ferry_api::ServerlessService as kube::CustomResourceExt>::crd(),
        "v1alpha1",
    )
    .unwrap()
}

#[allow(clippy::needless_pass_by_value)] // `object(json!({..}))` reads best at the call sites
fn object(spec: Value) -> Value {
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": "hello", "namespace": "shop"},
        "spec": spec,
    })
}

/// A spec for `provider` that uses `feature`, for the features some provider refuses (or once
/// refused: a sample stays, so a CEL rule left behind when the table changes is caught).
fn using(feature: Feature, provider: Provider) -> Option<Value> {
    let mut spec = json!({
        "provider": provider.as_str(),
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
        Feature::VolumeSecret => mount(&mut spec, json!({"secret": {"name": "app-config"}})),
        Feature::VolumeEmptyDir => mount(&mut spec, json!({"emptyDir": {}})),
        Feature::VolumeNfs => {
            mount(
                &mut spec,
                json!({"nfs": {"server": "10.0.0.2", "path": "/exports"}}),
            );
        }
        Feature::VolumeEfs => {
            mount(
                &mut spec,
                json!({"efs": {"fileSystemId": "fs-0123456789abcdef0"}}),
            );
        }
        Feature::VolumeGcs => mount(&mut spec, json!({"gcs": {"bucket": "acme-assets"}})),
        Feature::VolumeAzureFile => mount(
            &mut spec,
            json!({"azureFile": {"shareName": "files", "storageAccount": "acmefiles",
                                 "secretRef": {"name": "azure-files", "key": "key"}}}),
        ),
        Feature::VolumeSubPath => {
            mount(&mut spec, json!({"emptyDir": {}}));
            spec["containers"][0]["volumeMounts"][0]["subPath"] = json!("logs");
        }
        Feature::Sidecars
        | Feature::Port
        | Feature::EnvSecret
        | Feature::Cpu
        | Feature::Memory
        | Feature::LivenessProbe
        | Feature::MaxInstances
        | Feature::Ingress
        | Feature::TrafficTags
        | Feature::DeletionPolicy
        | Feature::Migration => return None,
    }
    Some(spec)
}

/// Declares one volume of `source` and mounts it in the first container.
fn mount(spec: &mut Value, source: Value) {
    let mut volume = source;
    volume["name"] = json!("data");
    spec["volumes"] = json!([volume]);
    spec["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
}

/// Every `no` cell of the capability table is refused at admission by the CRD's CEL rules and by
/// Ferry's validation with the table's note; every other cell's sample passes admission.
#[test]
fn the_crd_and_ferry_refuse_exactly_what_the_capability_table_says() {
    let schema = serverless_service_schema();
    let mut refusals = 0;
    let catalog = ferry::backends::registry().unwrap().catalog();
    for row in table(catalog) {
        for provider in Provider::ALL {
            let cell = row.support(provider).expect("every provider has a column");
            let Some(spec) = using(row.feature, provider) else {
                assert!(
                    cell.level != Level::No,
                    "{:?} is refused: give it a sample",
                    row.feature
                );
                continue;
            };
            let violations = schema.check(&object(spec.clone()));
            let typed = serde_json::from_value(spec.clone()).unwrap();
            let used = occurrences(row.feature, &typed);
            assert!(
                !used.is_empty(),
                "{:?}: the sample does not use the feature",
                row.feature
            );
            let ferry = ferry_core::validate_spec(
                ObjectRef {
                    namespace: "shop".into(),
                    name: "hello".into(),
                    ..ObjectRef::default()
                },
                &typed,
                catalog.get(provider),
            );
            let ferry_refusal = ferry.as_ref().err().and_then(|e| {
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
                        "{provider} {:?}: the CRD admits it: {violations:?}",
                        row.feature
                    );
                    assert!(
                        ferry_refusal.is_some(),
                        "{provider} {:?}: Ferry admits it: {ferry:?}",
                        row.feature
                    );
                }
                Level::NotApplicable => {}
                Level::Yes | Level::Partial => {
                    assert!(
                        violations.is_empty(),
                        "{provider} {:?}: the CRD refuses what the table allows: {violations:?}",
                        row.feature
                    );
                    assert!(
                        ferry_refusal.is_none(),
                        "{provider} {:?}: refused as unsupported",
                        row.feature
                    );
                }
            }
        }
    }
    assert!(
        refusals >= 15,
        "the table refuses {refusals} provider/field pairs"
    );
}

/// Which providers run jobs is written once (`ServerlessJobSpec::PROVIDERS`, which the CRD's rule
/// spells out): the registry's backends accept a plain job exactly on those.
#[test]
fn the_backends_that_run_jobs_are_the_ones_the_crd_admits() {
    use ferry_api::ServerlessJobSpec;
    let catalog = ferry::backends::registry().unwrap().catalog();
    for provider in Provider::ALL {
        let mut spec = json!({
            "provider": provider.as_str(),
            "containers": [{"name": "task", "image": "busybox",
                            "resources": {"cpu": "1", "memory": "2Gi"}}],
        });
        if provider != Provider::Kubernetes && provider != Provider::Knative {
            spec["providerConfigRef"] = json!({"name": "cloud"});
        }
        let job: ferry_api::ServerlessJob = serde_json::from_value(json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessJob",
            "metadata": {"name": "report", "namespace": "shop"}, "spec": spec,
        }))
        .unwrap();
        let accepted = ferry_core::job::validate_job(&job, catalog.get(provider));
        assert_eq!(
            accepted.is_ok(),
            ServerlessJobSpec::PROVIDERS.contains(&provider),
            "{provider}: {:?}",
            accepted.err().map(|e| e.to_string())
        );
        if let Err(refused) = accepted {
            assert!(
                refused
                    .to_string()
                    .contains(&ServerlessJobSpec::providers_listed()),
                "{refused}"
            );
        }
    }
    let rule = &ferry_api::JOB_SPEC_RULES[0];
    let quoted: Vec<String> = ServerlessJobSpec::PROVIDERS
        .iter()
        .map(|p| format!("'{}'", p.as_str()))
        .collect();
    assert_eq!(
        rule.rule,
        format!("self.provider in [{}]", quoted.join(", "))
    );
    assert!(
        rule.message.starts_with(&format!(
            "jobs run on {}",
            ServerlessJobSpec::providers_listed()
        )),
        "{}",
        rule.message
    );
}

/// The volume kinds each provider can never mount, written out so that a change of the table is
/// a visible change here: each is refused by name, for a ServerlessService and (where the
/// provider runs jobs) a ServerlessJob, by the CRD's CEL rules and by Ferry.
#[test]
fn every_volume_kind_a_provider_cannot_mount_is_refused_by_name_for_services_and_jobs() {
    const CANNOT: &[(Provider, &[&str])] = &[
        (Provider::Knative, &["gcs", "azureFile"]),
        (Provider::Fargate, &["secret", "nfs", "gcs", "azureFile"]),
        (Provider::CloudRun, &["efs", "azureFile"]),
        (Provider::ContainerApps, &["nfs", "efs", "gcs"]),
        (Provider::ContainerInstances, &["nfs", "efs", "gcs"]),
        (Provider::Kubernetes, &[]),
    ];
    let sources = [
        ("secret", json!({"name": "app-config"})),
        ("emptyDir", json!({})),
        ("nfs", json!({"server": "10.0.0.2", "path": "/exports"})),
        ("efs", json!({"fileSystemId": "fs-0123456789abcdef0"})),
        ("gcs", json!({"bucket": "acme-assets"})),
        (
            "azureFile",
            json!({"shareName": "files", "storageAccount": "acmefiles",
                   "secretRef": {"name": "azure-files", "key": "key"}}),
        ),
    ];
    let catalog = ferry::backends::registry().unwrap().catalog();
    let service_schema = serverless_service_schema();
    let job_schema = CrdSchema::new(
        &<ferry_api::ServerlessJob as kube::CustomResourceExt>::crd(),
        "v1alpha1",
    )
    .unwrap();
    let mut refusals = 0;
    for (provider, cannot) in CANNOT {
        for (kind, source) in &sources {
            let mut spec = json!({
                "provider": provider.as_str(),
                "volumes": [{"name": "data", *kind: source}],
                "containers": [{"name": "app", "image": "ghcr.io/acme/hello:1",
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            });
            let refused = cannot.contains(kind);
            let field = format!("spec.volumes[0].{kind}");
            let named = |message: &str| message.contains(&format!("{kind} volumes"));

            let job_spec = spec.clone();
            spec["containers"][0]["port"] = json!(8080);
            let service = object(spec.clone());
            let violations = service_schema.check(&service);
            let typed = serde_json::from_value(spec).unwrap();
            let ferry = ferry_core::validate_spec(
                ObjectRef {
                    namespace: "shop".into(),
                    name: "hello".into(),
                    ..ObjectRef::default()
                },
                &typed,
                catalog.get(*provider),
            );
            let ferry_refused = ferry
                .as_ref()
                .err()
                .is_some_and(|e| e.errors.iter().any(|f| f.field == field));
            assert_eq!(
                violations.iter().any(|v| named(&v.message)),
                refused,
                "{provider} {kind}: the CRD says {violations:?}"
            );
            assert_eq!(
                ferry_refused, refused,
                "{provider} {kind}: Ferry says {ferry:?}"
            );
            refusals += usize::from(refused);

            if !ferry_api::ServerlessJobSpec::PROVIDERS.contains(provider) {
                continue;
            }
            let job = json!({
                "apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessJob",
                "metadata": {"name": "report", "namespace": "shop"}, "spec": job_spec,
            });
            let violations = job_schema.check(&job);
            assert_eq!(
                violations.iter().any(|v| named(&v.message)),
                refused,
                "{provider} {kind} job: the CRD says {violations:?}"
            );
            let typed: ferry_api::ServerlessJob = serde_json::from_value(job).unwrap();
            let ferry = ferry_core::job::validate_job(&typed, catalog.get(*provider));
            let ferry_refused = ferry
                .as_ref()
                .err()
                .is_some_and(|e| e.errors.iter().any(|f| f.field == field));
            assert_eq!(
                ferry_refused,
                refused,
                "{provider} {kind} job: Ferry says {:?}",
                ferry.err()
            );
        }
    }
    assert_eq!(refusals, 14);
}
