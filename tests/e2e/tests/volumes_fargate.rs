//! Volumes on Fargate, end to end: the real `ferry controller` against the stand-in API server
//! (or a real cluster with `FERRY_E2E_KUBECONFIG`) and moto server (or AWS) through a counting
//! proxy. A ServerlessService mounting an EFS file system (access point, TLS, IAM), a
//! directory of a second one (a subPath) and a scratch emptyDir registers a task definition
//! whose `volumes` and `mountPoints` are read back with DescribeTaskDefinition as ECS answers
//! them; idle resyncs register nothing; a changed mount registers the next revision; an
//! in-memory emptyDir, which Fargate cannot mount, is refused naming the field without any
//! AWS write.

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
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use moto_standin::{Moto, Proxy};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const FS: &str = "fs-0123456789abcdef0";
const SHARED_FS: &str = "fs-0fedcba9876543210";
const AP: &str = "fsap-0123456789abcdef0";
const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/files-app";

/// The test's namespace (also the operator's, where the credentials Secret is), an ECS cluster
/// in moto, a ProviderConfig pointing at moto through a counting proxy, and an operator.
struct Scenario {
    _config_cleanup: ProviderConfigCleanup,
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    proxy: Proxy,
    ecs: aws_sdk_ecs::Client,
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
        let moto = Moto::shared().await.unwrap();
        let proxy = Proxy::start(&moto.endpoint()).unwrap();
        let ecs = aws_sdk_ecs::Client::new(&moto_standin::sdk_config(&moto.endpoint()).await);
        let ecs_cluster = format!("ecs-{ns}");
        ecs.create_cluster()
            .cluster_name(&ecs_cluster)
            .send()
            .await
            .unwrap();
        let config = format!("aws-{ns}");
        e2e::put_aws_secret(&client, &ns, "AKIDVOLUMES")
            .await
            .unwrap();
        e2e::put_provider_config(
            &client,
            e2e::fargate_provider_config(&config, &ecs_cluster, &proxy.endpoint(), &ns),
            &json!({"allowedNamespaces": [ns]}),
        )
        .await
        .unwrap();
        Self {
            _config_cleanup: ProviderConfigCleanup::new(cluster, &config),
            operator: Ferry::spawn_confined(cluster, &ns).unwrap(),
            client,
            proxy,
            ecs,
            config,
            namespace,
        }
    }

    async fn apply(&self, name: &str, containers: Value, volumes: Value) {
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": name},
            "spec": {
                "provider": "fargate",
                "providerConfigRef": {"name": self.config},
                "containers": containers,
                "volumes": volumes,
                "scaling": {"minInstances": 1},
                "fargate": {"taskRoleArn": TASK_ROLE},
            },
        });
        self.ssvs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
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
    let ns = s.namespace.name().to_owned();
    let family = format!("{ns}_files");
    s.apply("files", containers("/var/log/app"), volumes())
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
    s.apply("files", containers("/var/log/files"), volumes())
        .await;
    s.ssv("files", "revision 2 ready", |svc| {
        current_ready(svc) == Some(("True", "Available"))
            && svc
                .status
                .as_ref()
                .and_then(|st| st.latest_ready_revision.as_deref())
                == Some(&format!("{family}:2"))
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
    s.apply(
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
    let revisions = s
        .ecs
        .list_task_definitions()
        .family_prefix(&family)
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    assert!(revisions.task_definition_arns().is_empty(), "{revisions:?}");
}
