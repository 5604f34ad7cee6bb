//! The owner's identity on every Service (labels Google Cloud accepts), the fingerprint
//! annotation, the annotation namespaces v2 refuses, and who may adopt a Service.

use ferry_provider_cloudrun::build::{
    self, FINGERPRINT_ANNOTATION, LABEL_MANAGED_BY, LABEL_UID, RESERVED_KEY_PREFIXES, is_ours,
    label_value,
};
use google_cloud_run_v2::model;

use crate::common::{
    UID, desired, desired_of, mirror, requests, requests_for, serverless_service, simple,
};

/// Google Cloud's label rules: keys start with a lower-case letter; keys and values are
/// lower-case letters, digits, `_` and `-`, at most 63 characters.
fn is_label_key(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_lowercase()) && is_label_value(key)
}

fn is_label_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Every label and annotation key of `service` and its template.
fn keys(service: &model::Service) -> Vec<String> {
    let template = service.template.clone().unwrap_or_default();
    service
        .labels
        .keys()
        .chain(service.annotations.keys())
        .chain(template.labels.keys())
        .chain(template.annotations.keys())
        .cloned()
        .collect()
}

#[test]
fn every_service_carries_its_owners_identity() {
    let p = requests(&simple("", ""));
    let labels: std::collections::BTreeMap<_, _> = p.service.labels.clone().into_iter().collect();
    assert_eq!(
        labels,
        [
            ("ferry-name", "hello"),
            ("ferry-namespace", "shop"),
            ("ferry-uid", UID),
            ("managed-by", "ferry"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    );
    for (key, value) in &labels {
        assert!(is_label_key(key), "label key {key:?}");
        assert!(is_label_value(value), "label value {value:?}");
    }
}

#[test]
fn an_object_without_a_uid_yet_renders_without_the_uid_label() {
    let mut svc = serverless_service(&simple("", ""));
    svc.metadata.uid = None;
    let p = requests_for(&desired_of(&svc));
    assert!(!p.service.labels.contains_key(LABEL_UID));
    assert_eq!(p.service.labels[LABEL_MANAGED_BY], "ferry");
}

#[test]
fn label_values_are_mapped_into_googles_alphabet() {
    assert_eq!(label_value("shop"), "shop");
    assert_eq!(label_value(UID), UID);
    assert_eq!(label_value("Shop.Hello/x"), "shop_hello_x");
    assert_eq!(label_value(&"a".repeat(80)).len(), 63);
}

#[test]
fn the_fingerprint_is_an_annotation_outside_cloud_runs_namespaces() {
    let p = requests(&simple("", ""));
    assert_eq!(
        p.service.annotations.get(FINGERPRINT_ANNOTATION),
        Some(&p.fingerprint)
    );
    assert_eq!(p.fingerprint.len(), 16);
    assert!(p.service.template.as_ref().unwrap().annotations.is_empty());
}

#[test]
fn no_built_service_carries_a_label_or_annotation_cloud_run_v2_rejects() {
    let specs = [
        simple("", ""),
        simple(
            "probes: {readiness: {httpGet: {path: /ready}}}, \
             resources: {cpu: '4', memory: 16Gi, gpu: {count: 1, type: nvidia-l4}}",
            "ingress: public, scaling: {minInstances: 1, maxInstances: 3}, \
             cloudRun: {allowUnauthenticated: true, executionEnvironment: gen2, \
                        startupCpuBoost: true}",
        ),
        simple("resources: {cpu: 250m, memory: 256Mi}", "concurrency: 1"),
    ];
    for spec in specs {
        let p = requests(&spec);
        for key in keys(&p.service) {
            assert!(
                !RESERVED_KEY_PREFIXES.iter().any(|p| key.starts_with(p)),
                "{key} in {spec}"
            );
        }
    }
}

#[test]
fn labels_and_the_client_are_not_part_of_the_fingerprint() {
    let mut other = serverless_service(&simple("", ""));
    other.metadata.uid = Some("11111111-2222-4333-8444-555555555555".into());
    let a = requests(&simple("", ""));
    let b = requests_for(&desired_of(&other));
    assert_ne!(a.service.labels, b.service.labels);
    assert_eq!(
        a.fingerprint, b.fingerprint,
        "a new owner is not a new spec"
    );
}

#[test]
fn a_service_is_ours_when_labelled_with_our_uid_or_released_by_an_earlier_object() {
    let p = requests(&simple("", ""));
    let observed = mirror(&p);
    assert!(is_ours(&observed, Some(UID)));
    assert!(!is_ours(
        &observed,
        Some("11111111-2222-4333-8444-555555555555")
    ));
    assert!(!is_ours(&observed, None));

    let mut released = observed.clone();
    released.labels.remove(LABEL_UID);
    assert!(is_ours(&released, Some(UID)), "adoptable");

    let mut foreign = observed;
    foreign.labels.clear();
    assert!(!is_ours(&foreign, Some(UID)), "made by someone else");
}

#[test]
fn different_specs_have_different_fingerprints_and_the_same_spec_the_same() {
    let specs = [
        simple("", ""),
        simple("", "ingress: internal"),
        simple("env: [{name: MODE, value: prod}]", ""),
        simple(
            "",
            "traffic: [{latestRevision: true, percent: 100, tag: live}]",
        ),
        simple("", "scaling: {minInstances: 1}"),
        simple("", "cloudRun: {startupCpuBoost: true}"),
        simple("", "cloudRun: {region: europe-west4}"),
    ];
    let fingerprints: Vec<String> = specs.iter().map(|s| requests(s).fingerprint).collect();
    let unique: std::collections::BTreeSet<&String> = fingerprints.iter().collect();
    assert_eq!(unique.len(), specs.len(), "{fingerprints:?}");
    for spec in &specs {
        assert_eq!(requests_for(&desired(spec)), requests(spec));
    }
    assert_eq!(
        build::requests(
            &desired(&specs[0]),
            &crate::common::example_provider_config()
        )
        .unwrap()
        .fingerprint,
        fingerprints[0]
    );
}
