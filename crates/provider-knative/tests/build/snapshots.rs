//! Whole Services, compared with the committed YAML in `tests/snapshots/`: every Knative example
//! in `deploy/examples/` and a few richer specs. `FERRY_BLESS=1` rewrites the files instead.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ferry_api::ServerlessService;
use serde_json::Value;

use crate::common::{build_checked, desired_of, serverless_service};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn snapshot_dir() -> PathBuf {
    crate_dir().join("tests/snapshots")
}

fn blessing() -> bool {
    std::env::var_os("FERRY_BLESS").is_some_and(|v| v == "1")
}

/// Every Knative ServerlessService in `deploy/examples/`, named after its file (and its name,
/// when a file holds several).
fn knative_examples() -> Vec<(String, ServerlessService)> {
    let dir = crate_dir().join("../../deploy/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let knative: Vec<Value> = docs
            .into_iter()
            .filter(|d| d["kind"] == "ServerlessService" && d["spec"]["provider"] == "knative")
            .collect();
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let several = knative.len() > 1;
        for doc in knative {
            let svc: ServerlessService =
                serde_json::from_value(doc).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let name = if several {
                format!("{stem}-{}", svc.metadata.name.clone().unwrap_or_default())
            } else {
                stem.clone()
            };
            out.push((name, svc));
        }
    }
    out
}

/// Richer specs than the examples, each showing a part of the mapping.
fn inline_cases() -> Vec<(String, ServerlessService)> {
    // (snapshot, metadata.name, UID as the API server would have given one, spec)
    let cases = [
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
            let mut svc = serverless_service(spec);
            svc.metadata.name = Some(name.to_owned());
            svc.metadata.uid = uid.map(str::to_owned);
            (snapshot.to_owned(), svc)
        })
        .collect()
}

fn cases() -> Vec<(String, ServerlessService)> {
    let examples = knative_examples();
    assert!(
        !examples.is_empty(),
        "deploy/examples/ holds no Knative ServerlessService"
    );
    examples.into_iter().chain(inline_cases()).collect()
}

fn render(svc: &ServerlessService) -> String {
    let service = build_checked(&desired_of(svc));
    let yaml = serde_saphyr::to_string(&service).unwrap();
    format!(
        "# Generated by the snapshot test in tests/build/snapshots.rs (FERRY_BLESS=1 rewrites it).\n{yaml}"
    )
}

fn check(path: &Path, rendered: &str) -> Option<String> {
    if blessing() {
        std::fs::write(path, rendered).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return None;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    (committed != rendered).then(|| {
        format!(
            "{} differs from what the builder makes now.\n--- committed\n{committed}\n--- built\n\
             {rendered}",
            path.display()
        )
    })
}

#[test]
fn built_services_match_the_snapshots() {
    let mut failures = Vec::new();
    for (name, svc) in cases() {
        let path = snapshot_dir().join(format!("{name}.yaml"));
        failures.extend(check(&path, &render(&svc)));
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the change is intended, rewrite the snapshots with \
         FERRY_BLESS=1 cargo test -p ferry-provider-knative, and review the diff.",
        failures.join("\n\n")
    );
}

#[test]
fn every_snapshot_belongs_to_a_case() {
    let expected: BTreeSet<String> = cases()
        .into_iter()
        .map(|(name, _)| format!("{name}.yaml"))
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(snapshot_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let stale: Vec<&String> = present.difference(&expected).collect();
    if blessing() {
        for file in stale {
            std::fs::remove_file(snapshot_dir().join(file)).unwrap();
        }
        return;
    }
    assert!(
        stale.is_empty(),
        "snapshots no case renders: {stale:?}; delete them or run with FERRY_BLESS=1"
    );
}

#[test]
fn building_the_same_spec_twice_renders_the_same_bytes() {
    for (name, svc) in cases() {
        assert_eq!(render(&svc), render(&svc), "{name}");
    }
}
