//! Every object of whole services, compared with the committed YAML in `tests/snapshots/` (the
//! testkit's `Snapshots`): every kubernetes example in `deploy/examples/` and a few richer
//! specs, one file per service with its objects in the order they are applied (an efs volume's
//! PersistentVolume and claim first).
//! `FERRY_BLESS=1` rewrites the files instead.

use std::path::PathBuf;

use ferry_api::ServerlessService;
use ferry_provider::backend::Backend;
use ferry_provider_kubernetes::Kubernetes;
use ferry_provider_kubernetes::build::claims;
use ferry_testkit::Snapshots;
use ferry_testkit::builders::{example_services, named_service};

use crate::common::{build_checked, desired_of};

fn snapshots() -> Snapshots {
    Snapshots {
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"),
        extension: "yaml",
        bless_command: "FERRY_BLESS=1 cargo test -p ferry-provider-kubernetes --test build",
    }
}

/// Richer specs than the examples, each showing a part of the mapping.
fn inline_cases() -> Vec<(String, ServerlessService)> {
    // (snapshot, metadata.name, UID as the API server would have given one, spec)
    let cases = [
        (
            "sidecar-with-probes",
            "shop",
            Some("3f0e8a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"),
            "{provider: kubernetes, \
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
              scaling: {minInstances: 2, maxInstances: 10, metric: cpu, target: 70, \
                        scaleDownDelaySeconds: 300}, \
              kubernetes: {ingressClassName: nginx, host: shop.example.com, \
                           ingressAnnotations: {cert-manager.io/cluster-issuer: letsencrypt}}}",
        ),
        (
            "internal-fixed-count",
            "ledger",
            None,
            "{provider: kubernetes, \
              containers: [{name: app, image: 'ghcr.io/acme/ledger:2.0.0', port: 9000, \
                            command: [/ledger], args: [serve, --grpc], \
                            resources: {cpu: '2', memory: 4Gi, ephemeralStorage: 10Gi}, \
                            probes: {readiness: {grpc: {}}, liveness: {grpc: {}, periodSeconds: 30}}}], \
              ingress: internal, \
              scaling: {minInstances: 3}, \
              kubernetes: {serviceAccountName: ledger, \
                           nodeSelector: {kubernetes.io/arch: arm64, pool: stateful}, \
                           verticalPodAutoscaler: {updateMode: Initial}}}",
        ),
        (
            "gke-bucket",
            "catalog",
            Some("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
            "{provider: kubernetes, \
              containers: [{name: app, image: 'ghcr.io/acme/catalog:5.0.0', port: 8080, \
                            resources: {cpu: '1', memory: 1Gi}, \
                            volumeMounts: [{name: assets, mountPath: /srv/assets}, \
                                           {name: cache, mountPath: /var/cache/catalog}]}], \
              volumes: [{name: assets, gcs: {bucket: acme-catalog-assets, readOnly: true}}, \
                        {name: cache, emptyDir: {sizeLimit: 2Gi}}], \
              ingress: internal, \
              kubernetes: {serviceAccountName: catalog}}",
        ),
        (
            "aks-share",
            "ledger-files",
            None,
            "{provider: kubernetes, \
              containers: [{name: app, image: 'ghcr.io/acme/ledger:2.0.0', port: 9000, \
                            resources: {cpu: 500m, memory: 512Mi}, \
                            volumeMounts: [{name: files, mountPath: /mnt/files, subPath: ledger}]}], \
              volumes: [{name: files, azureFile: {shareName: ledger, storageAccount: acmefiles, \
                                                  secretRef: {name: acme-files, \
                                                              key: azurestorageaccountkey}}}], \
              ingress: internal}",
        ),
        (
            "memory-scaled",
            "worker",
            None,
            "{provider: kubernetes, \
              containers: [{name: worker, image: 'ghcr.io/acme/worker:1.1.0', port: 8080, \
                            resources: {cpu: 500m, memory: 2Gi}}, \
                           {name: cache, image: 'docker.io/library/redis:7.4', \
                            resources: {memory: 512Mi}}], \
              scaling: {minInstances: 1, maxInstances: 4, metric: memory, target: 75, \
                        scaleDownDelaySeconds: 600}, \
              kubernetes: {ingressClassName: traefik}}",
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
    let examples = example_services("kubernetes");
    assert!(
        examples.len() >= 2,
        "deploy/examples/ holds {} kubernetes ServerlessServices, expected the hello and \
         EKS Fargate ones",
        examples.len()
    );
    examples.into_iter().chain(inline_cases()).collect()
}

fn render(svc: &ServerlessService) -> String {
    let desired = desired_of(svc);
    // The PersistentVolume and claim of each efs volume first, as they are applied.
    let documents: Vec<String> = claims(&desired)
        .iter()
        .flat_map(|c| [c.persistent_volume_value(), c.claim_value()])
        .chain(build_checked(&desired).into_values())
        .map(|object| serde_saphyr::to_string(&object).unwrap())
        .collect();
    let body = documents.join("---\n");
    // What `ferry render` prints for the service is the same.
    let rendered = Kubernetes.render(&desired, "default", None).unwrap();
    assert_eq!(rendered.body, body);
    format!(
        "# Generated by the snapshot test in tests/build/snapshots.rs (FERRY_BLESS=1 rewrites it).\n{body}"
    )
}

#[test]
fn built_objects_match_the_snapshots() {
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
