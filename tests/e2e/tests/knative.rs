//! The operator with its Knative backend, end to end: the real `ferry controller` process
//! against the stand-in API server that serves Knative Serving's real CRDs (or a real cluster
//! with `FERRY_E2E_KUBECONFIG`). On the stand-in nothing runs Knative, so the tests play its
//! part and write the Knative Service's status themselves; on a real cluster Knative Serving
//! does, unless `FERRY_E2E_PLAY_KNATIVE=1` says the cluster has only Knative's CRDs and the tests
//! play its part there too. Volumes too: an NFS volume refused naming Knative's claims flag
//! while it is off, then mounted through a PersistentVolume and claim Ferry makes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly
#![allow(clippy::float_cmp)] // the metrics compared are whole counts, exact in an f64

use std::time::Duration;

use e2e::{Cluster, Ferry, MANAGER, Operator, Player, Scene, TestNamespace, wait_for};
use ferry_api::ServerlessService;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

/// Long enough for a real cluster to pull an image and for a loaded CI machine.
const WAIT: Duration = Duration::from_secs(120);
const IMAGE: &str = "ghcr.io/knative/helloworld-go:latest";
const CLAIM_FLAG: &str = "kubernetes.podspec-persistent-volume-claim";
const FINALIZER: &str = "ferry.dev/cleanup";

fn knative_services() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("serving.knative.dev", "v1", "Service"),
        "services",
    )
}

/// One test's namespace, with an operator watching only it.
struct Scenario {
    cluster: &'static Cluster,
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    /// What the test plays (Knative, for the tests that do not report its status themselves).
    players: Vec<Player>,
}

/// Flags of an operator confined to `namespace` with fast resyncs and its lease there too.
fn controller_args(namespace: &str, identity: &str) -> Vec<String> {
    [
        "controller",
        "--namespace",
        namespace,
        "--lease-namespace",
        namespace,
        "--identity",
        identity,
        "--lease-duration",
        "3",
        "--metrics-address",
        "127.0.0.1:0",
        "--resync-interval",
        "1s",
        "--progress-interval",
        "300ms",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn spawn(cluster: &Cluster, namespace: &str, identity: &str) -> Operator {
    let args = controller_args(namespace, identity);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ferry::spawn(cluster, &args).unwrap()
}

impl Scene for Scenario {
    const WAIT: Duration = WAIT;

    fn operator(&self) -> &Operator {
        &self.operator
    }

    fn ssvs(&self) -> Api<ServerlessService> {
        Api::namespaced(self.client.clone(), self.ns())
    }
}

impl Scenario {
    async fn start(prefix: &str) -> Self {
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, prefix).await.unwrap();
        let operator = spawn(cluster, namespace.name(), "ferry-0");
        Self {
            cluster,
            client: cluster.client().await.unwrap(),
            namespace,
            operator,
            players: Vec::new(),
        }
    }

    /// Plays Knative Serving from now on, where the suite does.
    fn play_knative(&mut self) {
        let player = e2e::play_knative(self.cluster, self.knative(), self.ns());
        self.players.extend(player.map(Player));
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    fn knative(&self) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), self.ns(), &knative_services())
    }

    async fn apply(&self, name: &str, spec: Value) {
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": name},
            "spec": spec,
        });
        self.ssvs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
    }

    async fn knative_service(&self, name: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let found = wait_for(&self.knative(), name, WAIT, what, |s: &DynamicObject| {
            ok(&serde_json::to_value(s).unwrap())
        })
        .await;
        serde_json::to_value(self.check(found)).unwrap()
    }

    /// Plays Knative's part where the suite does (the stand-in, or a cluster with
    /// `FERRY_E2E_PLAY_KNATIVE=1`): reports the Service's current generation with `conditions`
    /// and the addresses Knative would give it. Otherwise the cluster's Knative does it.
    async fn report_knative_status(&self, name: &str, conditions: Value) {
        if !self.cluster.plays_knative() {
            return;
        }
        let live = self.knative().get(name).await.unwrap();
        let generation = live.metadata.generation.unwrap();
        let status = e2e::knative_status(name, self.ns(), generation, &conditions);
        self.knative()
            .patch_status(
                name,
                &PatchParams::apply("knative-serving").force(),
                &Patch::Apply(&status),
            )
            .await
            .unwrap();
    }

    async fn report_ready(&self, name: &str) {
        let conditions = e2e::knative_ready_conditions("2026-11-23T10:00:00Z");
        self.report_knative_status(name, conditions).await;
    }

    async fn metric(&self, series: &str) -> f64 {
        let value = self.operator.metric(series).await;
        self.check(value)
    }

    /// Writes Knative's feature flags (the stand-in only: a real cluster keeps its own).
    async fn set_flags(&self, data: &Value) {
        assert!(self.cluster.is_standin());
        let apply = PatchParams::apply(MANAGER).force();
        Api::<Namespace>::all(self.client.clone())
            .patch(
                "knative-serving",
                &apply,
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": "knative-serving"}})),
            )
            .await
            .unwrap();
        Api::<ConfigMap>::namespaced(self.client.clone(), "knative-serving")
            .patch(
                "config-features",
                &apply,
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "config-features"},
                                     "data": data})),
            )
            .await
            .unwrap();
    }

    /// Whether the cluster enables Knative's claims (the flag is `Enabled`, in any case).
    async fn claims_enabled(&self) -> bool {
        let flags = Api::<ConfigMap>::namespaced(self.client.clone(), "knative-serving")
            .get_opt("config-features")
            .await
            .unwrap();
        flags
            .and_then(|cm| cm.data)
            .and_then(|d| d.get(CLAIM_FLAG).cloned())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("enabled"))
    }

    /// Ferry's PersistentVolumes and claims for `name` on Knative, once `ok` holds for their
    /// counts.
    async fn claims_of(
        &self,
        name: &str,
        ok: impl Fn(usize, usize) -> bool,
    ) -> (Vec<PersistentVolume>, Vec<PersistentVolumeClaim>) {
        let owner = format!("ServerlessService {}/{name} (knative)", self.ns());
        let found = e2e::claims_of(&self.client, self.ns(), &owner, WAIT, ok).await;
        self.check(found)
    }
}

fn hello_spec() -> Value {
    json!({
        "provider": "knative",
        "containers": [{
            "name": "app",
            "image": IMAGE,
            "port": 8080,
            "env": [{"name": "TARGET", "value": "Ferry"}],
            "resources": {"cpu": "250m", "memory": "256Mi"},
        }],
        "scaling": {"minInstances": 0, "maxInstances": 3, "target": 50},
    })
}

fn condition<'a>(svc: &'a ServerlessService, type_: &str) -> Option<&'a Condition> {
    svc.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

fn ready_is(svc: &ServerlessService, status: &str, reason: &str) -> bool {
    condition(svc, "Ready").is_some_and(|c| c.status == status && c.reason == reason)
}

#[tokio::test]
async fn a_service_is_created_becomes_ready_idles_without_writes_and_follows_spec_changes() {
    let s = Scenario::start("lifecycle").await;
    s.apply("hello", hello_spec()).await;

    // Ferry creates the Knative Service with the fields the spec asks for.
    let service = s
        .knative_service("hello", "the Knative Service", |_| true)
        .await;
    let container = &service["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], IMAGE);
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(
        container["env"][0],
        json!({"name": "TARGET", "value": "Ferry"})
    );
    assert_eq!(container["resources"]["limits"]["memory"], "256Mi");
    let annotations = &service["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["autoscaling.knative.dev/max-scale"], "3");
    assert_eq!(annotations["autoscaling.knative.dev/target"], "50");
    assert_eq!(
        service["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "ferry"
    );
    let owner = &service["metadata"]["ownerReferences"][0];
    let svc = s.ssvs().get("hello").await.unwrap();
    assert_eq!(owner["kind"], "ServerlessService");
    assert_eq!(owner["uid"], svc.uid().unwrap());
    assert_eq!(owner["controller"], true);
    // Owned, the Knative Service goes with its object through garbage collection: no
    // finalizer (and no write for one) with `deletionPolicy: Delete`.
    assert!(svc.finalizers().is_empty(), "{svc:?}");
    let managers: Vec<&str> = service["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"ferry"), "{managers:?}");

    // Until Knative reports, the ServerlessService is progressing.
    let progressing = s
        .ssv("hello", "Ready=Unknown while Knative works", |svc| {
            ready_is(svc, "Unknown", "Progressing")
        })
        .await;
    assert_eq!(
        progressing.status.as_ref().unwrap().observed_generation,
        Some(1)
    );

    // Knative says Ready: Ferry says Ready and copies the addresses.
    s.report_ready("hello").await;
    let ready = s
        .ssv("hello", "Ready=True", |svc| {
            ready_is(svc, "True", "Available")
        })
        .await;
    let status = ready.status.as_ref().unwrap();
    assert!(
        status.url.as_deref().unwrap().starts_with("http"),
        "{status:?}"
    );
    assert!(
        condition(&ready, "Synced").is_some_and(|c| c.status == "True"),
        "{status:?}"
    );
    if s.cluster.plays_knative() {
        assert_eq!(
            status.url.as_deref(),
            Some(format!("http://hello.{}.example.com", s.ns()).as_str())
        );
        assert_eq!(status.latest_ready_revision.as_deref(), Some("hello-00001"));
    }

    // Idle: several resyncs later nothing was written to either object.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ssv_version = s.ssvs().get("hello").await.unwrap().resource_version();
    let knative_version = s.knative().get("hello").await.unwrap().resource_version();
    let reconciles = s.metric("ferry_reconciles_total").await;
    let writes = s.metric("ferry_status_writes_total").await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        s.metric("ferry_reconciles_total").await >= reconciles + 2.0,
        "resyncs keep observing"
    );
    assert_eq!(s.metric("ferry_status_writes_total").await, writes);
    assert_eq!(
        s.ssvs().get("hello").await.unwrap().resource_version(),
        ssv_version
    );
    assert_eq!(
        s.knative().get("hello").await.unwrap().resource_version(),
        knative_version
    );

    // A spec change: Knative gets the new image, and Ferry observes generation 2.
    let mut spec = hello_spec();
    spec["containers"][0]["env"][0]["value"] = json!("Ferry 2");
    spec["scaling"] = json!({"minInstances": 0, "target": 50});
    s.apply("hello", spec).await;
    let updated = s
        .knative_service("hello", "the new template", |svc| {
            svc["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "Ferry 2"
        })
        .await;
    // A field Ferry no longer sets is gone, not left behind.
    assert!(
        updated["spec"]["template"]["metadata"]["annotations"]
            .get("autoscaling.knative.dev/max-scale")
            .is_none(),
        "{updated:#}"
    );
    s.report_ready("hello").await;
    let ready = s
        .ssv("hello", "Ready=True for generation 2", |svc| {
            svc.status.as_ref().and_then(|s| s.observed_generation) == Some(2)
                && ready_is(svc, "True", "Available")
        })
        .await;
    assert_eq!(
        condition(&ready, "Ready").unwrap().observed_generation,
        Some(2)
    );
}

#[tokio::test]
async fn a_failing_revision_is_reported_with_knatives_message() {
    let s = Scenario::start("failing").await;
    if !s.cluster.plays_knative() {
        return; // Needs an image that does not exist; covered by Knative itself on a cluster.
    }
    s.apply("broken", hello_spec()).await;
    s.knative_service("broken", "the Knative Service", |_| true)
        .await;
    let now = "2026-11-23T10:00:00Z";
    s.report_knative_status(
        "broken",
        json!([
            {"type": "ConfigurationsReady", "status": "False", "reason": "ContainerMissing",
             "message": "Unable to fetch image \"ghcr.io/acme/nope\": not found",
             "lastTransitionTime": now},
            {"type": "Ready", "status": "False", "reason": "RevisionMissing",
             "message": "Configuration \"broken\" does not have any ready Revision.",
             "lastTransitionTime": now},
        ]),
    )
    .await;
    let failed = s
        .ssv("broken", "Ready=False ImageNotFound", |svc| {
            ready_is(svc, "False", "ImageNotFound")
        })
        .await;
    let message = &condition(&failed, "Ready").unwrap().message;
    assert!(message.contains("Unable to fetch image"), "{message}");
}

#[tokio::test]
async fn a_spec_only_ferry_can_refuse_is_reported_invalid() {
    let s = Scenario::start("invalid").await;
    s.apply(
        "scale",
        json!({
            "provider": "knative",
            "containers": [{"name": "app", "image": IMAGE, "port": 8080, "resources": {"cpu": "500m"}}],
            "scaling": {"minInstances": 0, "metric": "cpu", "target": 70},
        }),
    )
    .await;
    let invalid = s
        .ssv("scale", "Ready=False InvalidSpec", |svc| {
            ready_is(svc, "False", "InvalidSpec")
        })
        .await;
    let message = &condition(&invalid, "Ready").unwrap().message;
    assert!(message.contains("spec.scaling.minInstances"), "{message}");
    assert!(
        condition(&invalid, "Stalled").is_some_and(|c| c.status == "True"),
        "{invalid:?}"
    );
    assert!(s.knative().get_opt("scale").await.unwrap().is_none());
}

#[tokio::test]
async fn a_knative_service_ferry_did_not_create_is_left_alone() {
    let s = Scenario::start("taken").await;
    let theirs = json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "taken", "labels": {"team": "web"}},
        "spec": {"template": {"spec": {"containers": [{"image": IMAGE}]}}},
    });
    s.knative()
        .patch(
            "taken",
            &PatchParams::apply("someone-else"),
            &Patch::Apply(&theirs),
        )
        .await
        .unwrap();
    let before = s.knative().get("taken").await.unwrap().resource_version();
    s.apply("taken", hello_spec()).await;
    let refused = s
        .ssv("taken", "Ready=False NameTaken", |svc| {
            ready_is(svc, "False", "NameTaken")
        })
        .await;
    assert!(
        condition(&refused, "Ready")
            .unwrap()
            .message
            .contains("was not created by Ferry"),
        "{refused:?}"
    );
    assert_eq!(
        s.knative().get("taken").await.unwrap().resource_version(),
        before
    );
    // Deleting the ServerlessService does not delete someone else's Service.
    s.ssvs()
        .delete("taken", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&s, &s.ssvs(), "taken", "the ServerlessService").await;
    assert!(s.knative().get_opt("taken").await.unwrap().is_some());
}

async fn wait_gone<K>(s: &Scenario, api: &Api<K>, name: &str, what: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while api.get_opt(name).await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} still exists\n--- ferry log ---\n{}",
            s.operator.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn deleting_with_the_delete_policy_deletes_the_knative_service() {
    let s = Scenario::start("delete").await;
    s.apply("doomed", hello_spec()).await;
    s.knative_service("doomed", "the Knative Service", |_| true)
        .await;
    s.ssvs()
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&s, &s.ssvs(), "doomed", "the ServerlessService").await;
    wait_gone(&s, &s.knative(), "doomed", "the Knative Service").await;
}

/// An object that got the finalizer under `Orphan` and went back to `Delete` keeps it, and
/// Ferry deletes the Knative Service itself before letting the object go.
#[tokio::test]
async fn a_finalizer_kept_from_orphan_makes_ferry_delete_the_knative_service() {
    let s = Scenario::start("refinal").await;
    let mut spec = hello_spec();
    spec["deletionPolicy"] = json!("Orphan");
    s.apply("back", spec.clone()).await;
    s.ssv("back", "the finalizer under Orphan", |svc| {
        !svc.finalizers().is_empty()
    })
    .await;
    spec["deletionPolicy"] = json!("Delete");
    s.apply("back", spec).await;
    s.knative_service("back", "the Knative Service", |_| true)
        .await;
    s.ssvs()
        .delete("back", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&s, &s.ssvs(), "back", "the ServerlessService").await;
    // The finalizer held the object until the Service was gone, so the Service went first.
    assert!(s.knative().get_opt("back").await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_with_the_orphan_policy_leaves_the_knative_service_unowned() {
    let s = Scenario::start("orphan").await;
    let mut spec = hello_spec();
    spec["deletionPolicy"] = json!("Orphan");
    s.apply("kept", spec).await;
    s.knative_service("kept", "the Knative Service", |svc| {
        svc["metadata"]["ownerReferences"].is_array()
    })
    .await;
    let kept = s.ssvs().get("kept").await.unwrap();
    assert_eq!(kept.finalizers(), ["ferry.dev/cleanup"], "{kept:?}");
    s.ssvs()
        .delete("kept", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&s, &s.ssvs(), "kept", "the ServerlessService").await;
    // Garbage collection would remove a Service still owned by the deleted object.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let left = s.knative().get("kept").await.unwrap();
    assert!(left.owner_references().is_empty(), "{left:?}");
    assert_eq!(
        left.labels()
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("ferry")
    );
}

#[tokio::test]
async fn without_knative_the_service_is_not_ready_and_ferry_does_not_spin() {
    let Some(cluster) = Cluster::standin_without_knative().unwrap() else {
        return; // A real cluster keeps its Knative.
    };
    let cluster: &'static Cluster = Box::leak(Box::new(cluster));
    cluster.install_crds().await.unwrap();
    let namespace = TestNamespace::create(cluster, "noknative").await.unwrap();
    let s = Scenario {
        cluster,
        client: cluster.client().await.unwrap(),
        operator: spawn(cluster, namespace.name(), "ferry-0"),
        namespace,
        players: Vec::new(),
    };
    s.apply("hello", hello_spec()).await;
    let stalled = s
        .ssv("hello", "Ready=False KnativeNotInstalled", |svc| {
            ready_is(svc, "False", "KnativeNotInstalled")
        })
        .await;
    let message = &condition(&stalled, "Ready").unwrap().message;
    assert!(message.contains("install Knative Serving"), "{message}");
    assert!(
        condition(&stalled, "Stalled").is_some_and(|c| c.status == "True"),
        "{stalled:?}"
    );
    // No hot loop: it looks again in a minute, not on every resync.
    let reconciles = s.metric("ferry_reconciles_total").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let more = s.metric("ferry_reconciles_total").await - reconciles;
    assert!(
        more <= 1.0,
        "{more} reconciles in 3 s while Knative is missing"
    );
    assert!(
        s.operator
            .logs()
            .contains("Knative Serving is not installed")
    );
}

async fn leader_of(lease: &Api<Lease>) -> Option<String> {
    lease
        .get_opt("ferry-controller")
        .await
        .unwrap()
        .and_then(|l| l.spec?.holder_identity)
}

#[tokio::test]
async fn of_two_replicas_one_leads_and_the_other_takes_over_on_sigterm() {
    let mut s = Scenario::start("leader").await;
    let mut second = spawn(s.cluster, s.ns(), "ferry-1");
    let leases: Api<Lease> = Api::namespaced(s.client.clone(), s.ns());

    // Exactly one leads.
    let deadline = tokio::time::Instant::now() + WAIT;
    let first_leader = loop {
        let a = s.metric("ferry_leader").await;
        let b = second.metric("ferry_leader").await.unwrap();
        if a + b == 1.0 {
            break if a == 1.0 { "ferry-0" } else { "ferry-1" };
        }
        assert!(a + b <= 1.0, "both replicas lead");
        assert!(tokio::time::Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(leader_of(&leases).await.as_deref(), Some(first_leader));

    // The leader reconciles.
    s.apply("hello", hello_spec()).await;
    s.knative_service("hello", "the Knative Service", |_| true)
        .await;

    // SIGTERM to the leader: it exits cleanly and the other replica takes over.
    let (leader, follower) = if first_leader == "ferry-0" {
        (&mut s.operator, &mut second)
    } else {
        (&mut second, &mut s.operator)
    };
    assert!(
        leader.terminate(Duration::from_secs(30)).await.unwrap(),
        "{}",
        leader.logs()
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while follower.metric("ferry_leader").await.unwrap() != 1.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no takeover\n{}",
            follower.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new_leader = if first_leader == "ferry-0" {
        "ferry-1"
    } else {
        "ferry-0"
    };
    assert_eq!(leader_of(&leases).await.as_deref(), Some(new_leader));

    // The new leader reconciles too.
    s.report_ready("hello").await;
    s.ssv("hello", "Ready=True under the new leader", |svc| {
        ready_is(svc, "True", "Available")
    })
    .await;
}

/// Puts the prices ConfigMap `name` with one Knative node price.
async fn put_prices(s: &Scenario, name: &str, vcpu_hour: f64, gb_hour: f64) {
    let table = format!(
        "knative:\n- {{region: e2e, option: nodes, vcpuHour: {vcpu_hour}, gbHour: {gb_hour}, source: e2e, read: 2026-11-24}}\n"
    );
    let config_map = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"prices.yaml": table},
    });
    Api::<ConfigMap>::namespaced(s.client.clone(), s.ns())
        .patch(
            name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&config_map),
        )
        .await
        .unwrap();
}

fn estimate(svc: &ServerlessService) -> Option<&str> {
    svc.status
        .as_ref()?
        .estimated_monthly_cost
        .as_ref()
        .map(|e| e.usd.as_str())
}

#[tokio::test]
async fn the_cost_estimate_follows_the_prices_configmap() {
    let mut s = Scenario::start("knative-prices").await;
    // The operator of this scenario reads its node prices from a ConfigMap.
    put_prices(&s, "ferry-prices", 0.03, 0.004).await;
    s.operator = {
        let mut args = controller_args(s.ns(), "ferry-0");
        args.extend(["--prices-configmap".into(), "ferry-prices".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ferry::spawn(s.cluster, &args).unwrap()
    };
    let mut spec = hello_spec();
    spec["containers"][0]["resources"] = json!({"cpu": "1", "memory": "1Gi"});
    spec["scaling"] = json!({"minInstances": 1, "maxInstances": 3});
    s.apply("priced", spec).await;
    // One pod at rest all month: 730 h x (1 vCPU x $0.03 + 1 GiB x $0.004) = $24.82.
    s.ssv("priced", "an estimate at the ConfigMap's prices", |svc| {
        estimate(svc) == Some("24.82")
    })
    .await;
    // A new price re-prices without a spec change: 730 x (0.05 + 0.004) = $39.42.
    put_prices(&s, "ferry-prices", 0.05, 0.004).await;
    let svc = s
        .ssv("priced", "the estimate at the new price", |svc| {
            estimate(svc) == Some("39.42")
        })
        .await;
    let basis = &svc
        .status
        .as_ref()
        .unwrap()
        .estimated_monthly_cost
        .as_ref()
        .unwrap()
        .basis;
    assert!(basis.contains("e2e node prices"), "{basis}");
}

// Volumes (issue 23)

fn gallery(revision: &str) -> Value {
    json!({
        "provider": "knative",
        "volumes": [
            {"name": "config", "secret": {"name": "gallery-config"}},
            {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "32Mi"}},
            {"name": "photos", "nfs": {"server": "10.0.12.4", "path": "/exports/photos",
                                       "readOnly": true}},
        ],
        "containers": [{
            "name": "app",
            "image": IMAGE,
            "port": 8080,
            "env": [{"name": "REVISION", "value": revision}],
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/gallery"},
                {"name": "cache", "mountPath": "/var/cache/gallery"},
                {"name": "photos", "mountPath": "/srv/photos"},
            ],
        }],
    })
}

fn ready_condition(svc: &ServerlessService) -> Option<(&str, &str, &str)> {
    let status = svc.status.as_ref()?;
    if status.observed_generation != svc.metadata.generation {
        return None;
    }
    let c = status.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((c.status.as_str(), c.reason.as_str(), c.message.as_str()))
}

#[tokio::test]
async fn an_nfs_volume_is_refused_naming_knatives_flag_until_it_is_on_then_mounted_through_a_claim()
{
    let mut s = Scenario::start("vol-knative").await;
    s.play_knative();
    if s.cluster.is_standin() {
        // Knative's defaults: claims off.
        s.set_flags(&json!({})).await;
    }
    let enabled = s.claims_enabled().await;
    s.apply("gallery", gallery("1")).await;
    if !enabled {
        let refused = s
            .ssv("gallery", "Ready=False naming the flag", |svc| {
                ready_condition(svc)
                    .is_some_and(|(status, reason, _)| status == "False" && reason == "Unsupported")
            })
            .await;
        let (_, _, message) = ready_condition(&refused).unwrap();
        assert!(message.contains(CLAIM_FLAG), "{message}");
        assert!(
            message.contains("knative-serving/config-features"),
            "{message}"
        );
        // Nothing was made: no Service Knative would refuse, no claim for it.
        assert!(s.knative().get_opt("gallery").await.unwrap().is_none());
        s.claims_of("gallery", |v, c| v == 0 && c == 0).await;
        if !s.cluster.is_standin() {
            // A real cluster with claims off: what it calls for is checked; it goes.
            s.ssvs()
                .delete("gallery", &DeleteParams::default())
                .await
                .unwrap();
            wait_gone(&s, &s.ssvs(), "gallery", "the ServerlessService").await;
            return;
        }
        // The flag turned on; a change of the spec has Ferry look again at once (it would
        // within a minute anyway).
        s.set_flags(&json!({CLAIM_FLAG: "enabled"})).await;
        s.apply("gallery", gallery("2")).await;
    }

    // The pair, then the Service mounting the claim read-only (no write flag needed).
    let (volumes, claims) = s.claims_of("gallery", |v, c| v == 1 && c == 1).await;
    let pv = serde_json::to_value(&volumes[0]).unwrap();
    let name = claims[0].name_any();
    assert_eq!(
        pv["spec"]["nfs"],
        json!({"server": "10.0.12.4", "path": "/exports/photos", "readOnly": true}),
        "{pv:#}"
    );
    assert_eq!(pv["spec"]["claimRef"]["name"], name.as_str(), "{pv:#}");
    let service = s
        .knative_service("gallery", "the Knative Service", |_| true)
        .await;
    let revision = &service["spec"]["template"]["spec"];
    assert_eq!(
        revision["volumes"],
        json!([
            {"name": "config", "secret": {"secretName": "gallery-config"}},
            {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "32Mi"}},
            {"name": "photos", "persistentVolumeClaim": {"claimName": name, "readOnly": true}},
        ]),
        "{revision:#}"
    );
    assert_eq!(
        revision["containers"][0]["volumeMounts"],
        json!([
            {"name": "config", "mountPath": "/etc/gallery", "readOnly": true},
            {"name": "cache", "mountPath": "/var/cache/gallery"},
            {"name": "photos", "mountPath": "/srv/photos", "readOnly": true},
        ]),
        "{revision:#}"
    );
    // Where the test plays Knative the revision becomes ready; a real cluster's pods would
    // wait for an NFS server at that address, so only the objects are checked there.
    if s.cluster.plays_knative() {
        s.ssv("gallery", "Ready", |svc| {
            ready_condition(svc).is_some_and(|(status, _, _)| status == "True")
        })
        .await;
    }
    let svc = s.ssvs().get("gallery").await.unwrap();
    assert!(svc.finalizers().iter().any(|f| f == FINALIZER), "{svc:?}");

    // Deleting the service deletes the pair with the Knative Service.
    s.ssvs()
        .delete("gallery", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&s, &s.ssvs(), "gallery", "the ServerlessService").await;
    s.claims_of("gallery", |v, c| v == 0 && c == 0).await;
}
