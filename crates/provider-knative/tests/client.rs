//! The Knative client against the Kubernetes API stand-in serving Knative Serving's real CRDs:
//! a write answers with how the Service stands, and an observation reads the controller's watch
//! cache (metadata and status, no spec) when the copy has the fingerprint and generation Ferry
//! knows the Service to hold, asking the API server otherwise. The stand-in's audit log counts
//! the client's reads; the test feeds the cache by hand, trimmed as the controller keeps it, so
//! which copy it holds is certain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use ferry_core::status::Readiness;
use ferry_provider::backend::Caches;
use ferry_provider::{Connector, Observation};
use ferry_provider_knative::Knative;
use ferry_provider_knative::client::{KnativeConnector, api_resource, keep_in_cache};
use ferry_testkit::builders::{desired_of, serverless_service};
use kube::ResourceExt as _;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use serde_json::json;

/// Who the client under test is, in the audit log.
const FERRY: &str = "ferry";

fn shared_data() -> PathBuf {
    std::env::var_os("FERRY_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    )
}

async fn client_as(standin: &kube_standin::StandIn, user: &str) -> kube::Client {
    let kubeconfig = Kubeconfig::from_yaml(&standin.kubeconfig_as(Some(user))).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The client's GETs of Knative Services so far.
fn gets(log: &Path) -> usize {
    kube_standin::audit::read(log)
        .unwrap()
        .iter()
        .filter(|r| {
            let a = &r.attributes;
            a.user == FERRY && a.verb == "get" && a.resource == "services"
        })
        .count()
}

/// A stand-in serving Knative's CRDs that writes an audit log (in the returned directory, which
/// must outlive it), with `namespaces` created.
async fn audited_standin(
    namespaces: &[&str],
) -> (tempfile::TempDir, std::path::PathBuf, kube_standin::StandIn) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let config = kube_standin::Config {
        audit_log: Some(log.clone()),
        ..kube_standin::Config::default()
    }
    .with_crds_from(&shared_data().join("data/knative-serving-crds"))
    .unwrap();
    let standin = kube_standin::StandIn::start(config).await.unwrap();
    let test = client_as(&standin, "test").await;
    for namespace in namespaces {
        Api::<k8s_openapi::api::core::v1::Namespace>::all(test.clone())
            .patch(
                namespace,
                &PatchParams::apply("test"),
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": namespace}})),
            )
            .await
            .unwrap();
    }
    (dir, log, standin)
}

#[tokio::test(flavor = "multi_thread")]
async fn observe_reads_the_watch_cache_when_it_holds_what_ferry_last_applied() {
    let (_dir, log, standin) = audited_standin(&["shop"]).await;
    let test = client_as(&standin, "test").await;
    let services: Api<DynamicObject> = Api::namespaced_with(test, "shop", &api_resource());

    // The cache the controller's watch of Knative Services would keep, fed by hand here.
    let caches = Caches::default();
    let mut writer = Writer::new(api_resource());
    caches.set(&api_resource(), Some(writer.as_reader()));
    let mut cache = |mut service: DynamicObject| {
        keep_in_cache(&mut service);
        writer.apply_watcher_event(&watcher::Event::Apply(service));
    };

    let svc = serverless_service(
        "{provider: knative, containers: [{name: app, image: 'ghcr.io/acme/hello:1', port: 8080}]}",
    );
    let want = desired_of(&svc, &Knative);
    let ferry = client_as(&standin, FERRY).await;
    let connector = KnativeConnector::new(ferry.clone(), caches.clone());
    let knative = connector.connect(&svc).await.unwrap();

    // Nothing cached: the API server is asked, and has nothing.
    assert_eq!(knative.observe(&want).await.unwrap(), Observation::Absent);
    assert_eq!(gets(&log), 1);

    // The write answers with the Service as the next observation will see it.
    let started = knative.create(&want).await.unwrap();
    let (readiness, outputs) = started.state.expect("the apply's answer");
    assert_eq!(
        readiness,
        Readiness::Progressing("Knative has not yet processed generation 1".into())
    );
    assert_eq!(
        outputs.resource_id.as_deref(),
        Some("services.serving.knative.dev/shop/hello")
    );

    // With the created Service in the cache, observations read it there.
    let first = services.get("hello").await.unwrap();
    cache(first.clone());
    for _ in 0..3 {
        let seen = knative.observe(&want).await.unwrap();
        assert!(
            matches!(
                seen,
                Observation::Present {
                    up_to_date: true,
                    ..
                }
            ),
            "{seen:?}"
        );
    }
    assert_eq!(gets(&log), 1, "served from the cache");

    // After an update the cache still holds the copy from before it: not trusted, the API
    // server is asked, and its copy is the new one.
    let mut changed = svc.clone();
    changed.spec.containers[0].image = "ghcr.io/acme/hello:2".into();
    let want = desired_of(&changed, &Knative);
    knative.update(&want).await.unwrap();
    let seen = knative.observe(&want).await.unwrap();
    assert!(
        matches!(
            seen,
            Observation::Present {
                up_to_date: true,
                ..
            }
        ),
        "the API server's copy is the updated one: {seen:?}"
    );
    assert_eq!(gets(&log), 2, "the stale copy sent it to the API server");

    // Once the watch brings the updated copy, the cache serves again.
    cache(services.get("hello").await.unwrap());
    knative.observe(&want).await.unwrap();
    assert_eq!(gets(&log), 2, "served from the cache");

    // Someone took Ferry's label off: the cached metadata says so, and it is put back.
    let mut edited = services.get("hello").await.unwrap();
    edited.labels_mut().remove("app.kubernetes.io/name");
    cache(edited);
    let seen = knative.observe(&want).await.unwrap();
    assert!(
        matches!(
            seen,
            Observation::Present {
                up_to_date: false,
                ..
            }
        ),
        "{seen:?}"
    );

    // A new operator process (a restart) knows nothing yet: it asks the API server once,
    // then trusts the cache.
    cache(services.get("hello").await.unwrap());
    let restarted = KnativeConnector::new(ferry, caches)
        .connect(&svc)
        .await
        .unwrap();
    for _ in 0..2 {
        let seen = restarted.observe(&want).await.unwrap();
        assert!(
            matches!(
                seen,
                Observation::Present {
                    up_to_date: true,
                    ..
                }
            ),
            "{seen:?}"
        );
    }
    assert_eq!(gets(&log), 3, "one read after the restart, then the cache");
}

/// How many times the client read Knative's feature flags so far.
fn flag_reads(log: &Path) -> usize {
    kube_standin::audit::read(log)
        .unwrap()
        .iter()
        .filter(|r| {
            let a = &r.attributes;
            a.user == FERRY
                && a.verb == "get"
                && a.resource == "configmaps"
                && a.namespace == "knative-serving"
                && a.name == "config-features"
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_behind_feature_flags_are_refused_naming_the_flags_that_are_off_until_enabled() {
    use ferry_api::conditions::reasons;
    use ferry_provider::{Deletion, ProviderError};
    use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim};
    let (_dir, log, standin) = audited_standin(&["shop", "knative-serving"]).await;
    let test = client_as(&standin, "test").await;
    let set_flags = |data: serde_json::Value| {
        let test = test.clone();
        async move {
            Api::<ConfigMap>::namespaced(test, "knative-serving")
                .patch(
                    "config-features",
                    &PatchParams::apply("test").force(),
                    &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "config-features"},
                                         "data": data})),
                )
                .await
                .unwrap();
        }
    };
    // Without a UID (the object is not in the stand-in): no owner reference, which the
    // stand-in's garbage collector would follow to an object that does not exist.
    let unowned = |spec: &str| {
        let mut svc = serverless_service(spec);
        svc.metadata.uid = None;
        svc
    };
    let svc = unowned(
        "{provider: knative, \
          containers: [{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
                        volumeMounts: [{name: data, mountPath: /data}, \
                                       {name: conf, mountPath: /etc/app}]}], \
          volumes: [{name: data, efs: {fileSystemId: fs-0123456789abcdef0}}, \
                    {name: conf, secret: {name: conf}}]}",
    );
    let want = desired_of(&svc, &Knative);
    let knative = KnativeConnector::new(client_as(&standin, FERRY).await, Caches::default())
        .connect(&svc)
        .await
        .unwrap();
    let services: Api<DynamicObject> = Api::namespaced_with(test.clone(), "shop", &api_resource());
    let volumes = Api::<PersistentVolume>::all(test.clone());
    let claims = Api::<PersistentVolumeClaim>::namespaced(test.clone(), "shop");
    let held = || async {
        (
            services
                .list(&kube::api::ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
            volumes
                .list(&kube::api::ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
            claims
                .list(&kube::api::ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
        )
    };
    let refusal = |error: ProviderError| match error {
        ProviderError::Terminal {
            reason,
            message,
            recheck,
        } => {
            assert_eq!(reason, reasons::UNSUPPORTED);
            assert!(recheck.is_some(), "Ferry looks again");
            message
        }
        other => panic!("expected a terminal refusal, got {other:?}"),
    };

    // No config-features at all: Knative's defaults, both flags off; nothing is made.
    let message = refusal(knative.create(&want).await.unwrap_err());
    assert!(
        message.contains("kubernetes.podspec-persistent-volume-claim")
            && message.contains("kubernetes.podspec-persistent-volume-write"),
        "{message}"
    );
    assert_eq!(held().await, (0, 0, 0));

    // Claims allowed, but not for writing: the write flag alone is named.
    set_flags(json!({"kubernetes.podspec-persistent-volume-claim": "enabled"})).await;
    let message = refusal(knative.create(&want).await.unwrap_err());
    assert!(
        message.contains("kubernetes.podspec-persistent-volume-write")
            && !message.contains("kubernetes.podspec-persistent-volume-claim ("),
        "{message}"
    );
    assert_eq!(held().await, (0, 0, 0));

    // Both on: the PersistentVolume and claim, then the Service that mounts the claim.
    set_flags(
        json!({"kubernetes.podspec-persistent-volume-claim": "Enabled",
                     "kubernetes.podspec-persistent-volume-write": "Enabled"}),
    )
    .await;
    knative.create(&want).await.unwrap();
    assert_eq!(held().await, (1, 1, 1));
    let name = ferry_provider_knative::build::claims(&want)[0].name.clone();
    let service = services.get("hello").await.unwrap();
    assert_eq!(
        service.data["spec"]["template"]["spec"]["volumes"][0],
        json!({"name": "data", "persistentVolumeClaim": {"claimName": name}})
    );
    assert!(matches!(
        knative.observe(&want).await.unwrap(),
        Observation::Present {
            up_to_date: true,
            ..
        }
    ));
    let reads = flag_reads(&log);
    assert_eq!(reads, 3, "one read per apply");

    // A service without flagged volumes never reads them.
    let plain = unowned(
        "{provider: knative, \
          containers: [{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
                        volumeMounts: [{name: conf, mountPath: /etc/app}]}], \
          volumes: [{name: conf, secret: {name: conf}}]}",
    );
    knative.update(&desired_of(&plain, &Knative)).await.unwrap();
    assert_eq!(flag_reads(&log), reads);
    // And its efs volume's claim, no longer wanted, is gone.
    assert_eq!(held().await, (1, 0, 0));

    // Back with the volume, then deleted: the claim goes with the Service.
    knative.update(&want).await.unwrap();
    assert_eq!(held().await, (1, 1, 1));
    let object = want.object.clone();
    assert_eq!(knative.delete(&object).await.unwrap(), Deletion::InProgress);
    assert_eq!(knative.delete(&object).await.unwrap(), Deletion::Gone);
    assert_eq!(held().await, (0, 0, 0));

    // An emptyDir with its flag turned off is refused naming it.
    set_flags(json!({"kubernetes.podspec-volumes-emptydir": "disabled"})).await;
    let scratch = unowned(
        "{provider: knative, \
          containers: [{name: app, image: 'ghcr.io/acme/hello:1', port: 8080, \
                        volumeMounts: [{name: tmp, mountPath: /tmp/x}]}], \
          volumes: [{name: tmp, emptyDir: {}}]}",
    );
    let message = refusal(
        knative
            .create(&desired_of(&scratch, &Knative))
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("kubernetes.podspec-volumes-emptydir"),
        "{message}"
    );
}
