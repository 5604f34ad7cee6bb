//! The stand-in behaves like the real API server wherever kube-rs and the operator depend on
//! it, checked through a real `kube::Client`, `kube::runtime::watcher` and `finalizer()`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy, WatchEvent,
    WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{DynamicObject, Status};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, CustomResource, CustomResourceExt, Resource, ResourceExt};
use kube_standin::{Config, Limits, StandIn};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A test kind with a status subresource, a list-map and a set.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[kube(
    group = "test.ferry.dev",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
pub struct WidgetSpec {
    /// Any number.
    pub size: i32,
    /// A plain optional field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// A list-map keyed by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub parts: Vec<Part>,
}

/// An item of the list-map.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Part {
    /// The key.
    pub name: String,
    /// A value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// The status subresource.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct WidgetStatus {
    /// A phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared() -> PathBuf {
    std::env::var_os("FERRY_SHARED_DIR").map_or_else(|| repo().join("../shared"), PathBuf::from)
}

fn config() -> Config {
    let mut config = Config {
        bookmark_interval: Duration::from_millis(200),
        ..Config::default()
    }
    .with_crds_from(&repo().join("crds"))
    .unwrap()
    .with_crds_from(&shared().join("data/knative-serving-crds"))
    .unwrap();
    config.crds.push(Widget::crd());
    config
}

async fn start(config: Config) -> (StandIn, Client) {
    let standin = StandIn::start(config).await.unwrap();
    let kubeconfig = Kubeconfig::from_yaml(&standin.kubeconfig()).unwrap();
    let client_config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    (standin, Client::try_from(client_config).unwrap())
}

fn widget(name: &str, size: i32) -> Widget {
    Widget::new(
        name,
        WidgetSpec {
            size,
            ..WidgetSpec::default()
        },
    )
}

fn api_error(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn rv<K: Resource>(o: &K) -> u64 {
    o.resource_version().unwrap().parse().unwrap()
}

/// The next watch event, or None when none comes within the wait.
async fn next<K, S>(stream: &mut S, wait: Duration) -> Option<WatchEvent<K>>
where
    S: futures::Stream<Item = Result<WatchEvent<K>, kube::Error>> + Unpin,
{
    tokio::time::timeout(wait, stream.next())
        .await
        .ok()
        .flatten()
        .map(Result::unwrap)
}

async fn next_change<K, S>(stream: &mut S) -> WatchEvent<K>
where
    S: futures::Stream<Item = Result<WatchEvent<K>, kube::Error>> + Unpin,
{
    loop {
        match next(stream, Duration::from_secs(5)).await {
            Some(WatchEvent::Bookmark(_)) => {}
            Some(event) => return event,
            None => panic!("no watch event within 5 s"),
        }
    }
}

#[tokio::test]
async fn objects_get_a_uid_a_creation_time_and_a_cluster_wide_resource_version() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let a = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let s = secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some("s".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let b = widgets
        .create(&PostParams::default(), &widget("b", 1))
        .await
        .unwrap();
    assert!(
        rv(&a) < rv(&s) && rv(&s) < rv(&b),
        "one counter across kinds"
    );
    assert_ne!(a.uid(), b.uid());
    assert!(a.uid().unwrap().len() == 36);
    assert!(a.creation_timestamp().is_some());
}

#[tokio::test]
async fn errors_come_as_status_bodies_with_the_real_codes_and_reasons() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client.clone(), "default");
    let e = api_error(widgets.get("missing").await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    assert_eq!(e.message, "widgets.test.ferry.dev \"missing\" not found");

    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let e = api_error(
        widgets
            .create(&PostParams::default(), &widget("a", 1))
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));

    let mut stale = widgets.get("a").await.unwrap();
    widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    stale.spec.size = 3;
    let e = api_error(
        widgets
            .replace("a", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert!(
        e.message.contains("the object has been modified"),
        "{}",
        e.message
    );

    let services: Api<DynamicObject> = Api::namespaced_with(
        client,
        "default",
        &kube::discovery::ApiResource::erase::<ferry_api::ServerlessService>(&()),
    );
    let invalid: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessService",
        "metadata": {"name": "bad"},
        "spec": {"provider": "fargate", "containers": [{"name": "app", "image": "x", "port": 70000}]},
    }))
    .unwrap();
    let e = api_error(
        services
            .create(&PostParams::default(), &invalid)
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(
        e.message
            .starts_with("ServerlessService.ferry.dev \"bad\" is invalid: spec.containers[0].port"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn generation_starts_at_one_and_moves_only_when_the_spec_changes() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    let w = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    assert_eq!(w.metadata.generation, Some(1));
    let w = widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(w.metadata.generation, Some(1), "metadata is not spec");
    let w = widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(w.metadata.generation, Some(2));
}

#[tokio::test]
async fn the_status_subresource_writes_only_status_and_main_writes_leave_status_alone() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    let mut created = widget("a", 1);
    created.status = Some(WidgetStatus {
        phase: Some("ignored on create".into()),
    });
    let w = widgets
        .create(&PostParams::default(), &created)
        .await
        .unwrap();
    assert_eq!(
        w.status, None,
        "status is not set through the main resource"
    );

    let w = widgets
        .patch_status(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 9}, "status": {"phase": "Ready"}})),
        )
        .await
        .unwrap();
    assert_eq!(w.status.unwrap().phase.as_deref(), Some("Ready"));
    assert_eq!(w.spec.size, 1, "a status write does not change spec");
    assert_eq!(w.metadata.generation, Some(1), "nor generation");

    let w = widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}, "status": {"phase": "Lost"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        w.status.unwrap().phase.as_deref(),
        Some("Ready"),
        "a main write does not change status"
    );
    assert_eq!(w.spec.size, 2);
}

#[tokio::test]
async fn deleting_an_object_with_finalizers_marks_it_and_the_last_finalizer_removes_it() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    let mut w = widget("a", 1);
    w.metadata.finalizers = Some(vec!["test/one".into(), "test/two".into()]);
    widgets.create(&PostParams::default(), &w).await.unwrap();
    widgets.delete("a", &DeleteParams::default()).await.unwrap();
    let marked = widgets.get("a").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());

    let e = api_error(
        widgets
            .patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"finalizers": ["test/one", "test/two", "test/three"]}}),
                ),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 422, "no new finalizers once deleting");

    widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["test/two"]}})),
        )
        .await
        .unwrap();
    assert!(widgets.get("a").await.is_ok(), "one finalizer left");
    widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    assert_eq!(api_error(widgets.get("a").await.unwrap_err()).code, 404);
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 5 s");
}

fn owned_secret(name: &str, owner: &Widget) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "test.ferry.dev/v1".into(),
                kind: "Widget".into(),
                name: owner.name_any(),
                uid: owner.uid().unwrap(),
                ..Default::default()
            }]),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn dependents_are_garbage_collected_in_the_background_or_orphaned() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let owner = widgets
        .create(&PostParams::default(), &widget("owner", 1))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &owned_secret("dependent", &owner))
        .await
        .unwrap();
    widgets
        .delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    eventually("garbage collection", || async {
        secrets.get_opt("dependent").await.unwrap().is_none()
    })
    .await;

    let owner = widgets
        .create(&PostParams::default(), &widget("owner2", 1))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &owned_secret("kept", &owner))
        .await
        .unwrap();
    widgets
        .delete(
            "owner2",
            &DeleteParams {
                propagation_policy: Some(PropagationPolicy::Orphan),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let kept = secrets.get("kept").await.unwrap();
    assert!(
        kept.metadata.owner_references.is_none(),
        "orphaned dependents lose the reference"
    );
}

#[tokio::test]
async fn merge_json_and_strategic_patches_work_and_a_failed_json_patch_test_is_refused() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let w = widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"colour": "red"}})),
        )
        .await
        .unwrap();
    assert_eq!(w.spec.colour.as_deref(), Some("red"));

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/size", "value": 1},
        {"op": "replace", "path": "/spec/size", "value": 5},
    ]))
    .unwrap();
    let w = widgets
        .patch("a", &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .unwrap();
    assert_eq!(w.spec.size, 5);

    let failing: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/size", "value": 1},
        {"op": "replace", "path": "/spec/size", "value": 7},
    ]))
    .unwrap();
    let e = api_error(
        widgets
            .patch("a", &PatchParams::default(), &Patch::<()>::Json(failing))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 422);
    assert_eq!(
        widgets.get("a").await.unwrap().spec.size,
        5,
        "a failed patch changes nothing"
    );

    let w = widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"colour": "blue"}})),
        )
        .await
        .unwrap();
    assert_eq!((w.spec.colour.as_deref(), w.spec.size), (Some("blue"), 5));
}

fn apply_params(manager: &str) -> PatchParams {
    PatchParams::apply(manager)
}

#[tokio::test]
async fn server_side_apply_creates_merges_tracks_managers_and_refuses_conflicts() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    let config_a = json!({"apiVersion": "test.ferry.dev/v1", "kind": "Widget", "metadata": {"name": "a"},
        "spec": {"size": 1, "colour": "red", "parts": [{"name": "p1", "weight": 1}]}});
    let w = widgets
        .patch("a", &apply_params("alice"), &Patch::Apply(&config_a))
        .await
        .unwrap();
    assert_eq!(w.spec.size, 1, "apply creates");
    let managers: Vec<String> = w
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, ["alice"]);

    // Another manager adds a list-map item and a field of its own: both kept.
    let config_b = json!({"apiVersion": "test.ferry.dev/v1", "kind": "Widget", "metadata": {"name": "a"},
        "spec": {"size": 1, "parts": [{"name": "p2", "weight": 2}]}});
    let w = widgets
        .patch("a", &apply_params("bob"), &Patch::Apply(&config_b))
        .await
        .unwrap();
    let names: Vec<&str> = w.spec.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["p1", "p2"]);

    // Changing a field another manager owns is a conflict, unless forced.
    let conflicting = json!({"apiVersion": "test.ferry.dev/v1", "kind": "Widget", "metadata": {"name": "a"},
        "spec": {"size": 1, "colour": "blue", "parts": [{"name": "p2", "weight": 2}]}});
    let e = api_error(
        widgets
            .patch("a", &apply_params("bob"), &Patch::Apply(&conflicting))
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert!(e.message.contains("alice"), "{}", e.message);
    let w = widgets
        .patch(
            "a",
            &apply_params("bob").force(),
            &Patch::Apply(&conflicting),
        )
        .await
        .unwrap();
    assert_eq!(w.spec.colour.as_deref(), Some("blue"));

    // A field only its manager applied goes when that manager stops applying it.
    let dropped = json!({"apiVersion": "test.ferry.dev/v1", "kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}});
    let w = widgets
        .patch("a", &apply_params("alice"), &Patch::Apply(&dropped))
        .await
        .unwrap();
    let names: Vec<&str> = w.spec.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["p2"], "alice's p1 is removed, bob's p2 stays");
    assert_eq!(
        w.spec.colour.as_deref(),
        Some("blue"),
        "bob now owns colour"
    );
}

#[tokio::test]
async fn a_no_op_write_changes_no_resource_version_and_sends_no_event() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    let config = json!({"apiVersion": "test.ferry.dev/v1", "kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}});
    let first = widgets
        .patch("a", &apply_params("ferry"), &Patch::Apply(&config))
        .await
        .unwrap();
    let mut events = widgets
        .watch(&WatchParams::default(), &first.resource_version().unwrap())
        .await
        .unwrap()
        .boxed();

    let again = widgets
        .patch("a", &apply_params("ferry"), &Patch::Apply(&config))
        .await
        .unwrap();
    assert_eq!(
        again.resource_version(),
        first.resource_version(),
        "same apply: no write"
    );
    let merge = widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(
        merge.resource_version(),
        first.resource_version(),
        "same merge patch: no write"
    );
    let status = widgets
        .patch_status(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": null})),
        )
        .await
        .unwrap();
    assert_eq!(
        status.resource_version(),
        first.resource_version(),
        "same status: no write"
    );

    match next(&mut events, Duration::from_millis(700)).await {
        None | Some(WatchEvent::Bookmark(_)) => {}
        Some(other) => panic!("a no-op write sent {other:?}"),
    }
    widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    assert!(
        matches!(next_change(&mut events).await, WatchEvent::Modified(w) if w.spec.size == 2),
        "a real change is seen"
    );
}

#[tokio::test]
async fn watches_resume_from_a_resource_version_and_send_bookmarks() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    let a = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    widgets
        .create(&PostParams::default(), &widget("b", 1))
        .await
        .unwrap();
    widgets.delete("a", &DeleteParams::default()).await.unwrap();

    let mut events = widgets
        .watch(&WatchParams::default(), &a.resource_version().unwrap())
        .await
        .unwrap()
        .boxed();
    assert!(matches!(next_change(&mut events).await, WatchEvent::Added(w) if w.name_any() == "b"));
    assert!(
        matches!(next_change(&mut events).await, WatchEvent::Deleted(w) if w.name_any() == "a")
    );

    let mut saw_bookmark = false;
    for _ in 0..5 {
        if let Some(WatchEvent::Bookmark(b)) = next(&mut events, Duration::from_millis(500)).await {
            assert!(b.metadata.resource_version.parse::<u64>().unwrap() >= rv(&a));
            saw_bookmark = true;
            break;
        }
    }
    assert!(saw_bookmark, "allowWatchBookmarks brings bookmarks");

    let mut quiet = widgets
        .watch(
            &WatchParams::default().disable_bookmarks(),
            &a.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    next_change(&mut quiet).await;
    next_change(&mut quiet).await;
    assert!(
        next(&mut quiet, Duration::from_millis(600)).await.is_none(),
        "no bookmarks unless asked"
    );
}

#[tokio::test]
async fn watching_from_nothing_starts_with_the_current_objects() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let mut events = widgets
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    assert!(matches!(next_change(&mut events).await, WatchEvent::Added(w) if w.name_any() == "a"));
}

#[tokio::test]
async fn a_too_old_resource_version_is_410_gone() {
    let (_s, client) = start(Config {
        limits: Limits { history: 5 },
        ..config()
    })
    .await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    let first = widgets
        .create(&PostParams::default(), &widget("a", 0))
        .await
        .unwrap();
    for size in 1..10 {
        widgets
            .patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"size": size}})),
            )
            .await
            .unwrap();
    }
    // As the watch cache answers: the watch is accepted and its one event is the 410.
    let first_rv = first.resource_version().unwrap();
    let mut stream = widgets
        .watch(&WatchParams::default(), &first_rv)
        .await
        .unwrap()
        .boxed();
    let e = match stream.next().await {
        Some(Ok(WatchEvent::Error(e))) => *e,
        other => panic!("expected 410, got {other:?}"),
    };
    assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
    assert!(
        e.message
            .starts_with(&format!("too old resource version: {first_rv} (")),
        "{}",
        e.message
    );
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists_and_watches() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    for (name, team) in [("a", "red"), ("b", "blue"), ("c", "red")] {
        let mut w = widget(name, 1);
        w.metadata.labels = Some([("team".to_owned(), team.to_owned())].into());
        widgets.create(&PostParams::default(), &w).await.unwrap();
    }
    let names = |list: kube::core::ObjectList<Widget>| {
        list.items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            widgets
                .list(&ListParams::default().labels("team=red"))
                .await
                .unwrap()
        ),
        ["a", "c"]
    );
    assert_eq!(
        names(
            widgets
                .list(&ListParams::default().labels("team notin (red)"))
                .await
                .unwrap()
        ),
        ["b"]
    );
    assert_eq!(
        names(
            widgets
                .list(&ListParams::default().fields("metadata.name=c"))
                .await
                .unwrap()
        ),
        ["c"]
    );

    let mut reds = widgets
        .watch(&WatchParams::default().labels("team=red"), "0")
        .await
        .unwrap()
        .boxed();
    next_change(&mut reds).await;
    next_change(&mut reds).await;
    widgets
        .patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 5}})),
        )
        .await
        .unwrap();
    widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "blue"}}})),
        )
        .await
        .unwrap();
    assert!(
        matches!(next_change(&mut reds).await, WatchEvent::Deleted(w) if w.name_any() == "a"),
        "leaving the selection is a deletion for this watch; b's change is not seen"
    );
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    for i in 0..5 {
        widgets
            .create(&PostParams::default(), &widget(&format!("w{i}"), 1))
            .await
            .unwrap();
    }
    let page = widgets.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().unwrap();
    let rest = widgets
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3);
    assert!(rest.metadata.continue_.is_none());
}

#[tokio::test]
async fn the_runtime_watcher_sees_every_change_with_paged_lists_and_streaming_lists() {
    for streaming in [false, true] {
        let (_s, client) = start(config()).await;
        let widgets: Api<Widget> = Api::namespaced(client, "default");
        widgets
            .create(&PostParams::default(), &widget("before", 1))
            .await
            .unwrap();
        let watcher_config = if streaming {
            watcher::Config::default().streaming_lists()
        } else {
            watcher::Config::default().page_size(1)
        };
        let mut objects = watcher(widgets.clone(), watcher_config)
            .applied_objects()
            .boxed();
        let first = tokio::time::timeout(Duration::from_secs(5), objects.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(first.name_any(), "before", "streaming={streaming}");
        widgets
            .create(&PostParams::default(), &widget("after", 1))
            .await
            .unwrap();
        let second = tokio::time::timeout(Duration::from_secs(5), objects.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(second.name_any(), "after", "streaming={streaming}");
    }
}

#[tokio::test]
async fn the_runtime_finalizer_helper_adds_cleans_up_and_removes_its_finalizer() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let reconcile = |w: Widget| {
        let widgets = widgets.clone();
        async move {
            finalizer(
                &widgets,
                "test.ferry.dev/cleanup",
                Arc::new(w),
                |event| async move {
                    match event {
                        Finalizer::Apply(_) => {
                            Ok::<_, kube::Error>(kube::runtime::controller::Action::await_change())
                        }
                        Finalizer::Cleanup(_) => {
                            Ok(kube::runtime::controller::Action::await_change())
                        }
                    }
                },
            )
            .await
        }
    };
    reconcile(widgets.get("a").await.unwrap()).await.unwrap();
    let w = widgets.get("a").await.unwrap();
    assert_eq!(
        w.finalizers(),
        ["test.ferry.dev/cleanup"],
        "the finalizer is added first"
    );
    reconcile(w).await.unwrap();
    widgets.delete("a", &DeleteParams::default()).await.unwrap();
    reconcile(widgets.get("a").await.unwrap()).await.unwrap();
    assert!(
        widgets.get_opt("a").await.unwrap().is_none(),
        "cleanup removed the finalizer and the object went"
    );
}

#[tokio::test]
async fn discovery_describes_the_served_resources() {
    let (_s, client) = start(config()).await;
    let discovery = kube::Discovery::new(client).run().await.unwrap();
    let (resource, caps) = discovery
        .groups()
        .find(|g| g.name() == "ferry.dev")
        .and_then(|g| g.recommended_kind("ServerlessService"))
        .unwrap();
    assert_eq!(resource.plural, "serverlessservices");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(discovery.has_group("serving.knative.dev"));
    assert!(discovery.has_group("coordination.k8s.io"));
}

#[tokio::test]
async fn crds_created_through_the_api_are_served_at_once() {
    let (_s, client) = start(Config::default()).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "widgets.test.ferry.dev",
        &apply_params("test"),
        &Patch::Apply(Widget::crd()),
    )
    .await
    .unwrap();
    let crd = crds.get("widgets.test.ferry.dev").await.unwrap();
    let established = crd
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .any(|c| c.type_ == "Established" && c.status == "True");
    assert!(established);
    let widgets: Api<Widget> = Api::namespaced(client, "default");
    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    crds.delete("widgets.test.ferry.dev", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(api_error(widgets.get("a").await.unwrap_err()).code, 404);
}

#[tokio::test]
async fn custom_resources_are_validated_pruned_and_strictly_checked() {
    let (_s, client) = start(config()).await;
    let knative: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("serving.knative.dev", "v1", "Service"),
            "services",
        ),
    );
    let ksvc = |template_spec: serde_json::Value| -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "hello"},
            "spec": {"template": {"spec": template_spec}}}))
        .unwrap()
    };
    let e = api_error(
        knative
            .create(
                &PostParams::default(),
                &ksvc(json!({"containers": "not a list"})),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(
        e.code, 422,
        "Knative's own schema refuses it: {}",
        e.message
    );

    let created = knative
        .create(
            &PostParams::default(),
            &ksvc(json!({"containers": [{"image": "x", "bogus": 1}]})),
        )
        .await
        .unwrap();
    assert!(
        created
            .data
            .pointer("/spec/template/spec/containers/0/bogus")
            .is_none(),
        "unknown fields are pruned by default"
    );

    let widgets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &kube::discovery::ApiResource::erase::<Widget>(&()),
    );
    let unknown: DynamicObject = serde_json::from_value(json!({"apiVersion": "test.ferry.dev/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1, "shape": "round"}})).unwrap();
    // kube's PostParams cannot ask for strict field validation; kubectl's create does.
    let request = http::Request::post(
        "/apis/test.ferry.dev/v1/namespaces/default/widgets?fieldValidation=Strict",
    )
    .header("content-type", "application/json")
    .body(serde_json::to_vec(&unknown).unwrap())
    .unwrap();
    let e = api_error(client.request::<DynamicObject>(request).await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
    assert_eq!(
        e.message, "strict decoding error: unknown field \"spec.shape\"",
        "{e:?}"
    );
    // Server-side apply refuses an undeclared field whatever the field validation: typing the
    // configuration fails before the strict check (`applyPatcher.applyPatchToCurrentObject`
    // in k8s.io/apiserver/pkg/endpoints/handlers/patch.go), a 500.
    for params in [
        PatchParams::apply("test"),
        PatchParams::apply("test").validation_strict(),
    ] {
        let e = api_error(
            widgets
                .patch("w", &params, &Patch::Apply(&unknown))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (e.code, e.reason.as_str(), e.message.as_str()),
            (
                500,
                "",
                "failed to create typed patch object (/w; test.ferry.dev/v1, Kind=Widget): .spec.shape: field not declared in schema"
            ),
            "{e:?}"
        );
    }
}

/// Duplicate list-map keys, answered on each path as kube-apiserver answers them (a 1.35
/// server answered the apply of two containers named `app` with this 500):
/// - server-side apply, creating or updating, of the object or its status:
///   `structuredMergeManager.Apply` (k8s.io/apimachinery/pkg/util/managedfields/internal/
///   structuredmerge.go) cannot type the configuration (structured-merge-diff
///   `typed/validate.go`: `duplicate entries for key ...`) and returns a plain error, which
///   `ErrorToAPIStatus` (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/status.go)
///   makes a 500 with no reason and no details;
/// - create, update and merge patch: the CRD's list-type validation
///   (`ValidateListSetsAndMaps` in k8s.io/apiextensions-apiserver/pkg/apiserver/schema/
///   listtype/validation.go), a 422 `Invalid` with a `FieldValueDuplicate` cause per repeat;
/// - the status of an object that does not exist: 404 before the patch is read.
#[tokio::test]
async fn duplicate_list_map_keys_are_refused_as_the_real_server_refuses_them() {
    let (_s, client) = start(config()).await;
    let services: Api<DynamicObject> = Api::namespaced_with(
        client,
        "default",
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("ferry.dev", "v1alpha1", "ServerlessService"),
            "serverlessservices",
        ),
    );
    let service = |containers: serde_json::Value| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessService",
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"provider": "knative", "containers": containers},
        }))
        .unwrap()
    };
    let app = json!({"name": "app", "image": "ghcr.io/acme/hello:1", "port": 8080});
    let twice = service(json!([app, {"name": "app", "image": "envoy:1.30"}]));
    let apply = PatchParams::apply("test");
    let typed_500 = (
        500,
        String::new(),
        "failed to create typed patch object (default/hello; ferry.dev/v1alpha1, Kind=ServerlessService): .spec.containers: duplicate entries for key [name=\"app\"]".to_owned(),
    );
    let shape = |e: &Status| (e.code, e.reason.clone(), e.message.clone());

    // Apply, creating.
    let e = api_error(
        services
            .patch("hello", &apply, &Patch::Apply(&twice))
            .await
            .unwrap_err(),
    );
    assert_eq!(shape(&e), typed_500);
    assert!(e.details.is_none(), "{e:?}");
    assert!(services.get_opt("hello").await.unwrap().is_none());

    // Status of an object that does not exist.
    let e = api_error(
        services
            .patch_status("hello", &apply, &Patch::Apply(&twice))
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"), "{e:?}");

    // Create.
    let e = api_error(
        services
            .create(&PostParams::default(), &twice)
            .await
            .unwrap_err(),
    );
    let duplicate = "Duplicate value: map[string]interface {}{\"name\":\"app\"}";
    assert_eq!(
        shape(&e),
        (
            422,
            "Invalid".to_owned(),
            format!(
                "ServerlessService.ferry.dev \"hello\" is invalid: spec.containers[1]: {duplicate}"
            )
        )
    );
    let causes: Vec<(String, String, String)> = e
        .details
        .unwrap()
        .causes
        .into_iter()
        .map(|c| (c.reason, c.field, c.message))
        .collect();
    assert_eq!(
        causes,
        [(
            "FieldValueDuplicate".to_owned(),
            "spec.containers[1]".to_owned(),
            duplicate.to_owned()
        )]
    );

    // Apply, updating (object and status), update and merge patch of a stored object.
    let stored = services
        .patch("hello", &apply, &Patch::Apply(&service(json!([app]))))
        .await
        .unwrap();
    let e = api_error(
        services
            .patch("hello", &apply, &Patch::Apply(&twice))
            .await
            .unwrap_err(),
    );
    assert_eq!(shape(&e), typed_500);
    let e = api_error(
        services
            .patch_status("hello", &apply, &Patch::Apply(&twice))
            .await
            .unwrap_err(),
    );
    assert_eq!(shape(&e), typed_500);
    let mut replaced = twice.clone();
    replaced.metadata.resource_version = stored.metadata.resource_version.clone();
    let e = api_error(
        services
            .replace("hello", &PostParams::default(), &replaced)
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{e:?}");
    assert!(
        e.message
            .ends_with(&format!("spec.containers[1]: {duplicate}")),
        "{e:?}"
    );
    let three = json!({"spec": {"containers": [app, app, app]}});
    let e = api_error(
        services
            .patch("hello", &PatchParams::default(), &Patch::Merge(&three))
            .await
            .unwrap_err(),
    );
    // One cause per repeated key, at its first repeat.
    assert!(
        e.message
            .ends_with(&format!("spec.containers[1]: {duplicate}")),
        "{e:?}"
    );
    assert_eq!(e.details.unwrap().causes.len(), 1);
    let kept = services.get("hello").await.unwrap();
    assert_eq!(
        kept.metadata.resource_version,
        stored.metadata.resource_version
    );
}

#[tokio::test]
async fn namespaces_must_exist_and_their_deletion_removes_their_objects() {
    let (_s, client) = start(config()).await;
    let missing: Api<Widget> = Api::namespaced(client.clone(), "nowhere");
    let e = api_error(
        missing
            .create(&PostParams::default(), &widget("a", 1))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (404, "namespaces \"nowhere\" not found")
    );

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap(),
        )
        .await
        .unwrap();
    let widgets: Api<Widget> = Api::namespaced(client, "shop");
    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let mut held = widget("held", 1);
    held.metadata.finalizers = Some(vec!["test/hold".into()]);
    widgets.create(&PostParams::default(), &held).await.unwrap();
    namespaces
        .delete("shop", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(
        namespaces
            .get("shop")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Terminating")
    );
    let e = api_error(
        widgets
            .create(&PostParams::default(), &widget("late", 1))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 403, "no new objects in a terminating namespace");
    eventually("deletion of the namespace's objects", || async {
        widgets.get_opt("a").await.unwrap().is_none()
    })
    .await;
    let held = widgets.get("held").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(
        namespaces.get_opt("shop").await.unwrap().is_some(),
        "the namespace waits for its last object"
    );
    widgets
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    eventually("namespace removal", || async {
        namespaces.get_opt("shop").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test]
async fn secrets_store_string_data_as_base64_data() {
    let (_s, client) = start(config()).await;
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let s = secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "db"}, "stringData": {"password": "hunter2"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(s.data.unwrap()["password"].0, b"hunter2");
    assert!(s.string_data.is_none());
}

#[tokio::test]
async fn leases_take_turns_through_optimistic_concurrency() {
    let (_s, client) = start(config()).await;
    let leases: Api<Lease> = Api::namespaced(client, "default");
    let lease: Lease = serde_json::from_value(json!({"metadata": {"name": "ferry"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}})).unwrap();
    let held = leases.create(&PostParams::default(), &lease).await.unwrap();
    let mut by_b = held.clone();
    by_b.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let taken = leases
        .replace("ferry", &PostParams::default(), &by_b)
        .await
        .unwrap();
    let mut by_c = held;
    by_c.spec.as_mut().unwrap().holder_identity = Some("c".into());
    assert_eq!(
        api_error(
            leases
                .replace("ferry", &PostParams::default(), &by_c)
                .await
                .unwrap_err()
        )
        .code,
        409,
        "c read the lease before b took it"
    );
    assert_eq!(taken.spec.unwrap().holder_identity.as_deref(), Some("b"));
}

#[tokio::test]
async fn events_of_both_apis_can_be_recorded() {
    let (_s, client) = start(config()).await;
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(client.clone(), "default");
    let e: k8s_openapi::api::events::v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "hello.1"}, "eventTime": "2026-11-23T20:00:00.000000Z",
        "reason": "Ready", "action": "Reconcile", "type": "Normal", "note": "ok",
        "reportingController": "ferry.dev/controller", "reportingInstance": "ferry-0",
        "regarding": {"kind": "ServerlessService", "name": "hello", "namespace": "default"},
    }))
    .unwrap();
    events.create(&PostParams::default(), &e).await.unwrap();
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client, "default");
    let c: k8s_openapi::api::core::v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "hello.2"}, "reason": "Ready", "message": "ok",
        "involvedObject": {"kind": "ServerlessService", "name": "hello", "namespace": "default"},
    }))
    .unwrap();
    core.create(&PostParams::default(), &c).await.unwrap();
    assert_eq!(
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn metadata_lists_and_watches_return_partial_object_metadata() {
    let (_s, client) = start(config()).await;
    let widgets: Api<Widget> = Api::namespaced(client.clone(), "default");
    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let list = widgets.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(
        list.items[0].types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    let metadata: Api<kube::core::PartialObjectMeta<Widget>> = Api::namespaced(client, "default");
    let mut objects = watcher(metadata, watcher::Config::default())
        .applied_objects()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(5), objects.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.name_any(), "a");
}

#[tokio::test]
async fn built_in_kinds_are_checked_against_their_kubernetes_schemas() {
    use k8s_openapi::api::apps::v1::Deployment;
    let (_standin, client) = start(config()).await;
    let deployments: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &kube::discovery::ApiResource::erase::<Deployment>(&()),
    );
    let deployment = |spec: serde_json::Value| {
        serde_json::from_value::<DynamicObject>(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": spec,
        }))
        .unwrap()
    };
    let pod = json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]},
    });
    let strict = PatchParams::apply("test").validation(kube::api::ValidationDirective::Strict);
    let apply = |object: &DynamicObject| {
        let (deployments, strict, object) = (deployments.clone(), strict.clone(), object.clone());
        async move {
            deployments
                .patch("web", &strict, &Patch::Apply(&object))
                .await
        }
    };

    let misspelt = deployment(
        json!({"replica": 2, "selector": {"matchLabels": {"app": "web"}}, "template": pod}),
    );
    let e = api_error(apply(&misspelt).await.unwrap_err());
    assert_eq!(
        (e.code, e.message.contains("unknown field \"spec.replica\"")),
        (400, true),
        "{e:?}"
    );

    let mistyped = deployment(
        json!({"replicas": "two", "selector": {"matchLabels": {"app": "web"}}, "template": pod}),
    );
    let e = api_error(apply(&mistyped).await.unwrap_err());
    assert_eq!(e.code, 422, "{e:?}");
    assert!(e.message.contains("spec.replicas"), "{e:?}");

    let missing = deployment(json!({"replicas": 2, "template": pod}));
    let e = api_error(apply(&missing).await.unwrap_err());
    assert!(e.message.contains("spec.selector"), "{e:?}");

    // Without strict validation an unknown field is dropped; the rest is stored, and a
    // generation and a status subresource come with the kind.
    let good = deployment(
        json!({"replicas": 2, "colour": "red", "selector": {"matchLabels": {"app": "web"}}, "template": pod}),
    );
    let stored = deployments
        .create(&PostParams::default(), &good)
        .await
        .unwrap();
    assert_eq!(stored.data["spec"]["replicas"], 2);
    assert!(stored.data["spec"].get("colour").is_none());
    assert_eq!(stored.metadata.generation, Some(1));
    // managedFields' FieldsV1 is free-form JSON and survives.
    let applied = deployments
        .patch("web", &PatchParams::apply("test"), &Patch::Apply(&good))
        .await
        .unwrap();
    let fields = &applied.metadata.managed_fields.unwrap()[0];
    assert!(fields.fields_v1.is_some(), "{fields:?}");
}

#[tokio::test]
async fn kubectl_finds_server_side_field_validation_in_openapi_v3() {
    let (_standin, client) = start(config()).await;
    let get = |path: String| {
        let client = client.clone();
        async move {
            let request = http::Request::get(path).body(Vec::new()).unwrap();
            let body = client.request_text(request).await.unwrap();
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        }
    };
    let root = get("/openapi/v3".into()).await;
    let apps = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = get(apps).await;
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"]["kind"],
        "Deployment"
    );
    assert!(
        patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation"),
        "{patch}"
    );
}
