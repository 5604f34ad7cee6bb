//! The Container Apps client against the fake Azure Resource Manager (`tests/azure-fake`),
//! which checks every request against Microsoft's definitions, runs ARM's long-running
//! operations and counts the calls. Each test uses its own subscription on one shared fake, so
//! they run in parallel; each checks what the fake holds afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod support;

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_fake::{Fault, ImageBehaviour};
use ferry_api::conditions::reasons;
use ferry_api::{ServerlessService, ServerlessServiceStatus};
use ferry_core::desired::{Desired, ObjectRef};
use ferry_provider::{
    Connector, Deletion, ExternalClient, Observation, ProviderError, Readiness, Started,
};
use ferry_provider_containerapps::build::{API_VERSION, SecretValue};
use ferry_provider_containerapps::{ContainerApps, names};
use serde_json::{Value, json};
use support::{Azure, GROUP, writes};

/// One test's subscription, a connector, and the `status.operation` a controller would keep.
struct Harness {
    azure: Azure,
    operation: Mutex<Option<String>>,
}

impl Deref for Harness {
    type Target = Azure;

    fn deref(&self) -> &Azure {
        &self.azure
    }
}

impl DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut Azure {
        &mut self.azure
    }
}

impl Harness {
    async fn start(name: &str) -> Self {
        Self {
            azure: Azure::start(name).await,
            operation: Mutex::default(),
        }
    }

    /// The app of `svc` as the fake holds it.
    async fn app(&self, svc: &ServerlessService) -> Option<Value> {
        let name = names::app_name("shop", svc.metadata.name.as_deref().unwrap());
        let answer = self
            .fake
            .send_raw(
                http::Method::GET,
                &self.subscription().container_app_url(GROUP, &name),
                None,
            )
            .await
            .unwrap();
        (answer.status == 200).then_some(answer.body)
    }

    /// The apps of the resource group.
    async fn apps(&self) -> Vec<Value> {
        let path = format!(
            "/subscriptions/{}/resourceGroups/{GROUP}/providers/Microsoft.App/containerApps?api-version={API_VERSION}",
            self.subscription().id()
        );
        let answer = self
            .fake
            .send_raw(http::Method::GET, &path, None)
            .await
            .unwrap();
        answer.body["value"].as_array().cloned().unwrap_or_default()
    }

    fn with_status(&self, svc: &ServerlessService) -> ServerlessService {
        let mut svc = svc.clone();
        svc.status = Some(ServerlessServiceStatus {
            operation: self.operation.lock().unwrap().clone(),
            ..ServerlessServiceStatus::default()
        });
        svc
    }

    async fn client(&self, svc: &ServerlessService) -> Arc<dyn ExternalClient> {
        let values = self.values.lock().unwrap().clone();
        self.connector
            .connect_with(&self.with_status(svc), &self.config, None, Ok(values))
            .await
            .unwrap()
    }

    fn record(&self, started: &Started, outputs_operation: Option<String>) {
        *self.operation.lock().unwrap() = started.operation.clone().or(outputs_operation);
    }

    /// One reconcile's calls, keeping `status.operation` as the controller does.
    async fn reconcile(&self, svc: &ServerlessService) -> Observation {
        let want = desired(svc);
        let client = self.client(svc).await;
        let observation = client.observe(&want).await.unwrap();
        match &observation {
            Observation::Absent => {
                let started = client.create(&want).await.unwrap();
                self.record(&started, None);
            }
            Observation::Present {
                up_to_date: false, ..
            } => {
                let started = client.update(&want).await.unwrap();
                self.record(&started, None);
            }
            Observation::Present { outputs, .. } => {
                self.record(&Started::default(), outputs.operation.clone());
            }
        }
        observation
    }

    async fn until(
        &self,
        svc: &ServerlessService,
        done: impl Fn(&Observation) -> bool,
    ) -> Observation {
        for _ in 0..20 {
            let observation = self.reconcile(svc).await;
            if done(&observation) {
                return observation;
            }
        }
        panic!("never reached\n{}", self.fake.log());
    }

    async fn until_ready(&self, svc: &ServerlessService) -> Observation {
        self.until(svc, |o| {
            matches!(
                o,
                Observation::Present {
                    readiness: Readiness::Ready,
                    up_to_date: true,
                    ..
                }
            )
        })
        .await
    }

    async fn until_failed(&self, svc: &ServerlessService) -> (&'static str, String, bool) {
        match self
            .until(svc, |o| {
                matches!(
                    o,
                    Observation::Present {
                        readiness: Readiness::Failed { .. },
                        ..
                    }
                )
            })
            .await
        {
            Observation::Present {
                readiness: Readiness::Failed { reason, message },
                up_to_date,
                ..
            } => (reason, message, up_to_date),
            _ => unreachable!(),
        }
    }
}

fn service_with_uid(name: &str, uid: &str, image: &str, extra: &str) -> ServerlessService {
    serde_saphyr::from_str(&format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessService\n\
         metadata: {{name: {name}, namespace: shop, uid: {uid}, generation: 1}}\n\
         spec:\n  provider: containerApps\n  containers:\n  - name: app\n    image: {image}\n    \
         port: 8080\n    env: [{{name: MODE, value: test}}]\n{extra}"
    ))
    .unwrap()
}

fn service(name: &str, image: &str, extra: &str) -> ServerlessService {
    service_with_uid(name, &format!("7d3c6a52-{name}"), image, extra)
}

fn desired(svc: &ServerlessService) -> Desired {
    ferry_core::validate(svc, &ContainerApps)
        .unwrap_or_else(|e| panic!("the test's spec is invalid: {e}"))
        .desired
}

fn object(svc: &ServerlessService) -> ObjectRef {
    desired(svc).object
}

#[tokio::test]
async fn an_app_is_created_its_operation_polled_and_it_becomes_ready_with_its_url() {
    let h = Harness::start("ca-create").await;
    let svc = service("web", "ghcr.io/acme/web:1", "");
    assert_eq!(h.reconcile(&svc).await, Observation::Absent);
    let operation = h.operation.lock().unwrap().clone();
    assert!(operation.is_some(), "the operation is recorded");
    // While the operation runs, the app is Progressing and the operation stays recorded.
    match h.reconcile(&svc).await {
        Observation::Present {
            readiness: Readiness::Progressing(message),
            outputs,
            up_to_date: true,
        } => {
            assert!(message.contains("working on the app"), "{message}");
            assert_eq!(outputs.operation, operation);
        }
        other => panic!("{other:?}"),
    }
    let Observation::Present { outputs, .. } = h.until_ready(&svc).await else {
        unreachable!()
    };
    let app = h.app(&svc).await.unwrap();
    let fqdn = app["properties"]["configuration"]["ingress"]["fqdn"]
        .as_str()
        .unwrap();
    assert_eq!(outputs.url, Some(format!("https://{fqdn}")));
    assert_eq!(
        outputs.latest_ready_revision.as_deref(),
        app["properties"]["latestReadyRevisionName"].as_str()
    );
    assert_eq!(outputs.resource_id.as_deref(), app["id"].as_str());
    assert_eq!(
        outputs.operation, None,
        "a finished operation leaves status"
    );
    assert_eq!(app["tags"]["ferry-uid"], "7d3c6a52-web");
    assert_eq!(app["tags"]["managed-by"], "ferry");
    assert_eq!(app["tags"]["ferry-object"], "shop/web");
    assert_eq!(
        h.writes().await,
        writes(&[("ContainerApps_CreateOrUpdate", 1)])
    );

    // Up to date: reads only.
    h.subscription().clear().await.unwrap();
    for _ in 0..3 {
        assert!(matches!(
            h.reconcile(&svc).await,
            Observation::Present {
                readiness: Readiness::Ready,
                up_to_date: true,
                ..
            }
        ));
    }
    assert_eq!(h.writes().await, BTreeMap::new(), "no write when idle");
}

#[tokio::test]
async fn an_image_change_is_one_put_and_a_new_revision() {
    let h = Harness::start("ca-update").await;
    let svc = service("api", "ghcr.io/acme/api:1", "");
    let Observation::Present { outputs: first, .. } = h.until_ready(&svc).await else {
        unreachable!()
    };
    h.subscription().clear().await.unwrap();
    let changed = service("api", "ghcr.io/acme/api:2", "");
    let Observation::Present { outputs, .. } = h.until_ready(&changed).await else {
        unreachable!()
    };
    assert_ne!(outputs.latest_ready_revision, first.latest_ready_revision);
    assert_eq!(
        h.writes().await,
        writes(&[("ContainerApps_CreateOrUpdate", 1)])
    );
    let app = h.app(&svc).await.unwrap();
    assert_eq!(
        app["properties"]["template"]["containers"][0]["image"],
        "ghcr.io/acme/api:2"
    );
}

#[tokio::test]
async fn a_traffic_split_runs_multiple_revisions_with_weights_and_a_label() {
    let h = Harness::start("ca-split").await;
    let svc = service("shop", "ghcr.io/acme/shop:1", "");
    let Observation::Present { outputs, .. } = h.until_ready(&svc).await else {
        unreachable!()
    };
    let old = outputs.latest_ready_revision.unwrap();
    let split = service(
        "shop",
        "ghcr.io/acme/shop:2",
        &format!(
            "  traffic:\n  - {{latestRevision: true, percent: 80}}\n  \
             - {{revisionName: {old}, percent: 20, tag: old}}\n"
        ),
    );
    h.until_ready(&split).await;
    let app = h.app(&svc).await.unwrap();
    let configuration = &app["properties"]["configuration"];
    assert_eq!(configuration["activeRevisionsMode"], "Multiple");
    assert_eq!(
        configuration["ingress"]["traffic"],
        json!([{"latestRevision": true, "weight": 80},
               {"revisionName": old, "weight": 20, "label": "old"}])
    );
    // The old revision stays active with its share.
    let revision = h
        .fake
        .send_raw(
            http::Method::GET,
            &format!(
                "{}/revisions/{old}?api-version={API_VERSION}",
                h.subscription()
                    .container_app(GROUP, &names::app_name("shop", "shop"))
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        revision.body["properties"]["trafficWeight"], 20,
        "{}",
        revision.body
    );
    h.subscription().clear().await.unwrap();
    h.reconcile(&split).await;
    assert_eq!(h.writes().await, BTreeMap::new(), "no write when idle");
}

#[tokio::test]
async fn delete_removes_the_app_and_is_idempotent() {
    let h = Harness::start("ca-delete").await;
    let svc = service("gone", "ghcr.io/acme/gone:1", "");
    h.until_ready(&svc).await;
    let client = h.client(&svc).await;
    let mut rounds = 0;
    while client.delete(&object(&svc)).await.unwrap() == Deletion::InProgress {
        rounds += 1;
        assert!(rounds < 10);
    }
    assert_eq!(h.app(&svc).await, None);
    assert_eq!(
        h.writes().await.get("ContainerApps_Delete").copied(),
        Some(1),
        "one delete"
    );
    h.subscription().clear().await.unwrap();
    assert_eq!(client.delete(&object(&svc)).await.unwrap(), Deletion::Gone);
    assert_eq!(h.writes().await, BTreeMap::new());
}

#[tokio::test]
async fn a_released_app_keeps_running_untagged_and_a_new_object_adopts_it() {
    let h = Harness::start("ca-release").await;
    let svc = service("kept", "ghcr.io/acme/kept:1", "");
    h.until_ready(&svc).await;
    let client = h.client(&svc).await;
    client.release(&object(&svc)).await.unwrap();
    let app = h.app(&svc).await.unwrap();
    assert_eq!(app["tags"].get("ferry-uid"), None, "{}", app["tags"]);
    assert_eq!(app["tags"]["managed-by"], "ferry");
    // Releasing again does nothing; deleting an object whose app was released would not
    // happen, but another object's delete must not touch an app of another UID.
    h.subscription().clear().await.unwrap();
    client.release(&object(&svc)).await.unwrap();
    assert_eq!(h.writes().await, BTreeMap::new());

    // A new object of the same name (another UID) adopts it with one write.
    let again = service_with_uid("kept", "9e8d7c6b-kept", "ghcr.io/acme/kept:1", "");
    h.until_ready(&again).await;
    let app = h.app(&again).await.unwrap();
    assert_eq!(app["tags"]["ferry-uid"], "9e8d7c6b-kept");
    assert_eq!(
        h.writes().await,
        writes(&[("ContainerApps_CreateOrUpdate", 1)])
    );
    assert_eq!(h.apps().await.len(), 1);
}

#[tokio::test]
async fn an_app_someone_else_made_is_name_taken_and_left_alone() {
    let h = Harness::start("ca-taken").await;
    let svc = service("taken", "ghcr.io/acme/taken:1", "");
    let name = names::app_name("shop", "taken");
    let environment = h
        .config
        .spec
        .azure
        .as_ref()
        .unwrap()
        .container_apps_environment
        .clone();
    let answer = h
        .fake
        .send_raw(
            http::Method::PUT,
            &h.subscription().container_app_url(GROUP, &name),
            Some(&json!({
                "location": "westeurope",
                "tags": {"team": "web"},
                "properties": {"environmentId": environment,
                               "template": {"containers": [{"name": "web", "image": "nginx"}]}},
            })),
        )
        .await
        .unwrap();
    assert!(answer.status.is_success(), "{:?}", answer.body);

    h.subscription().clear().await.unwrap();
    let client = h.client(&svc).await;
    match client.observe(&desired(&svc)).await {
        Err(ProviderError::Terminal {
            reason, message, ..
        }) => {
            assert_eq!(reason, reasons::NAME_TAKEN, "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.delete(&object(&svc)).await.unwrap(), Deletion::Gone);
    client.release(&object(&svc)).await.unwrap();
    assert_eq!(
        h.writes().await,
        BTreeMap::new(),
        "someone else's app is not touched"
    );
}

#[tokio::test]
async fn a_missing_image_is_image_not_found_and_not_sent_again() {
    let h = Harness::start("ca-missing").await;
    let image = "ghcr.io/acme/missing:404";
    h.subscription()
        .set_image(image, ImageBehaviour::Missing)
        .await
        .unwrap();
    let svc = service("missing", image, "");
    let (reason, message, up_to_date) = h.until_failed(&svc).await;
    assert_eq!(reason, reasons::IMAGE_NOT_FOUND, "{message}");
    assert!(message.contains("MANIFEST_UNKNOWN"), "{message}");
    assert!(up_to_date, "the same spec is not sent again");
    h.subscription().clear().await.unwrap();
    h.reconcile(&svc).await;
    assert_eq!(h.writes().await, BTreeMap::new());
    // A fixed image recovers it.
    let fixed = service("missing", "ghcr.io/acme/missing:1", "");
    h.until_ready(&fixed).await;
}

#[tokio::test]
async fn a_crashing_container_is_container_failed() {
    let h = Harness::start("ca-crash").await;
    let image = "ghcr.io/acme/crash:1";
    h.subscription()
        .set_image(image, ImageBehaviour::Crashing)
        .await
        .unwrap();
    let svc = service("crash", image, "");
    let (reason, message, up_to_date) = h.until_failed(&svc).await;
    assert_eq!(reason, reasons::CONTAINER_FAILED, "{message}");
    assert!(message.contains("exit code 1"), "{message}");
    assert!(up_to_date);
}

#[tokio::test]
async fn a_put_whose_answer_was_lost_makes_no_second_app() {
    let h = Harness::start("ca-lost").await;
    let svc = service("once", "ghcr.io/acme/once:1", "");
    let want = desired(&svc);
    h.subscription()
        .fail("ContainerApps_CreateOrUpdate", Fault::Lost, 1)
        .await
        .unwrap();
    let client = h.client(&svc).await;
    assert_eq!(client.observe(&want).await.unwrap(), Observation::Absent);
    // The first PUT took effect but its answer was lost; the client's retry meets the running
    // operation (409), which is a short wait, not an error.
    let started = client.create(&want).await.unwrap();
    h.record(&started, None);
    h.until_ready(&svc).await;
    assert_eq!(h.apps().await.len(), 1);
    let calls = h.subscription().calls().await.unwrap();
    assert!(calls["ContainerApps_CreateOrUpdate"] <= 2, "{calls:?}");
}

#[tokio::test]
async fn throttling_carries_the_retry_hint_and_server_errors_are_retried() {
    let h = Harness::start("ca-faults").await;
    let svc = service("busy", "ghcr.io/acme/busy:1", "");
    let want = desired(&svc);
    h.subscription()
        .fail("ContainerApps_Get", Fault::Throttled { retry_after: 30 }, 1)
        .await
        .unwrap();
    let client = h.client(&svc).await;
    match client.observe(&want).await {
        Err(ProviderError::Throttled { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(30)));
        }
        other => panic!("{other:?}"),
    }
    // One 500 and one 503 are retried inside the call.
    h.subscription()
        .fail("ContainerApps_Get", Fault::Status(500), 1)
        .await
        .unwrap();
    assert_eq!(client.observe(&want).await.unwrap(), Observation::Absent);
    h.subscription()
        .fail("ContainerApps_CreateOrUpdate", Fault::Status(503), 1)
        .await
        .unwrap();
    let started = client.create(&want).await.unwrap();
    assert!(started.operation.is_some());
    // A server that keeps failing is transient.
    h.subscription()
        .fail("ContainerApps_Get", Fault::Status(502), 10)
        .await
        .unwrap();
    let again = h.client(&svc).await;
    match again.observe(&want).await {
        Err(e @ ProviderError::Transient { .. }) => assert_eq!(e.category(), "transient"),
        other => panic!("{other:?}"),
    }
    h.subscription().clear().await.unwrap();
    h.record(&started, None);
    h.until_ready(&svc).await;
    assert_eq!(h.apps().await.len(), 1);
    assert_eq!(
        h.writes().await,
        BTreeMap::new(),
        "the create was sent once"
    );
}

#[tokio::test]
async fn a_copied_secret_is_sent_as_an_app_secret_and_its_rotation_is_one_put() {
    let h = Harness::start("ca-secret").await;
    let extra = "  containerApps:\n    secrets:\n    - {name: api, fromSecret: {name: hello-api, key: key}}\n";
    let svc = serde_saphyr::from_str::<ServerlessService>(&format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessService\n\
         metadata: {{name: secret, namespace: shop, uid: 7d3c6a52-secret}}\n\
         spec:\n  provider: containerApps\n  containers:\n  - name: app\n    \
         image: ghcr.io/acme/secret:1\n    port: 8080\n    \
         env: [{{name: API_KEY, secret: {{name: api}}}}]\n{extra}"
    ))
    .unwrap();
    let put_value = |value: &str, version: &str| {
        *h.values.lock().unwrap() = [(
            "api".to_owned(),
            SecretValue {
                value: value.into(),
                version: version.into(),
            },
        )]
        .into();
    };
    // Not read (the Secret is missing): observe says why, delete still works.
    let missing = ProviderError::Terminal {
        reason: reasons::INVALID_SPEC,
        message: "Secret shop/hello-api does not exist".into(),
        recheck: None,
    };
    let client = h
        .connector
        .connect_with(&svc, &h.config, None, Err(missing.clone()))
        .await
        .unwrap();
    assert_eq!(client.observe(&desired(&svc)).await, Err(missing));
    assert_eq!(client.delete(&object(&svc)).await.unwrap(), Deletion::Gone);

    put_value("first-value", "hello-api/key@1");
    h.until_ready(&svc).await;
    let sent = h.subscription().requests().await.unwrap();
    let put = sent
        .iter()
        .find(|r| r.operation == "ContainerApps_CreateOrUpdate")
        .unwrap();
    assert_eq!(
        put.body["properties"]["configuration"]["secrets"],
        json!([{"name": "api", "value": "first-value"}])
    );
    // The fingerprint stands for the value by the Secret's version, never the value.
    let app = h.app(&svc).await.unwrap();
    assert!(!app["tags"].to_string().contains("first-value"));

    h.subscription().clear().await.unwrap();
    put_value("second-value", "hello-api/key@2");
    h.until_ready(&svc).await;
    let sent = h.subscription().requests().await.unwrap();
    let puts: Vec<_> = sent
        .iter()
        .filter(|r| r.operation == "ContainerApps_CreateOrUpdate")
        .collect();
    assert_eq!(puts.len(), 1);
    assert_eq!(
        puts[0].body["properties"]["configuration"]["secrets"][0]["value"],
        "second-value"
    );

    // Released with the value put back (ARM never describes it).
    let client = h.client(&svc).await;
    client.release(&object(&svc)).await.unwrap();
    let app = h.app(&svc).await.unwrap();
    assert_eq!(app["tags"].get("ferry-uid"), None);
}

#[tokio::test]
async fn the_connector_checks_the_provider_config_with_one_read() {
    let h = Harness::start("ca-check").await;
    let message = h.connector.check(&h.config).await.unwrap().unwrap();
    assert!(!message.is_empty());
    let calls = h.subscription().calls().await.unwrap();
    assert_eq!(calls.values().sum::<usize>(), 1, "{calls:?}");
}

#[tokio::test]
async fn an_app_cannot_move_to_another_environment_in_place() {
    let mut h = Harness::start("ca-environment").await;
    let svc = service("moved", "ghcr.io/acme/moved:1", "");
    h.until_ready(&svc).await;
    let azure = h.config.spec.azure.as_mut().unwrap();
    azure.container_apps_environment = Some(format!(
        "/subscriptions/{}/resourceGroups/{GROUP}/providers/Microsoft.App/managedEnvironments/other",
        azure.subscription_id
    ));
    h.config.metadata.resource_version = Some("2".into());
    h.subscription().clear().await.unwrap();
    let client = h.client(&svc).await;
    match client.observe(&desired(&svc)).await {
        Err(ProviderError::Terminal {
            reason, message, ..
        }) => {
            assert_eq!(reason, reasons::UNSUPPORTED);
            assert!(
                message.contains("cannot move to another environment"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.writes().await, BTreeMap::new());
}

/// Puts the environment storage `name` (an SMB share of account `acmefiles`) in the test's
/// environment `env`, as the environment's owner does.
async fn put_storage(h: &Harness, name: &str, share: &str, mode: &str) {
    let body = json!({"properties": {"azureFile": {
        "accountName": "acmefiles", "accountKey": "a2V5", "shareName": share, "accessMode": mode,
    }}});
    let url = h.subscription().environment_storage_url(GROUP, "env", name);
    let answer = h
        .fake
        .send_raw(http::Method::PUT, &url, Some(&body))
        .await
        .unwrap();
    assert!(answer.status.is_success(), "{answer:?}");
}

#[tokio::test]
async fn an_app_mounting_a_missing_storage_waits_for_it_and_an_idle_app_reads_none() {
    let h = Harness::start("ca-storage").await;
    let svc = service(
        "files",
        "ghcr.io/acme/files:1",
        "    volumeMounts: [{name: data, mountPath: /data, subPath: app}, \
                            {name: scratch, mountPath: /scratch}]\n  \
         volumes: [{name: data, azureFile: {shareName: files, storageAccount: acmefiles}}, \
                   {name: scratch, emptyDir: {}}]\n",
    );
    let want = desired(&svc);
    let client = h.client(&svc).await;
    assert_eq!(client.observe(&want).await.unwrap(), Observation::Absent);
    match client.create(&want).await {
        Err(ProviderError::Terminal {
            reason,
            message,
            recheck,
        }) => {
            assert_eq!(reason, reasons::INVALID_SPEC);
            assert!(
                message.starts_with(
                    "the Container Apps environment env has no storage files \
                     (spec.volumes[0].azureFile.shareName)"
                ),
                "{message}"
            );
            assert!(recheck.is_some(), "looked at again");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.writes().await,
        BTreeMap::new(),
        "no app without its storage"
    );

    // The owner creates it read-only: the read-write mount cannot write to it.
    put_storage(&h, "files", "files", "ReadOnly").await;
    match client.create(&want).await {
        Err(ProviderError::Terminal { message, .. }) => {
            assert!(message.contains("is ReadOnly"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    put_storage(&h, "files", "files", "ReadWrite").await;
    h.until_ready(&svc).await;
    let sent: Vec<Value> = h
        .subscription()
        .requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "ContainerApps_CreateOrUpdate")
        .map(|r| r.body)
        .collect();
    assert_eq!(sent.len(), 1);
    let template = &sent[0]["properties"]["template"];
    assert_eq!(
        template["volumes"],
        json!([
            {"name": "data", "storageType": "AzureFile", "storageName": "files"},
            {"name": "scratch", "storageType": "EmptyDir"},
        ])
    );
    assert_eq!(
        template["containers"][0]["volumeMounts"],
        json!([
            {"volumeName": "data", "mountPath": "/data", "subPath": "app"},
            {"volumeName": "scratch", "mountPath": "/scratch"},
        ])
    );
    let app = h.app(&svc).await.unwrap();
    assert_eq!(
        app["properties"]["template"]["volumes"],
        template["volumes"]
    );

    // Idle: no storage read, no write.
    h.subscription().clear().await.unwrap();
    for _ in 0..3 {
        h.reconcile(&svc).await;
    }
    let calls = h.subscription().calls().await.unwrap();
    assert_eq!(
        calls.get("ManagedEnvironmentsStorages_Get"),
        None,
        "{calls:?}"
    );
    assert_eq!(h.writes().await, BTreeMap::new());

    // Another subPath: one PUT, the storage read again first.
    let moved = service(
        "files",
        "ghcr.io/acme/files:1",
        "    volumeMounts: [{name: data, mountPath: /data, subPath: other}, \
                            {name: scratch, mountPath: /scratch}]\n  \
         volumes: [{name: data, azureFile: {shareName: files, storageAccount: acmefiles}}, \
                   {name: scratch, emptyDir: {}}]\n",
    );
    h.until_ready(&moved).await;
    assert_eq!(
        h.writes().await,
        writes(&[("ContainerApps_CreateOrUpdate", 1)])
    );
    let calls = h.subscription().calls().await.unwrap();
    assert_eq!(
        calls.get("ManagedEnvironmentsStorages_Get"),
        Some(&1),
        "{calls:?}"
    );
}
