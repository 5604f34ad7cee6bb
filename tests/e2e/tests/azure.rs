//! The operator with its Azure backends, end to end: the real `ferry controller` process
//! against the stand-in API server (or a real cluster with `FERRY_E2E_KUBECONFIG`), pointed at
//! the fake Azure Resource Manager (`tests/azure-fake`, which checks every request body against
//! Microsoft's definitions and runs ARM's long-running operations) through a ProviderConfig
//! `endpoint`. Container Apps: lifecycle with an idle spell, a failing revision, a rotated
//! service principal secret, and a Kubernetes Secret copied as an app secret. Container
//! Instances: lifecycle and a missing image. Volumes too: on Container Apps through an
//! environment storage Ferry waits for, on Container Instances with a share key copied.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::collections::BTreeMap;
use std::time::Duration;

use azure_fake::{AzureFake, ImageBehaviour, Subscription};
use e2e::{
    Cluster, Ferry, MANAGER, Operator, ProviderConfigCleanup, Scene, TestNamespace, current_ready,
    wait_gone,
};
use ferry_api::ServerlessService;
use http::Method;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const APPS: &str = "ContainerApps_CreateOrUpdate";
const GROUPS: &str = "ContainerGroups_CreateOrUpdate";
/// The Microsoft Entra tenant of the rotation scenario's service principal.
const TENANT: &str = "00000000-0000-0000-0000-00000000e2e0";

/// One test's namespace (by default also the operator's own, holding any credentials Secret),
/// an Azure subscription of its own in the fake, a ProviderConfig pointing at the fake, and an
/// operator confined to the namespace.
struct Scenario {
    _config_cleanup: ProviderConfigCleanup,
    /// The operator's own namespace when it is not the test's.
    _own: Option<TestNamespace>,
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    fake: &'static AzureFake,
    /// The fake's name for the subscription (the namespace's name).
    subscription: String,
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

/// How the scenario's operator reaches Azure.
#[derive(Clone, Copy)]
enum Access<'a> {
    Anonymous,
    /// Anonymous, the operator's own namespace apart from the services': a Secret it reads in
    /// theirs is then allowed only by the ClusterRole (what `.ci/check-rbac` holds the chart's
    /// `rbac.serviceSecrets` grant to).
    AnonymousFromAfar,
    /// A service principal (client id, secret) whose secret the fake's Entra endpoint takes,
    /// its calls needing a token.
    ServicePrincipal(&'a str, &'a str),
}

impl Scenario {
    async fn start(prefix: &str, access: Access<'_>) -> Self {
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, prefix).await.unwrap();
        let ns = namespace.name().to_owned();
        let client = cluster.client().await.unwrap();
        let fake = AzureFake::shared().await.unwrap();
        let config_name = format!("azure-{ns}");
        let id = fake.subscription(&ns).id().to_owned();
        let config = match access {
            Access::Anonymous | Access::AnonymousFromAfar => {
                e2e::azure_provider_config(&config_name, &id, &fake.endpoint())
            }
            Access::ServicePrincipal(client_id, secret) => {
                fake.set_client_secrets(TENANT, client_id, &[secret])
                    .await
                    .unwrap();
                fake.subscription(&ns).require_tokens(true).await.unwrap();
                e2e::put_azure_secret(&client, &ns, TENANT, client_id, secret)
                    .await
                    .unwrap();
                e2e::azure_secret_provider_config(&config_name, &id, &fake.endpoint(), &ns)
            }
        };
        e2e::put_provider_config(&client, config, &json!({"allowedNamespaces": [ns]}))
            .await
            .unwrap();
        let own = match access {
            Access::AnonymousFromAfar => Some(
                TestNamespace::create(cluster, &format!("{prefix}-ops"))
                    .await
                    .unwrap(),
            ),
            _ => None,
        };
        let operator = match &own {
            Some(own) => Ferry::spawn_confined_with(cluster, &ns, own.name(), e2e::TEST_LOG),
            None => Ferry::spawn_confined(cluster, &ns),
        };
        Self {
            _config_cleanup: ProviderConfigCleanup::new(cluster, &config_name),
            _own: own,
            operator: operator.unwrap(),
            client,
            fake,
            subscription: ns,
            config: config_name,
            namespace,
        }
    }

    fn azure(&self) -> Subscription<'static> {
        self.fake.subscription(&self.subscription)
    }

    /// Applies a `provider` object running `image` with `extra` merged into its spec.
    async fn apply(&self, name: &str, provider: &str, image: &str, extra: Value) {
        let mut spec = json!({
            "provider": provider,
            "containers": [{"name": "app", "image": image, "port": 8080}],
        });
        if provider == "containerApps" {
            spec["containers"][0]["resources"] = json!({"cpu": "250m", "memory": "512Mi"});
            spec["scaling"] = json!({"minInstances": 0, "maxInstances": 5});
        } else {
            spec["containers"][0]["resources"] = json!({"cpu": "1", "memory": "1Gi"});
        }
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                spec.insert(key.clone(), value.clone());
            }
        }
        self.apply_spec(name, spec).await;
    }

    /// Applies ServerlessService `name` with `spec` and the scenario's ProviderConfig.
    async fn apply_spec(&self, name: &str, mut spec: Value) {
        spec["providerConfigRef"] = json!({"name": self.config});
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

    /// The calls that may change something, by operation.
    async fn writes(&self) -> BTreeMap<String, usize> {
        self.azure().writes().await.unwrap()
    }

    /// The bodies of the PUTs of `operation` so far, oldest first.
    async fn puts(&self, operation: &str) -> Vec<Value> {
        self.azure()
            .requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.operation == operation)
            .map(|r| r.body)
            .collect()
    }

    /// Every resource of `kind` (`Microsoft.App/containerApps`,
    /// `Microsoft.ContainerInstance/containerGroups`) the subscription holds (a list is no
    /// observation of a pending operation: it changes nothing in the fake).
    async fn held(&self, kind: &str, api_version: &str) -> Vec<Value> {
        let path = format!(
            "/subscriptions/{}/providers/{kind}?api-version={api_version}",
            self.azure().id()
        );
        let answer = self.fake.send_raw(Method::GET, &path, None).await.unwrap();
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.body["value"].as_array().cloned().unwrap_or_default()
    }

    async fn apps(&self) -> Vec<Value> {
        self.held(
            "Microsoft.App/containerApps",
            azure_fake::CONTAINER_APPS_API_VERSION,
        )
        .await
    }

    async fn groups(&self) -> Vec<Value> {
        self.held(
            "Microsoft.ContainerInstance/containerGroups",
            azure_fake::CONTAINER_INSTANCES_API_VERSION,
        )
        .await
    }

    /// Deletes `name` and waits until the object is gone (its finalizer released).
    async fn delete(&self, name: &str) {
        self.ssvs()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
        let gone = wait_gone(&self.ssvs(), name, WAIT, "the object let go").await;
        self.check(gone);
    }
}

/// The resources of `held` tagged with `svc`'s UID.
fn owned_by<'a>(held: &'a [Value], svc: &ServerlessService) -> Vec<&'a Value> {
    let uid = svc.uid().unwrap();
    held.iter()
        .filter(|r| r["tags"]["ferry-uid"].as_str() == Some(uid.as_str()))
        .collect()
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
    current_ready(svc) == Some(("True", "Available"))
}

#[tokio::test]
async fn a_container_app_is_created_becomes_ready_idles_follows_changes_and_is_deleted() {
    let s = Scenario::start("aca", Access::Anonymous).await;
    s.apply(
        "web",
        "containerApps",
        "ghcr.io/acme/web:1",
        json!({"ingress": "public"}),
    )
    .await;

    let svc = s
        .ssv("web", "Ready=True on Container Apps", ready_true)
        .await;
    let status = svc.status.clone().unwrap();
    let url = status.url.clone().unwrap_or_default();
    assert!(
        url.starts_with("https://") && url.ends_with(".westeurope.azurecontainerapps.io"),
        "{status:?}"
    );
    assert_eq!(status.operation, None, "the finished operation left status");
    let first_revision = status.latest_ready_revision.clone();
    assert!(first_revision.is_some(), "{status:?}");
    assert_eq!(s.writes().await, BTreeMap::from([(APPS.to_owned(), 1)]));
    let apps = s.apps().await;
    assert_eq!(owned_by(&apps, &svc).len(), 1, "{apps:#?}");
    assert_eq!(apps.len(), 1, "{apps:#?}");
    let tags = &apps[0]["tags"];
    assert_eq!(tags["managed-by"], "ferry", "{tags}");
    assert_eq!(tags["ferry-object"], format!("{}/web", s.namespace.name()));

    // Idle: resyncs every second (three or more here), no write to ARM or to the API server.
    let version = svc.resource_version();
    let reads = s.azure().calls().await.unwrap()["ContainerApps_Get"];
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(s.writes().await, BTreeMap::from([(APPS.to_owned(), 1)]));
    assert_eq!(
        s.ssvs().get("web").await.unwrap().resource_version(),
        version
    );
    let reads_after = s.azure().calls().await.unwrap()["ContainerApps_Get"];
    assert!(
        reads_after >= reads + 3,
        "resynced: {reads} -> {reads_after}"
    );

    // A new image: one PUT, a new revision in status.
    s.apply(
        "web",
        "containerApps",
        "ghcr.io/acme/web:2",
        json!({"ingress": "public"}),
    )
    .await;
    s.ssv("web", "the new revision ready", |svc| {
        ready_true(svc) && svc.status.as_ref().unwrap().latest_ready_revision != first_revision
    })
    .await;
    assert_eq!(s.writes().await.get(APPS), Some(&2));
    let sent = s.puts(APPS).await;
    assert_eq!(
        sent.last().unwrap()["properties"]["template"]["containers"][0]["image"],
        "ghcr.io/acme/web:2"
    );

    // Delete: the app goes from Azure, and the object (finalizer released) goes.
    s.delete("web").await;
    assert_eq!(s.writes().await.get("ContainerApps_Delete"), Some(&1));
    assert_eq!(s.apps().await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_failing_container_app_revision_is_reported_with_its_reason() {
    let s = Scenario::start("aca-fail", Access::Anonymous).await;
    let (missing, crashing) = ("ghcr.io/acme/missing:1", "ghcr.io/acme/crashing:1");
    s.azure()
        .set_image(missing, ImageBehaviour::Missing)
        .await
        .unwrap();
    s.azure()
        .set_image(crashing, ImageBehaviour::Crashing)
        .await
        .unwrap();

    s.apply("missing", "containerApps", missing, json!({}))
        .await;
    s.apply("crashing", "containerApps", crashing, json!({}))
        .await;
    let svc = s
        .ssv("missing", "Ready=False ImageNotFound", |svc| {
            condition(svc, "Ready")
                .is_some_and(|(status, reason, _)| status == "False" && reason == "ImageNotFound")
        })
        .await;
    let (_, _, message) = condition(&svc, "Ready").unwrap();
    assert!(message.contains(missing), "{message}");
    let svc = s
        .ssv("crashing", "Ready=False ContainerFailed", |svc| {
            condition(svc, "Ready")
                .is_some_and(|(status, reason, _)| status == "False" && reason == "ContainerFailed")
        })
        .await;
    let (_, _, message) = condition(&svc, "Ready").unwrap();
    assert!(message.contains("exit code 1"), "{message}");

    // A failed revision is reported, not retried in a loop: one PUT each.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        s.writes().await.get(APPS),
        Some(&2),
        "{:?}",
        s.writes().await
    );

    s.delete("missing").await;
    s.delete("crashing").await;
    assert_eq!(s.apps().await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_rotated_client_secret_is_taken_up_without_a_restart() {
    let client_id = "e2e-aca-rotation";
    let s = Scenario::start(
        "aca-rotate",
        Access::ServicePrincipal(client_id, "first-s3cret"),
    )
    .await;
    s.apply("web", "containerApps", "ghcr.io/acme/web:1", json!({}))
        .await;
    let svc = s
        .ssv("web", "Ready=True with the first secret", ready_true)
        .await;
    let revision = svc.status.unwrap().latest_ready_revision;
    let pid = s.operator.pid();

    // Microsoft Entra ID: the old secret is replaced and the tokens issued for it expire.
    s.fake
        .set_client_secrets(TENANT, client_id, &["second-s3cret"])
        .await
        .unwrap();
    s.fake.expire_tokens(client_id).await.unwrap();
    s.ssv("web", "Synced=False CredentialsInvalid", |svc| {
        condition(svc, "Synced")
            .is_some_and(|(status, reason, _)| status == "False" && reason == "CredentialsInvalid")
    })
    .await;

    // The Kubernetes Secret follows: the same operator reconnects with the new secret.
    e2e::put_azure_secret(
        &s.client,
        s.namespace.name(),
        TENANT,
        client_id,
        "second-s3cret",
    )
    .await
    .unwrap();
    s.ssv("web", "Synced=True again", |svc| {
        condition(svc, "Synced").is_some_and(|(status, _, _)| status == "True") && ready_true(svc)
    })
    .await;
    s.apply("web", "containerApps", "ghcr.io/acme/web:2", json!({}))
        .await;
    s.ssv("web", "a change carried with the new secret", |svc| {
        ready_true(svc) && svc.status.as_ref().unwrap().latest_ready_revision != revision
    })
    .await;
    assert_eq!(s.operator.pid(), pid);
    assert_eq!(s.writes().await.get(APPS), Some(&2));
    // Every Resource Manager call carried the service principal's token: the ones answered
    // with its client id, the ones refused (401, the fake records no client id for them) with
    // the token that expired.
    let calls = s.azure().requests().await.unwrap();
    assert!(
        calls
            .iter()
            .all(|c| c.status == Some(401) || c.client_id.as_deref() == Some(client_id)),
        "{calls:#?}"
    );

    s.delete("web").await;
    assert_eq!(s.writes().await.get("ContainerApps_Delete"), Some(&1));
}

#[tokio::test]
async fn a_kubernetes_secret_named_by_from_secret_is_copied_as_an_app_secret() {
    // The operator's own namespace is another: reading the Secret takes the ClusterRole's grant.
    let s = Scenario::start("aca-secret", Access::AnonymousFromAfar).await;
    s.put_secret("api", json!({"key": "first-api-key"})).await;
    let secret_spec = json!({
        "containerApps": {"secrets": [{"name": "api-key", "fromSecret": {"name": "api", "key": "key"}}]},
    });
    let mut spec = secret_spec.clone();
    spec["containers"] = json!([{
        "name": "app", "image": "ghcr.io/acme/web:1", "port": 8080,
        "resources": {"cpu": "250m", "memory": "512Mi"},
        "env": [{"name": "API_KEY", "secret": {"name": "api-key"}}],
    }]);
    s.apply("web", "containerApps", "ghcr.io/acme/web:1", spec.clone())
        .await;
    s.ssv("web", "Ready=True with the copied secret", ready_true)
        .await;

    let sent = s.puts(APPS).await;
    assert_eq!(sent.len(), 1);
    let properties = &sent[0]["properties"];
    assert_eq!(
        properties["configuration"]["secrets"],
        json!([{"name": "api-key", "value": "first-api-key"}])
    );
    assert_eq!(
        properties["template"]["containers"][0]["env"],
        json!([{"name": "API_KEY", "secretRef": "api-key"}])
    );
    assert!(
        !sent[0]["tags"].to_string().contains("first-api-key"),
        "the value in the tags: {}",
        sent[0]["tags"]
    );

    // The Secret changes: one PUT carries the new value.
    s.put_secret("api", json!({"key": "second-api-key"})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let sent = s.puts(APPS).await;
        if sent.len() == 2 {
            assert_eq!(
                sent[1]["properties"]["configuration"]["secrets"],
                json!([{"name": "api-key", "value": "second-api-key"}])
            );
            break;
        }
        assert!(
            sent.len() < 2 && tokio::time::Instant::now() < deadline,
            "{} PUTs: {sent:#?}\n--- ferry log ---\n{}",
            sent.len(),
            s.operator.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.ssv("web", "Ready=True after the new value", ready_true)
        .await;

    s.delete("web").await;
    assert_eq!(s.apps().await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_container_group_is_created_becomes_ready_idles_follows_changes_and_is_deleted() {
    let s = Scenario::start("aci", Access::Anonymous).await;
    let public = json!({"ingress": "public", "containerInstances": {"dnsNameLabel": "e2e-web"}});
    s.apply(
        "web",
        "containerInstances",
        "ghcr.io/acme/web:1",
        public.clone(),
    )
    .await;

    let svc = s
        .ssv("web", "Ready=True on Container Instances", ready_true)
        .await;
    let status = svc.status.clone().unwrap();
    assert_eq!(
        status.url.as_deref(),
        Some("http://e2e-web.westeurope.azurecontainer.io:8080"),
        "{status:?}"
    );
    assert_eq!(status.operation, None, "the finished operation left status");
    assert_eq!(s.writes().await, BTreeMap::from([(GROUPS.to_owned(), 1)]));
    let groups = s.groups().await;
    assert_eq!(owned_by(&groups, &svc).len(), 1, "{groups:#?}");
    assert_eq!(groups.len(), 1, "{groups:#?}");

    // Idle: a PUT would redeploy the group, so none is sent; nor is the object written.
    let version = svc.resource_version();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(s.writes().await, BTreeMap::from([(GROUPS.to_owned(), 1)]));
    assert_eq!(
        s.ssvs().get("web").await.unwrap().resource_version(),
        version
    );

    // A new image: one PUT, which redeploys the group.
    s.apply("web", "containerInstances", "ghcr.io/acme/web:2", public)
        .await;
    s.ssv("web", "the group redeployed", |svc| {
        ready_true(svc) && svc.metadata.generation == Some(2)
    })
    .await;
    assert_eq!(s.writes().await.get(GROUPS), Some(&2));
    let sent = s.puts(GROUPS).await;
    assert_eq!(
        sent.last().unwrap()["properties"]["containers"][0]["properties"]["image"],
        "ghcr.io/acme/web:2"
    );

    s.delete("web").await;
    assert_eq!(s.writes().await.get("ContainerGroups_Delete"), Some(&1));
    assert_eq!(s.groups().await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_container_group_with_a_missing_image_is_reported_image_not_found() {
    let s = Scenario::start("aci-fail", Access::Anonymous).await;
    let missing = "ghcr.io/acme/missing:1";
    s.azure()
        .set_image(missing, ImageBehaviour::Missing)
        .await
        .unwrap();
    s.apply("broken", "containerInstances", missing, json!({}))
        .await;
    let svc = s
        .ssv("broken", "Ready=False ImageNotFound", |svc| {
            condition(svc, "Ready")
                .is_some_and(|(status, reason, _)| status == "False" && reason == "ImageNotFound")
        })
        .await;
    let (_, _, message) = condition(&svc, "Ready").unwrap();
    assert!(message.contains(missing), "{message}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.writes().await.get(GROUPS), Some(&1), "no PUT in a loop");

    s.delete("broken").await;
    assert_eq!(s.groups().await, Vec::<Value>::new());
}

// Volumes (issue 23)

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
    let s = Scenario::start("aca-vol", Access::Anonymous).await;
    s.put_secret("gallery", json!({"settings.json": "{\"theme\":\"dark\"}"}))
        .await;
    s.apply_spec("gallery", gallery(5)).await;

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
    assert_eq!(s.puts(APPS).await, Vec::<Value>::new());

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
    s.apply_spec("gallery", gallery(4)).await;
    s.ssv("gallery", "Ready=True with its volumes", |svc| {
        ready_true(svc) && svc.metadata.generation == Some(2)
    })
    .await;

    // A reconcile of the first generation may have written it before the change did.
    let sent = s.puts(APPS).await;
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
    assert_eq!(s.puts(APPS).await.len(), sent.len());
    assert_eq!(
        s.azure()
            .calls()
            .await
            .unwrap()
            .get("ManagedEnvironmentsStorages_Get"),
        calls.get("ManagedEnvironmentsStorages_Get")
    );

    s.delete("gallery").await;
    assert_eq!(s.writes().await.get("ContainerApps_Delete"), Some(&1));
}

#[tokio::test]
async fn a_container_group_mounts_a_share_with_its_copied_key_a_secret_file_and_an_emptydir() {
    let s = Scenario::start("aci-vol", Access::Anonymous).await;
    s.put_secret("acmefiles", json!({"key": "first-account-key"}))
        .await;
    s.put_secret(
        "report-settings",
        json!({"settings.json": "{\"currency\":\"EUR\"}"}),
    )
    .await;
    s.apply_spec(
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

    let sent = s.puts(GROUPS).await;
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
    assert_eq!(s.puts(GROUPS).await.len(), 1);
    assert_eq!(
        s.ssvs().get("reports").await.unwrap().resource_version(),
        version
    );

    // The account key is rotated in its Secret: one PUT carries the new key.
    s.put_secret("acmefiles", json!({"key": "second-account-key"}))
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let sent = s.puts(GROUPS).await;
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
    assert_eq!(s.writes().await.get("ContainerGroups_Delete"), Some(&1));
}
