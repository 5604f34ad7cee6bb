//! Volumes on the Knative backend, end to end: the real `ferry controller` against the stand-in
//! API server serving Knative Serving's real CRDs (or a real cluster with
//! `FERRY_E2E_KUBECONFIG`). A service mounts a Secret, an in-memory directory and an NFS export,
//! which a Knative Service admits only as a `persistentVolumeClaim` behind Knative's
//! `kubernetes.podspec-persistent-volume-claim` flag: Ferry reads the flags from
//! `knative-serving/config-features` and refuses the service, naming the flag, while it is off;
//! once it is on, it makes the PersistentVolume and claim, then the Service mounting the claim,
//! and deletes the pair with the object.
//!
//! On the stand-in the test writes `config-features` (first without the flag, then with it) and
//! plays Knative; on a real cluster it leaves the cluster's flags as they are and checks the
//! outcome they call for.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::time::Duration;

use e2e::{Cluster, Ferry, MANAGER, Operator, Player, Scene, TestNamespace, wait_for};
use ferry_api::ServerlessService;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(120);
const IMAGE: &str = "ghcr.io/knative/helloworld-go:latest";
const CLAIM_FLAG: &str = "kubernetes.podspec-persistent-volume-claim";
const FINALIZER: &str = "ferry.dev/cleanup";

fn knative_services() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("serving.knative.dev", "v1", "Service"),
        "services",
    )
}

struct Scenario {
    cluster: &'static Cluster,
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    _knative: Option<Player>,
}

impl Scene for Scenario {
    const WAIT: Duration = WAIT;

    fn operator(&self) -> &Operator {
        &self.operator
    }

    fn ssvs(&self) -> Api<ServerlessService> {
        Api::namespaced(self.client.clone(), self.ns())
    }
}

impl Scenario {
    async fn start(prefix: &str) -> Self {
        let cluster: &'static Cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, prefix).await.unwrap();
        let client = cluster.client().await.unwrap();
        let operator = Ferry::spawn_confined(cluster, namespace.name()).unwrap();
        let api = Api::namespaced_with(client.clone(), namespace.name(), &knative_services());
        let knative = e2e::play_knative(cluster, api, namespace.name()).map(Player);
        Self {
            cluster,
            namespace,
            client,
            operator,
            _knative: knative,
        }
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    fn knative(&self) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), self.ns(), &knative_services())
    }

    async fn apply(&self, name: &str, spec: &Value) {
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": name},
            "spec": spec,
        });
        self.ssvs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
    }

    /// Writes Knative's feature flags (the stand-in only: a real cluster keeps its own).
    async fn set_flags(&self, data: &Value) {
        assert!(self.cluster.is_standin());
        let apply = PatchParams::apply(MANAGER).force();
        Api::<Namespace>::all(self.client.clone())
            .patch(
                "knative-serving",
                &apply,
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": "knative-serving"}})),
            )
            .await
            .unwrap();
        Api::<ConfigMap>::namespaced(self.client.clone(), "knative-serving")
            .patch(
                "config-features",
                &apply,
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "config-features"},
                                     "data": data})),
            )
            .await
            .unwrap();
    }

    /// Whether the cluster enables Knative's claims (the flag is `Enabled`, in any case).
    async fn claims_enabled(&self) -> bool {
        let flags = Api::<ConfigMap>::namespaced(self.client.clone(), "knative-serving")
            .get_opt("config-features")
            .await
            .unwrap();
        flags
            .and_then(|cm| cm.data)
            .and_then(|d| d.get(CLAIM_FLAG).cloned())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("enabled"))
    }

    /// Ferry's PersistentVolumes and claims for `name` on Knative, once `ok` holds for their
    /// counts.
    async fn claims_of(
        &self,
        name: &str,
        ok: impl Fn(usize, usize) -> bool,
    ) -> (Vec<PersistentVolume>, Vec<PersistentVolumeClaim>) {
        let owner = format!("ServerlessService {}/{name} (knative)", self.ns());
        let mine = |annotations: &std::collections::BTreeMap<String, String>| {
            annotations.get("ferry.dev/owner") == Some(&owner)
        };
        let params = ListParams::default().labels("app.kubernetes.io/managed-by=ferry");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let volumes: Vec<PersistentVolume> = Api::<PersistentVolume>::all(self.client.clone())
                .list(&params)
                .await
                .unwrap()
                .items
                .into_iter()
                .filter(|v| mine(v.annotations()))
                .collect();
            let claims: Vec<PersistentVolumeClaim> =
                Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), self.ns())
                    .list(&params)
                    .await
                    .unwrap()
                    .items
                    .into_iter()
                    .filter(|c| mine(c.annotations()))
                    .collect();
            if ok(volumes.len(), claims.len()) {
                return (volumes, claims);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the claims of {owner}: {} PersistentVolumes, {} claims\n--- ferry log ---\n{}",
                volumes.len(),
                claims.len(),
                self.operator.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn gallery(revision: &str) -> Value {
    json!({
        "provider": "knative",
        "volumes": [
            {"name": "config", "secret": {"name": "gallery-config"}},
            {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "32Mi"}},
            {"name": "photos", "nfs": {"server": "10.0.12.4", "path": "/exports/photos",
                                       "readOnly": true}},
        ],
        "containers": [{
            "name": "app",
            "image": IMAGE,
            "port": 8080,
            "env": [{"name": "REVISION", "value": revision}],
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/gallery"},
                {"name": "cache", "mountPath": "/var/cache/gallery"},
                {"name": "photos", "mountPath": "/srv/photos"},
            ],
        }],
    })
}

fn ready_condition(svc: &ServerlessService) -> Option<(&str, &str, &str)> {
    let status = svc.status.as_ref()?;
    if status.observed_generation != svc.metadata.generation {
        return None;
    }
    let c = status.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((c.status.as_str(), c.reason.as_str(), c.message.as_str()))
}

#[tokio::test]
async fn an_nfs_volume_is_refused_naming_knatives_flag_until_it_is_on_then_mounted_through_a_claim()
{
    let s = Scenario::start("vol-knative").await;
    if s.cluster.is_standin() {
        // Knative's defaults: claims off.
        s.set_flags(&json!({})).await;
    }
    let enabled = s.claims_enabled().await;
    s.apply("gallery", &gallery("1")).await;
    if !enabled {
        let refused = s
            .ssv("gallery", "Ready=False naming the flag", |svc| {
                ready_condition(svc)
                    .is_some_and(|(status, reason, _)| status == "False" && reason == "Unsupported")
            })
            .await;
        let (_, _, message) = ready_condition(&refused).unwrap();
        assert!(message.contains(CLAIM_FLAG), "{message}");
        assert!(
            message.contains("knative-serving/config-features"),
            "{message}"
        );
        // Nothing was made: no Service Knative would refuse, no claim for it.
        assert!(s.knative().get_opt("gallery").await.unwrap().is_none());
        s.claims_of("gallery", |v, c| v == 0 && c == 0).await;
        if !s.cluster.is_standin() {
            // A real cluster with claims off: what it calls for is checked; it goes.
            s.ssvs()
                .delete("gallery", &DeleteParams::default())
                .await
                .unwrap();
            let gone = e2e::wait_gone(&s.ssvs(), "gallery", WAIT, "the ServerlessService").await;
            s.check(gone);
            return;
        }
        // The flag turned on; a change of the spec has Ferry look again at once (it would
        // within a minute anyway).
        s.set_flags(&json!({CLAIM_FLAG: "enabled"})).await;
        s.apply("gallery", &gallery("2")).await;
    }

    // The pair, then the Service mounting the claim read-only (no write flag needed).
    let (volumes, claims) = s.claims_of("gallery", |v, c| v == 1 && c == 1).await;
    let pv = serde_json::to_value(&volumes[0]).unwrap();
    let name = claims[0].name_any();
    assert_eq!(
        pv["spec"]["nfs"],
        json!({"server": "10.0.12.4", "path": "/exports/photos", "readOnly": true}),
        "{pv:#}"
    );
    assert_eq!(pv["spec"]["claimRef"]["name"], name.as_str(), "{pv:#}");
    let found = wait_for(&s.knative(), "gallery", WAIT, "the Knative Service", |_| {
        true
    })
    .await;
    let service = serde_json::to_value(s.check(found)).unwrap();
    let revision = &service["spec"]["template"]["spec"];
    assert_eq!(
        revision["volumes"],
        json!([
            {"name": "config", "secret": {"secretName": "gallery-config"}},
            {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "32Mi"}},
            {"name": "photos", "persistentVolumeClaim": {"claimName": name, "readOnly": true}},
        ]),
        "{revision:#}"
    );
    assert_eq!(
        revision["containers"][0]["volumeMounts"],
        json!([
            {"name": "config", "mountPath": "/etc/gallery", "readOnly": true},
            {"name": "cache", "mountPath": "/var/cache/gallery"},
            {"name": "photos", "mountPath": "/srv/photos", "readOnly": true},
        ]),
        "{revision:#}"
    );
    // Where the test plays Knative the revision becomes ready; a real cluster's pods would
    // wait for an NFS server at that address, so only the objects are checked there.
    if s.cluster.plays_knative() {
        s.ssv("gallery", "Ready", |svc| {
            ready_condition(svc).is_some_and(|(status, _, _)| status == "True")
        })
        .await;
    }
    let svc = s.ssvs().get("gallery").await.unwrap();
    assert!(svc.finalizers().iter().any(|f| f == FINALIZER), "{svc:?}");

    // Deleting the service deletes the pair with the Knative Service.
    s.ssvs()
        .delete("gallery", &DeleteParams::default())
        .await
        .unwrap();
    let gone = e2e::wait_gone(&s.ssvs(), "gallery", WAIT, "the ServerlessService").await;
    s.check(gone);
    s.claims_of("gallery", |v, c| v == 0 && c == 0).await;
}
