#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The in-use finalizer goes on a ProviderConfig before anything is made through it, for jobs as
//! for services: a request-checking mock of the API server (`tower_test::mock::pair` feeding a
//! real `kube::Client`) and a connector that writes into the same log, so the order of the API
//! requests and the provider calls shows.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::{ProviderConfig, ServerlessJob, ServerlessService};
use ferry_controller::jobs::reconcile_job;
use ferry_controller::metrics::Metrics;
use ferry_controller::provider_configs::IN_USE_FINALIZER;
use ferry_controller::{Context, FINALIZER, Settings, reconcile};
use ferry_provider::backend::Connectors;
use ferry_provider::job::Jobs;
use ferry_provider::{Connector, ExternalClient, ProviderError};
use http::{Request, Response, StatusCode};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use kube::runtime::{reflector, watcher};
use serde_json::{Value, json};

const CONFIG: &str = "/apis/ferry.dev/v1alpha1/providerconfigs/cloud";
const JOB: &str = "/apis/ferry.dev/v1alpha1/namespaces/shop/serverlessjobs/nightly";
const SERVICE: &str = "/apis/ferry.dev/v1alpha1/namespaces/shop/serverlessservices/hello";

/// What happened, in order: `METHOD path` for each API request, `provider: ...` for each
/// provider call.
type Log = Arc<Mutex<Vec<(String, Value)>>>;

/// The API server: keeps the objects under test by path, applies JSON patches to them as
/// Kubernetes would (`test` included), stores status writes, and logs every request.
fn api_server(objects: Vec<(&'static str, Value)>, log: Log) -> kube::Client {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let objects: Arc<Mutex<Vec<(&'static str, Value)>>> = Arc::new(Mutex::new(objects));
    tokio::spawn(async move {
        while let Some((request, reply)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let path = parts.uri.path().to_owned();
            log.lock()
                .unwrap()
                .push((format!("{} {path}", parts.method), body.clone()));
            let mut objects = objects.lock().unwrap();
            let found = objects
                .iter_mut()
                .find(|(p, _)| path == *p || path == format!("{p}/status"));
            let (code, answer) = match (parts.method.as_str(), found) {
                ("PATCH", Some((p, object))) if path.ends_with("/status") && path != *p => {
                    object["status"] = body["status"].clone();
                    (StatusCode::OK, object.clone())
                }
                ("PATCH", Some((_, object))) => {
                    let mut ops: json_patch::Patch = serde_json::from_value(body).unwrap();
                    // Kubernetes' JSON patch finds `null` at a path that does not exist.
                    ops.0.retain(|op| match op {
                        json_patch::PatchOperation::Test(t) => {
                            !(t.value.is_null() && object.pointer(t.path.as_str()).is_none())
                        }
                        _ => true,
                    });
                    match json_patch::patch(object, &ops) {
                        Ok(()) => (StatusCode::OK, object.clone()),
                        Err(e) => (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            status(422, &e.to_string()),
                        ),
                    }
                }
                ("POST", _) if path.ends_with("/events") => (StatusCode::CREATED, body),
                _ => (StatusCode::NOT_FOUND, status(404, "not found")),
            };
            reply.send_response(
                Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                    .unwrap(),
            );
        }
    });
    kube::Client::new(service, "default")
}

fn status(code: u16, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "message": message})
}

/// A provider that logs each connect into the shared log and refuses it: what matters here is
/// when the first provider call comes, not what it does.
struct Refusing(Log);

impl Refusing {
    fn refuse(&self, what: &str) -> ProviderError {
        self.0
            .lock()
            .unwrap()
            .push((format!("provider: {what}"), Value::Null));
        ProviderError::Terminal {
            reason: "Unsupported",
            message: "the test's provider makes nothing".into(),
            recheck: None,
        }
    }
}

#[async_trait]
impl Connector for Refusing {
    async fn connect(
        &self,
        svc: &ServerlessService,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        Err(self.refuse(&format!("connect {}", svc.metadata.name.clone().unwrap())))
    }

    async fn connect_job(&self, job: &ServerlessJob) -> Result<Jobs, ProviderError> {
        Err(self.refuse(&format!(
            "connect_job {}",
            job.metadata.name.clone().unwrap()
        )))
    }
}

/// ProviderConfig `cloud` as the controller's cache holds it, with `finalizers`, being deleted
/// when `deleting`.
fn config(finalizers: &[&str], deleting: bool) -> Value {
    let mut config = json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ProviderConfig",
        "metadata": {"name": "cloud", "uid": "c0nf1g", "resourceVersion": "3", "generation": 1},
        "spec": {"fargate": {"region": "us-east-1", "cluster": "prod"},
                 "cloudRun": {"project": "acme", "region": "europe-west1"}},
    });
    if !finalizers.is_empty() {
        config["metadata"]["finalizers"] = json!(finalizers);
    }
    if deleting {
        config["metadata"]["deletionTimestamp"] = json!("2026-11-23T09:00:00Z");
    }
    config
}

/// A context over the API server holding `objects`, whose ProviderConfig cache holds `cached`.
fn context(objects: Vec<(&'static str, Value)>, cached: &Value, log: &Log) -> Arc<Context> {
    let client = api_server(objects, log.clone());
    let connector: Arc<dyn Connector> = Arc::new(Refusing(log.clone()));
    let reporter = Reporter {
        controller: "ferry".into(),
        instance: Some("test".into()),
    };
    let mut ctx = Context::new(
        client,
        common::registry(),
        Connectors::every(&connector),
        reporter,
        Arc::new(Metrics::default()),
        Settings {
            backoff: (Duration::from_secs(1), Duration::from_secs(300)),
            ..Settings::default()
        },
    );
    ctx.now = || Time("2026-11-23T10:00:00Z".parse().unwrap());
    ctx.jitter = || 0.5;
    let (store, mut writer) = reflector::store::<ProviderConfig>();
    writer.apply_watcher_event(&watcher::Event::Apply(
        serde_json::from_value(cached.clone()).unwrap(),
    ));
    ctx.pricing.use_provider_configs(store);
    Arc::new(ctx)
}

/// A new Cloud Run job `shop/nightly` on ProviderConfig `cloud`, without Ferry's finalizer yet.
fn job() -> Value {
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessJob",
        "metadata": {"name": "nightly", "namespace": "shop", "uid": "j0b", "generation": 1,
                     "resourceVersion": "5"},
        "spec": {"provider": "cloudRun", "providerConfigRef": {"name": "cloud"},
                 "containers": [{"name": "app", "image": "ghcr.io/acme/report:2.1.0"}]},
    })
}

fn lines(log: &Log) -> Vec<String> {
    log.lock().unwrap().iter().map(|(l, _)| l.clone()).collect()
}

/// The body of the first request `line`.
fn body_of(log: &Log, line: &str) -> Value {
    let log = log.lock().unwrap();
    log.iter().find(|(l, _)| l == line).unwrap().1.clone()
}

#[tokio::test]
async fn a_new_cloud_job_holds_its_provider_config_before_the_first_provider_call() {
    let log = Log::default();
    let cached = config(&["example.com/keep"], false);
    let ctx = context(vec![(CONFIG, cached.clone()), (JOB, job())], &cached, &log);
    let first: ServerlessJob = serde_json::from_value(job()).unwrap();
    let result = reconcile_job(Arc::new(first), ctx.clone()).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(
        lines(&log),
        [format!("PATCH {CONFIG}"), format!("PATCH {JOB}")],
        "the ProviderConfig is held, then the job gets its finalizer, and nothing else"
    );
    let in_use = body_of(&log, &format!("PATCH {CONFIG}"));
    assert_eq!(
        in_use,
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": ["example.com/keep"]},
            {"op": "add", "path": "/metadata/finalizers/-", "value": IN_USE_FINALIZER},
        ])
    );
    let finalizer = body_of(&log, &format!("PATCH {JOB}"));
    assert_eq!(finalizer[1]["value"], json!([FINALIZER]));

    // The next reconcile, with the finalizer on, is the first to reach the provider.
    let mut second: ServerlessJob = serde_json::from_value(job()).unwrap();
    second.metadata.finalizers = Some(vec![FINALIZER.into()]);
    reconcile_job(Arc::new(second), ctx).await.unwrap();
    let after = lines(&log);
    assert_eq!(after[2], "provider: connect_job nightly", "{after:?}");
    assert!(
        !after[2..].contains(&format!("PATCH {CONFIG}")),
        "the ProviderConfig is held once: {after:?}"
    );
}

#[tokio::test]
async fn a_job_adds_no_in_use_finalizer_the_cache_shows_or_a_deleted_config_cannot_take() {
    for cached in [
        config(&[IN_USE_FINALIZER], false),
        config(&["example.com/keep"], true),
    ] {
        let log = Log::default();
        let ctx = context(vec![(CONFIG, cached.clone()), (JOB, job())], &cached, &log);
        let job: ServerlessJob = serde_json::from_value(job()).unwrap();
        reconcile_job(Arc::new(job), ctx).await.unwrap();
        assert_eq!(lines(&log), [format!("PATCH {JOB}")], "{cached}");
    }
}

#[tokio::test]
async fn a_job_on_the_cluster_holds_no_provider_config() {
    let log = Log::default();
    let cached = config(&[], false);
    let mut local = job();
    local["spec"]["provider"] = json!("kubernetes");
    local["spec"]["deletionPolicy"] = json!("Orphan");
    let ctx = context(
        vec![(CONFIG, cached.clone()), (JOB, local.clone())],
        &cached,
        &log,
    );
    let local: ServerlessJob = serde_json::from_value(local).unwrap();
    reconcile_job(Arc::new(local), ctx).await.unwrap();
    assert_eq!(lines(&log), [format!("PATCH {JOB}")]);
}

#[tokio::test]
async fn a_new_cloud_service_holds_its_provider_config_before_its_finalizer() {
    let log = Log::default();
    let cached = config(&[], false);
    let service = json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": "hello", "namespace": "shop", "uid": "s3rv1ce", "generation": 1,
                     "resourceVersion": "7"},
        "spec": {"provider": "fargate", "providerConfigRef": {"name": "cloud"},
                 "containers": [{"name": "app", "image": "ghcr.io/acme/hello:1.4.2",
                                 "port": 8080}]},
    });
    let ctx = context(
        vec![(CONFIG, cached.clone()), (SERVICE, service.clone())],
        &cached,
        &log,
    );
    let svc: ServerlessService = serde_json::from_value(service).unwrap();
    let result = reconcile(Arc::new(svc), ctx).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(
        lines(&log),
        [format!("PATCH {CONFIG}"), format!("PATCH {SERVICE}")]
    );
    let in_use = body_of(&log, &format!("PATCH {CONFIG}"));
    assert_eq!(
        in_use,
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [IN_USE_FINALIZER]},
        ])
    );
}
