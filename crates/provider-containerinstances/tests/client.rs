//! The Container Instances client against the Azure fake (`tests/azure-fake`), which checks
//! every request against Microsoft's definitions, runs ARM's long-running operations and
//! counts the calls. Each test uses its own subscription on one shared fake, so they run in
//! parallel; each checks what the fake holds and what was written, not only what was returned.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use azure_fake::{AzureFake, Fault, ImageBehaviour, Subscription};
use common::{IMAGE, UID, serverless_service, simple};
use ferry_api::conditions::reasons;
use ferry_api::{ProviderConfig, ServerlessService, ServerlessServiceStatus};
use ferry_azure::ArmSettings;
use ferry_core::desired::{Desired, ObjectRef};
use ferry_provider::{Deletion, ExternalClient, Observation, ProviderError, Readiness};
use ferry_provider_containerinstances::build::{self, SecretValue};
use ferry_provider_containerinstances::{
    ContainerInstances, ContainerInstancesConnector, SecretReader, Settings, names,
};
use http::Method;
use serde_json::{Value, json};

const RESOURCE_GROUP: &str = "prod-rg";
const CREATE: &str = "ContainerGroups_CreateOrUpdate";
const DELETE: &str = "ContainerGroups_Delete";

/// Secrets of the service's namespace, as a test sets them: `(secret, key)` -> (value,
/// resourceVersion).
#[derive(Default)]
struct Secrets(Mutex<BTreeMap<(String, String), (String, String)>>);

#[async_trait]
impl SecretReader for Secrets {
    async fn read(
        &self,
        namespace: &str,
        secret: &str,
        key: &str,
        value: bool,
    ) -> Result<SecretValue, ProviderError> {
        assert_eq!(namespace, "shop");
        let held = self.0.lock().unwrap();
        let (text, version) = held
            .get(&(secret.to_owned(), key.to_owned()))
            .ok_or_else(|| ProviderError::Terminal {
                reason: reasons::INVALID_SPEC,
                message: format!("Secret shop/{secret} does not exist"),
                recheck: None,
            })?;
        Ok(SecretValue {
            value: value.then(|| text.clone()),
            version: version.clone(),
        })
    }
}

/// One test's subscription, a connector, and the `status.operation` a controller would keep.
struct Harness {
    fake: &'static AzureFake,
    name: String,
    connector: ContainerInstancesConnector,
    config: ProviderConfig,
    secrets: Arc<Secrets>,
    operation: Mutex<Option<String>>,
}

impl Harness {
    async fn start(name: &str) -> Self {
        let fake = AzureFake::shared().await.unwrap();
        let subscription = fake.subscription(name);
        let config: ProviderConfig = serde_saphyr::from_str(&format!(
            "apiVersion: ferry.dev/v1alpha1\nkind: ProviderConfig\n\
             metadata: {{name: azure-{name}, resourceVersion: '1'}}\n\
             spec:\n  azure:\n    subscriptionId: {sub}\n    resourceGroup: {RESOURCE_GROUP}\n    \
             location: westeurope\n    endpoint: {endpoint}\n    credentials: {{source: Anonymous}}\n",
            sub = subscription.id(),
            endpoint = fake.endpoint()
        ))
        .unwrap();
        // Nothing is read from Kubernetes here: `connect_with` is given the ProviderConfig,
        // and Secrets come from `Secrets`.
        let kube = kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap()))
            .unwrap();
        let secrets = Arc::new(Secrets::default());
        let connector = ContainerInstancesConnector::with_secrets(
            kube,
            Settings {
                arm: ArmSettings {
                    call_timeout: Duration::from_secs(10),
                    backoff: Duration::from_millis(20),
                    ..ArmSettings::default()
                },
                ..Settings::default()
            },
            secrets.clone(),
        );
        Self {
            fake,
            name: name.to_owned(),
            connector,
            config,
            secrets,
            operation: Mutex::default(),
        }
    }

    fn subscription(&self) -> Subscription<'_> {
        self.fake.subscription(&self.name)
    }

    fn group_path(&self, name: &str) -> String {
        self.subscription()
            .container_group_url(RESOURCE_GROUP, name)
    }

    /// What the fake holds for the group of `shop/hello`.
    async fn held(&self) -> Option<Value> {
        let answer = self
            .fake
            .send_raw(Method::GET, &self.group_path(&group()), None)
            .await
            .unwrap();
        (answer.status == 200).then_some(answer.body)
    }

    async fn writes(&self, operation: &str) -> usize {
        self.subscription()
            .writes()
            .await
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// `svc` with the status a controller would have written: the operation to poll.
    fn with_status(&self, svc: &ServerlessService) -> ServerlessService {
        let mut svc = svc.clone();
        svc.status = Some(ServerlessServiceStatus {
            operation: self.operation.lock().unwrap().clone(),
            ..ServerlessServiceStatus::default()
        });
        svc
    }

    async fn client(&self, svc: &ServerlessService) -> Arc<dyn ExternalClient> {
        self.connector
            .connect_with(&self.with_status(svc), &self.config, None)
            .await
            .unwrap()
    }

    /// One reconcile as the controller runs it: observe, then create or update when needed,
    /// keeping the operation it started.
    async fn reconcile(&self, svc: &ServerlessService) -> Result<Observation, ProviderError> {
        let client = self.client(svc).await;
        let want = desired_of(svc);
        let observed = client.observe(&want).await?;
        let operation = match &observed {
            Observation::Absent => client.create(&want).await?.operation,
            Observation::Present {
                up_to_date: false, ..
            } => client.update(&want).await?.operation,
            Observation::Present { outputs, .. } => outputs.operation.clone(),
        };
        *self.operation.lock().unwrap() = operation;
        Ok(observed)
    }

    /// Reconciles until the service is Ready or Failed (at most 10 times): the last
    /// observation.
    async fn settle(&self, svc: &ServerlessService) -> Observation {
        for _ in 0..10 {
            let observed = self.reconcile(svc).await.unwrap();
            if let Observation::Present {
                up_to_date: true,
                readiness: Readiness::Ready | Readiness::Failed { .. },
                ..
            } = &observed
            {
                return observed;
            }
        }
        panic!("never settled: {:?}", self.held().await);
    }

    async fn delete(&self, svc: &ServerlessService) -> Deletion {
        self.client(svc).await.delete(&object(svc)).await.unwrap()
    }
}

fn desired_of(svc: &ServerlessService) -> Desired {
    ferry_testkit::builders::desired_of(svc, &ContainerInstances)
}

fn object(svc: &ServerlessService) -> ObjectRef {
    ObjectRef {
        namespace: "shop".into(),
        name: "hello".into(),
        uid: svc.metadata.uid.clone(),
        generation: None,
    }
}

fn group() -> String {
    names::group_name("shop", "hello")
}

fn readiness(observed: &Observation) -> &Readiness {
    match observed {
        Observation::Present { readiness, .. } => readiness,
        Observation::Absent => panic!("absent"),
    }
}

#[tokio::test]
async fn lifecycle_create_ready_idle_update_delete() {
    let h = Harness::start("lifecycle").await;
    let svc = serverless_service(&simple("", ""));
    let Observation::Present {
        readiness, outputs, ..
    } = h.settle(&svc).await
    else {
        unreachable!()
    };
    assert_eq!(readiness, Readiness::Ready);
    let label = group();
    assert_eq!(
        outputs.url,
        Some(format!("http://{label}.westeurope.azurecontainer.io:8080"))
    );
    assert_eq!(
        outputs.resource_id.as_deref(),
        Some(
            h.subscription()
                .container_group(RESOURCE_GROUP, &label)
                .as_str()
        )
    );
    assert_eq!(h.writes(CREATE).await, 1);
    let held = h.held().await.unwrap();
    assert_eq!(held["tags"][build::TAG_UID], UID);
    assert_eq!(
        held["properties"]["ipAddress"]["dnsNameLabel"],
        label.as_str()
    );

    // Idle: looking again writes nothing.
    for _ in 0..3 {
        let observed = h.reconcile(&svc).await.unwrap();
        assert!(matches!(
            observed,
            Observation::Present {
                up_to_date: true,
                readiness: Readiness::Ready,
                ..
            }
        ));
    }
    assert_eq!(h.writes(CREATE).await, 1);

    // A new image: one PUT, then idle again.
    let updated = serverless_service(&simple("", "").replace(IMAGE, "registry.example/hello:2"));
    h.settle(&updated).await;
    assert_eq!(h.writes(CREATE).await, 2);
    assert_eq!(
        h.held().await.unwrap()["properties"]["containers"][0]["properties"]["image"],
        "registry.example/hello:2"
    );
    h.reconcile(&updated).await.unwrap();
    assert_eq!(h.writes(CREATE).await, 2);

    // Delete: in progress until ARM is done, then gone, with one DELETE.
    let mut deletion = h.delete(&updated).await;
    for _ in 0..5 {
        if deletion == Deletion::Gone {
            break;
        }
        deletion = h.delete(&updated).await;
    }
    assert_eq!(deletion, Deletion::Gone);
    assert_eq!(h.held().await, None);
    assert_eq!(h.writes(DELETE).await, 1);
    assert_eq!(h.delete(&updated).await, Deletion::Gone);
}

#[tokio::test]
async fn a_group_of_the_name_made_by_someone_else_is_name_taken() {
    let h = Harness::start("name-taken").await;
    let foreign = json!({
        "location": "westeurope",
        "tags": {"owner": "someone"},
        "properties": {"osType": "Linux", "containers": [{"name": "x", "properties": {
            "image": "nginx:1", "resources": {"requests": {"cpu": 1.0, "memoryInGB": 1.0}}}}]},
    });
    let put = h
        .fake
        .send_raw(Method::PUT, &h.group_path(&group()), Some(&foreign))
        .await
        .unwrap();
    assert_eq!(put.status, 201);
    let svc = serverless_service(&simple("", ""));
    match h.reconcile(&svc).await {
        Err(ProviderError::Terminal { reason, .. }) => assert_eq!(reason, reasons::NAME_TAKEN),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.writes(CREATE).await, 1);
    // Deleting the object leaves someone else's group alone.
    assert_eq!(h.delete(&svc).await, Deletion::Gone);
    assert!(h.held().await.is_some());
}

#[tokio::test]
async fn a_released_group_is_adopted_by_the_next_object_of_the_name() {
    let h = Harness::start("release-adopt").await;
    let svc = serverless_service(&simple("", ""));
    h.settle(&svc).await;
    let client = h.client(&svc).await;
    client.release(&object(&svc)).await.unwrap();
    let held = h.held().await.unwrap();
    assert_eq!(held["tags"].get(build::TAG_UID), None);
    assert_eq!(held["tags"][build::TAG_MANAGED_BY], "ferry");
    // Released twice: nothing more to do.
    let writes = h.writes(CREATE).await;
    client.release(&object(&svc)).await.unwrap();
    assert_eq!(h.writes(CREATE).await, writes);
    // The group is no longer the old object's to delete.
    assert_eq!(h.delete(&svc).await, Deletion::Gone);
    assert!(h.held().await.is_some());

    let mut again = svc.clone();
    again.metadata.uid = Some("0a0b0c0d-1111-4222-8333-444455556666".into());
    *h.operation.lock().unwrap() = None;
    let observed = h.settle(&again).await;
    assert_eq!(readiness(&observed), &Readiness::Ready);
    assert_eq!(
        h.held().await.unwrap()["tags"][build::TAG_UID],
        "0a0b0c0d-1111-4222-8333-444455556666"
    );
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_is_image_not_found_without_retrying_the_put() {
    let h = Harness::start("image-missing").await;
    h.subscription()
        .set_image("registry.example/missing:1", ImageBehaviour::Missing)
        .await
        .unwrap();
    let svc = serverless_service(&simple("", "").replace(IMAGE, "registry.example/missing:1"));
    let observed = h.settle(&svc).await;
    match readiness(&observed) {
        Readiness::Failed { reason, message } => {
            assert_eq!(*reason, reasons::IMAGE_NOT_FOUND);
            assert!(message.contains("registry.example/missing:1"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    h.reconcile(&svc).await.unwrap();
    assert_eq!(h.writes(CREATE).await, 1);
}

#[tokio::test]
async fn a_crashing_container_is_container_failed() {
    let h = Harness::start("crashing").await;
    h.subscription()
        .set_image("registry.example/crash:1", ImageBehaviour::Crashing)
        .await
        .unwrap();
    let svc = serverless_service(&simple("", "").replace(IMAGE, "registry.example/crash:1"));
    let observed = h.settle(&svc).await;
    match readiness(&observed) {
        Readiness::Failed { reason, message } => {
            assert_eq!(*reason, reasons::CONTAINER_FAILED);
            assert!(message.contains("container app exited"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.writes(CREATE).await, 1);
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_without_a_duplicate() {
    let h = Harness::start("faults").await;
    let subscription = h.subscription();
    subscription
        .fail(
            "ContainerGroups_Get",
            Fault::Throttled { retry_after: 0 },
            1,
        )
        .await
        .unwrap();
    subscription
        .fail(CREATE, Fault::Status(503), 1)
        .await
        .unwrap();
    let svc = serverless_service(&simple("", ""));
    let observed = h.settle(&svc).await;
    assert_eq!(readiness(&observed), &Readiness::Ready);
    // The 503 was not carried out; its retry was: one group.
    assert_eq!(h.writes(CREATE).await, 2);
    let groups = h
        .fake
        .send_raw(
            Method::GET,
            &format!(
                "/subscriptions/{}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.ContainerInstance/containerGroups?api-version={}",
                subscription.id(),
                build::API_VERSION
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(groups.body["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_lost_answer_to_the_put_makes_no_second_group() {
    let h = Harness::start("lost-answer").await;
    h.subscription().fail(CREATE, Fault::Lost, 1).await.unwrap();
    let svc = serverless_service(&simple("", ""));
    // The PUT took effect but its answer was lost; the client's retry meets the group already
    // deploying it, which is no failure.
    assert_eq!(h.reconcile(&svc).await.unwrap(), Observation::Absent);
    let observed = h.settle(&svc).await;
    assert_eq!(readiness(&observed), &Readiness::Ready);
    let held = h.held().await.unwrap();
    assert_eq!(held["tags"][build::TAG_UID], UID);
    let puts = h.writes(CREATE).await;
    assert!(puts <= 2, "{puts} PUTs");
    h.reconcile(&svc).await.unwrap();
    assert_eq!(h.writes(CREATE).await, puts);
}

#[tokio::test]
async fn secrets_are_sent_as_secure_values_and_a_changed_secret_is_sent_again() {
    let h = Harness::start("secrets").await;
    h.secrets.0.lock().unwrap().insert(
        ("db".into(), "password".into()),
        ("s3cret".into(), "100".into()),
    );
    let svc = serverless_service(&simple(
        "env: [{name: DB_PASSWORD, secret: {name: db}}]",
        "containerInstances: {secrets: [{name: db, fromSecret: {name: db, key: password}}]}",
    ));
    h.settle(&svc).await;
    let sent = |requests: &[azure_fake::Recorded]| -> Vec<Value> {
        requests
            .iter()
            .filter(|r| r.operation == CREATE)
            .map(|r| {
                r.body["properties"]["containers"][0]["properties"]["environmentVariables"][0]
                    .clone()
            })
            .collect()
    };
    let requests = h.subscription().requests().await.unwrap();
    assert_eq!(
        sent(&requests),
        vec![json!({"name": "DB_PASSWORD", "secureValue": "s3cret"})]
    );
    assert!(
        !h.held().await.unwrap()["tags"]
            .to_string()
            .contains("s3cret"),
        "a secret in the tags"
    );
    // Idle: nothing written.
    h.reconcile(&svc).await.unwrap();
    assert_eq!(h.writes(CREATE).await, 1);
    // The Secret changes: one PUT with the new value.
    h.secrets.0.lock().unwrap().insert(
        ("db".into(), "password".into()),
        ("rotated".into(), "101".into()),
    );
    h.settle(&svc).await;
    assert_eq!(h.writes(CREATE).await, 2);
    let requests = h.subscription().requests().await.unwrap();
    assert_eq!(
        sent(&requests).last(),
        Some(&json!({"name": "DB_PASSWORD", "secureValue": "rotated"}))
    );
}

#[tokio::test]
async fn volumes_carry_the_copied_key_and_file_are_idle_when_read_back_and_follow_a_rotation() {
    let h = Harness::start("volumes").await;
    {
        let mut secrets = h.secrets.0.lock().unwrap();
        secrets.insert(
            ("acmefiles".into(), "key".into()),
            ("account-key".into(), "7".into()),
        );
        secrets.insert(
            ("settings".into(), "app.json".into()),
            ("{\"mode\":\"prod\"}".into(), "3".into()),
        );
    }
    let svc = serverless_service(&simple(
        "volumeMounts: [{name: data, mountPath: /data}, {name: settings, mountPath: /etc/app}, \
                        {name: scratch, mountPath: /scratch}]",
        "volumes: [{name: data, azureFile: {shareName: data, storageAccount: acmefiles, \
                                            secretRef: {name: acmefiles, key: key}}}, \
                   {name: settings, secret: {name: settings, key: app.json}}, \
                   {name: scratch, emptyDir: {}}], \
         containerInstances: {secrets: [{name: settings, fromSecret: {name: settings, key: app.json}}]}",
    ));
    let observed = h.settle(&svc).await;
    assert_eq!(readiness(&observed), &Readiness::Ready);
    let sent = |requests: &[azure_fake::Recorded]| -> Vec<Value> {
        requests
            .iter()
            .filter(|r| r.operation == CREATE)
            .map(|r| r.body["properties"]["volumes"].clone())
            .collect()
    };
    let requests = h.subscription().requests().await.unwrap();
    assert_eq!(
        sent(&requests),
        [json!([
            {"name": "data", "azureFile": {"shareName": "data", "storageAccountName": "acmefiles",
                                           "storageAccountKey": "account-key"}},
            // base64 of {"mode":"prod"}
            {"name": "settings", "secret": {"app.json": "eyJtb2RlIjoicHJvZCJ9"}},
            {"name": "scratch", "emptyDir": {}},
        ])]
    );
    // ARM answers neither the key nor the file: Ferry compares without them.
    let held = h.held().await.unwrap();
    let volumes = &held["properties"]["volumes"];
    assert_eq!(volumes[1]["secret"], json!({}));
    assert!(!held.to_string().contains("account-key"), "{held}");
    assert!(
        !held["tags"].to_string().contains("eyJ"),
        "no file in the tags"
    );
    // Idle: nothing written.
    for _ in 0..2 {
        h.reconcile(&svc).await.unwrap();
    }
    assert_eq!(h.writes(CREATE).await, 1);
    // The account key is rotated: one PUT with the new key.
    h.secrets.0.lock().unwrap().insert(
        ("acmefiles".into(), "key".into()),
        ("rotated-key".into(), "8".into()),
    );
    h.settle(&svc).await;
    assert_eq!(h.writes(CREATE).await, 2);
    let requests = h.subscription().requests().await.unwrap();
    assert_eq!(
        sent(&requests).last().unwrap()[0]["azureFile"]["storageAccountKey"],
        "rotated-key"
    );
}
