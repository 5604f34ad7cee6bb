//! Volumes on the plain Kubernetes backend, end to end: the real `ferry controller` against the
//! stand-in API server (or a real cluster with `FERRY_E2E_KUBECONFIG`). A service and a job
//! mount a Secret's key, a scratch directory and an EFS file system; Ferry makes the EFS
//! volume's PersistentVolume (cluster-scoped) and its pre-bound claim before the Deployment or
//! the run's Job that mounts it, keeps a finalizer, and deletes both with the object. The checks
//! are on what the API server holds, so they hold on a real cluster too (where the pods wait for
//! the EFS CSI driver unless the cluster has it: nothing here waits for them to run).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::time::Duration;

use e2e::{Cluster, Ferry, MANAGER, Operator, Scene, TestNamespace, wait_for};
use ferry_api::{ServerlessJob, ServerlessService};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

/// Long enough for a real cluster to delete pods that use a claim, and for a loaded CI machine.
const WAIT: Duration = Duration::from_secs(150);
/// An image that runs anywhere (it only sleeps), for a real cluster.
const IMAGE: &str = "registry.k8s.io/pause:3.10";
const FS: &str = "fs-0123456789abcdef0";
const AP: &str = "fsap-0123456789abcdef0";
const FINALIZER: &str = "ferry.dev/cleanup";

struct Scenario {
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
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
        let operator = Ferry::spawn_confined(cluster, namespace.name()).unwrap();
        Self {
            client: cluster.client().await.unwrap(),
            namespace,
            operator,
        }
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    async fn apply(&self, kind: &str, name: &str, spec: &Value) {
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        });
        let params = PatchParams::apply(MANAGER);
        if kind == "ServerlessJob" {
            Api::<ServerlessJob>::namespaced(self.client.clone(), self.ns())
                .patch(name, &params, &Patch::Apply(&object))
                .await
                .unwrap();
        } else {
            self.ssvs()
                .patch(name, &params, &Patch::Apply(&object))
                .await
                .unwrap();
        }
    }

    /// The PersistentVolumes Ferry made for `kind` `name` of this namespace (the owner
    /// annotation names it), and its claims, once `ok` holds for their counts.
    async fn claims_of(
        &self,
        kind: &str,
        name: &str,
        ok: impl Fn(usize, usize) -> bool,
    ) -> (Vec<PersistentVolume>, Vec<PersistentVolumeClaim>) {
        let owner = format!("{kind} {}/{name} (kubernetes)", self.ns());
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

/// The checks every pair makes: the PersistentVolume of the EFS CSI driver with `handle`,
/// reserved for the claim, and the claim bound to it by name.
fn assert_pair(volume: &PersistentVolume, claim: &PersistentVolumeClaim, ns: &str, handle: &str) {
    let pv = serde_json::to_value(volume).unwrap();
    let pvc = serde_json::to_value(claim).unwrap();
    let name = volume.name_any();
    assert_eq!(claim.name_any(), name);
    assert_eq!(pv["spec"]["csi"]["driver"], "efs.csi.aws.com", "{pv:#}");
    assert_eq!(pv["spec"]["csi"]["volumeHandle"], handle, "{pv:#}");
    assert_eq!(pv["spec"]["storageClassName"], "", "{pv:#}");
    assert_eq!(
        pv["spec"]["persistentVolumeReclaimPolicy"], "Retain",
        "{pv:#}"
    );
    assert_eq!(pv["spec"]["claimRef"]["namespace"], ns, "{pv:#}");
    assert_eq!(pv["spec"]["claimRef"]["name"], name.as_str(), "{pv:#}");
    assert_eq!(pvc["spec"]["volumeName"], name.as_str(), "{pvc:#}");
    assert_eq!(pvc["spec"]["storageClassName"], "", "{pvc:#}");
}

#[tokio::test]
async fn a_services_volumes_are_mounted_and_its_efs_claim_is_made_first_and_deleted_with_it() {
    let s = Scenario::start("vol-k8s").await;
    s.apply(
        "ServerlessService",
        "files",
        &json!({
            "provider": "kubernetes",
            "volumes": [
                {"name": "config", "secret": {"name": "files-config", "key": "settings.toml"}},
                {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                {"name": "uploads", "efs": {"fileSystemId": FS, "accessPointId": AP,
                                            "transitEncryption": true}},
            ],
            "containers": [{
                "name": "app",
                "image": IMAGE,
                "port": 8080,
                "resources": {"cpu": "100m", "memory": "64Mi"},
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/files"},
                    {"name": "scratch", "mountPath": "/tmp/work"},
                    {"name": "uploads", "mountPath": "/srv/uploads", "subPath": "app"},
                ],
            }],
            "scaling": {"minInstances": 1},
            "ingress": "internal",
        }),
    )
    .await;

    // The pair exists, and the Deployment mounts its claim.
    let (volumes, claims) = s
        .claims_of("ServerlessService", "files", |v, c| v == 1 && c == 1)
        .await;
    assert_pair(&volumes[0], &claims[0], s.ns(), &format!("{FS}::{AP}"));
    let claim = claims[0].name_any();
    let deployments: Api<Deployment> = Api::namespaced(s.client.clone(), s.ns());
    let found = wait_for(&deployments, "files", WAIT, "the Deployment", |_| true).await;
    let deployment = serde_json::to_value(s.check(found)).unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "config", "secret": {"secretName": "files-config",
                                          "items": [{"key": "settings.toml",
                                                     "path": "settings.toml"}]}},
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "uploads", "persistentVolumeClaim": {"claimName": claim}},
        ]),
        "{pod:#}"
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"],
        json!([
            {"name": "config", "mountPath": "/etc/files", "readOnly": true},
            {"name": "scratch", "mountPath": "/tmp/work"},
            {"name": "uploads", "mountPath": "/srv/uploads", "subPath": "app"},
        ]),
        "{pod:#}"
    );
    // A PersistentVolume is cluster-scoped, so no owner reference deletes it: the object keeps
    // Ferry's finalizer.
    let svc = s.ssvs().get("files").await.unwrap();
    assert!(svc.finalizers().iter().any(|f| f == FINALIZER), "{svc:?}");

    // Deleting the service deletes the pair.
    s.ssvs()
        .delete("files", &DeleteParams::default())
        .await
        .unwrap();
    let gone = e2e::wait_gone(&s.ssvs(), "files", WAIT, "the ServerlessService").await;
    s.check(gone);
    s.claims_of("ServerlessService", "files", |v, c| v == 0 && c == 0)
        .await;
}

#[tokio::test]
async fn a_jobs_efs_claim_is_made_before_its_run_and_deleted_with_the_job() {
    let s = Scenario::start("vol-k8s-job").await;
    s.apply(
        "ServerlessJob",
        "reindex",
        &json!({
            "provider": "kubernetes",
            "volumes": [
                {"name": "index", "efs": {"fileSystemId": FS, "rootDirectory": "/index"}},
                {"name": "scratch", "emptyDir": {}},
            ],
            "containers": [{
                "name": "reindex",
                "image": IMAGE,
                "resources": {"cpu": "100m", "memory": "64Mi"},
                "volumeMounts": [
                    {"name": "index", "mountPath": "/data/index"},
                    {"name": "scratch", "mountPath": "/tmp/sort"},
                ],
            }],
            "timeoutSeconds": 60,
        }),
    )
    .await;
    let (volumes, claims) = s
        .claims_of("ServerlessJob", "reindex", |v, c| v == 1 && c == 1)
        .await;
    assert_pair(&volumes[0], &claims[0], s.ns(), &format!("{FS}:/index"));
    let jobs: Api<Job> = Api::namespaced(s.client.clone(), s.ns());
    let found = wait_for(&jobs, "reindex-1", WAIT, "the run's Job", |_| true).await;
    let job = serde_json::to_value(s.check(found)).unwrap();
    assert_eq!(
        job["spec"]["template"]["spec"]["volumes"],
        json!([
            {"name": "index", "persistentVolumeClaim": {"claimName": claims[0].name_any()}},
            {"name": "scratch", "emptyDir": {}},
        ]),
        "{job:#}"
    );
    let sjobs: Api<ServerlessJob> = Api::namespaced(s.client.clone(), s.ns());
    let sjob = sjobs.get("reindex").await.unwrap();
    assert!(sjob.finalizers().iter().any(|f| f == FINALIZER), "{sjob:?}");

    sjobs
        .delete("reindex", &DeleteParams::default())
        .await
        .unwrap();
    let gone = e2e::wait_gone(&sjobs, "reindex", WAIT, "the ServerlessJob").await;
    s.check(gone);
    s.claims_of("ServerlessJob", "reindex", |v, c| v == 0 && c == 0)
        .await;
}
