//! The operator with its Cloud Run backend, end to end: the real `ferry controller` process
//! against the stand-in API server (or a real cluster with `FERRY_E2E_KUBECONFIG`), pointed at
//! the fake Cloud Run Admin API v2 (`tests/cloudrun-fake`, which checks every request against
//! Google's protos) through a ProviderConfig `endpoint`.
//! Volumes too: a service mounting a secret, memory, a bucket and an NFS share, on gen2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::collections::BTreeMap;
use std::time::Duration;

use cloudrun_fake::CloudRunFake;
use e2e::{
    Cluster, Ferry, MANAGER, Operator, ProviderConfigCleanup, Scene, TestNamespace, current_ready,
    wait_gone,
};
use ferry_api::ServerlessService;
use http::Method;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// One test's namespace, a Google project of its own in the fake, a ProviderConfig pointing
/// at the fake, and an operator confined to the namespace.
struct Scenario {
    _config_cleanup: ProviderConfigCleanup,
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    fake: &'static CloudRunFake,
    project: String,
    config: String,
}

impl Scene for Scenario {
    const WAIT: Duration = WAIT;

    fn operator(&self) -> &Operator {
        &self.operator
    }

    fn ssvs(&self) -> Api<ServerlessService> {
        Api::namespaced(self.client.clone(), self.namespace.name())
    }
}

impl Scenario {
    async fn start(prefix: &str) -> Self {
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, prefix).await.unwrap();
        let ns = namespace.name().to_owned();
        let client = cluster.client().await.unwrap();
        let fake = CloudRunFake::shared().await.unwrap();
        // Project IDs are at most 30 characters, so the namespace's random suffix is used.
        let suffix = ns.rsplit('-').next().unwrap_or_default().to_owned();
        let config_name = format!("gcp-{ns}");
        let scenario = Self {
            _config_cleanup: ProviderConfigCleanup::new(cluster, &config_name),
            operator: Ferry::spawn_confined(cluster, &ns).unwrap(),
            client,
            fake,
            project: format!("ferry-e2e-{suffix}"),
            config: config_name,
            namespace,
        };
        let config =
            e2e::cloud_run_provider_config(&scenario.config, &scenario.project, &fake.endpoint());
        e2e::put_provider_config(
            &scenario.client,
            config,
            &json!({"allowedNamespaces": [ns]}),
        )
        .await
        .unwrap();
        scenario
    }

    async fn apply(&self, name: &str, image: &str) {
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": name},
            "spec": {
                "provider": "cloudRun",
                "providerConfigRef": {"name": self.config},
                "containers": [{"name": "app", "image": image, "port": 8080}],
                "scaling": {"minInstances": 0, "maxInstances": 5},
            },
        });
        self.ssvs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
    }

    async fn writes(&self) -> BTreeMap<String, usize> {
        self.fake.project(&self.project).writes().await.unwrap()
    }

    /// Checks that Cloud Run had one write, the CreateService of `svc`, and that three seconds
    /// of resyncs write nothing more to it nor to the object.
    async fn assert_idle(&self, svc: &ServerlessService) {
        let created = BTreeMap::from([("CreateService".to_owned(), 1)]);
        assert_eq!(self.writes().await, created);
        let version = svc.resource_version();
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(self.writes().await, created);
        let now = self.ssvs().get(&svc.name_any()).await.unwrap();
        assert_eq!(now.resource_version(), version);
    }

    /// The body of the first call `rpc` the fake received for this scenario's project.
    async fn sent(&self, rpc: &str) -> Value {
        let requests = self.fake.project(&self.project).requests().await.unwrap();
        requests
            .into_iter()
            .find(|r| r.method == rpc)
            .unwrap_or_else(|| panic!("no {rpc} received"))
            .body
    }
}

#[tokio::test]
async fn a_cloud_run_service_is_created_becomes_ready_idles_follows_changes_and_is_deleted() {
    let s = Scenario::start("cloudrun").await;
    s.apply("web", "ghcr.io/acme/web:1").await;

    let svc = s
        .ssv("web", "Ready=True on Cloud Run", |svc| {
            current_ready(svc) == Some(("True", "Available"))
        })
        .await;
    let status = svc.status.clone().unwrap();
    assert!(
        status
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://")),
        "{status:?}"
    );
    assert_eq!(status.operation, None, "the finished operation left status");
    let first_revision = status.latest_ready_revision.clone();
    assert!(first_revision.is_some(), "{status:?}");

    // Idle: resyncs every second, no write to Cloud Run or to the API server.
    s.assert_idle(&svc).await;

    // A new image: one update, a new revision in status.
    s.apply("web", "ghcr.io/acme/web:2").await;
    s.ssv("web", "the new revision ready", |svc| {
        current_ready(svc) == Some(("True", "Available"))
            && svc.status.as_ref().unwrap().latest_ready_revision != first_revision
    })
    .await;
    assert_eq!(s.writes().await.get("UpdateService"), Some(&1));

    // Delete: the service goes from Cloud Run, and the object goes.
    s.ssvs()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let gone = wait_gone(&s.ssvs(), "web", WAIT, "the object let go").await;
    s.check(gone);
    assert_eq!(s.writes().await.get("DeleteService"), Some(&1));
}

#[tokio::test]
async fn a_failing_revision_is_reported_on_the_object() {
    let s = Scenario::start("cloudrun-fail").await;
    s.apply("broken", "ghcr.io/acme/fail-revision:1").await;
    let svc = s
        .ssv("broken", "Ready=False with Cloud Run's reason", |svc| {
            current_ready(svc).is_some_and(|(status, _)| status == "False")
        })
        .await;
    let ready = svc
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready.reason, "ContainerFailed", "{ready:?}");
    assert!(ready.message.contains("failed to start"), "{ready:?}");
    s.ssvs()
        .delete("broken", &DeleteParams::default())
        .await
        .unwrap();
}

// Volumes (issue 23)

#[tokio::test]
async fn a_cloud_run_service_mounts_a_secret_memory_a_bucket_and_an_nfs_share() {
    let s = Scenario::start("cr-volumes").await;
    let object = json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": "media"},
        "spec": {
            "provider": "cloudRun",
            "providerConfigRef": {"name": s.config},
            "volumes": [
                {"name": "config", "secret": {"name": "media-config", "key": "3"}},
                {"name": "scratch", "emptyDir": {"sizeLimit": "128Mi"}},
                {"name": "assets", "gcs": {"bucket": "acme-media-assets"}},
                {"name": "uploads", "nfs": {"server": "10.20.0.2", "path": "/uploads"}},
            ],
            "containers": [
                {"name": "app", "image": "ghcr.io/acme/media:1", "port": 8080,
                 "resources": {"memory": "1Gi"},
                 "volumeMounts": [
                     {"name": "config", "mountPath": "/etc/media"},
                     {"name": "scratch", "mountPath": "/tmp/render"},
                     {"name": "assets", "mountPath": "/srv/assets", "readOnly": true},
                     {"name": "uploads", "mountPath": "/srv/uploads", "subPath": "media"},
                 ]},
                {"name": "thumbnailer", "image": "ghcr.io/acme/thumbnailer:1",
                 "volumeMounts": [
                     {"name": "scratch", "mountPath": "/work"},
                     {"name": "assets", "mountPath": "/assets", "readOnly": true},
                 ]},
            ],
            "cloudRun": {"vpcAccess": {"networkInterfaces": [{"network": "default"}]}},
        },
    });
    s.ssvs()
        .patch(
            "media",
            &PatchParams::apply(MANAGER),
            &Patch::Apply(&object),
        )
        .await
        .unwrap();
    let svc = s
        .ssv("media", "Ready=True on Cloud Run", |svc| {
            current_ready(svc) == Some(("True", "Available"))
        })
        .await;

    // What Cloud Run was sent: the volumes in Admin API v2 shapes (enums as numbers), the
    // mounts per container, and the second generation environment gcs and nfs need.
    let template = s.sent("CreateService").await["template"].clone();
    let volumes = json!([
        {"name": "config", "secret": {"secret": "media-config",
                                      "items": [{"path": "media-config", "version": "3"}]}},
        {"name": "scratch", "emptyDir": {"medium": 1, "sizeLimit": "128Mi"}},
        {"name": "assets", "gcs": {"bucket": "acme-media-assets", "readOnly": true}},
        {"name": "uploads", "nfs": {"server": "10.20.0.2", "path": "/uploads"}},
    ]);
    assert_eq!(template["volumes"], volumes);
    assert_eq!(template["executionEnvironment"], 2);
    assert_eq!(
        template["containers"][0]["volumeMounts"],
        json!([
            {"name": "config", "mountPath": "/etc/media"},
            {"name": "scratch", "mountPath": "/tmp/render"},
            {"name": "assets", "mountPath": "/srv/assets"},
            {"name": "uploads", "mountPath": "/srv/uploads", "subPath": "media"},
        ])
    );
    assert_eq!(
        template["containers"][1]["volumeMounts"],
        json!([
            {"name": "scratch", "mountPath": "/work"},
            {"name": "assets", "mountPath": "/assets"},
        ])
    );

    // What Cloud Run holds: the same volumes and mounts.
    let resource = svc
        .status
        .as_ref()
        .unwrap()
        .resource_ref
        .clone()
        .unwrap()
        .id;
    let held = s
        .fake
        .send_raw(
            Method::GET,
            &format!("/v2/{resource}?%24alt=json%3Benum-encoding%3Dint"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(held.body["template"]["volumes"], volumes, "{held:?}");
    assert_eq!(
        held.body["template"]["containers"][1]["volumeMounts"],
        template["containers"][1]["volumeMounts"]
    );

    // Still: resyncs find Cloud Run up to date, no write to Cloud Run or to the API server.
    s.assert_idle(&svc).await;

    s.ssvs()
        .delete("media", &DeleteParams::default())
        .await
        .unwrap();
    let gone = wait_gone(&s.ssvs(), "media", WAIT, "the object let go").await;
    s.check(gone);
    assert_eq!(s.writes().await.get("DeleteService"), Some(&1));
}
