//! Whole Services, compared with the committed YAML in `tests/snapshots/` (the testkit's
//! `Snapshots`): every Knative example in `deploy/examples/` and a few richer specs, each with
//! the PersistentVolume and claim of its nfs and efs volumes first.
//! `FERRY_BLESS=1` rewrites the files instead.

use std::path::PathBuf;

use ferry_api::ServerlessService;
use ferry_provider::backend::Backend;
use ferry_provider_knative::Knative;
use ferry_provider_knative::build::claims;
use ferry_testkit::Snapshots;
use ferry_testkit::builders::{example_services, named_service};

use crate::common::{build_checked, desired_of};

fn snapshots() -> Snapshots {
    Snapshots {
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"),
        extension: "yaml",
        bless_command: "FERRY_BLESS=1 cargo test -p ferry-provider-knative",
    }
}

/// Richer specs than the examples, each showing a part of the mapping.
fn inline_cases() -> Vec<(String, ServerlessService)> {
    // (snapshot, metadata.name, UID as the API server would have given one, spec)
    let cases = [
        (
            "efs-shared-writes",
            "uploads",
            Some("2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"),
            "{provider: knative, \
              containers: [{name: app, image: 'ghcr.io/acme/uploads:1.0.0', port: 8080, \
                            volumeMounts: [{name: data, mountPath: /srv/uploads}, \
                                           {name: tmp, mountPath: /tmp/uploads}]}, \
                           {name: scanner, image: 'ghcr.io/acme/scanner:2', \
                            volumeMounts: [{name: data, mountPath: /scan, subPath: incoming, \
                                            readOnly: true}]}], \
              volumes: [{name: data, efs: {fileSystemId: fs-0123456789abcdef0, \
                                           accessPointId: fsap-0123456789abcdef0, \
                                           transitEncryption: true}}, \
                        {name: tmp, emptyDir: {sizeLimit: 1Gi}}], \
              scaling: {minInstances: 1, maxInstances: 5}}",
        ),
        (
            "sidecar-with-probes",
            "shop",
            None,
            "{provider: knative, \
              containers: [\
               {name: app, image: 'ghcr.io/acme/shop:3.2.0', port: 8080, \
                env: [{name: LOG_LEVEL, value: info}, \
                      {name: DB_URL, secret: {name: shop-db, key: url}}], \
                resources: {cpu: 750m, memory: 768Mi}, \
                probes: {startup: {tcpSocket: {}, periodSeconds: 2, failureThreshold: 30}, \
                         readiness: {httpGet: {path: /ready, httpHeaders: [{name: X-Probe, value: ready}]}, \
                                     timeoutSeconds: 2}, \
                         liveness: {httpGet: {path: /live}, initialDelaySeconds: 10, periodSeconds: 20}}}, \
               {name: envoy, image: 'docker.io/envoyproxy/envoy:v1.31.0', args: [-c, /etc/envoy/envoy.yaml], \
                resources: {cpu: 100m, memory: 64Mi}, \
                probes: {readiness: {httpGet: {path: /ready, port: 9901}}, \
                         liveness: {tcpSocket: {port: 9901}}}}], \
              concurrency: 100, timeoutSeconds: 60, \
              scaling: {minInstances: 1, maxInstances: 10, metric: concurrency, target: 70}}",
        ),
        (
            "gpu",
            "llm",
            None,
            "{provider: knative, \
              containers: [{name: model, image: 'ghcr.io/acme/llm-server:0.9.1', port: 8000, \
                            command: [python, -m, server], \
                            resources: {cpu: '8', memory: 32Gi, ephemeralStorage: 50Gi, \
                                        gpu: {count: 1}}, \
                            probes: {startup: {httpGet: {path: /health}, periodSeconds: 10, \
                                               failureThreshold: 60}, \
                                     liveness: {grpc: {port: 8001, service: inference}}}}], \
              concurrency: 4, timeoutSeconds: 600, \
              scaling: {minInstances: 0, maxInstances: 2, initialInstances: 1, scaleDownDelaySeconds: 600}, \
              knative: {serviceAccountName: llm, \
                        nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}, \
                        annotations: {autoscaling.knative.dev/window: 120s}}}",
        ),
        (
            "hpa-cpu",
            "api",
            None,
            "{provider: knative, \
              containers: [{name: api, image: 'ghcr.io/acme/api:5.0.0', port: 9000, \
                            resources: {cpu: '1.5', memory: 1536Mi}, \
                            probes: {readiness: {grpc: {}}}}], \
              scaling: {minInstances: 2, maxInstances: 20, metric: cpu, target: 65, \
                        scaleDownDelaySeconds: 120}}",
        ),
        (
            "hpa-memory",
            "worker",
            None,
            "{provider: knative, \
              containers: [{name: worker, image: 'ghcr.io/acme/worker:1.1.0', port: 8080, \
                            resources: {cpu: 500m, memory: 2Gi}}, \
                           {name: cache, image: 'docker.io/library/redis:7.4', \
                            resources: {memory: 512Mi}}], \
              scaling: {minInstances: 1, maxInstances: 4, metric: memory, target: 75}}",
        ),
        (
            "internal-with-tags",
            "ledger",
            Some("3f0e8a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"),
            "{provider: knative, \
              containers: [{name: app, image: 'ghcr.io/acme/ledger:2.0.0', port: 8080}], \
              ingress: internal, \
              traffic: [{revisionName: ledger-00007, percent: 90, tag: stable}, \
                        {latestRevision: true, percent: 10, tag: canary}, \
                        {revisionName: ledger-00006, percent: 0, tag: previous}], \
              knative: {ingressClass: kourier.ingress.networking.knative.dev}}",
        ),
    ];
    cases
        .into_iter()
        .map(|(snapshot, name, uid, spec)| {
            (snapshot.to_owned(), named_service(None, name, uid, spec))
        })
        .collect()
}

fn cases() -> Vec<(String, ServerlessService)> {
    let examples = example_services("knative");
    assert!(
        !examples.is_empty(),
        "deploy/examples/ holds no Knative ServerlessService"
    );
    examples.into_iter().chain(inline_cases()).collect()
}

fn render(svc: &ServerlessService) -> String {
    let desired = desired_of(svc);
    // The PersistentVolume and claim of each nfs and efs volume first, as they are applied.
    let documents: Vec<String> = claims(&desired)
        .iter()
        .flat_map(|c| [c.persistent_volume_value(), c.claim_value()])
        .chain(std::iter::once(build_checked(&desired)))
        .map(|object| serde_saphyr::to_string(&object).unwrap())
        .collect();
    let yaml = documents.join("---\n");
    // What `ferry render` prints for the service is the same.
    let rendered = Knative.render(&desired, "default", None).unwrap();
    assert_eq!(rendered.body, yaml);
    format!(
        "# Generated by the snapshot test in tests/build/snapshots.rs (FERRY_BLESS=1 rewrites it).\n{yaml}"
    )
}

#[test]
fn built_services_match_the_snapshots() {
    snapshots().compare(
        cases()
            .iter()
            .map(|(name, svc)| (name.clone(), render(svc))),
    );
}

#[test]
fn every_snapshot_belongs_to_a_case() {
    snapshots().no_stale(cases().into_iter().map(|(name, _)| name));
}

#[test]
fn building_the_same_spec_twice_renders_the_same_bytes() {
    for (name, svc) in cases() {
        assert_eq!(render(&svc), render(&svc), "{name}");
    }
}
