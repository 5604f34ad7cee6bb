#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Stopping the controller against a mock API server: a stop that comes while the first list of
//! ServerlessServices is still unanswered ends it at once (kube-runtime's graceful shutdown alone
//! waits for that list forever), and a reconcile stuck at its provider is cancelled after the
//! grace.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::ServerlessService;
use ferry_controller::metrics::Metrics;
use ferry_controller::{Context, Settings};
use ferry_provider::backend::Connectors;
use ferry_provider::{Connector, ExternalClient, ProviderError};
use http::{Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

const SERVICES: &str = "/apis/ferry.dev/v1alpha1/serverlessservices";

/// An API server that serves none of the kinds backends own (no Knative, and for these tests
/// no Deployments either), answers every list but the ServerlessServices one when
/// `answer_services` is false, holds every watch open, and tells when the ServerlessServices
/// list arrived.
fn api_server(answer_services: bool) -> (kube::Client, Arc<Notify>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let listed = Arc::new(Notify::new());
    let notify = listed.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some((request, reply)) = handle.next_request().await {
            let path = request.uri().path().to_owned();
            let query = request.uri().query().unwrap_or_default().to_owned();
            let respond = |status: StatusCode, body: Value| {
                Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string().into_bytes()))
                    .unwrap()
            };
            let list = |kind: &str, items: Value| {
                json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                       "items": items})
            };
            if query.contains("watch=true") {
                held.push(reply);
                continue;
            }
            // Discovery of a group version (`/api/v1`, `/apis/GROUP/VERSION`): none of the kinds
            // backends own is served, so nothing but ServerlessServices is watched.
            let discovery =
                path == "/api/v1" || (path.starts_with("/apis/") && path.split('/').count() == 4);
            match path.as_str() {
                _ if discovery => {
                    reply.send_response(respond(StatusCode::NOT_FOUND, json!({})));
                }
                SERVICES => {
                    notify.notify_one();
                    if answer_services {
                        let items = json!([serverless_service()]);
                        reply.send_response(respond(
                            StatusCode::OK,
                            list("ServerlessServiceList", items),
                        ));
                    } else {
                        held.push(reply);
                    }
                }
                _ if path.ends_with("/providerconfigs") || path.ends_with("/secrets") => {
                    reply.send_response(respond(StatusCode::OK, list("List", json!([]))));
                }
                _ => panic!("unexpected request {} {path}?{query}", request.method()),
            }
        }
    });
    (kube::Client::new(service, "default"), listed)
}

fn serverless_service() -> Value {
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": "hello", "namespace": "shop", "uid": "u-1", "generation": 1,
                     "resourceVersion": "1", "finalizers": ["ferry.dev/cleanup"]},
        "spec": {"provider": "fargate", "containers": [{"name": "app", "image": "hello:1",
                 "port": 8080, "resources": {"cpu": "250m", "memory": "512Mi"}}]},
    })
}

/// A provider whose every connection hangs, as a cloud that never answers.
struct Silent;

#[async_trait]
impl Connector for Silent {
    async fn connect(
        &self,
        _: &ServerlessService,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        std::future::pending().await
    }
}

fn context(client: kube::Client, grace: Duration) -> Arc<Context> {
    let silent: Arc<dyn Connector> = Arc::new(Silent);
    let reporter = Reporter {
        controller: "ferry".into(),
        instance: None,
    };
    let settings = Settings {
        shutdown_grace: grace,
        ..Settings::default()
    };
    Arc::new(Context::new(
        client,
        common::registry(),
        Connectors::every(&silent),
        reporter,
        Arc::new(Metrics::default()),
        settings,
    ))
}

/// Starts the controller, stops it once `ready` holds, and returns how long it took to end.
async fn stop_when(
    ctx: Arc<Context>,
    ready: impl Future<Output = ()>,
) -> Result<Duration, tokio::time::error::Elapsed> {
    let (stop, stopped) = watch::channel(false);
    let run = tokio::spawn(ferry_controller::run(ctx, stopped));
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .expect("the moment to stop came");
    let asked = tokio::time::Instant::now();
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .map(|joined| {
            joined.unwrap();
            asked.elapsed()
        })
}

#[tokio::test]
async fn a_stop_during_the_first_list_ends_the_controller_at_once() {
    let (client, listed) = api_server(false);
    let took = stop_when(context(client, Duration::from_secs(30)), listed.notified())
        .await
        .expect("the controller ended");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn a_stop_cancels_a_reconcile_stuck_at_its_provider_after_the_grace() {
    let (client, _) = api_server(true);
    let grace = Duration::from_millis(300);
    let ctx = context(client, grace);
    let in_reconcile = {
        let ctx = ctx.clone();
        async move {
            while ctx.in_flight.count() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let took = stop_when(ctx.clone(), in_reconcile)
        .await
        .expect("the controller ended");
    assert!(took >= grace, "the reconcile had its grace: {took:?}");
    assert!(took < grace + Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        ctx.in_flight.count(),
        0,
        "the stuck reconcile was cancelled"
    );
}
