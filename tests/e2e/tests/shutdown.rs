//! SIGTERM at any moment of the operator's first seconds: before it leads, while its watches
//! list, during its first reconciles, and while reconciles wait on a cloud that never answers.
//! Each time the real `ferry controller` must exit cleanly within its shutdown bound and leave
//! the leader Lease free, so the next replica leads at once.
//!
//! `FERRY_E2E_SHUTDOWN_ROUNDS` sets the number of rounds (CI runs a few; run 100 or more by
//! hand, as docs/operator.md says).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use e2e::{Cluster, Ferry, MANAGER, Operator, ProviderConfigCleanup, TestNamespace};
use ferry_api::ServerlessService;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

/// The operator's `--shutdown-grace`: reconciles stuck on the silent cloud are cancelled after it.
const GRACE: Duration = Duration::from_secs(1);
/// `ferry_controller::shutdown::bound(GRACE)`: the grace, 3 s to release the Lease, 2 s margin.
/// A run that takes longer is a failure even though the operator would exit by then.
const BOUND: Duration = Duration::from_secs(6);
const LEASE: &str = "ferry-shutdown";
/// The identity of a replica that is not there, holding the Lease.
const ANOTHER: &str = "another-replica";

/// When a round sends SIGTERM.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// A random time after the start: connecting, waiting to lead, or later.
    AfterStart(Duration),
    /// A random time after this line appears in the log.
    AfterLog(&'static str, Duration),
    /// While another replica holds the Lease and this one waits to lead.
    WhileAnotherLeads(Duration),
}

fn moment(round: usize, random: u64) -> Moment {
    let millis = |max: u64| Duration::from_millis(random % max);
    match round % 5 {
        // Mostly connecting to the API server and taking the Lease.
        0 => Moment::AfterStart(millis(400)),
        // The reproduction in the issue: the watches have just started listing.
        1 => Moment::AfterLog("watching", millis(100)),
        2 => Moment::AfterLog("leading", millis(50)),
        // The first reconciles, some of them waiting on the silent cloud.
        3 => Moment::AfterLog("watching", Duration::from_millis(100) + millis(900)),
        _ => Moment::WhileAnotherLeads(millis(300)),
    }
}

fn rounds() -> usize {
    std::env::var("FERRY_E2E_SHUTDOWN_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8)
}

/// A TCP endpoint that accepts connections and never answers: a cloud whose every call hangs.
async fn silent_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

async fn apply(client: &Client, namespace: &str, name: &str, spec: serde_json::Value) {
    let object = json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": name},
        "spec": spec,
    });
    Api::<ServerlessService>::namespaced(client.clone(), namespace)
        .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
        .await
        .unwrap();
}

/// Another replica's Lease, fresh: whoever starts now waits for it.
async fn lease_held_by_another(leases: &Api<Lease>) {
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LEASE},
        "spec": {
            "holderIdentity": ANOTHER,
            "leaseDurationSeconds": 60,
            "acquireTime": now,
            "renewTime": now,
        },
    });
    leases
        .patch(
            LEASE,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&lease),
        )
        .await
        .unwrap();
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt(LEASE)
        .await
        .unwrap()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_at_any_moment_of_the_start_exits_within_the_bound_and_frees_the_lease() {
    let cluster = Cluster::shared().unwrap();
    cluster.install_crds().await.unwrap();
    let namespace = TestNamespace::create(cluster, "shutdown").await.unwrap();
    let ns = namespace.name();
    let client = cluster.client().await.unwrap();

    // Knative objects reconcile quickly; Fargate objects pointed at the silent cloud hang in
    // their first call until the shutdown cancels them.
    let config = format!("silent-{ns}");
    let _cleanup = ProviderConfigCleanup::new(cluster, &config);
    e2e::put_aws_secret(&client, ns, "AKIDSHUTDOWN")
        .await
        .unwrap();
    let silent = e2e::fargate_provider_config(&config, "silent", &silent_endpoint().await, ns);
    e2e::put_provider_config(&client, silent, &json!({"allowedNamespaces": [ns]}))
        .await
        .unwrap();
    let container = |image: &str| {
        json!([{
            "name": "app", "image": image, "port": 8080,
            "resources": {"cpu": "250m", "memory": "512Mi"},
        }])
    };
    for i in 0..20 {
        let spec = json!({"provider": "knative", "containers": container("ghcr.io/acme/hello:1")});
        apply(&client, ns, &format!("knative-{i}"), spec).await;
    }
    for i in 0..5 {
        let spec = json!({
            "provider": "fargate",
            "providerConfigRef": {"name": config},
            "containers": container("ghcr.io/acme/hello:1"),
            "scaling": {"minInstances": 1, "maxInstances": 2, "metric": "cpu"},
        });
        apply(&client, ns, &format!("fargate-{i}"), spec).await;
    }

    let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
    let grace = format!("{}s", GRACE.as_secs());
    let mut failures = Vec::new();
    let mut led = 0;
    for round in 0..rounds() {
        let identity = format!("ferry-{round}");
        let args = [
            "controller",
            "--namespace",
            ns,
            "--lease-namespace",
            ns,
            "--lease-name",
            LEASE,
            "--identity",
            &identity,
            "--metrics-address",
            "127.0.0.1:0",
            "--shutdown-grace",
            &grace,
        ];
        let when = moment(round, uuid::Uuid::new_v4().as_u64_pair().0);
        if let Moment::WhileAnotherLeads(_) = when {
            lease_held_by_another(&leases).await;
        }
        let mut operator = Ferry::spawn(cluster, &args).unwrap();
        match when {
            Moment::WhileAnotherLeads(delay) => {
                wait_for_log(&operator, "waiting to lead").await;
                tokio::time::sleep(delay).await;
            }
            Moment::AfterStart(delay) => tokio::time::sleep(delay).await,
            Moment::AfterLog(line, delay) => {
                wait_for_log(&operator, line).await;
                tokio::time::sleep(delay).await;
            }
        }
        let started = tokio::time::Instant::now();
        let exit = operator.terminate_status(BOUND).await;
        let took = started.elapsed();
        let leading = operator
            .logs()
            .lines()
            .any(|l| l.ends_with(" leading") || l.contains(" leading "));
        led += usize::from(leading);
        let still_held = holder(&leases).await;
        // A signal that arrives before the process could catch it (it has logged nothing yet)
        // ends it as SIGTERM's default does, which is fine: it held nothing.
        let not_started = operator.logs().trim().is_empty();
        let failure = match exit {
            Err(_) => Some(format!("still running {BOUND:?} after SIGTERM")),
            Ok(status) if status.signal() == Some(15) && not_started => None,
            Ok(status) if !status.success() => Some(format!("exited with {status}")),
            Ok(_) if still_held.as_deref() == Some(identity.as_str()) => {
                Some("exited but kept the Lease".to_owned())
            }
            Ok(_) if matches!(when, Moment::WhileAnotherLeads(_)) => {
                // Waiting, it must neither lead nor touch the other replica's Lease.
                (leading || still_held.as_deref() != Some(ANOTHER)).then(|| {
                    format!("led or freed another replica's Lease (holder {still_held:?})")
                })
            }
            Ok(_) => None,
        };
        if matches!(when, Moment::WhileAnotherLeads(_)) {
            leases
                .delete(LEASE, &DeleteParams::default())
                .await
                .unwrap();
        }
        println!("round {round}: SIGTERM {when:?}, led: {leading}, exit after {took:?}");
        if let Some(failure) = failure {
            failures.push(format!(
                "round {round} ({when:?}): {failure}\n--- ferry log ---\n{}",
                operator.logs()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        led > 0,
        "no round reached leadership: the test tried nothing"
    );
}

/// Waits until the operator logged `line` (at most 30 s: a start that slow fails the round).
async fn wait_for_log(operator: &Operator, line: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !operator.logs().contains(line) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
