//! The operator with its Fargate backend, end to end: the real `ferry controller` process
//! against the stand-in API server (or a real cluster with `FERRY_E2E_KUBECONFIG`), pointed at
//! moto server (patched so rollouts progress; see `tests/moto`) through a ProviderConfig
//! `endpoint`, with a proxy in between that counts the operator's AWS calls. Credentials come
//! from a Secret in the operator's namespace. Volumes too: EFS and scratch mounts, read back
//! with DescribeTaskDefinition, and an in-memory emptyDir refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::types::{
    ContainerDefinition, EfsAuthorizationConfigIam, EfsTransitEncryption, TaskDefinition,
};
use e2e::{
    Cluster, Ferry, MANAGER, Operator, ProviderConfigCleanup, Scene, TestNamespace, current_ready,
    wait_gone,
};
use ferry_api::ServerlessService;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use moto_standin::{Moto, Proxy};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const FS: &str = "fs-0123456789abcdef0";
const SHARED_FS: &str = "fs-0fedcba9876543210";
const AP: &str = "fsap-0123456789abcdef0";
const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/files-app";

/// One test's namespace (also the operator's own, where the credentials Secret is), an ECS
/// cluster in moto, a ProviderConfig pointing at moto through a counting proxy, and an operator.
struct Scenario {
    _config_cleanup: ProviderConfigCleanup,
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    proxy: Proxy,
    ecs: aws_sdk_ecs::Client,
    cluster_name: String,
    config: String,
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
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, prefix).await.unwrap();
        let ns = namespace.name().to_owned();
        let client = cluster.client().await.unwrap();

        let moto = Moto::shared().await.unwrap();
        let proxy = Proxy::start(&moto.endpoint()).unwrap();
        let ecs = aws_sdk_ecs::Client::new(&moto_standin::sdk_config(&moto.endpoint()).await);
        let cluster_name = format!("ecs-{ns}");
        ecs.create_cluster()
            .cluster_name(&cluster_name)
            .send()
            .await
            .unwrap();

        let config = format!("aws-{ns}");
        let scenario = Self {
            _config_cleanup: ProviderConfigCleanup::new(cluster, &config),
            operator: Ferry::spawn_confined(cluster, &ns).unwrap(),
            client,
            proxy,
            ecs,
            cluster_name,
            // ProviderConfigs are cluster-scoped: the namespace's random suffix keeps runs apart.
            config,
            namespace,
        };
        scenario.put_secret("AKIDFIRST").await;
        scenario
            .put_config(json!({"allowedNamespaces": [ns]}))
            .await;
        scenario
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    async fn put_secret(&self, key_id: &str) {
        e2e::put_aws_secret(&self.client, self.ns(), key_id)
            .await
            .unwrap();
    }

    /// Puts the ProviderConfig, with `access` (its `allowedNamespaces` and
    /// `namespaceSelector`).
    async fn put_config(&self, access: Value) {
        let config = e2e::fargate_provider_config(
            &self.config,
            &self.cluster_name,
            &self.proxy.endpoint(),
            self.ns(),
        );
        e2e::put_provider_config(&self.client, config, &access)
            .await
            .unwrap();
    }

    async fn apply(&self, name: &str, image: &str, config: &str) {
        let spec = json!({
            "provider": "fargate",
            "providerConfigRef": {"name": config},
            "containers": [{
                "name": "app",
                "image": image,
                "port": 8080,
                "resources": {"cpu": "250m", "memory": "512Mi"},
            }],
            "scaling": {"minInstances": 1, "maxInstances": 3, "metric": "cpu"},
        });
        self.apply_spec(name, spec).await;
    }

    /// Applies a service of `containers` mounting `volumes`, whose task runs as [`TASK_ROLE`].
    async fn apply_with_volumes(&self, name: &str, containers: Value, volumes: Value) {
        let spec = json!({
            "provider": "fargate",
            "providerConfigRef": {"name": self.config},
            "containers": containers,
            "volumes": volumes,
            "scaling": {"minInstances": 1},
            "fargate": {"taskRoleArn": TASK_ROLE},
        });
        self.apply_spec(name, spec).await;
    }

    async fn apply_spec(&self, name: &str, spec: Value) {
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

    async fn active_services(&self) -> Vec<String> {
        self.ecs
            .list_services()
            .cluster(&self.cluster_name)
            .send()
            .await
            .unwrap()
            .service_arns()
            .to_vec()
    }

    /// Checks that no revision of task definition `family` is active any more.
    async fn assert_no_active_revisions(&self, family: &str) {
        let revisions = self
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send()
            .await
            .unwrap();
        assert!(revisions.task_definition_arns().is_empty(), "{revisions:?}");
    }

    /// Revision `revision` of `family` as DescribeTaskDefinition answers it.
    async fn task_definition(&self, family: &str, revision: i32) -> TaskDefinition {
        self.ecs
            .describe_task_definition()
            .task_definition(format!("{family}:{revision}"))
            .send()
            .await
            .unwrap()
            .task_definition()
            .cloned()
            .unwrap()
    }
}

fn revision(svc: &ServerlessService) -> Option<&str> {
    svc.status.as_ref()?.latest_ready_revision.as_deref()
}

#[tokio::test]
async fn a_fargate_service_is_created_idles_without_writes_follows_changes_and_is_deleted() {
    let s = Scenario::start("fargate").await;
    s.apply("web", "ghcr.io/acme/web:1", &s.config).await;
    let family = format!("{}_web", s.ns());

    let svc = s
        .ssv("web", "Ready=True on Fargate", |svc| {
            current_ready(svc) == Some(("True", "Available"))
        })
        .await;
    let status = svc.status.clone().unwrap();
    assert_eq!(revision(&svc), Some(format!("{family}:1").as_str()));
    let arn = status.resource_ref.as_ref().map(|r| r.id.as_str());
    assert!(arn.is_some_and(|a| a.ends_with(&family)), "{status:?}");
    assert_eq!(s.active_services().await.len(), 1);

    // Idle: resyncs every second read AWS, but neither AWS nor the API server is written to.
    s.proxy.clear();
    let version = svc.resource_version();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.proxy.writes(), BTreeMap::new(), "{:?}", s.proxy.calls());
    assert!(
        s.proxy.calls().contains_key("DescribeServices"),
        "the resyncs observed AWS: {:?}",
        s.proxy.calls()
    );
    assert_eq!(
        s.ssvs().get("web").await.unwrap().resource_version(),
        version
    );

    // A new image: a new revision, deployed, in status.
    s.apply("web", "ghcr.io/acme/web:2", &s.config).await;
    s.ssv("web", "revision 2 ready", |svc| {
        current_ready(svc) == Some(("True", "Available"))
            && revision(svc) == Some(&format!("{family}:2"))
    })
    .await;
    assert_eq!(s.active_services().await.len(), 1);

    // New credentials in the Secret are used without a restart.
    s.proxy.clear();
    s.put_secret("AKIDSECOND").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !s
        .proxy
        .requests()
        .iter()
        .any(|r| r.access_key.as_deref() == Some("AKIDSECOND"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new credentials were never used\n{}",
            s.operator.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Delete: nothing is left in AWS, and the object goes.
    s.ssvs()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let gone = wait_gone(&s.ssvs(), "web", WAIT, "the object let go").await;
    s.check(gone);
    assert_eq!(s.active_services().await, Vec::<String>::new());
    s.assert_no_active_revisions(&family).await;
}

#[tokio::test]
async fn a_missing_or_forbidding_provider_config_is_reported_until_it_allows_the_service() {
    let s = Scenario::start("fargate-config").await;
    s.apply("lost", "ghcr.io/acme/lost:1", "no-such-config")
        .await;
    let svc = s
        .ssv("lost", "ProviderConfigNotFound", |svc| {
            current_ready(svc) == Some(("False", "ProviderConfigNotFound"))
        })
        .await;
    let message = &svc.status.as_ref().unwrap().conditions[0].message;
    assert!(!message.is_empty());

    // A ProviderConfig that does not allow the namespace.
    s.put_config(json!({"allowedNamespaces": ["somewhere-else"]}))
        .await;
    s.apply("guest", "ghcr.io/acme/guest:1", &s.config).await;
    s.ssv("guest", "ProviderConfigNotAllowed", |svc| {
        current_ready(svc) == Some(("False", "ProviderConfigNotAllowed"))
    })
    .await;
    assert_eq!(
        s.proxy.calls(),
        BTreeMap::new(),
        "no AWS call without permission"
    );

    // Allowing it by a label of the namespace reconciles the service at once (the
    // ProviderConfig is watched).
    let label = json!({"metadata": {"labels": {"ferry-e2e/fargate": "allowed"}}});
    Api::<Namespace>::all(s.client.clone())
        .patch(s.ns(), &PatchParams::default(), &Patch::Merge(&label))
        .await
        .unwrap();
    s.put_config(json!({"namespaceSelector": {"matchLabels": {"ferry-e2e/fargate": "allowed"}}}))
        .await;
    s.ssv("guest", "Ready=True once allowed", |svc| {
        current_ready(svc) == Some(("True", "Available"))
    })
    .await;
    s.ssvs()
        .delete("guest", &DeleteParams::default())
        .await
        .unwrap();
    s.ssvs()
        .delete("lost", &DeleteParams::default())
        .await
        .unwrap();
}

// Volumes (issue 23)

/// The containers: `app` mounts the EFS volume, a directory of the shared one read-only and
/// the scratch directory; `log` the scratch directory at `log_path`.
fn containers(log_path: &str) -> Value {
    json!([
        {
            "name": "app",
            "image": "ghcr.io/acme/files:1",
            "port": 8080,
            "resources": {"cpu": "250m", "memory": "512Mi"},
            "volumeMounts": [
                {"name": "data", "mountPath": "/var/data"},
                {"name": "shared", "mountPath": "/etc/files", "subPath": "templates",
                 "readOnly": true},
                {"name": "scratch", "mountPath": "/tmp/work"},
            ],
        },
        {
            "name": "log",
            "image": "ghcr.io/acme/log:1",
            "volumeMounts": [{"name": "scratch", "mountPath": log_path, "readOnly": true}],
        },
    ])
}

fn volumes() -> Value {
    json!([
        {"name": "data", "efs": {"fileSystemId": FS, "accessPointId": AP,
                                 "transitEncryption": true, "iam": true}},
        {"name": "shared", "efs": {"fileSystemId": SHARED_FS, "rootDirectory": "/files"}},
        {"name": "scratch", "emptyDir": {"sizeLimit": "2Gi"}},
    ])
}

/// A container definition's mount points as (source volume, container path, read-only).
fn mounts(c: &ContainerDefinition) -> Vec<(String, String, bool)> {
    c.mount_points()
        .iter()
        .map(|m| {
            (
                m.source_volume().unwrap_or_default().to_owned(),
                m.container_path().unwrap_or_default().to_owned(),
                m.read_only().unwrap_or(false),
            )
        })
        .collect()
}

fn mount(volume: &str, path: &str, read_only: bool) -> (String, String, bool) {
    (volume.to_owned(), path.to_owned(), read_only)
}

fn container<'a>(td: &'a TaskDefinition, name: &str) -> &'a ContainerDefinition {
    td.container_definitions()
        .iter()
        .find(|c| c.name() == Some(name))
        .unwrap_or_else(|| panic!("no container {name}: {td:?}"))
}

/// Checks the volumes of `td` as ECS describes them: it may add its defaults (rootDirectory
/// `/`, an empty `host`), so each field Ferry set is compared, not the whole shape.
fn assert_volumes(td: &TaskDefinition) {
    let by_name: BTreeMap<&str, &aws_sdk_ecs::types::Volume> = td
        .volumes()
        .iter()
        .map(|v| (v.name().unwrap(), v))
        .collect();
    assert_eq!(
        by_name.keys().copied().collect::<Vec<_>>(),
        ["data", "scratch", "shared"],
        "{td:?}"
    );

    let data = by_name["data"].efs_volume_configuration().unwrap();
    assert_eq!(data.file_system_id(), FS);
    assert!(
        matches!(data.root_directory(), None | Some("/")),
        "an access point sets the directory: {data:?}"
    );
    assert_eq!(
        data.transit_encryption(),
        Some(&EfsTransitEncryption::Enabled)
    );
    let auth = data.authorization_config().unwrap();
    assert_eq!(auth.access_point_id(), Some(AP));
    assert_eq!(auth.iam(), Some(&EfsAuthorizationConfigIam::Enabled));
    assert_eq!(td.task_role_arn(), Some(TASK_ROLE), "IAM mounts as it");

    let shared = by_name["shared"].efs_volume_configuration().unwrap();
    assert_eq!(shared.file_system_id(), SHARED_FS);
    assert_eq!(shared.root_directory(), Some("/files/templates"));
    assert_eq!(
        shared.transit_encryption(),
        Some(&EfsTransitEncryption::Disabled)
    );

    let scratch = by_name["scratch"];
    assert!(
        scratch.efs_volume_configuration().is_none()
            && scratch.docker_volume_configuration().is_none()
            && scratch.host().is_none_or(|h| h.source_path().is_none()),
        "a bind mount on the task's ephemeral storage: {scratch:?}"
    );
}

#[tokio::test]
async fn fargate_mounts_efs_and_scratch_volumes_and_registers_a_revision_only_when_they_change() {
    let s = Scenario::start("volumes-fargate").await;
    let ns = s.ns().to_owned();
    let family = format!("{ns}_files");
    s.apply_with_volumes("files", containers("/var/log/app"), volumes())
        .await;
    s.ssv("files", "Ready=True with volumes", |svc| {
        current_ready(svc) == Some(("True", "Available"))
    })
    .await;

    let td = s.task_definition(&family, 1).await;
    assert_volumes(&td);
    assert_eq!(
        mounts(container(&td, "app")),
        [
            mount("data", "/var/data", false),
            mount("shared", "/etc/files", true),
            mount("scratch", "/tmp/work", false),
        ]
    );
    assert_eq!(
        mounts(container(&td, "log")),
        [mount("scratch", "/var/log/app", true)]
    );

    // Idle: the resyncs compare what ECS holds with the spec and register nothing.
    s.proxy.clear();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.proxy.writes(), BTreeMap::new(), "{:?}", s.proxy.calls());

    // A mount moves: the next revision, with it.
    s.apply_with_volumes("files", containers("/var/log/files"), volumes())
        .await;
    s.ssv("files", "revision 2 ready", |svc| {
        current_ready(svc) == Some(("True", "Available"))
            && revision(svc) == Some(&format!("{family}:2"))
    })
    .await;
    assert_eq!(
        s.proxy.writes().get("RegisterTaskDefinition"),
        Some(&1),
        "{:?}",
        s.proxy.calls()
    );
    let td = s.task_definition(&family, 2).await;
    assert_volumes(&td);
    assert_eq!(
        mounts(container(&td, "log")),
        [mount("scratch", "/var/log/files", true)]
    );

    // What Fargate cannot mount is refused by name, and nothing is sent to AWS for it.
    s.proxy.clear();
    s.apply_with_volumes(
        "tmpfs",
        json!([{"name": "app", "image": "ghcr.io/acme/files:1", "port": 8080,
                "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]}]),
        json!([{"name": "cache", "emptyDir": {"medium": "Memory"}}]),
    )
    .await;
    let refused = s
        .ssv("tmpfs", "Unsupported", |svc| {
            current_ready(svc) == Some(("False", "Unsupported"))
        })
        .await;
    let ready = &refused.status.as_ref().unwrap().conditions;
    let message = &ready.iter().find(|c| c.type_ == "Ready").unwrap().message;
    assert!(
        message.contains("spec.volumes[0].emptyDir.medium"),
        "{message}"
    );
    let tmpfs_family = format!("{ns}_tmpfs");
    assert!(
        s.proxy
            .bodies("RegisterTaskDefinition")
            .iter()
            .all(|b| b["family"] != tmpfs_family.as_str()),
        "nothing registered for the refused spec"
    );

    // Delete: the service and its revisions go.
    for name in ["files", "tmpfs"] {
        s.ssvs()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
        let gone = wait_gone(&s.ssvs(), name, WAIT, "the object let go").await;
        s.check(gone);
    }
    s.assert_no_active_revisions(&family).await;
}
