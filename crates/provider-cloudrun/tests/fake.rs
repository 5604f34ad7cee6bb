//! The Cloud Run client against the fake Cloud Run Admin API v2 (`tests/cloudrun-fake`), which
//! checks every request against Google's own definitions and counts the calls. Each test uses
//! its own project on one shared fake, so they run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::collections::BTreeMap;
use std::time::Duration;

use cloudrun_fake::{CloudRunFake, Fault};
use ferry_api::conditions::reasons;
use ferry_api::{ProviderConfig, ServerlessService, ServerlessServiceStatus};
use ferry_core::desired::Desired;
use ferry_provider::{Deletion, Observation, ProviderError, Readiness, Started};
use ferry_provider_cloudrun::{CloudRunConnector, Settings};

const REGION: &str = "europe-west1";

/// One test's project, a connector, and the `status.operation` a controller would keep.
struct Harness {
    fake: &'static CloudRunFake,
    project: String,
    connector: CloudRunConnector,
    config: ProviderConfig,
    operation: std::sync::Mutex<Option<String>>,
}

impl Harness {
    async fn start(project: &str) -> Self {
        let fake = CloudRunFake::shared().await.unwrap();
        let config: ProviderConfig = serde_saphyr::from_str(&format!(
            "apiVersion: ferry.dev/v1alpha1\nkind: ProviderConfig\n\
             metadata: {{name: gcp-{project}, resourceVersion: '1'}}\n\
             spec:\n  cloudRun:\n    project: {project}\n    region: {REGION}\n    \
             endpoint: {endpoint}\n    credentials: {{source: Anonymous}}\n",
            endpoint = fake.endpoint()
        ))
        .unwrap();
        // Nothing is read from Kubernetes here: `connect_with` is given the ProviderConfig.
        let kube = kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap()))
            .unwrap();
        let connector = CloudRunConnector::new(
            kube,
            Settings {
                call_timeout: Duration::from_secs(10),
                ..Settings::default()
            },
        );
        Self {
            fake,
            project: project.to_owned(),
            connector,
            config,
            operation: std::sync::Mutex::default(),
        }
    }

    fn project(&self) -> cloudrun_fake::Project<'_> {
        self.fake.project(&self.project)
    }

    async fn writes(&self) -> BTreeMap<String, usize> {
        self.project().writes().await.unwrap()
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

    async fn client(
        &self,
        svc: &ServerlessService,
    ) -> std::sync::Arc<dyn ferry_provider::ExternalClient> {
        self.connector
            .connect_with(&self.with_status(svc), &self.config, None)
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
}

fn service(name: &str, image: &str, extra: &str) -> ServerlessService {
    serde_saphyr::from_str(&format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessService\n\
         metadata: {{name: {name}, namespace: shop, uid: 7d3c6a52-{name}, generation: 1}}\n\
         spec:\n  provider: cloudRun\n  containers:\n  - name: app\n    image: {image}\n    \
         port: 8080\n    env: [{{name: MODE, value: test}}]\n{extra}"
    ))
    .unwrap()
}

fn desired(svc: &ServerlessService) -> Desired {
    ferry_core::validate(svc, &ferry_provider_cloudrun::CloudRun)
        .unwrap_or_else(|e| panic!("the test's spec is invalid: {e}"))
        .desired
}

fn object(svc: &ServerlessService) -> ferry_core::desired::ObjectRef {
    desired(svc).object
}

#[tokio::test]
async fn a_service_is_created_its_operation_polled_and_it_becomes_ready_with_its_url() {
    let h = Harness::start("ferry-create").await;
    let svc = service("web", "ghcr.io/acme/web:1", "");
    assert_eq!(h.reconcile(&svc).await, Observation::Absent);
    let operation = h.operation.lock().unwrap().clone();
    assert!(
        operation
            .as_deref()
            .is_some_and(|o| o.contains("/operations/")),
        "the operation is recorded: {operation:?}"
    );
    // While the operation runs, the service is Progressing and the operation stays recorded.
    match h.reconcile(&svc).await {
        Observation::Present {
            readiness: Readiness::Progressing(message),
            outputs,
            ..
        } => {
            assert!(message.contains("operation"), "{message}");
            assert_eq!(outputs.operation, operation);
        }
        other => panic!("{other:?}"),
    }
    let Observation::Present { outputs, .. } = h.until_ready(&svc).await else {
        unreachable!()
    };
    assert!(
        outputs
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://")),
        "{outputs:?}"
    );
    assert!(outputs.latest_ready_revision.is_some(), "{outputs:?}");
    assert_eq!(
        outputs.operation, None,
        "a finished operation leaves status"
    );
    assert_eq!(
        h.writes().await,
        BTreeMap::from([("CreateService".to_owned(), 1)])
    );

    // Up to date: reads only.
    h.project().clear().await.unwrap();
    for _ in 0..3 {
        h.reconcile(&svc).await;
    }
    assert_eq!(
        h.writes().await,
        BTreeMap::new(),
        "no write when nothing changed"
    );
}

#[tokio::test]
async fn an_image_change_is_one_update_carrying_the_observed_etag() {
    let h = Harness::start("ferry-update").await;
    let svc = service("api", "ghcr.io/acme/api:1", "");
    h.until_ready(&svc).await;

    h.project().clear().await.unwrap();
    let changed = service("api", "ghcr.io/acme/api:2", "");
    h.until_ready(&changed).await;
    assert_eq!(
        h.writes().await,
        BTreeMap::from([("UpdateService".to_owned(), 1)])
    );
    let requests = h.project().requests().await.unwrap();
    let update = requests
        .iter()
        .find(|r| r.method == "UpdateService")
        .unwrap();
    let etag = update.body["etag"].as_str().unwrap_or_default();
    assert!(
        !etag.is_empty(),
        "the update carries the etag: {}",
        update.body
    );
    assert_eq!(
        update.body["template"]["containers"][0]["image"],
        "ghcr.io/acme/api:2"
    );
}

#[tokio::test]
async fn a_stale_etag_is_retried_by_the_next_reconcile_not_forced() {
    let h = Harness::start("ferry-etag").await;
    let svc = service("race", "ghcr.io/acme/race:1", "");
    h.until_ready(&svc).await;
    let changed = service("race", "ghcr.io/acme/race:2", "");
    let want = desired(&changed);
    let client = h.client(&changed).await;
    assert!(matches!(
        client.observe(&want).await.unwrap(),
        Observation::Present {
            up_to_date: false,
            ..
        }
    ));
    // Someone else writes meanwhile: the etag Ferry saw is stale.
    let other = h.client(&changed).await;
    other.observe(&want).await.unwrap();
    other.update(&want).await.unwrap();
    match client.update(&want).await {
        Err(ProviderError::Transient { message, .. }) => {
            assert!(message.contains("Aborted"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn delete_removes_the_service() {
    let h = Harness::start("ferry-delete").await;
    let svc = service("gone", "ghcr.io/acme/gone:1", "");
    h.until_ready(&svc).await;
    let client = h.client(&svc).await;
    let mut rounds = 0;
    while client.delete(&object(&svc)).await.unwrap() == Deletion::InProgress {
        rounds += 1;
        assert!(rounds < 10);
    }
    assert_eq!(
        h.writes().await.get("DeleteService").copied(),
        Some(1),
        "one delete"
    );
    h.project().clear().await.unwrap();
    assert_eq!(client.delete(&object(&svc)).await.unwrap(), Deletion::Gone);
    assert_eq!(h.writes().await, BTreeMap::new());
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_made_twice() {
    let h = Harness::start("ferry-lost").await;
    let svc = service("once", "ghcr.io/acme/once:1", "");
    let want = desired(&svc);
    h.project()
        .fail("CreateService", Fault::LostResponse, 1)
        .await
        .unwrap();
    let client = h.client(&svc).await;
    assert_eq!(client.observe(&want).await.unwrap(), Observation::Absent);
    assert!(client.create(&want).await.is_err(), "the answer was lost");
    // A retry that races observe: 409 ALREADY_EXISTS is success, nothing new is made.
    assert_eq!(client.create(&want).await.unwrap(), Started::default());
    h.until_ready(&svc).await;
    let calls = h.project().calls().await.unwrap();
    assert_eq!(calls["CreateService"], 2, "{calls:?}");
    assert_eq!(h.writes().await.get("UpdateService"), None);
}

#[tokio::test]
async fn throttling_carries_the_servers_retry_hint_and_5xx_reads_are_retried() {
    let h = Harness::start("ferry-throttle").await;
    let svc = service("busy", "ghcr.io/acme/busy:1", "");
    let want = desired(&svc);
    h.project()
        .fail("GetService", Fault::Status(429), 1)
        .await
        .unwrap();
    let client = h.client(&svc).await;
    match client.observe(&want).await {
        Err(ProviderError::Throttled { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(2)));
        }
        other => panic!("{other:?}"),
    }
    h.project()
        .fail("GetService", Fault::Status(503), 1)
        .await
        .unwrap();
    assert_eq!(client.observe(&want).await.unwrap(), Observation::Absent);
}

#[tokio::test]
async fn a_failing_revision_is_reported_with_cloud_runs_message() {
    let h = Harness::start("ferry-failing").await;
    let svc = service("broken", "ghcr.io/acme/fail-revision:1", "");
    let failed = h
        .until(&svc, |o| {
            matches!(
                o,
                Observation::Present {
                    readiness: Readiness::Failed { .. },
                    ..
                }
            )
        })
        .await;
    let Observation::Present {
        readiness: Readiness::Failed { reason, message },
        up_to_date,
        ..
    } = failed
    else {
        unreachable!()
    };
    assert_eq!(reason, reasons::CONTAINER_FAILED, "{message}");
    assert!(message.contains("failed to start"), "{message}");
    assert!(up_to_date, "the same spec is not sent again");
    h.project().clear().await.unwrap();
    h.reconcile(&svc).await;
    assert_eq!(h.writes().await, BTreeMap::new());
}

#[tokio::test]
async fn a_public_unauthenticated_service_grants_all_users_the_invoker_role() {
    let h = Harness::start("ferry-public").await;
    let svc = service(
        "open",
        "ghcr.io/acme/open:1",
        "  ingress: public\n  cloudRun: {allowUnauthenticated: true}\n",
    );
    h.until_ready(&svc).await;
    assert_eq!(h.writes().await.get("SetIamPolicy"), Some(&1));
    let set = h
        .project()
        .requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method == "SetIamPolicy")
        .unwrap();
    let bindings = set.body["policy"]["bindings"].to_string();
    assert!(
        bindings.contains("roles/run.invoker") && bindings.contains("allUsers"),
        "{bindings}"
    );
    // Granted once: later looks read the policy and write nothing.
    h.project().clear().await.unwrap();
    h.reconcile(&svc).await;
    assert_eq!(h.writes().await, BTreeMap::new());
}

#[tokio::test]
async fn a_service_someone_else_made_is_name_taken_and_left_alone() {
    let h = Harness::start("ferry-taken").await;
    let svc = service("taken", "ghcr.io/acme/taken:1", "");
    let requests = ferry_provider_cloudrun::build::requests(
        &desired(&svc),
        h.config.spec.cloud_run.as_ref().unwrap(),
    )
    .unwrap();
    let answer = h
        .fake
        .send_raw(
            http::Method::POST,
            &format!(
                "/v2/{}/services?serviceId={}",
                requests.parent, requests.service_id
            ),
            Some(&serde_json::json!({"template": {"containers": [{"image": "nginx"}]}})),
        )
        .await
        .unwrap();
    assert!(answer.status.is_success(), "{:?}", answer.body);

    let client = h.client(&svc).await;
    match client.observe(&desired(&svc)).await {
        Err(ProviderError::Terminal { reason, .. }) => assert_eq!(reason, reasons::NAME_TAKEN),
        other => panic!("{other:?}"),
    }
    h.project().clear().await.unwrap();
    assert_eq!(client.delete(&object(&svc)).await.unwrap(), Deletion::Gone);
    assert_eq!(
        h.writes().await,
        BTreeMap::new(),
        "someone else's service is not touched"
    );
}

#[tokio::test]
async fn volumes_reach_cloud_run_as_built_stay_up_to_date_and_a_change_is_one_update() {
    let h = Harness::start("ferry-volumes").await;
    let with_scratch = |limit: &str| {
        format!(
            "    volumeMounts:\n    - {{name: config, mountPath: /etc/app}}\n    \
             - {{name: scratch, mountPath: /scratch}}\n    \
             - {{name: assets, mountPath: /assets, readOnly: true}}\n  \
             volumes:\n  - {{name: config, secret: {{name: app-config, key: '2'}}}}\n  \
             - {{name: scratch, emptyDir: {{sizeLimit: {limit}}}}}\n  \
             - {{name: assets, gcs: {{bucket: acme-assets}}}}\n"
        )
    };
    let svc = service("files", "ghcr.io/acme/files:1", &with_scratch("64Mi"));
    h.until_ready(&svc).await;
    let requests = h.project().requests().await.unwrap();
    let create = requests
        .iter()
        .find(|r| r.method == "CreateService")
        .unwrap();
    let template = &create.body["template"];
    assert_eq!(
        template["volumes"],
        serde_json::json!([
            {"name": "config", "secret": {"secret": "app-config", "items": [{"path": "app-config", "version": "2"}]}},
            {"name": "scratch", "emptyDir": {"medium": 1, "sizeLimit": "64Mi"}},
            {"name": "assets", "gcs": {"bucket": "acme-assets", "readOnly": true}},
        ])
    );
    assert_eq!(template["executionEnvironment"], 2, "gcs needs gen2");
    assert_eq!(
        template["containers"][0]["volumeMounts"][2],
        serde_json::json!({"name": "assets", "mountPath": "/assets"})
    );

    // What Cloud Run holds is what was built: nothing to update.
    h.project().clear().await.unwrap();
    for _ in 0..3 {
        h.reconcile(&svc).await;
    }
    assert_eq!(h.writes().await, BTreeMap::new());

    // Another size limit: one update carrying it.
    let bigger = service("files", "ghcr.io/acme/files:1", &with_scratch("128Mi"));
    h.until_ready(&bigger).await;
    assert_eq!(
        h.writes().await,
        BTreeMap::from([("UpdateService".to_owned(), 1)])
    );
    let requests = h.project().requests().await.unwrap();
    let update = requests
        .iter()
        .find(|r| r.method == "UpdateService")
        .unwrap();
    assert_eq!(
        update.body["template"]["volumes"][1]["emptyDir"]["sizeLimit"],
        "128Mi"
    );
}
