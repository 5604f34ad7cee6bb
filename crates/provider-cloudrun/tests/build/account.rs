//! Where a service runs (its own `spec.cloudRun.project` / `region` over its ProviderConfig's)
//! and what it is called there.

use ferry_api::CloudRunProviderConfig;
use ferry_provider_cloudrun::build::{self, Account, BuildError};
use ferry_provider_cloudrun::names::MAX_SERVICE_NAME as CLOUD_RUN_MAX;

use crate::common::{desired, example_provider_config, requests, serverless_service, simple};

#[test]
fn project_and_region_come_from_the_provider_config_unless_the_service_sets_them() {
    let config = example_provider_config();
    let account = |extra: &str| build::account(&desired(&simple("", extra)), &config).unwrap();
    assert_eq!(
        account(""),
        Account {
            project: "acme-prod".into(),
            region: "europe-west1".into()
        }
    );
    assert_eq!(
        account("cloudRun: {region: europe-west4}"),
        Account {
            project: "acme-prod".into(),
            region: "europe-west4".into()
        }
    );
    assert_eq!(
        account("cloudRun: {project: acme-ml, region: us-central1}"),
        Account {
            project: "acme-ml".into(),
            region: "us-central1".into()
        }
    );
}

#[test]
fn parent_and_name_follow_the_account() {
    let p = requests(&simple(
        "",
        "cloudRun: {project: acme-ml, region: us-central1}",
    ));
    assert_eq!(p.parent, "projects/acme-ml/locations/us-central1");
    assert_eq!(p.name, format!("{}/services/{}", p.parent, p.service_id));
    assert_eq!(p.service.name, p.name);
    let other: CloudRunProviderConfig =
        serde_saphyr::from_str("{project: acme-test, region: asia-east1}").unwrap();
    let p = build::requests(&desired(&simple("", "")), &other).unwrap();
    assert_eq!(p.parent, "projects/acme-test/locations/asia-east1");
}

#[test]
fn the_service_id_is_namespace_name_and_hash_within_49_characters() {
    let p = requests(&simple("", ""));
    assert_eq!(p.service_id, "shop-hello-cd5cea3a");

    let mut svc = serverless_service(&simple("", ""));
    svc.metadata.namespace = Some("payments-production-europe".into());
    svc.metadata.name = Some("checkout-api-with-a-rather-long-descriptive-name".into());
    let id = build::service_id(&crate::common::desired_of(&svc));
    assert!(id.len() <= CLOUD_RUN_MAX, "{id} ({} characters)", id.len());
    assert!(
        id.starts_with("payments-production-europe-checkout"),
        "{id}"
    );
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && !id.ends_with('-'),
        "{id}"
    );

    let mut svc = serverless_service(&simple("", ""));
    svc.metadata.namespace = Some("1st-team".into());
    let id = build::service_id(&crate::common::desired_of(&svc));
    assert!(
        id.starts_with("s-1st-team-hello-"),
        "a Cloud Run name starts with a letter: {id}"
    );
}

#[test]
fn a_desired_model_for_another_provider_is_refused() {
    // Another backend's settings, as a desired model for another provider carries them.
    let mut knative = desired(&simple("", ""));
    knative.backend = ferry_core::backend::BackendModel::new("another backend's settings");
    let config = example_provider_config();
    assert_eq!(
        build::requests(&knative, &config).unwrap_err(),
        BuildError::NotCloudRun
    );
    assert_eq!(
        build::account(&knative, &config).unwrap_err(),
        BuildError::NotCloudRun
    );
}

#[test]
fn a_secret_that_is_not_a_secret_manager_reference_is_refused_not_dropped() {
    let mut want = desired(&simple("env: [{name: TOKEN, secret: {name: token}}]", ""));
    want.containers[0].env[0].value =
        ferry_core::desired::EnvValue::Secret(ferry_core::desired::SecretSource::Kubernetes {
            name: "token".into(),
            key: "value".into(),
        });
    let err = build::requests(&want, &example_provider_config()).unwrap_err();
    assert_eq!(
        err,
        BuildError::Secret {
            container: "app".into(),
            env: "TOKEN".into()
        }
    );
    assert!(err.to_string().contains("Secret Manager"), "{err}");
}
