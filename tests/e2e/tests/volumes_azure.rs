//! Volumes on the Azure backends, end to end: the real `ferry controller` against the stand-in
//! API server (or a real cluster with `FERRY_E2E_KUBECONFIG`), pointed at the fake Azure
//! Resource Manager (`tests/azure-fake`, which checks every body against Microsoft's
//! definitions). Container Apps: a Secret volume of a copied app secret, an EmptyDir and an
//! Azure Files share through an environment storage, which Ferry waits for (the reason on the
//! object says what to create). Container Instances: an Azure Files share with its key copied
//! from a Secret, a secret file and an emptyDir, idle once read back (ARM answers neither the
//! key nor the file), and a rotated key sent once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::time::Duration;

use azure_fake::{AzureFake, Subscription};
use e2e::{Cluster, Ferry, MANAGER, Operator, ProviderConfigCleanup, Scene, TestNamespace};
use ferry_api::ServerlessService;
use http::Method;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const APPS: &str = "ContainerApps_CreateOrUpdate";
const GROUPS: &str = "ContainerGroups_CreateOrUpdate";

/// One test's namespace (also the operator's), an Azure subscription of its own in the fake, a
/// ProviderConfig pointing at the fake, and an operator confined to the namespace.
struct Scenario {
    _config_cleanup: ProviderConfigCleanup,
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    fake: &'static AzureFake,
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
        let fake = AzureFake::shared().await.unwrap();
        let config = format!("azure-{ns}");
        let id = fake.subscription(&ns).id().to_owned();
        e2e::put_provider_config(
            &client,
            e2e::azure_provider_config(&config, &id, &fake.endpoint()),
            &json!({"allowedNamespaces": [ns]}),
        )
        .await
        .unwrap();
        Self {
            _config_cleanup: ProviderConfigCleanup::new(cluster, &config),
            operator: Ferry::spawn_confined(cluster, &ns).unwrap(),
            client,
            fake,
            config,
            namespace,
        }
    }

    fn azure(&self) -> Subscription<'static> {
        self.fake.subscription(self.namespace.name())
    }

    /// Puts Secret `name` of the namespace with `data` (as stringData).
    async fn put_secret(&self, name: &str, data: Value) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), self.namespace.name());
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "stringData": data,
        });
        secrets
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&secret))
            .await
            .unwrap();
    }

    /// Applies ServerlessService `name` with `spec` and the scenario's ProviderConfig.
    async fn apply(&self, name: &str, mut spec: Value) {
        spec["providerConfigRef"] = json!({"name": self.config});
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessService",
            "metadata": {"name": name}, "spec": spec,
        });
        self.ssvs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
    }

    /// The bodies of the calls of `operation` so far, oldest first.
    async fn bodies(&self, operation: &str) -> Vec<Value> {
        self.azure()
            .requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.operation == operation)
            .map(|r| r.body)
            .collect()
    }

    async fn delete(&self, name: &str) {
        self.ssvs()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
        let gone = e2e::wait_gone(&self.ssvs(), name, WAIT, "the object let go").await;
        self.check(gone);
    }
}

/// `(status, reason, message)` of condition `type_`, once the status is for the current
/// generation.
fn condition<'a>(svc: &'a ServerlessService, type_: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let status = svc.status.as_ref()?;
    if status.observed_generation != svc.metadata.generation {
        return None;
    }
    let c = status.conditions.iter().find(|c| c.type_ == type_)?;
    Some((c.status.as_str(), c.reason.as_str(), c.message.as_str()))
}

fn ready_true(svc: &ServerlessService) -> bool {
    e2e::current_ready(svc) == Some(("True", "Available"))
}

/// The Container Apps spec of the scenario, with `replicas` at most.
fn gallery(replicas: u32) -> Value {
    json!({
        "provider": "containerApps",
        "containers": [{
            "name": "app", "image": "ghcr.io/acme/gallery:2", "port": 8080,
            "resources": {"cpu": "250m", "memory": "512Mi"},
            "volumeMounts": [
                {"name": "settings", "mountPath": "/etc/gallery"},
                {"name": "scratch", "mountPath": "/tmp/thumbnails"},
                {"name": "uploads", "mountPath": "/srv/uploads", "subPath": "originals"},
            ],
        }],
        "volumes": [
            {"name": "settings", "secret": {"name": "gallery-settings", "key": "settings.json"}},
            {"name": "scratch", "emptyDir": {}},
            {"name": "uploads", "azureFile": {"shareName": "uploads", "storageAccount": "acmefiles"}},
        ],
        "scaling": {"minInstances": 0, "maxInstances": replicas},
        "containerApps": {"secrets": [
            {"name": "gallery-settings", "fromSecret": {"name": "gallery", "key": "settings.json"}},
        ]},
    })
}

#[tokio::test]
async fn a_container_app_mounts_a_secret_an_emptydir_and_a_share_once_its_storage_exists() {
    let s = Scenario::start("aca-vol").await;
    s.put_secret("gallery", json!({"settings.json": "{\"theme\":\"dark\"}"}))
        .await;
    s.apply("gallery", gallery(5)).await;

    // The environment has no storage "uploads": nothing is written, and the object says what
    // to create.
    let svc = s
        .ssv(
            "gallery",
            "Synced=False InvalidSpec naming the storage",
            |svc| {
                condition(svc, "Synced").is_some_and(|(status, reason, message)| {
                    status == "False"
                        && reason == "InvalidSpec"
                        && message.contains("has no storage uploads")
                })
            },
        )
        .await;
    let (_, _, message) = condition(&svc, "Synced").unwrap();
    assert!(
        message.contains("spec.volumes[2].azureFile.shareName")
            && message.contains("az containerapp env storage set"),
        "{message}"
    );
    assert_eq!(s.bodies(APPS).await, Vec::<Value>::new());

    // The environment's owner adds it; Ferry looks again a minute later, or at the next change
    // of the spec (made here not to wait): the app is written.
    let storage = json!({"properties": {"azureFile": {"accountName": "acmefiles",
        "accountKey": "YWNjb3VudC1rZXk=", "shareName": "uploads", "accessMode": "ReadWrite"}}});
    let url = s
        .azure()
        .environment_storage_url(e2e::AZURE_RESOURCE_GROUP, "ferry-e2e", "uploads");
    let put = s
        .fake
        .send_raw(Method::PUT, &url, Some(&storage))
        .await
        .unwrap();
    assert!(put.status.is_success(), "{put:?}");
    s.apply("gallery", gallery(4)).await;
    s.ssv("gallery", "Ready=True with its volumes", |svc| {
        ready_true(svc) && svc.metadata.generation == Some(2)
    })
    .await;

    // A reconcile of the first generation may have written it before the change did.
    let sent = s.bodies(APPS).await;
    assert!(!sent.is_empty() && sent.len() <= 2, "{sent:#?}");
    let properties = &sent.last().unwrap()["properties"];
    assert_eq!(properties["template"]["scale"]["maxReplicas"], 4);
    assert_eq!(
        properties["template"]["volumes"],
        json!([
            {"name": "settings", "storageType": "Secret",
             "secrets": [{"secretRef": "gallery-settings", "path": "settings.json"}]},
            {"name": "scratch", "storageType": "EmptyDir"},
            {"name": "uploads", "storageType": "AzureFile", "storageName": "uploads"},
        ])
    );
    assert_eq!(
        properties["template"]["containers"][0]["volumeMounts"],
        json!([
            {"volumeName": "settings", "mountPath": "/etc/gallery"},
            {"volumeName": "scratch", "mountPath": "/tmp/thumbnails"},
            {"volumeName": "uploads", "mountPath": "/srv/uploads", "subPath": "originals"},
        ])
    );
    // The secret only a volume reads is an app secret all the same.
    assert_eq!(
        properties["configuration"]["secrets"],
        json!([{"name": "gallery-settings", "value": "{\"theme\":\"dark\"}"}])
    );

    // Idle: no further write, no storage read.
    let calls = s.azure().calls().await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.bodies(APPS).await.len(), sent.len());
    assert_eq!(
        s.azure()
            .calls()
            .await
            .unwrap()
            .get("ManagedEnvironmentsStorages_Get"),
        calls.get("ManagedEnvironmentsStorages_Get")
    );

    s.delete("gallery").await;
    assert_eq!(
        s.azure()
            .writes()
            .await
            .unwrap()
            .get("ContainerApps_Delete"),
        Some(&1)
    );
}

#[tokio::test]
async fn a_container_group_mounts_a_share_with_its_copied_key_a_secret_file_and_an_emptydir() {
    let s = Scenario::start("aci-vol").await;
    s.put_secret("acmefiles", json!({"key": "first-account-key"}))
        .await;
    s.put_secret(
        "report-settings",
        json!({"settings.json": "{\"currency\":\"EUR\"}"}),
    )
    .await;
    s.apply(
        "reports",
        json!({
            "provider": "containerInstances",
            "containers": [
                {"name": "app", "image": "ghcr.io/acme/reports:3", "port": 8080,
                 "resources": {"cpu": "1", "memory": "1Gi"},
                 "volumeMounts": [
                     {"name": "data", "mountPath": "/srv/reports"},
                     {"name": "settings", "mountPath": "/etc/reports"},
                     {"name": "scratch", "mountPath": "/tmp/render"},
                 ]},
                {"name": "uploader", "image": "ghcr.io/acme/uploader:1",
                 "resources": {"cpu": "1", "memory": "1Gi"},
                 "volumeMounts": [{"name": "scratch", "mountPath": "/outbox", "readOnly": true}]},
            ],
            "volumes": [
                {"name": "data", "azureFile": {"shareName": "reports", "storageAccount": "acmefiles",
                                              "secretRef": {"name": "acmefiles", "key": "key"}}},
                {"name": "settings", "secret": {"name": "settings", "key": "settings.json"}},
                {"name": "scratch", "emptyDir": {}},
            ],
            "ingress": "public",
            "containerInstances": {"dnsNameLabel": "e2e-reports", "secrets": [
                {"name": "settings", "fromSecret": {"name": "report-settings", "key": "settings.json"}},
            ]},
        }),
    )
    .await;
    let svc = s
        .ssv("reports", "Ready=True on Container Instances", ready_true)
        .await;

    let sent = s.bodies(GROUPS).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let properties = &sent[0]["properties"];
    assert_eq!(
        properties["volumes"],
        json!([
            {"name": "data", "azureFile": {"shareName": "reports", "storageAccountName": "acmefiles",
                                           "storageAccountKey": "first-account-key"}},
            // base64 of {"currency":"EUR"}
            {"name": "settings", "secret": {"settings.json": "eyJjdXJyZW5jeSI6IkVVUiJ9"}},
            {"name": "scratch", "emptyDir": {}},
        ])
    );
    assert_eq!(
        properties["containers"][0]["properties"]["volumeMounts"],
        json!([
            {"name": "data", "mountPath": "/srv/reports"},
            {"name": "settings", "mountPath": "/etc/reports", "readOnly": true},
            {"name": "scratch", "mountPath": "/tmp/render"},
        ])
    );
    assert_eq!(
        properties["containers"][1]["properties"]["volumeMounts"],
        json!([{"name": "scratch", "mountPath": "/outbox", "readOnly": true}])
    );
    // The key is in the request and nowhere else: not in a tag, the status, or the log.
    assert!(!sent[0]["tags"].to_string().contains("first-account-key"));
    let status = serde_json::to_string(&svc.status).unwrap();
    assert!(!status.contains("first-account-key"), "{status}");

    // Read back without the key and the file, the group is as the spec says: no PUT.
    let version = svc.resource_version();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(s.bodies(GROUPS).await.len(), 1);
    assert_eq!(
        s.ssvs().get("reports").await.unwrap().resource_version(),
        version
    );

    // The account key is rotated in its Secret: one PUT carries the new key.
    s.put_secret("acmefiles", json!({"key": "second-account-key"}))
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let sent = s.bodies(GROUPS).await;
        if sent.len() == 2 {
            assert_eq!(
                sent[1]["properties"]["volumes"][0]["azureFile"]["storageAccountKey"],
                "second-account-key"
            );
            break;
        }
        assert!(
            sent.len() < 2 && tokio::time::Instant::now() < deadline,
            "{} PUTs\n--- ferry log ---\n{}",
            sent.len(),
            s.operator.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.ssv("reports", "Ready=True after the rotation", ready_true)
        .await;
    let logs = s.operator.logs();
    assert!(
        !logs.contains("first-account-key") && !logs.contains("second-account-key"),
        "a key in the log"
    );

    s.delete("reports").await;
    assert_eq!(
        s.azure()
            .writes()
            .await
            .unwrap()
            .get("ContainerGroups_Delete"),
        Some(&1)
    );
}
