//! Injected faults reach a real `kube::Client` and `kube::runtime::watcher` as the real API
//! server's own do: the 409, 429, 500 and 503 answers with their bodies and headers, watches
//! dropped mid-stream (resumed without a relist) and expired with 410 (relisted); only the
//! requests a rule names meet it, and every fault is counted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::time::{Duration, Instant};

use futures::StreamExt;
use http_body_util::BodyExt as _;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{DynamicObject, Status};
use kube::runtime::watcher;
use kube::{Client, CustomResource, CustomResourceExt, ResourceExt};
use kube_standin::faults::RequestInfo;
use kube_standin::{Config, Fault, FaultKind, Matcher, Remote, Rule, StandIn};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The operator's identity in the e2e suite.
const OPERATOR: &str = "system:serviceaccount:ferry-system:ferry";
const WAIT: Duration = Duration::from_secs(5);

/// A test kind.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[kube(
    group = "test.ferry.dev",
    version = "v1",
    kind = "Gadget",
    namespaced,
    status = "GadgetStatus"
)]
pub struct GadgetSpec {
    /// Any number.
    pub size: i32,
}

/// The status subresource.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct GadgetStatus {
    /// Any number.
    #[serde(default)]
    pub x: i32,
}

fn config() -> Config {
    let mut config = Config {
        bookmark_interval: Duration::from_millis(200),
        ..Config::default()
    }
    .with_crds_from(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crds"))
    .unwrap();
    config.crds.push(Gadget::crd());
    config
}

/// A client that identifies as `user` (none: anonymous), with kube's retries of 429/503/504
/// on or off.
async fn client(standin: &StandIn, user: Option<&str>, retries: bool) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&standin.kubeconfig_as(user)).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    config.default_retry = retries;
    Client::try_from(config).unwrap()
}

fn gadget(name: &str, size: i32) -> Gadget {
    Gadget::new(name, GadgetSpec { size })
}

fn api_error(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn services(client: Client) -> Api<DynamicObject> {
    Api::namespaced_with(
        client,
        "default",
        &kube::discovery::ApiResource::erase::<ferry_api::ServerlessService>(&()),
    )
}

fn service(name: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessService",
        "metadata": {"name": name},
        "spec": {"provider": "knative", "containers": [
            {"name": "app", "image": "ghcr.io/acme/hello:1", "port": 8080},
        ]},
    }))
    .unwrap()
}

/// Status code, headers and body of a raw GET.
async fn raw_get(client: &Client, path: &str) -> (u16, http::HeaderMap, Vec<u8>) {
    let request = http::Request::get(path).body(Vec::new()).unwrap();
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status.as_u16(), parts.headers, body)
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_injected_conflict_is_the_real_409_and_changes_nothing() {
    let standin = StandIn::start(config()).await.unwrap();
    let operator = services(client(&standin, Some(OPERATOR), true).await);
    let test = services(client(&standin, None, true).await);
    test.create(&PostParams::default(), &service("hello"))
        .await
        .unwrap();
    standin.faults().inject(
        Fault::Conflict,
        Matcher::writes("serverlessservices").user(OPERATOR),
        1,
    );
    let patch = Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}}));

    let e = api_error(
        operator
            .patch("hello", &PatchParams::default(), &patch)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({
            "status": "Failure",
            "code": 409,
            "reason": "Conflict",
            "message": "Operation cannot be fulfilled on serverlessservices.ferry.dev \"hello\": the object has been modified; please apply your changes to the latest version and try again",
            "metadata": {},
            "details": {"name": "hello", "group": "ferry.dev", "kind": "serverlessservices"},
        })
    );
    assert!(e.is_conflict());
    // The faulted patch was not carried out.
    assert!(test.get("hello").await.unwrap().labels().is_empty());
    // The test's own write is not the operator's; the operator's next one is past the rule.
    test.patch("hello", &PatchParams::default(), &patch)
        .await
        .unwrap();
    operator
        .patch("hello", &PatchParams::default(), &patch)
        .await
        .unwrap();
    assert_eq!(standin.faults().counts().get(FaultKind::Conflict), 1);
    assert_eq!(standin.faults().counts().total(), 1);
}

#[tokio::test]
async fn throttling_is_api_priority_and_fairness_429_with_retry_after_which_kube_waits_for() {
    let standin = StandIn::start(config()).await.unwrap();
    let no_retries = client(&standin, Some(OPERATOR), false).await;
    let gadgets: Api<Gadget> = Api::namespaced(no_retries.clone(), "default");
    gadgets
        .create(&PostParams::default(), &gadget("a", 1))
        .await
        .unwrap();
    let faults = standin.faults();
    faults.inject(
        Fault::TooManyRequests {
            retry_after_seconds: 1,
        },
        Matcher::reads("gadgets"),
        2,
    );

    // What API Priority and Fairness writes: plain text, not a Status.
    let (code, headers, body) = raw_get(
        &no_retries,
        "/apis/test.ferry.dev/v1/namespaces/default/gadgets/a",
    )
    .await;
    assert_eq!(code, 429);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(body, b"Too many requests, please try again later.\n");
    // kube-client makes it an API error all the same.
    let e = api_error(gadgets.get("a").await.unwrap_err());
    assert_eq!(
        (e.code, e.message.as_str()),
        (429, "Too many requests, please try again later.")
    );

    // kube-client retries a 429 after the Retry-After it names.
    faults.inject(
        Fault::TooManyRequests {
            retry_after_seconds: 1,
        },
        Matcher::reads("gadgets"),
        2,
    );
    let retrying: Api<Gadget> =
        Api::namespaced(client(&standin, Some(OPERATOR), true).await, "default");
    let started = Instant::now();
    assert_eq!(retrying.get("a").await.unwrap().spec.size, 1);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(faults.counts().get(FaultKind::TooManyRequests), 4);

    // The watch cache's 429 is a Status whose details carry the wait, sent as a header too.
    faults.inject(
        Fault::StorageInitializing {
            retry_after_seconds: 3,
        },
        Matcher::reads("gadgets"),
        2,
    );
    let (code, headers, body) = raw_get(
        &no_retries,
        "/apis/test.ferry.dev/v1/namespaces/default/gadgets",
    )
    .await;
    assert_eq!(
        (code, &headers["retry-after"]),
        (429, &"3".parse().unwrap())
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "storage is (re)initializing", "reason": "TooManyRequests",
            "details": {"retryAfterSeconds": 3}, "code": 429,
        })
    );
    let e = api_error(gadgets.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (429, "TooManyRequests"));
    assert_eq!(e.details.unwrap().retry_after_seconds, 3);
    assert_eq!(faults.counts().get(FaultKind::StorageInitializing), 2);
}

#[tokio::test]
async fn server_errors_are_500_internal_error_and_503_service_unavailable() {
    let standin = StandIn::start(config()).await.unwrap();
    let gadgets: Api<Gadget> =
        Api::namespaced(client(&standin, Some(OPERATOR), false).await, "default");
    let faults = standin.faults();
    faults.inject(Fault::InternalError, Matcher::writes("gadgets"), 1);
    let e = api_error(
        gadgets
            .create(&PostParams::default(), &gadget("a", 1))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({
            "status": "Failure", "code": 500, "reason": "InternalError", "metadata": {},
            "message": "Internal error occurred: resource quota evaluation timed out",
            "details": {"causes": [{"message": "resource quota evaluation timed out"}]},
        })
    );
    assert!(
        gadgets.get_opt("a").await.unwrap().is_none(),
        "a faulted create creates nothing"
    );

    faults.inject(Fault::ServiceUnavailable, Matcher::reads("gadgets"), 1);
    let e = api_error(gadgets.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        (e.code, e.reason.as_str(), e.message.as_str()),
        (
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request"
        )
    );
    gadgets.list(&ListParams::default()).await.unwrap();
    let counts = faults.counts();
    assert_eq!(
        (
            counts.get(FaultKind::InternalError),
            counts.get(FaultKind::ServiceUnavailable),
            counts.total()
        ),
        (1, 1, 2)
    );
}

/// A kube-runtime watcher of `api`, run on its own task (as a controller runs it, so it
/// watches again without being asked), its events as short names: `Init`, `InitApply:NAME`,
/// `InitDone`, `Apply:NAME`, `Delete:NAME`; errors as `Error`.
fn run_watcher(api: Api<Gadget>) -> Events {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut events = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = events.next().await {
            let name = match event {
                Ok(watcher::Event::Init) => "Init".into(),
                Ok(watcher::Event::InitApply(g)) => format!("InitApply:{}", g.name_any()),
                Ok(watcher::Event::InitDone) => "InitDone".into(),
                Ok(watcher::Event::Apply(g)) => format!("Apply:{}", g.name_any()),
                Ok(watcher::Event::Delete(g)) => format!("Delete:{}", g.name_any()),
                Err(_) => "Error".into(),
            };
            if tx.send(name).is_err() {
                return;
            }
        }
    });
    Events { rx, task }
}

struct Events {
    rx: tokio::sync::mpsc::UnboundedReceiver<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Events until `last` (included), errors left out.
async fn events_until(events: &mut Events, last: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(WAIT, events.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no watcher event within {WAIT:?} after {seen:?}"))
            .expect("the watcher ended");
        if event != "Error" {
            seen.push(event.clone());
        }
        if event == last {
            return seen;
        }
    }
}

fn operator_watches() -> Matcher {
    Matcher::watches("gadgets").user(OPERATOR)
}

fn open(standin: &StandIn) -> Vec<RequestInfo> {
    standin.faults().open_watches(&operator_watches())
}

#[tokio::test]
async fn a_dropped_watch_is_resumed_from_its_last_resource_version_without_a_relist() {
    let standin = StandIn::start(config()).await.unwrap();
    let gadgets: Api<Gadget> =
        Api::namespaced(client(&standin, Some(OPERATOR), true).await, "default");
    let test: Api<Gadget> = Api::namespaced(client(&standin, None, true).await, "default");
    test.create(&PostParams::default(), &gadget("a", 1))
        .await
        .unwrap();
    let mut events = run_watcher(gadgets);
    assert_eq!(
        events_until(&mut events, "InitDone").await,
        ["Init", "InitApply:a", "InitDone"]
    );
    // A test's watch of its own is not the operator's.
    let mut own = test
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    eventually("the watches to open", || {
        open(&standin).len() == 1 && standin.faults().open_watches(&Matcher::any()).len() == 2
    })
    .await;

    let b = test
        .create(&PostParams::default(), &gadget("b", 1))
        .await
        .unwrap();
    assert_eq!(events_until(&mut events, "Apply:b").await, ["Apply:b"]);
    assert_eq!(standin.faults().drop_watches(&operator_watches()), 1);
    // The watcher watches again from the last version it saw, and lists nothing.
    let b_rv: u64 = b.resource_version().unwrap().parse().unwrap();
    eventually("the watch to resume", || {
        open(&standin)
            .first()
            .is_some_and(|w| w.resume_from.is_some_and(|rv| rv >= b_rv))
    })
    .await;
    test.create(&PostParams::default(), &gadget("c", 1))
        .await
        .unwrap();
    assert_eq!(events_until(&mut events, "Apply:c").await, ["Apply:c"]);

    // A watch request met by a scripted drop is cut as soon as it starts, and resumed too.
    standin
        .faults()
        .inject(Fault::DropWatch, operator_watches(), 1);
    assert_eq!(standin.faults().drop_watches(&operator_watches()), 1);
    eventually("the scripted drop", || {
        standin.faults().counts().get(FaultKind::DropWatch) == 3 && open(&standin).len() == 1
    })
    .await;
    test.create(&PostParams::default(), &gadget("d", 1))
        .await
        .unwrap();
    assert_eq!(events_until(&mut events, "Apply:d").await, ["Apply:d"]);

    // The test's own watch saw everything, never dropped.
    let mut own_seen = Vec::new();
    while own_seen.len() < 4 {
        match tokio::time::timeout(WAIT, own.next()).await.unwrap() {
            Some(Ok(WatchEvent::Added(g))) => own_seen.push(g.name_any()),
            Some(Ok(WatchEvent::Bookmark(_))) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(own_seen, ["a", "b", "c", "d"]);
    assert_eq!(standin.faults().counts().total(), 3);
}

#[tokio::test]
async fn an_expired_watch_makes_the_watcher_list_again() {
    let standin = StandIn::start(config()).await.unwrap();
    let gadgets: Api<Gadget> =
        Api::namespaced(client(&standin, Some(OPERATOR), true).await, "default");
    gadgets
        .create(&PostParams::default(), &gadget("a", 1))
        .await
        .unwrap();
    let mut events = run_watcher(gadgets.clone());
    assert_eq!(
        events_until(&mut events, "InitDone").await,
        ["Init", "InitApply:a", "InitDone"]
    );
    eventually("the watch to open", || open(&standin).len() == 1).await;

    // An open watch compacted under it: ERROR 410, and the watcher lists again.
    assert_eq!(standin.faults().expire_watches(&operator_watches()), 1);
    assert_eq!(
        events_until(&mut events, "InitDone").await,
        ["Init", "InitApply:a", "InitDone"]
    );

    // The next watch is answered as one from a version the watch cache no longer holds.
    eventually("the watch to open again", || open(&standin).len() == 1).await;
    standin
        .faults()
        .inject(Fault::ExpireWatch, operator_watches(), 1);
    standin.faults().drop_watches(&operator_watches());
    assert_eq!(
        events_until(&mut events, "InitDone").await,
        ["Init", "InitApply:a", "InitDone"]
    );
    gadgets
        .create(&PostParams::default(), &gadget("b", 1))
        .await
        .unwrap();
    assert_eq!(events_until(&mut events, "Apply:b").await, ["Apply:b"]);
    let counts = standin.faults().counts();
    assert_eq!(
        (
            counts.get(FaultKind::ExpireWatch),
            counts.get(FaultKind::DropWatch)
        ),
        (2, 1)
    );
}

#[tokio::test]
async fn expired_watches_carry_the_real_410_status_as_an_error_event() {
    let standin = StandIn::start(config()).await.unwrap();
    let gadgets: Api<Gadget> =
        Api::namespaced(client(&standin, Some(OPERATOR), true).await, "default");
    let a = gadgets
        .create(&PostParams::default(), &gadget("a", 1))
        .await
        .unwrap();
    let rv = a.resource_version().unwrap();
    let current = standin.store().resource_version();

    standin
        .faults()
        .inject(Fault::ExpireWatch, operator_watches(), 1);
    let mut stream = gadgets
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let Some(Ok(WatchEvent::Error(e))) = stream.next().await else {
        panic!("expected an ERROR event");
    };
    assert_eq!(
        (e.code, e.reason.as_str(), e.message),
        (
            410,
            "Expired",
            format!(
                "too old resource version: {rv} ({})",
                current.max(rv.parse::<u64>().unwrap() + 1)
            )
        )
    );
    assert!(
        stream.next().await.is_none(),
        "the watch ends after its error"
    );

    let mut stream = gadgets
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    eventually("the watch to open", || open(&standin).len() == 1).await;
    standin.faults().expire_watches(&Matcher::any());
    let e = loop {
        match stream.next().await {
            Some(Ok(WatchEvent::Bookmark(_))) => {}
            Some(Ok(WatchEvent::Error(e))) => break e,
            other => panic!("expected an ERROR event, got {other:?}"),
        }
    };
    assert_eq!(
        (e.code, e.reason.as_str(), e.message.as_str()),
        (
            410,
            "Expired",
            "The resourceVersion for the provided watch is too old."
        )
    );
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn faults_reach_only_the_requests_their_rule_names() {
    let standin = StandIn::start(config()).await.unwrap();
    let operator = client(&standin, Some(OPERATOR), false).await;
    let other = client(&standin, Some("system:serviceaccount:other:ferry"), false).await;
    let test = client(&standin, None, false).await;
    let status_only = Matcher::writes("gadgets")
        .subresource("status")
        .namespace("default")
        .user(OPERATOR);
    standin
        .faults()
        .inject(Fault::InternalError, status_only, 100);
    for (c, faulted) in [(&operator, true), (&other, false), (&test, false)] {
        let gadgets: Api<Gadget> = Api::namespaced(c.clone(), "default");
        let name = format!(
            "g{}",
            gadgets
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len()
        );
        gadgets
            .create(&PostParams::default(), &gadget(&name, 1))
            .await
            .unwrap();
        gadgets
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"size": 2}})),
            )
            .await
            .unwrap();
        let status = gadgets
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"x": 1}})),
            )
            .await;
        assert_eq!(status.is_err(), faulted, "{status:?}");
    }
    assert_eq!(standin.faults().counts().total(), 1);
    assert_eq!(standin.faults().rules()[0].injected, 1);
}

#[tokio::test]
async fn random_faults_over_a_period_follow_their_seed() {
    let run = |seed| async move {
        let standin = StandIn::start(config()).await.unwrap();
        let gadgets: Api<Gadget> =
            Api::namespaced(client(&standin, Some(OPERATOR), false).await, "default");
        standin.faults().inject_randomly(
            Fault::InternalError,
            Matcher::reads("gadgets"),
            0.5,
            seed,
            Some(Duration::from_secs(60)),
        );
        let mut outcomes = Vec::new();
        for _ in 0..40 {
            outcomes.push(gadgets.list(&ListParams::default()).await.is_ok());
        }
        let failed = outcomes.iter().filter(|ok| !**ok).count() as u64;
        assert_eq!(
            standin.faults().counts().get(FaultKind::InternalError),
            failed
        );
        outcomes
    };
    let first = run(11).await;
    assert_eq!(first, run(11).await);
    let failed = first.iter().filter(|ok| !**ok).count();
    assert!((8..=32).contains(&failed), "{failed} of 40 at p=0.5");
}

#[tokio::test]
async fn the_fault_endpoint_serves_the_same_over_http() {
    // As the e2e suite starts it, and reaches it through the kubeconfig it writes.
    let standin = StandIn::start_in_background(config()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    standin.write_kubeconfig(&kubeconfig).unwrap();
    let remote = Remote::from_kubeconfig(&kubeconfig).unwrap();
    let gadgets: Api<Gadget> =
        Api::namespaced(client(&standin, Some(OPERATOR), false).await, "default");
    gadgets
        .create(&PostParams::default(), &gadget("a", 1))
        .await
        .unwrap();

    let id = remote
        .add(&Rule::times(
            Fault::Conflict,
            Matcher::writes("gadgets").user(OPERATOR),
            2,
        ))
        .await
        .unwrap();
    let rules = remote.rules().await.unwrap();
    assert_eq!((rules.len(), rules[0].id), (1, id));
    let patch = Patch::Merge(json!({"spec": {"size": 2}}));
    let e = api_error(
        gadgets
            .patch("a", &PatchParams::default(), &patch)
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 409);
    assert_eq!(remote.rules().await.unwrap()[0].injected, 1);
    assert!(remote.remove(id).await.unwrap());
    assert!(!remote.remove(id).await.unwrap());
    gadgets
        .patch("a", &PatchParams::default(), &patch)
        .await
        .unwrap();

    let mut events = run_watcher(gadgets.clone());
    events_until(&mut events, "InitDone").await;
    let deadline = Instant::now() + WAIT;
    while remote
        .open_watches(&operator_watches())
        .await
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "no watch opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(remote.drop_watches(&operator_watches()).await.unwrap(), 1);
    gadgets
        .create(&PostParams::default(), &gadget("b", 1))
        .await
        .unwrap();
    assert_eq!(events_until(&mut events, "Apply:b").await, ["Apply:b"]);
    assert_eq!(
        remote
            .expire_watches(&Matcher::watches("nothing"))
            .await
            .unwrap(),
        0
    );

    remote
        .add(&Rule::randomly(
            Fault::ServiceUnavailable,
            Matcher::any(),
            0.5,
            1,
        ))
        .await
        .unwrap();
    assert_eq!(remote.clear().await.unwrap(), 1);
    let counts = remote.counts().await.unwrap();
    assert_eq!(counts, standin.faults().counts());
    assert_eq!(
        (
            counts.get(FaultKind::Conflict),
            counts.get(FaultKind::DropWatch),
            counts.total()
        ),
        (1, 1, 2)
    );
}
