//! Watches: newline-delimited JSON events, starting with the current objects, replaying
//! history from a `resourceVersion`, or streaming the initial list (`sendInitialEvents`);
//! bookmarks; selectors that turn an object leaving the selection into `DELETED`; timeouts;
//! and the faults a test injects into open watches (dropped connections, 410 `Expired`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::error::ApiError;
use crate::faults::{WatchAction, WatchGuard};
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Change, ChangeKind, Store};

/// What a watch request asked for.
#[derive(Debug)]
pub struct WatchRequest {
    /// The resource watched (its version decides the `apiVersion` of events).
    pub resource: Arc<ResourceType>,
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `sendInitialEvents=true`.
    pub send_initial_events: bool,
    /// Events carry `PartialObjectMetadata` only.
    pub metadata_only: bool,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
}

impl WatchRequest {
    fn selects(&self, object: &Value) -> bool {
        let ns = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        self.namespace.as_deref().is_none_or(|want| want == ns)
            && self.labels.matches(object)
            && self.fields.matches(object)
    }

    fn served(&self, object: &Value) -> Value {
        let mut o = object.clone();
        if let Some(obj) = o.as_object_mut() {
            obj.insert("apiVersion".into(), self.resource.api_version().into());
        }
        crate::server::metadata_only(o, self.metadata_only)
    }

    /// The event this change is for this watch, if any: an object entering the selection is
    /// `ADDED`, one leaving it `DELETED`.
    fn event(&self, change: &Change) -> Option<(&'static str, Value)> {
        if change.resource != self.resource.storage_key() {
            return None;
        }
        let now = self.selects(&change.object);
        let before = change.old.as_ref().map(|o| self.selects(o));
        let kind = match (change.kind, before, now) {
            (ChangeKind::Added, _, true) | (ChangeKind::Modified, Some(false), true) => "ADDED",
            (ChangeKind::Deleted, _, true) | (ChangeKind::Modified, Some(true), false) => "DELETED",
            (ChangeKind::Modified, Some(true) | None, true) => "MODIFIED",
            _ => return None,
        };
        Some((kind, self.served(&change.object)))
    }
}

/// What a watch sends down its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes of the stream: one event.
    Data(Bytes),
    /// Close the connection without ending the response, as a connection lost mid-stream.
    Cut,
}

/// A watch event line.
pub fn line(kind: &str, object: &Value) -> Bytes {
    let mut bytes =
        serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn bookmark(rt: &ResourceType, rv: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"apiVersion": rt.api_version(), "kind": rt.kind, "metadata": metadata}),
    )
}

/// Starts a watch; its events arrive on the returned channel until the timeout, the client
/// leaving, the watcher falling too far behind (the client then watches again), or a fault
/// arriving on `guard`.
pub fn start(
    store: &Arc<Store>,
    request: WatchRequest,
    bookmark_interval: Duration,
    guard: WatchGuard,
) -> Result<mpsc::Receiver<Chunk>, ApiError> {
    let rt = request.resource.clone();
    let wanted = request
        .resource_version
        .as_deref()
        .filter(|rv| !rv.is_empty() && *rv != "0");
    let (initial, start_rv, receiver, end_bookmark) =
        if let (false, Some(rv)) = (request.send_initial_events, wanted) {
            let since: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?;
            let (replay, receiver) = store.changes_since(since)?;
            let events: Vec<Bytes> = replay
                .iter()
                .filter_map(|c| request.event(c).map(|(kind, object)| line(kind, &object)))
                .collect();
            let last = replay.last().map_or(since, |c| c.rv);
            (events, last, receiver, false)
        } else {
            let (objects, rv, receiver) = store.snapshot(&rt, request.namespace.as_deref(), &|o| {
                request.labels.matches(o) && request.fields.matches(o)
            });
            let events = objects
                .iter()
                .map(|o| line("ADDED", &request.served(o)))
                .collect();
            (events, rv, receiver, request.send_initial_events)
        };
    let (tx, rx) = mpsc::channel(1024);
    let store = store.clone();
    tokio::spawn(async move {
        for event in initial {
            if tx.send(Chunk::Data(event)).await.is_err() {
                return;
            }
        }
        if end_bookmark
            && tx
                .send(Chunk::Data(bookmark(&rt, start_rv, true)))
                .await
                .is_err()
        {
            return;
        }
        stream(
            &store,
            &request,
            receiver,
            start_rv,
            &tx,
            bookmark_interval,
            guard,
        )
        .await;
    });
    Ok(rx)
}

async fn stream(
    store: &Store,
    request: &WatchRequest,
    mut receiver: broadcast::Receiver<Arc<Change>>,
    mut last_rv: u64,
    tx: &mpsc::Sender<Chunk>,
    bookmark_interval: Duration,
    mut guard: WatchGuard,
) {
    let deadline = request.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut ticker = tokio::time::interval(bookmark_interval);
    ticker.tick().await;
    let mut faults_gone = false;
    loop {
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = timeout => return,
            () = tx.closed() => return,
            action = &mut guard.action, if !faults_gone => match action {
                Ok(WatchAction::Drop) => {
                    let _ = tx.send(Chunk::Cut).await;
                    return;
                }
                Ok(WatchAction::Expire) => {
                    let status = ApiError::watch_compacted().to_status();
                    let _ = tx.send(Chunk::Data(line("ERROR", &status))).await;
                    return;
                }
                Err(_) => faults_gone = true,
            },
            next = receiver.recv() => match next {
                Ok(change) => {
                    if !forward(request, &change, &mut last_rv, tx).await {
                        return;
                    }
                }
                // Too far behind to keep up, or the server is shutting down: end the watch,
                // and the client watches again from its last resourceVersion.
                Err(_) => return,
            },
            _ = ticker.tick(), if request.bookmarks => {
                // Everything committed up to `current` is already in the channel, so draining it
                // first keeps the bookmark from skipping an event not yet sent.
                let current = store.resource_version();
                while let Ok(change) = receiver.try_recv() {
                    if !forward(request, &change, &mut last_rv, tx).await {
                        return;
                    }
                }
                let rv = current.max(last_rv);
                if tx
                    .send(Chunk::Data(bookmark(&request.resource, rv, false)))
                    .await
                    .is_err()
                {
                    return;
                }
                last_rv = rv;
            }
        }
    }
}

/// Sends the watch's event for `change` unless it was sent already; false once the client has
/// gone.
async fn forward(
    request: &WatchRequest,
    change: &Change,
    last_rv: &mut u64,
    tx: &mpsc::Sender<Chunk>,
) -> bool {
    if change.rv <= *last_rv {
        return true;
    }
    *last_rv = change.rv;
    match request.event(change) {
        Some((kind, object)) => tx.send(Chunk::Data(line(kind, &object))).await.is_ok(),
        None => true,
    }
}
