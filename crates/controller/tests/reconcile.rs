#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Reconcile tests: the fake backend stands for the provider and a request-checking mock of the
//! API server (`tower_test::mock::pair` feeding a real `kube::Client`) records every request.
//! Each case lists the exact requests one reconcile sends.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_api::{Provider, ServerlessService};
use ferry_controller::metrics::Metrics;
use ferry_controller::prices::Pricing;
use ferry_controller::{Context, Error, FINALIZER, Settings, error_policy, reconcile};
use ferry_core::cost::PriceTable;
use ferry_core::status::{Outputs, Readiness};
use ferry_provider::backend::Connectors;
use ferry_provider::fake::{Call, FakeBackend, Operation};
use ferry_provider::{Connector, ProviderError, Started};
use http::{Request, Response, StatusCode};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};

const OBJECT: &str = "/apis/ferry.dev/v1alpha1/namespaces/shop/serverlessservices/hello";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/shop/events";
const PROGRESS: Duration = Duration::from_secs(5);
const RESYNC: Duration = Duration::from_secs(600);

/// One request the API server received.
#[derive(Clone, Debug)]
struct Sent {
    /// `METHOD path?query`.
    line: String,
    body: Value,
}

/// The API server: answers like Kubernetes would for the one object under test (finalizer
/// patches applied, the status stored, Events echoed) and records every request.
#[derive(Clone)]
struct ApiServer {
    object: Arc<Mutex<Value>>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl ApiServer {
    fn start() -> (Self, kube::Client) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = Self {
            object: Arc::default(),
            sent: Arc::default(),
        };
        let answering = server.clone();
        tokio::spawn(async move {
            while let Some((request, reply)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap();
                let body: Value = if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&bytes).unwrap()
                };
                let line = format!("{} {}", parts.method, parts.uri);
                let (status, answer) = answering.answer(&parts.method, parts.uri.path(), &body);
                answering.sent.lock().unwrap().push(Sent { line, body });
                reply.send_response(
                    Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                        .unwrap(),
                );
            }
        });
        (server, kube::Client::new(service, "default"))
    }

    fn answer(&self, method: &http::Method, path: &str, body: &Value) -> (StatusCode, Value) {
        let mut object = self.object.lock().unwrap();
        match (method.as_str(), path) {
            ("PATCH", OBJECT) => {
                let mut ops: json_patch::Patch = serde_json::from_value(body.clone()).unwrap();
                // Kubernetes' JSON patch finds `null` at a path that does not exist.
                ops.0.retain(|op| match op {
                    json_patch::PatchOperation::Test(t) => {
                        !(t.value.is_null() && object.pointer(t.path.as_str()).is_none())
                    }
                    _ => true,
                });
                match json_patch::patch(&mut object, &ops) {
                    Ok(()) => (StatusCode::OK, object.clone()),
                    Err(e) => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        status(422, &e.to_string()),
                    ),
                }
            }
            ("PATCH", p) if p == format!("{OBJECT}/status") => {
                object["status"] = body["status"].clone();
                (StatusCode::OK, object.clone())
            }
            ("POST", EVENTS) => (StatusCode::CREATED, body.clone()),
            ("PATCH", p) if p.starts_with(EVENTS) => (StatusCode::OK, body.clone()),
            _ => (StatusCode::NOT_FOUND, status(404, "not found")),
        }
    }

    /// Takes the requests received so far.
    fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

fn status(code: u16, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "message": message})
}

/// A reconciler wired to the fake backends and the mock API server: `cloud` stands for Cloud
/// Run, `aws` for Fargate, `fake` for Knative.
struct Harness {
    api: ApiServer,
    fake: FakeBackend,
    cloud: FakeBackend,
    aws: FakeBackend,
    ctx: Arc<Context>,
}

impl Harness {
    fn new() -> Self {
        Self::with_pricing(Pricing::embedded(common::registry().catalog().clone()))
    }

    fn with_pricing(pricing: Pricing) -> Self {
        let (api, client) = ApiServer::start();
        let fake = FakeBackend::new();
        let (cloud, aws) = (FakeBackend::new(), FakeBackend::new());
        let connector: Arc<dyn Connector> = Arc::new(fake.clone());
        let connectors = Connectors::every(&connector)
            .with(Provider::CloudRun, Arc::new(cloud.clone()))
            .with(Provider::Fargate, Arc::new(aws.clone()));
        let reporter = Reporter {
            controller: "ferry".into(),
            instance: Some("test".into()),
        };
        let settings = Settings {
            resync: RESYNC,
            progress_poll: PROGRESS,
            backoff: (Duration::from_secs(1), Duration::from_secs(300)),
            ..Settings::default()
        };
        let mut ctx = Context::new(
            client,
            common::registry(),
            connectors,
            reporter,
            Arc::new(Metrics::default()),
            settings,
        );
        ctx.now = || Time("2026-11-23T10:00:00Z".parse().unwrap());
        ctx.jitter = || 0.5;
        ctx.pricing = Arc::new(pricing);
        Self {
            api,
            fake,
            cloud,
            aws,
            ctx: Arc::new(ctx),
        }
    }

    /// One reconcile of `svc`: its result, the requests it sent, the provider calls it made.
    async fn reconcile(
        &self,
        svc: &ServerlessService,
    ) -> (Result<Action, Error>, Vec<Sent>, Vec<Call>) {
        *self.api.object.lock().unwrap() = serde_json::to_value(svc).unwrap();
        self.fake.clear_calls();
        let result = reconcile(Arc::new(svc.clone()), self.ctx.clone()).await;
        (result, self.api.take(), self.fake.calls())
    }

    /// The object as the API server holds it now.
    fn stored(&self) -> ServerlessService {
        serde_json::from_value(self.api.object.lock().unwrap().clone()).unwrap()
    }
}

fn object(spec: &Value) -> ServerlessService {
    serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {
            "name": "hello",
            "namespace": "shop",
            "uid": "6f1c1e0e-8b0a-4d7e-9a51-0c1d2e3f4a5b",
            "generation": 1,
            "resourceVersion": "7",
            "finalizers": [FINALIZER],
        },
        "spec": spec,
    }))
    .unwrap()
}

fn knative() -> ServerlessService {
    object(&json!({
        "provider": "knative",
        "containers": [{"name": "app", "image": "ghcr.io/acme/hello:1.4.2", "port": 8080}],
    }))
}

fn lines(sent: &[Sent]) -> Vec<&str> {
    sent.iter().map(|s| s.line.as_str()).collect()
}

const STATUS_APPLY: &str = "PATCH /apis/ferry.dev/v1alpha1/namespaces/shop/serverlessservices/hello/status?&force=true&fieldManager=ferry";
const OBJECT_PATCH: &str =
    "PATCH /apis/ferry.dev/v1alpha1/namespaces/shop/serverlessservices/hello?";
const EVENT_POST: &str = "POST /apis/events.k8s.io/v1/namespaces/shop/events?";

/// `type: (status, reason)` for each condition in a status body.
fn conditions(body: &Value) -> Vec<(String, String, String)> {
    body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn cond(t: &str, s: &str, r: &str) -> (String, String, String) {
    (t.into(), s.into(), r.into())
}

fn event(sent: &Sent) -> (&str, &str, &str) {
    (
        sent.body["type"].as_str().unwrap(),
        sent.body["reason"].as_str().unwrap(),
        sent.body["note"].as_str().unwrap(),
    )
}

/// Reconciles `svc` with the object the API server stored after each round, until a reconcile
/// sends nothing; returns the settled object.
async fn settle(h: &Harness, mut svc: ServerlessService) -> ServerlessService {
    for _ in 0..10 {
        let (result, sent, _) = h.reconcile(&svc).await;
        result.unwrap();
        if sent.is_empty() {
            return svc;
        }
        svc = h.stored();
    }
    panic!("still writing after 10 reconciles");
}

/// A Knative object kept on deletion: the one Knative case that needs Ferry to clean up.
fn knative_orphan() -> ServerlessService {
    let mut svc = knative();
    svc.spec.deletion_policy = Some(ferry_api::DeletionPolicy::Orphan);
    svc
}

#[tokio::test]
async fn a_new_object_first_gets_the_finalizer_and_nothing_else() {
    let h = Harness::new();
    let mut svc = knative_orphan();
    svc.metadata.finalizers = None;
    let (result, sent, calls) = h.reconcile(&svc).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(lines(&sent), [OBJECT_PATCH]);
    assert_eq!(
        sent[0].body,
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])
    );
    assert!(
        calls.is_empty(),
        "no provider call before the finalizer: {calls:?}"
    );
    assert_eq!(h.stored().metadata.finalizers, Some(vec![FINALIZER.into()]));
}

#[tokio::test]
async fn the_finalizer_joins_other_finalizers_only_if_they_did_not_change() {
    let h = Harness::new();
    let mut svc = knative_orphan();
    svc.metadata.finalizers = Some(vec!["example.com/keep".into()]);
    let (result, sent, _) = h.reconcile(&svc).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(
        sent[0].body,
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": ["example.com/keep"]},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ])
    );
    assert_eq!(
        h.stored().metadata.finalizers,
        Some(vec!["example.com/keep".into(), FINALIZER.into()])
    );
}

#[tokio::test]
async fn a_knative_service_the_garbage_collector_deletes_gets_no_finalizer() {
    let h = Harness::new();
    let mut svc = knative();
    svc.metadata.finalizers = None;
    let (result, sent, calls) = h.reconcile(&svc).await;
    assert_eq!(result.unwrap(), Action::requeue(PROGRESS));
    assert_eq!(lines(&sent), [EVENT_POST, STATUS_APPLY]);
    assert_eq!(
        calls,
        [
            Call::Connect("shop/hello".into()),
            Call::Observe,
            Call::Create
        ]
    );
    assert_eq!(h.stored().metadata.finalizers, None);

    // Deleted, it is left to the garbage collector.
    let (result, sent, calls) = h.reconcile(&deleting(h.stored())).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(sent.is_empty() && calls.is_empty(), "{sent:?} {calls:?}");
}

/// Issue 15: when the provider answers a write with the resource (the API server does), the
/// status written after the create is what the next observation finds, so the object reaches
/// Ready in two status writes, not three.
#[tokio::test]
async fn the_status_written_after_a_create_is_complete_so_ready_takes_two_writes() {
    let h = Harness::new();
    let pending = Readiness::Progressing("Knative has not yet processed generation 1".into());
    let outputs = Outputs {
        resource_id: Some("services.serving.knative.dev/shop/hello".into()),
        ..Outputs::default()
    };
    h.fake.set_started(Started {
        operation: None,
        state: Some((pending.clone(), outputs.clone())),
    });
    h.fake.set_readiness(pending, outputs.clone());

    let (result, sent, calls) = h.reconcile(&knative()).await;
    assert_eq!(result.unwrap(), Action::requeue(PROGRESS));
    assert!(calls.contains(&Call::Create), "{calls:?}");
    assert_eq!(lines(&sent), [EVENT_POST, STATUS_APPLY]);
    let status = &sent[1].body["status"];
    assert_eq!(
        status["resourceRef"]["id"],
        "services.serving.knative.dev/shop/hello"
    );
    assert_eq!(
        status["conditions"][0]["message"],
        "Knative has not yet processed generation 1"
    );

    // The watch brings a reconcile before Knative has looked at the Service: nothing new.
    let (_, sent, _) = h.reconcile(&h.stored()).await;
    assert!(sent.is_empty(), "a second write: {sent:#?}");

    // Ready: the second and last write (and its Event).
    h.fake.set_readiness(Readiness::Ready, outputs);
    let (_, sent, _) = h.reconcile(&h.stored()).await;
    assert_eq!(lines(&sent), [STATUS_APPLY, EVENT_POST]);
    let (_, sent, _) = h.reconcile(&h.stored()).await;
    assert!(sent.is_empty(), "{sent:#?}");
}

#[tokio::test]
async fn an_absent_service_is_created_then_reported_progressing() {
    let h = Harness::new();
    let (result, sent, calls) = h.reconcile(&knative()).await;
    assert_eq!(result.unwrap(), Action::requeue(PROGRESS));
    assert_eq!(
        calls,
        [
            Call::Connect("shop/hello".into()),
            Call::Observe,
            Call::Create
        ]
    );
    assert_eq!(lines(&sent), [EVENT_POST, STATUS_APPLY]);
    assert_eq!(
        event(&sent[0]),
        (
            "Normal",
            "Created",
            "Created the Knative service for generation 1"
        )
    );
    let body = &sent[1].body;
    assert_eq!(body["apiVersion"], "ferry.dev/v1alpha1");
    assert_eq!(body["kind"], "ServerlessService");
    assert_eq!(body["status"]["observedGeneration"], 1);
    assert_eq!(body["status"]["provider"], "knative");
    assert_eq!(
        conditions(body),
        [
            cond("Ready", "Unknown", "Progressing"),
            cond("Synced", "True", "ReconcileSuccess"),
            cond("Reconciling", "True", "Progressing"),
        ]
    );
    assert_eq!(
        body["status"]["conditions"][0]["lastTransitionTime"],
        "2026-11-23T10:00:00Z"
    );
}

#[tokio::test]
async fn a_long_running_operation_a_write_started_is_recorded_in_status_until_it_is_done() {
    let h = Harness::new();
    let operation = "projects/p/locations/r/operations/op-1";
    h.fake.set_started(Started {
        operation: Some(operation.into()),
        state: None,
    });
    let (result, sent, calls) = h.reconcile(&knative()).await;
    assert_eq!(result.unwrap(), Action::requeue(PROGRESS));
    assert!(calls.contains(&Call::Create), "{calls:?}");
    let status_of = |sent: &[Sent]| {
        sent.iter()
            .find_map(|s| s.body.get("status").cloned())
            .unwrap_or_default()
    };
    assert_eq!(status_of(&sent)["operation"], operation, "{sent:?}");

    // The backend reports the operation still running: status keeps it.
    let running = h.stored();
    h.fake.set_readiness(
        Readiness::Progressing("working".into()),
        Outputs {
            operation: Some(operation.into()),
            ..Outputs::default()
        },
    );
    let (_, sent, _) = h.reconcile(&running).await;
    assert_eq!(status_of(&sent)["operation"], operation, "{sent:?}");
    assert_eq!(
        h.stored().status.unwrap().operation.as_deref(),
        Some(operation)
    );

    // Done: the operation leaves status.
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let (_, sent, _) = h.reconcile(&h.stored()).await;
    let status = status_of(&sent);
    assert_eq!(status.get("operation"), None, "{status}");
    assert_eq!(h.stored().status.unwrap().operation, None);
}

#[tokio::test]
async fn becoming_ready_writes_status_once_and_announces_it() {
    let h = Harness::new();
    h.reconcile(&knative()).await.0.unwrap();
    let progressing = h.stored();
    h.fake.set_readiness(
        Readiness::Ready,
        Outputs {
            url: Some("https://hello.shop.example.com".into()),
            address_url: Some("http://hello.shop.svc.cluster.local".into()),
            latest_ready_revision: Some("hello-00001".into()),
            resource_id: Some("services.serving.knative.dev/shop/hello".into()),
            instances: None,
            operation: None,
        },
    );
    let (result, sent, calls) = h.reconcile(&progressing).await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    assert_eq!(calls, [Call::Connect("shop/hello".into()), Call::Observe]);
    assert_eq!(lines(&sent), [STATUS_APPLY, EVENT_POST]);
    let status = &sent[0].body["status"];
    assert_eq!(status["url"], "https://hello.shop.example.com");
    assert_eq!(
        status["address"]["url"],
        "http://hello.shop.svc.cluster.local"
    );
    assert_eq!(status["latestReadyRevision"], "hello-00001");
    assert_eq!(
        status["resourceRef"]["id"],
        "services.serving.knative.dev/shop/hello"
    );
    assert_eq!(
        conditions(&sent[0].body),
        [
            cond("Ready", "True", "Available"),
            cond("Synced", "True", "ReconcileSuccess")
        ]
    );
    assert_eq!(
        event(&sent[1]),
        (
            "Normal",
            "Available",
            "Serving at https://hello.shop.example.com"
        )
    );
}

/// Under load the watch cache lags Ferry's own status writes: a reconcile of the stale copy
/// computes the status Ferry has just written (with new transition times) and must neither
/// write it again nor announce the same change again.
#[tokio::test]
async fn a_stale_copy_does_not_write_the_same_status_again() {
    let h = Harness::new();
    h.reconcile(&knative()).await.0.unwrap();
    let progressing = h.stored();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let (_, sent, _) = h.reconcile(&progressing).await;
    assert_eq!(lines(&sent), [STATUS_APPLY, EVENT_POST]);
    for _ in 0..3 {
        let (result, sent, calls) = h.reconcile(&progressing).await;
        assert_eq!(result.unwrap(), Action::requeue(RESYNC));
        assert_eq!(calls, [Call::Connect("shop/hello".into()), Call::Observe]);
        assert!(
            sent.is_empty(),
            "the stale copy was written again: {sent:#?}"
        );
    }
    // A real change is still written, from the stale copy too.
    h.fake.set_readiness(
        Readiness::Progressing("rolling out".into()),
        Outputs::default(),
    );
    let (_, sent, _) = h.reconcile(&progressing).await;
    assert_eq!(lines(&sent)[0], STATUS_APPLY);
}

#[tokio::test]
async fn what_is_remembered_about_an_object_goes_with_it() {
    let h = Harness::new();
    h.reconcile(&knative()).await.0.unwrap();
    let progressing = h.stored();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    h.reconcile(&progressing).await.0.unwrap();
    let ready = Arc::new(h.stored());

    // Still there: what was written is remembered, and the stale copy writes nothing.
    h.ctx.forget_all_but(std::slice::from_ref(&ready));
    assert!(h.reconcile(&progressing).await.1.is_empty());

    // Gone (deleted, or missed while the watch relisted): nothing is kept for it, so the same
    // UID would be written afresh.
    h.ctx.forget_all_but::<ServerlessService>(&[]);
    let (_, sent, _) = h.reconcile(&progressing).await;
    assert_eq!(lines(&sent)[0], STATUS_APPLY);
    h.ctx.forget(ready.as_ref());
    let (_, sent, _) = h.reconcile(&progressing).await;
    assert_eq!(lines(&sent)[0], STATUS_APPLY);
}

/// The acceptance test of issue 5: a reconcile that finds everything up to date writes
/// nothing, however often it runs.
#[tokio::test]
async fn twenty_idle_resyncs_send_no_write() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let settled = settle(&h, knative()).await;
    assert_eq!(
        settled.status.as_ref().map(|s| s.conditions.len()),
        Some(2),
        "{settled:?}"
    );
    let mut requests = Vec::new();
    for _ in 0..20 {
        let (result, sent, calls) = h.reconcile(&settled).await;
        assert_eq!(result.unwrap(), Action::requeue(RESYNC));
        assert_eq!(calls, [Call::Connect("shop/hello".into()), Call::Observe]);
        requests.extend(sent);
    }
    let writes: Vec<_> = requests
        .iter()
        .filter(|s| !s.line.starts_with("GET "))
        .collect();
    assert!(writes.is_empty(), "idle resyncs wrote: {writes:#?}");
    assert!(requests.is_empty(), "idle resyncs read: {requests:#?}");
}

fn node_prices(vcpu_hour: f64) -> PriceTable {
    let nodes = format!(
        "knative:\n- {{region: prod, option: nodes, vcpuHour: {vcpu_hour}, gbHour: 0.004, \
         source: our invoice, read: 2026-11-01}}\n"
    );
    let catalog = common::registry().catalog().clone();
    PriceTable::embedded(&catalog)
        .unwrap()
        .overlay(PriceTable::parse("test", &nodes, &catalog).unwrap())
}

/// Issue 10: the status carries what the spec costs at rest, and writes it only when it
/// changes.
#[tokio::test]
async fn the_estimated_monthly_cost_is_written_with_the_status_and_again_only_when_it_changes() {
    let h = Harness::with_pricing(Pricing::new(
        common::registry().catalog().clone(),
        node_prices(0.03),
    ));
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let svc = object(&json!({
        "provider": "knative",
        "containers": [{"name": "app", "image": "ghcr.io/acme/hello:1.4.2", "port": 8080,
                        "resources": {"cpu": "500m", "memory": "256Mi"}}],
        "scaling": {"minInstances": 2},
    }));
    let settled = settle(&h, svc).await;
    // 2 pods x (0.5 vCPU x $0.03 + 0.25 GB x $0.004) x 730 h = $23.36.
    assert_eq!(
        settled.status.as_ref().unwrap().estimated_monthly_cost,
        Some(ferry_api::CostEstimate {
            usd: "23.36".into(),
            basis: "2 pods x 0.5 vCPU, 256Mi, 730 h, prod node prices; traffic extra".into(),
        })
    );
    let (_, sent, _) = h.reconcile(&settled).await;
    assert!(
        sent.is_empty(),
        "an unchanged estimate writes nothing: {sent:#?}"
    );

    // New prices: one status write with the new figure, 2 x (0.5 x 0.06 + 0.001) x 730 = $45.26.
    assert!(h.ctx.pricing.replace(node_prices(0.06)));
    let (_, sent, _) = h.reconcile(&settled).await;
    assert_eq!(lines(&sent), [STATUS_APPLY]);
    assert_eq!(
        sent[0].body["status"]["estimatedMonthlyCost"]["usd"],
        "45.26"
    );
    let (_, sent, _) = h.reconcile(&h.stored()).await;
    assert!(sent.is_empty(), "{sent:#?}");
}

#[tokio::test]
async fn a_spec_change_updates_the_provider_and_observes_the_new_generation() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let mut svc = settle(&h, knative()).await;
    svc.metadata.generation = Some(2);
    svc.spec.containers[0].image = "ghcr.io/acme/hello:1.5.0".into();
    h.fake.set_readiness(
        Readiness::Progressing("rolling out".into()),
        Outputs::default(),
    );
    let (result, sent, calls) = h.reconcile(&svc).await;
    assert_eq!(result.unwrap(), Action::requeue(PROGRESS));
    assert_eq!(
        calls,
        [
            Call::Connect("shop/hello".into()),
            Call::Observe,
            Call::Update
        ]
    );
    assert_eq!(lines(&sent), [EVENT_POST, STATUS_APPLY]);
    assert_eq!(
        event(&sent[0]),
        (
            "Normal",
            "Updated",
            "Updated the Knative service to generation 2"
        )
    );
    assert_eq!(sent[1].body["status"]["observedGeneration"], 2);
    assert_eq!(
        conditions(&sent[1].body)[0],
        cond("Ready", "Unknown", "Progressing")
    );
    assert_eq!(
        h.fake.resource().unwrap().containers[0].image,
        "ghcr.io/acme/hello:1.5.0"
    );
}

#[tokio::test]
async fn an_invalid_spec_is_reported_and_waits_for_a_change_without_calling_the_provider() {
    let h = Harness::new();
    let svc = object(&json!({
        "provider": "knative",
        "containers": [{"name": "app", "image": "ghcr.io/acme/hello:1.4.2", "port": 8080}],
        "scaling": {"minInstances": 5, "maxInstances": 2},
    }));
    let (result, sent, calls) = h.reconcile(&svc).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(calls.is_empty(), "{calls:?}");
    assert_eq!(lines(&sent), [STATUS_APPLY, EVENT_POST]);
    assert_eq!(
        conditions(&sent[0].body),
        [
            cond("Ready", "False", "InvalidSpec"),
            cond("Synced", "False", "InvalidSpec"),
            cond("Stalled", "True", "InvalidSpec"),
        ]
    );
    let message = sent[0].body["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("spec.scaling"), "{message}");
    let (kind, reason, _) = event(&sent[1]);
    assert_eq!((kind, reason), ("Warning", "InvalidSpec"));
    assert_eq!(
        sent[0].body["status"].get("estimatedMonthlyCost"),
        None,
        "an invalid spec is not priced"
    );

    // The same invalid spec again: nothing new to say.
    let (result, sent, _) = h.reconcile(&h.stored()).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(sent.is_empty(), "{sent:#?}");
}

#[tokio::test]
async fn a_transient_error_is_reported_once_and_retried_with_growing_backoff() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let ready = settle(&h, knative()).await;
    let mut svc = ready.clone();
    svc.metadata.generation = Some(2);
    svc.spec.containers[0].image = "ghcr.io/acme/hello:1.5.0".into();
    let outage = || ProviderError::Transient {
        operation: "apply",
        message: "connection reset".into(),
    };
    h.fake.fail_next(Operation::Update, outage());
    let (result, sent, _) = h.reconcile(&svc).await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::Provider(_)), "{error}");
    assert_eq!(lines(&sent), [STATUS_APPLY]);
    // The provider's last word on readiness stands while the write fails, and kstatus sees
    // Ferry still at work.
    assert_eq!(
        conditions(&sent[0].body),
        [
            cond("Ready", "True", "Available"),
            cond("Synced", "False", "ProviderError"),
            cond("Reconciling", "True", "ProviderError")
        ]
    );
    let first = error_policy(Arc::new(svc.clone()), &error, h.ctx.clone());
    assert_eq!(first, Action::requeue(Duration::from_secs(1)));

    h.fake.fail_next(Operation::Update, outage());
    let (result, sent, _) = h.reconcile(&h.stored()).await;
    let error = result.unwrap_err();
    assert!(
        sent.is_empty(),
        "an unchanged failure writes nothing: {sent:#?}"
    );
    let second = error_policy(Arc::new(svc.clone()), &error, h.ctx.clone());
    assert_eq!(second, Action::requeue(Duration::from_secs(2)));

    // Success resets the backoff.
    let (result, _, calls) = h.reconcile(&h.stored()).await;
    assert!(result.is_ok());
    assert!(calls.contains(&Call::Update), "{calls:?}");
    let after = error_policy(Arc::new(svc), &error, h.ctx.clone());
    assert_eq!(after, Action::requeue(Duration::from_secs(1)));
}

#[tokio::test]
async fn throttling_waits_as_long_as_the_provider_asks() {
    let h = Harness::new();
    let error = Error::Provider(ProviderError::Throttled {
        message: "slow down".into(),
        retry_after: Some(Duration::from_secs(42)),
    });
    let action = error_policy(Arc::new(knative()), &error, h.ctx.clone());
    assert_eq!(action, Action::requeue(Duration::from_secs(42)));
}

#[tokio::test]
async fn knative_not_installed_is_stalled_and_rechecked_without_a_hot_loop() {
    let h = Harness::new();
    h.fake.fail_next(
        Operation::Observe,
        ProviderError::Terminal {
            reason: "KnativeNotInstalled",
            message: "install Knative Serving".into(),
            recheck: Some(Duration::from_secs(60)),
        },
    );
    let (result, sent, calls) = h.reconcile(&knative()).await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(60)));
    assert!(!calls.contains(&Call::Create), "{calls:?}");
    assert_eq!(lines(&sent), [STATUS_APPLY, EVENT_POST]);
    assert_eq!(
        conditions(&sent[0].body),
        [
            cond("Ready", "False", "KnativeNotInstalled"),
            cond("Synced", "False", "KnativeNotInstalled"),
            cond("Stalled", "True", "KnativeNotInstalled"),
        ]
    );
}

fn deleting(mut svc: ServerlessService) -> ServerlessService {
    svc.metadata.deletion_timestamp = Some(Time("2026-11-23T10:05:00Z".parse().unwrap()));
    svc
}

#[tokio::test]
async fn delete_policy_deletes_at_the_provider_then_drops_the_finalizer() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let ready = settle(&h, knative()).await;
    h.fake.delete_slowly(1);

    let (result, sent, calls) = h.reconcile(&deleting(ready)).await;
    assert!(
        matches!(result, Err(Error::DeletionInProgress)),
        "{result:?}"
    );
    assert_eq!(calls, [Call::Connect("shop/hello".into()), Call::Delete]);
    assert_eq!(lines(&sent), [STATUS_APPLY, EVENT_POST]);
    assert_eq!(
        conditions(&sent[0].body)[0],
        cond("Ready", "False", "Deleting")
    );

    let (result, sent, calls) = h.reconcile(&h.stored()).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(calls, [Call::Connect("shop/hello".into()), Call::Delete]);
    assert_eq!(lines(&sent), [OBJECT_PATCH]);
    assert_eq!(
        sent[0].body,
        json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": FINALIZER},
            {"op": "remove", "path": "/metadata/finalizers/0"},
        ])
    );
    assert!(h.fake.resource().is_none());
    assert_eq!(h.stored().metadata.finalizers, Some(vec![]));
}

#[tokio::test]
async fn orphan_policy_releases_the_service_and_drops_the_finalizer() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let mut ready = settle(&h, knative()).await;
    ready.spec.deletion_policy = Some(ferry_api::DeletionPolicy::Orphan);
    let (result, sent, calls) = h.reconcile(&deleting(ready)).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(calls, [Call::Connect("shop/hello".into()), Call::Release]);
    assert_eq!(lines(&sent), [STATUS_APPLY, EVENT_POST, OBJECT_PATCH]);
    let message = sent[0].body["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("deletionPolicy: Orphan"), "{message}");
    assert!(h.fake.resource().is_some(), "the service stays");
}

#[tokio::test]
async fn an_object_without_the_finalizer_is_let_go_untouched() {
    let h = Harness::new();
    let mut svc = deleting(knative());
    svc.metadata.finalizers = Some(vec!["example.com/keep".into()]);
    let (result, sent, calls) = h.reconcile(&svc).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(sent.is_empty() && calls.is_empty(), "{sent:?} {calls:?}");
}

#[tokio::test]
async fn an_invalid_object_can_still_be_deleted() {
    let h = Harness::new();
    let svc = deleting(object(&json!({
        "provider": "knative",
        "containers": [{"name": "app", "image": "ghcr.io/acme/hello:1.4.2", "port": 8080}],
        "scaling": {"minInstances": 5, "maxInstances": 2},
    })));
    let (result, sent, calls) = h.reconcile(&svc).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(calls, [Call::Connect("shop/hello".into()), Call::Delete]);
    assert_eq!(lines(&sent).last(), Some(&OBJECT_PATCH));
}

#[tokio::test]
async fn a_failed_status_write_fails_the_reconcile() {
    let h = Harness::new();
    let mut svc = knative();
    // The mock answers 404 for any other object, as the API server does for a deleted one.
    svc.metadata.name = Some("gone".into());
    let (result, sent, _) = h.reconcile(&svc).await;
    assert!(matches!(result, Err(Error::Kube(_))), "{result:?}");
    assert!(
        sent.iter().any(|s| s.line.contains("/gone/status")),
        "{sent:#?}"
    );
}

#[test]
fn backoff_doubles_up_to_the_limit_with_twenty_percent_jitter() {
    use ferry_controller::plan::backoff;
    let limits = (Duration::from_secs(1), Duration::from_secs(300));
    let at = |n, unit| backoff(n, limits, unit);
    assert_eq!(at(1, 0.5), Duration::from_secs(1));
    assert_eq!(at(2, 0.5), Duration::from_secs(2));
    assert_eq!(at(9, 0.5), Duration::from_secs(256));
    assert_eq!(at(10, 0.5), Duration::from_secs(300));
    assert_eq!(at(u32::MAX, 0.5), Duration::from_secs(300));
    assert_eq!(at(3, 0.0), Duration::from_millis(3200));
    assert_eq!(at(3, 1.0), Duration::from_millis(4800));
}

/// The ServerlessService `svc` moved to Cloud Run (ProviderConfig `gcp`), draining `drain`
/// seconds.
fn moved_to_cloud_run(mut svc: ServerlessService, drain: i32) -> ServerlessService {
    svc.spec.provider = Provider::CloudRun;
    svc.spec.provider_config_ref = Some(ferry_api::ProviderConfigReference { name: "gcp".into() });
    svc.spec.migration = Some(ferry_api::MigrationSettings {
        drain_seconds: Some(drain),
    });
    svc.metadata.generation = Some(2);
    svc
}

fn condition_of<'a>(svc: &'a ServerlessService, type_: &str) -> Option<&'a Condition> {
    svc.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

fn ready_true(svc: &ServerlessService) -> bool {
    condition_of(svc, "Ready").is_some_and(|c| c.status == "True")
}

/// Issue 16: expand (Cloud Run is created while Knative serves and the status still names
/// Knative, Ready), switch (the status names Cloud Run once it is Ready), contract (Knative is
/// deleted after the drain); Ready is True in every status written.
#[tokio::test]
async fn a_move_creates_the_new_side_switches_when_it_is_ready_then_deletes_the_old_one() {
    let h = Harness::new();
    h.fake.set_readiness(
        Readiness::Ready,
        Outputs {
            url: Some("https://hello.shop.example".into()),
            ..Outputs::default()
        },
    );
    let on_knative = settle(&h, knative()).await;
    assert!(ready_true(&on_knative));
    h.fake.clear_calls();

    // Expand: Cloud Run is created; the status keeps Knative's URL and Ready.
    let (result, _, calls) = h.reconcile(&moved_to_cloud_run(on_knative, 0)).await;
    assert_eq!(result.unwrap(), Action::requeue(PROGRESS));
    assert!(calls.is_empty(), "Knative is left alone: {calls:?}");
    assert_eq!(
        h.cloud.calls(),
        [
            Call::Connect("shop/hello".into()),
            Call::Observe,
            Call::Create
        ]
    );
    let creating = h.stored();
    let status = creating.status.as_ref().unwrap();
    assert!(ready_true(&creating));
    assert_eq!(status.url.as_deref(), Some("https://hello.shop.example"));
    assert_eq!(status.provider, Some(Provider::Knative));
    let migration = status.migration.as_ref().unwrap();
    assert_eq!(
        (migration.from, migration.to, migration.phase),
        (
            Provider::Knative,
            Provider::CloudRun,
            ferry_api::MigrationPhase::Creating
        )
    );
    assert_eq!(condition_of(&creating, "Migrating").unwrap().status, "True");

    // Switch: Cloud Run is Ready; the status names it.
    h.cloud.clear_calls();
    h.cloud.set_readiness(
        Readiness::Ready,
        Outputs {
            url: Some("https://hello-abc.a.run.app".into()),
            ..Outputs::default()
        },
    );
    let (result, _, calls) = h.reconcile(&creating).await;
    result.unwrap();
    assert!(calls.is_empty(), "Knative keeps serving: {calls:?}");
    let switched = h.stored();
    let status = switched.status.as_ref().unwrap();
    assert!(ready_true(&switched));
    assert_eq!(status.url.as_deref(), Some("https://hello-abc.a.run.app"));
    assert_eq!(status.provider, Some(Provider::CloudRun));
    assert_eq!(status.provider_config.as_deref(), Some("gcp"));
    assert_eq!(
        status.migration.as_ref().unwrap().phase,
        ferry_api::MigrationPhase::Draining
    );

    // Contract: with no drain, the old side goes at once and the move is over.
    let (result, _, calls) = h.reconcile(&switched).await;
    result.unwrap();
    assert_eq!(
        calls,
        [Call::Connect("shop/hello".into()), Call::Delete],
        "Knative's side deleted"
    );
    let done = h.stored();
    assert!(ready_true(&done));
    assert_eq!(done.status.as_ref().unwrap().migration, None);
    assert!(condition_of(&done, "Migrating").is_none());
    let (_, sent, calls) = h.reconcile(&done).await;
    assert!(sent.is_empty() && calls.is_empty(), "{sent:#?} {calls:?}");
}

/// Issue 16: a new side that fails is removed; the old one keeps serving, and the status says
/// why until the spec changes.
#[tokio::test]
async fn a_new_side_that_fails_is_rolled_back_and_the_old_one_keeps_serving() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let on_knative = settle(&h, knative()).await;
    h.fake.clear_calls();
    h.cloud.set_readiness(
        Readiness::Failed {
            reason: "ImageNotFound",
            message: "no such image".into(),
        },
        Outputs::default(),
    );
    let moved = moved_to_cloud_run(on_knative, 300);
    h.reconcile(&moved).await.0.unwrap(); // creates
    let (_, _, _) = h.reconcile(&h.stored()).await; // observes the failure: rolling back
    let rolling = h.stored();
    assert!(ready_true(&rolling));
    assert_eq!(
        rolling
            .status
            .as_ref()
            .unwrap()
            .migration
            .as_ref()
            .unwrap()
            .phase,
        ferry_api::MigrationPhase::RollingBack
    );
    h.cloud.clear_calls();
    let (result, _, calls) = h.reconcile(&rolling).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(calls.is_empty(), "Knative untouched: {calls:?}");
    assert_eq!(
        h.cloud.calls(),
        [Call::Connect("shop/hello".into()), Call::Delete]
    );
    let held = h.stored();
    assert!(ready_true(&held), "the old side serves");
    for (type_, status) in [
        ("Migrating", "False"),
        ("Synced", "False"),
        ("Stalled", "True"),
    ] {
        let c = condition_of(&held, type_).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            (status, "RolledBack")
        );
    }
    assert!(
        condition_of(&held, "Migrating")
            .unwrap()
            .message
            .contains("no such image")
    );
    // Nothing more until the spec changes.
    h.cloud.clear_calls();
    let (_, sent, calls) = h.reconcile(&held).await;
    assert!(sent.is_empty() && calls.is_empty() && h.cloud.calls().is_empty());
}

/// Issue 16: deleting the object mid-move removes both sides.
#[tokio::test]
async fn deleting_mid_move_deletes_both_sides() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let on_knative = settle(&h, knative()).await;
    h.reconcile(&moved_to_cloud_run(on_knative, 300))
        .await
        .0
        .unwrap();
    h.fake.clear_calls();
    h.cloud.clear_calls();
    let (result, _, calls) = h.reconcile(&deleting(h.stored())).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(calls, [Call::Connect("shop/hello".into()), Call::Delete]);
    assert_eq!(
        h.cloud.calls(),
        [Call::Connect("shop/hello".into()), Call::Delete]
    );
    assert_eq!(h.stored().metadata.finalizers, Some(vec![]));
}

/// Issue 16: the spec changed back before the switch: the side under construction is deleted,
/// the old one is never touched and the status never stops naming it, Ready.
#[tokio::test]
async fn a_change_back_before_the_switch_removes_the_new_side_and_keeps_the_old() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let on_knative = settle(&h, knative()).await;
    h.reconcile(&moved_to_cloud_run(on_knative.clone(), 300))
        .await
        .0
        .unwrap();
    let creating = h.stored();
    let mut back = creating.clone();
    back.spec = on_knative.spec.clone();
    back.metadata.generation = Some(3);
    h.cloud.clear_calls();
    let (result, sent, calls) = h.reconcile(&back).await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::ZERO));
    assert!(calls.is_empty(), "Knative untouched: {calls:?}");
    assert_eq!(
        h.cloud.calls(),
        [Call::Connect("shop/hello".into()), Call::Delete]
    );
    assert_eq!(lines(&sent), [EVENT_POST, STATUS_APPLY]);
    assert_eq!(event(&sent[0]).1, "MoveCancelled");
    let removed = h.stored();
    assert!(ready_true(&removed));
    let status = removed.status.as_ref().unwrap();
    assert_eq!(status.provider, Some(Provider::Knative));
    assert_eq!(status.migration, None);
    assert!(condition_of(&removed, "Migrating").is_none());
    // Back to the steady state: Knative is reconciled as always, Cloud Run no more.
    h.cloud.clear_calls();
    let (result, _, calls) = h.reconcile(&removed).await;
    result.unwrap();
    assert_eq!(
        calls[..2],
        [Call::Connect("shop/hello".into()), Call::Observe]
    );
    assert!(h.cloud.calls().is_empty());
}

/// Issue 16: with `deletionPolicy: Orphan` the drained side is released, not deleted.
#[tokio::test]
async fn with_orphan_the_old_side_is_released_after_the_drain() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    h.cloud.set_readiness(Readiness::Ready, Outputs::default());
    let on_knative = settle(&h, knative_orphan()).await;
    let mut moved = moved_to_cloud_run(on_knative, 0);
    moved.spec.deletion_policy = Some(ferry_api::DeletionPolicy::Orphan);
    h.reconcile(&moved).await.0.unwrap(); // Creating
    h.reconcile(&h.stored()).await.0.unwrap(); // Ready: Draining
    assert_eq!(
        h.stored().status.unwrap().migration.unwrap().phase,
        ferry_api::MigrationPhase::Draining
    );
    let (result, _, calls) = h.reconcile(&h.stored()).await;
    result.unwrap();
    assert_eq!(calls, [Call::Connect("shop/hello".into()), Call::Release]);
    assert_eq!(h.stored().status.unwrap().migration, None);
}

/// Issue 16, crash safety: when the status that recorded the move's start was never written
/// (the operator died first), the next reconcile finds the new side by the object's identity
/// and does not create a second one.
#[tokio::test]
async fn a_lost_status_write_does_not_create_a_second_new_side() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let on_knative = settle(&h, knative()).await;
    let moved = moved_to_cloud_run(on_knative, 300);
    h.reconcile(&moved).await.0.unwrap();
    // The same object again, as if the status write above had been lost.
    h.reconcile(&moved).await.0.unwrap();
    let creates = h
        .cloud
        .calls()
        .into_iter()
        .filter(|c| *c == Call::Create)
        .count();
    assert_eq!(creates, 1, "{:?}", h.cloud.calls());
}

/// Issue 16: each step of a move is announced by an Event.
#[tokio::test]
async fn each_step_of_a_move_is_an_event() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    h.cloud.set_readiness(Readiness::Ready, Outputs::default());
    let on_knative = settle(&h, knative()).await;
    let mut svc = moved_to_cloud_run(on_knative, 0);
    let mut reasons = Vec::new();
    for _ in 0..3 {
        let (result, sent, _) = h.reconcile(&svc).await;
        result.unwrap();
        reasons.extend(
            sent.iter()
                .filter(|s| s.line == EVENT_POST)
                .map(|s| event(s).1.to_owned()),
        );
        svc = h.stored();
    }
    // `Created` is the new side's own, as for any object.
    assert_eq!(reasons, ["Migrating", "Created", "Switched", "Migrated"]);
}

/// Issue 16: a third provider asked for mid-move: the half-made side goes first, then the move
/// starts again from the side that serves; nothing is left behind and readers see Knative,
/// Ready, until Fargate is.
#[tokio::test]
async fn a_third_provider_mid_move_leaves_nothing_behind() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    h.aws.set_readiness(Readiness::Ready, Outputs::default());
    let on_knative = settle(&h, knative()).await;
    h.reconcile(&moved_to_cloud_run(on_knative, 0))
        .await
        .0
        .unwrap();
    let mut svc = h.stored();
    svc.spec.provider = Provider::Fargate;
    svc.spec.provider_config_ref = Some(ferry_api::ProviderConfigReference { name: "aws".into() });
    svc.spec.scaling = Some(serde_json::from_value(json!({"minInstances": 1})).unwrap());
    svc.metadata.generation = Some(3);
    let mut providers = Vec::new();
    for _ in 0..4 {
        h.reconcile(&svc).await.0.unwrap();
        svc = h.stored();
        assert!(ready_true(&svc), "{:?}", svc.status);
        let status = svc.status.as_ref().unwrap();
        providers.push((
            status.provider.unwrap(),
            status.migration.as_ref().map(|m| m.phase),
        ));
    }
    assert_eq!(
        providers,
        [
            (Provider::Knative, None),
            (Provider::Knative, Some(ferry_api::MigrationPhase::Creating)),
            (Provider::Fargate, Some(ferry_api::MigrationPhase::Draining)),
            (Provider::Fargate, None),
        ]
    );
    let writes = |fake: &FakeBackend| {
        fake.calls()
            .into_iter()
            .filter(|c| matches!(c, Call::Create | Call::Delete))
            .collect::<Vec<_>>()
    };
    assert_eq!(writes(&h.cloud), [Call::Create, Call::Delete]);
    assert_eq!(writes(&h.aws), [Call::Create]);
    assert_eq!(h.fake.resource(), None, "Knative's side is gone");
}

fn events_with_reason<'a>(sent: &'a [Sent], reason: &str) -> Vec<&'a Sent> {
    sent.iter()
        .filter(|s| s.line == EVENT_POST && s.body["reason"] == reason)
        .collect()
}

/// Issue 17: with `deletionPolicy: Orphan`, a provider Ferry cannot reach (its ProviderConfig
/// deleted first) does not keep the object: it goes at once, and a Warning names what stays.
#[tokio::test]
async fn orphan_lets_go_at_once_when_the_provider_config_is_gone() {
    let h = Harness::new();
    h.fake.set_readiness(
        Readiness::Ready,
        Outputs {
            resource_id: Some("projects/p/locations/r/services/hello".into()),
            ..Outputs::default()
        },
    );
    let mut ready = settle(&h, knative()).await;
    ready.spec.deletion_policy = Some(ferry_api::DeletionPolicy::Orphan);
    h.fake.fail_next(
        Operation::Connect,
        ProviderError::Terminal {
            reason: ferry_api::conditions::reasons::PROVIDER_CONFIG_NOT_FOUND,
            message: "ProviderConfig gcp does not exist".into(),
            recheck: None,
        },
    );
    let (result, sent, calls) = h.reconcile(&deleting(ready)).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(calls, [Call::Connect("shop/hello".into())]);
    let warnings = events_with_reason(&sent, "ReleasedUnreachable");
    assert_eq!(warnings.len(), 1, "{:?}", lines(&sent));
    assert_eq!(warnings[0].body["type"], "Warning");
    let note = warnings[0].body["note"].as_str().unwrap();
    for part in [
        "ProviderConfig gcp does not exist",
        "projects/p/locations/r/services/hello stays",
        "6f1c1e0e-8b0a-4d7e-9a51-0c1d2e3f4a5b",
    ] {
        assert!(note.contains(part), "{part:?} not in {note:?}");
    }
    assert_eq!(
        lines(&sent).last(),
        Some(&OBJECT_PATCH),
        "the finalizer goes last"
    );
    assert_eq!(h.stored().metadata.finalizers, Some(vec![]));
}

/// An outage gets a few retries first (the untagging is worth a short wait), then the object
/// goes all the same; with `deletionPolicy: Delete` it stays until the provider answers.
#[tokio::test]
async fn orphan_retries_an_outage_a_few_times_then_lets_go() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let mut ready = settle(&h, knative()).await;
    ready.spec.deletion_policy = Some(ferry_api::DeletionPolicy::Orphan);
    let gone = deleting(ready);
    let outage = || ProviderError::Transient {
        operation: "release",
        message: "connection refused".into(),
    };
    for attempt in 1..ferry_controller::plan::ORPHAN_ATTEMPTS {
        h.fake.fail_next(Operation::Release, outage());
        let (result, sent, _) = h.reconcile(&gone).await;
        let error = result.expect_err("retried while the outage is young");
        assert!(
            events_with_reason(&sent, "ReleasedUnreachable").is_empty(),
            "attempt {attempt}"
        );
        error_policy(Arc::new(gone.clone()), &error, h.ctx.clone());
    }
    assert_eq!(h.stored().metadata.finalizers, Some(vec![FINALIZER.into()]));
    h.fake.fail_next(Operation::Release, outage());
    let (result, sent, _) = h.reconcile(&gone).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(events_with_reason(&sent, "ReleasedUnreachable").len(), 1);
    assert_eq!(h.stored().metadata.finalizers, Some(vec![]));
}

#[tokio::test]
async fn delete_policy_keeps_the_object_while_the_provider_config_is_gone() {
    let h = Harness::new();
    h.fake.set_readiness(Readiness::Ready, Outputs::default());
    let ready = settle(&h, knative()).await;
    let gone = deleting(ready);
    for _ in 0..=ferry_controller::plan::ORPHAN_ATTEMPTS {
        h.fake.fail_next(
            Operation::Connect,
            ProviderError::Terminal {
                reason: ferry_api::conditions::reasons::PROVIDER_CONFIG_NOT_FOUND,
                message: "ProviderConfig gcp does not exist".into(),
                recheck: None,
            },
        );
        let (result, sent, _) = h.reconcile(&gone).await;
        let error = result.expect_err("the cloud resources must be deleted first");
        assert!(events_with_reason(&sent, "ReleasedUnreachable").is_empty());
        error_policy(Arc::new(gone.clone()), &error, h.ctx.clone());
    }
    assert_eq!(h.stored().metadata.finalizers, Some(vec![FINALIZER.into()]));
}
