//! Knative's part on the stand-in, where nothing runs Knative Serving: every Knative Service
//! whose status lags its generation is reported Ready for that generation, as the Knative
//! controller would once its revision is up. On a real cluster Knative does this itself.
//!
//! The same watch also times spec changes: the bench marks a ServerlessService's container
//! with an environment variable and the watch reports when the Knative Service carrying the
//! mark is written (the backend call of the Knative provider).

use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::{MARK, Pending};

/// Knative Serving's `services.serving.knative.dev`.
pub(crate) fn services() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("serving.knative.dev", "v1", "Service"),
        "services",
    )
}

/// Watches the Knative Services of `api`: reports lagging ones Ready `play_knative` after it
/// sees them (when it plays Knative at all), and sends the latency of every pending change it
/// sees arrive on `latencies`.
pub(crate) async fn run(
    api: Api<DynamicObject>,
    play_knative: Option<Duration>,
    pending: Pending,
    latencies: mpsc::UnboundedSender<Duration>,
) {
    let (lagging, queue) = mpsc::unbounded_channel::<(String, String, i64)>();
    let writer = api.clone();
    let reporter = tokio::spawn(async move {
        tokio_stream_of(queue)
            .for_each_concurrent(32, |(name, ns, generation)| {
                let api = writer.clone();
                async move {
                    if let Err(e) = report_ready(&api, &name, &ns, generation).await {
                        eprintln!("ferry-bench: Knative status of {name}: {e}");
                    }
                }
            })
            .await;
    });
    let events = watcher(api, watcher::Config::default())
        .applied_objects()
        .map_err(|e| e.to_string());
    futures::pin_mut!(events);
    while let Some(next) = events.next().await {
        let Ok(object) = next else { continue };
        let name = object.metadata.name.clone().unwrap_or_default();
        if let Some(mark) = mark_of(&object.data) {
            let mut waiting = pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if waiting.get(&name).is_some_and(|(m, _)| *m == mark)
                && let Some((_, sent)) = waiting.remove(&name)
            {
                let _ = latencies.send(sent.elapsed().unwrap_or_default());
            }
        }
        let generation = object.metadata.generation.unwrap_or(0);
        let observed = object.data["status"]["observedGeneration"].as_i64();
        if let Some(delay) = play_knative
            && observed != Some(generation)
        {
            let ns = object.metadata.namespace.clone().unwrap_or_default();
            if delay.is_zero() {
                let _ = lagging.send((name, ns, generation));
            } else {
                let lagging = lagging.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = lagging.send((name, ns, generation));
                });
            }
        }
    }
    reporter.abort();
}

fn tokio_stream_of<T>(mut rx: mpsc::UnboundedReceiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The mark in the first container's environment, if any.
fn mark_of(service: &Value) -> Option<String> {
    service["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == MARK)
        .and_then(|e| e["value"].as_str())
        .map(str::to_owned)
}

async fn report_ready(
    api: &Api<DynamicObject>,
    name: &str,
    ns: &str,
    generation: i64,
) -> Result<(), kube::Error> {
    let now = jiff::Timestamp::now().to_string();
    let status = e2e::knative_status(name, ns, generation, &e2e::knative_ready_conditions(&now));
    api.patch_status(
        name,
        &PatchParams::apply("knative-serving").force(),
        &Patch::Apply(&status),
    )
    .await?;
    Ok(())
}
