//! Every object's requests as `ferry render` prints them, compared with the committed JSON in
//! `tests/snapshots/`: every Cloud Run example in `deploy/examples/` (under the ProviderConfig
//! it names there) and a few richer specs. `FERRY_BLESS=1` rewrites the files instead.

use ferry_api::CloudRunProviderConfig;
use ferry_provider_cloudrun::build::{self, Requests};
use ferry_testkit::Snapshots;
use ferry_testkit::builders::{
    Example, example_provider_configs, examples_with_configs, named_service,
};

use crate::common::{GCP_PROD, crate_dir, desired_of, example_provider_config};

/// A snapshot: its file name, the object, and the ProviderConfig its requests are built under.
pub(crate) type Case = Example<CloudRunProviderConfig>;

/// The requests of `case`.
pub(crate) fn case_requests(case: &Case) -> Requests {
    build::requests(&desired_of(&case.svc), &case.config)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name))
}

/// Every Cloud Run ServerlessService in `deploy/examples/`, under the ProviderConfig it names.
fn cloud_run_examples() -> Vec<Case> {
    examples_with_configs("cloudRun", |spec| spec.cloud_run)
}

/// Richer specs than the examples, each showing a part of the mapping.
fn inline_cases() -> Vec<Case> {
    // (snapshot, namespace, metadata.name, UID as the API server would have given one, spec)
    let cases = [
        (
            "sidecar-connector-internal",
            "payments",
            "checkout",
            Some("3f0e8a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"),
            "{provider: cloudRun, \
              containers: [\
               {name: app, image: 'europe-docker.pkg.dev/acme-prod/payments/checkout:3.2.0', \
                port: 8080, command: [/checkout], args: [serve, --verbose], \
                env: [{name: LOG_LEVEL, value: info}, \
                      {name: STRIPE_KEY, secret: {name: projects/acme-secrets/secrets/stripe, key: '4'}}], \
                resources: {cpu: '2', memory: 2Gi}, \
                probes: {startup: {httpGet: {path: /started}, periodSeconds: 2, failureThreshold: 60}, \
                         liveness: {httpGet: {path: /live, httpHeaders: [{name: X-Probe, value: live}]}, \
                                    periodSeconds: 30, timeoutSeconds: 5}}}, \
               {name: collector, image: 'otel/opentelemetry-collector-contrib:0.110.0', \
                args: [--config=/etc/otelcol/config.yaml], resources: {cpu: '1', memory: 512Mi}, \
                probes: {startup: {tcpSocket: {port: 4317}}}}], \
              concurrency: 200, timeoutSeconds: 900, ingress: internal, \
              scaling: {minInstances: 2, maxInstances: 20}, \
              cloudRun: {project: acme-payments, serviceAccount: checkout@acme-payments.iam.gserviceaccount.com, \
                         cpuIdle: false, startupCpuBoost: true, executionEnvironment: gen2, \
                         vpcAccess: {connector: projects/acme-payments/locations/europe-west1/connectors/payments, \
                                     egress: ALL_TRAFFIC}}}",
        ),
        (
            "direct-vpc-split-preview",
            "shop",
            "catalog",
            None,
            "{provider: cloudRun, \
              containers: [{name: api, image: 'europe-docker.pkg.dev/acme-prod/shop/catalog:7.0.1', \
                            port: 50051, \
                            probes: {readiness: {grpc: {service: catalog.v1.Catalog}, periodSeconds: 5}, \
                                     liveness: {grpc: {}, initialDelaySeconds: 10}}}], \
              traffic: [{latestRevision: true, percent: 25, tag: next}, \
                        {revisionName: shop-catalog-8d6c0c2a-00007-vum, percent: 75, tag: stable}], \
              cloudRun: {allowUnauthenticated: true, executionEnvironment: gen2, \
                         vpcAccess: {egress: PRIVATE_RANGES_ONLY, \
                                     networkInterfaces: [{network: shop, subnetwork: shop-europe-west1, \
                                                          tags: [cloud-run, catalog]}]}}}",
        ),
        (
            "fractional-cpu",
            "tools",
            "webhook",
            Some("9b2c7d10-1e2f-4a3b-8c4d-5e6f7a8b9c0d"),
            "{provider: cloudRun, \
              containers: [{name: webhook, image: 'ghcr.io/acme/webhook:0.9.3', port: 3000, \
                            resources: {cpu: 250m, memory: 256Mi}}], \
              concurrency: 1, timeoutSeconds: 30, scaling: {maxInstances: 5}}",
        ),
    ];
    cases
        .into_iter()
        .map(|(snapshot, namespace, name, uid, spec)| Case {
            name: snapshot.to_owned(),
            svc: named_service(Some(namespace), name, uid, spec),
            config_name: GCP_PROD.to_owned(),
            config: example_provider_config(),
        })
        .collect()
}

/// Every snapshot case: the examples first.
pub(crate) fn cases() -> Vec<Case> {
    let examples = cloud_run_examples();
    assert!(
        examples.len() >= 2,
        "deploy/examples/ holds fewer Cloud Run ServerlessServices than expected"
    );
    assert!(
        example_provider_configs(|spec| spec.cloud_run)
            .iter()
            .any(|(name, _)| name == GCP_PROD)
    );
    examples.into_iter().chain(inline_cases()).collect()
}

fn render(case: &Case) -> String {
    let mut json = serde_json::to_string_pretty(&case_requests(case).rendered()).unwrap();
    json.push('\n');
    json
}

fn snapshots() -> Snapshots {
    Snapshots {
        dir: crate_dir().join("tests/snapshots"),
        extension: "json",
        bless_command: "FERRY_BLESS=1 cargo test -p ferry-provider-cloudrun --test build",
    }
}

#[test]
fn built_services_match_the_snapshots() {
    snapshots().compare(cases().iter().map(|case| (case.name.clone(), render(case))));
}

#[test]
fn every_snapshot_belongs_to_a_case() {
    snapshots().no_stale(cases().into_iter().map(|case| case.name));
}

#[test]
fn building_the_same_spec_twice_renders_the_same_bytes() {
    for case in cases() {
        assert_eq!(render(&case), render(&case), "{}", case.name);
    }
}

#[test]
fn every_rendered_service_is_the_one_the_client_sends() {
    for case in cases() {
        let requests = case_requests(&case);
        let rendered = requests.rendered()["createService"]["service"].clone();
        let back: google_cloud_run_v2::model::Service = serde_json::from_value(rendered).unwrap();
        assert_eq!(back, requests.service, "{}", case.name);
    }
}
