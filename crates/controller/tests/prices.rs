#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The prices ConfigMap against a mock API server: read once at start, then watched by name; a
//! bad table is reported as an Event and ignored, a good change re-prices every object.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_controller::events::Events;
use ferry_controller::prices::{self, Pricing};
use futures::StreamExt as _;
use http::{Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};

const CONFIG_MAP: &str = "/api/v1/namespaces/ferry-system/configmaps";

fn config_map(vcpu_hour: &str, resource_version: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ferry-prices", "namespace": "ferry-system",
                     "resourceVersion": resource_version},
        "data": {"prices.yaml": format!(
            "knative:\n- {{region: prod, option: nodes, vcpuHour: {vcpu_hour}, gbHour: 0.004, \
             source: our invoice, read: 2026-11-01}}\n"
        )},
    })
}

/// Every request the API server received: `METHOD uri` and the body.
type Sent = Arc<Mutex<Vec<(String, Value)>>>;

/// Answers the GET with a good table (0.03), the list with a bad one (-1), the first watch with
/// a good change (0.06), and leaves later watches open; records every request line and body.
fn api_server() -> (kube::Client, Sent) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let sent = Sent::default();
    let record = sent.clone();
    tokio::spawn(async move {
        let mut watches = 0;
        let mut open = Vec::new();
        while let Some((request, reply)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let line = format!("{} {}", parts.method, parts.uri);
            record.lock().unwrap().push((line.clone(), body.clone()));
            let path = parts.uri.path();
            let query = parts.uri.query().unwrap_or_default();
            let answer = match (parts.method.as_str(), path) {
                ("GET", p) if p == format!("{CONFIG_MAP}/ferry-prices") => {
                    config_map("0.03", "1").to_string()
                }
                ("GET", CONFIG_MAP) if query.contains("watch=true") => {
                    watches += 1;
                    if watches > 1 {
                        open.push(reply);
                        continue;
                    }
                    let event = json!({"type": "MODIFIED", "object": config_map("0.06", "3")});
                    format!("{event}\n")
                }
                ("GET", CONFIG_MAP) => {
                    assert!(
                        query.contains("fieldSelector=metadata.name%3Dferry-prices"),
                        "{line}"
                    );
                    json!({"apiVersion": "v1", "kind": "ConfigMapList",
                           "metadata": {"resourceVersion": "2"},
                           "items": [config_map("-1", "2")]})
                    .to_string()
                }
                ("POST", "/apis/events.k8s.io/v1/namespaces/ferry-system/events") => {
                    body.to_string()
                }
                _ => panic!("unexpected request {line}"),
            };
            reply.send_response(
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(Body::from(answer.into_bytes()))
                    .unwrap(),
            );
        }
    });
    (kube::Client::new(service, "default"), sent)
}

#[tokio::test]
async fn the_config_map_is_read_once_then_watched_and_a_bad_one_is_reported_and_ignored() {
    let (client, sent) = api_server();
    let events = Events::new(
        client.clone(),
        Reporter {
            controller: "ferry".into(),
            instance: Some("test".into()),
        },
    );
    let pricing = Arc::new(Pricing::embedded(common::registry().catalog().clone()));
    let knative_price = |p: &Pricing| p.table().section("knative")[0]["vcpuHour"].as_f64();

    prices::load(&client, "ferry-system", "ferry-prices", &pricing, &events).await;
    assert_eq!(knative_price(&pricing), Some(0.03));

    let (changed, mut reprice) = futures::channel::mpsc::channel(1);
    let watch = tokio::spawn(prices::watch(
        client,
        "ferry-system".into(),
        "ferry-prices".into(),
        pricing.clone(),
        events,
        changed,
    ));
    tokio::time::timeout(Duration::from_secs(10), reprice.next())
        .await
        .expect("the good change re-prices every object")
        .unwrap();
    watch.abort();
    assert_eq!(knative_price(&pricing), Some(0.06));

    let sent = sent.lock().unwrap().clone();
    let events: Vec<&Value> = sent
        .iter()
        .filter(|(line, _)| line.starts_with("POST /apis/events.k8s.io"))
        .map(|(_, body)| body)
        .collect();
    assert_eq!(events.len(), 1, "{sent:#?}");
    assert_eq!(events[0]["type"], "Warning");
    assert_eq!(events[0]["reason"], "InvalidPrices");
    assert_eq!(events[0]["regarding"]["name"], "ferry-prices");
    let note = events[0]["note"].as_str().unwrap();
    assert!(
        note.contains("knative[0].vcpuHour: must be a number of 0 or more; got -1")
            && note.ends_with("Ferry keeps the prices it had"),
        "{note}"
    );
    let reads = sent
        .iter()
        .filter(|(line, _)| line.starts_with(&format!("GET {CONFIG_MAP}/ferry-prices")))
        .count();
    assert_eq!(reads, 1, "one GET at start, then only the watch: {sent:#?}");
}
