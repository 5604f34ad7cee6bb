//! The cloud providers' side of the benchmark (`--provider
//! fargate|cloudRun|containerApps|containerInstances`). Starts the stand-in of the provider's
//! API (moto, patched so rollouts progress, behind moto-standin's counting proxy; the fake
//! Cloud Run Admin API v2; or the fake Azure Resource Manager, which counts its calls) and what
//! the operator needs to reach it: an ECS cluster, AWS credentials in a Secret of the
//! operator's namespace, a ProviderConfig naming the endpoint. A task then follows the calls the stand-in receives as they come: it
//! keeps them for the per-phase counts, and times each pending change to the first backend
//! write carrying its mark, by the stand-in's own clock of arrival.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use aws_sdk_ecs::error::DisplayErrorContext;
use azure_fake::AzureFake;
use cloudrun_fake::CloudRunFake;
use ferry_api::Provider;
use kube::Client;
use moto_standin::{Moto, Proxy};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::stats::ratio;
use crate::{Error, MARK, NAMESPACE, Pending};

/// The ProviderConfig the benchmark's objects of `provider` name (one per cloud: a move
/// between clouds needs both).
pub(crate) fn provider_config(provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::Knative | Provider::Kubernetes => None,
        Provider::Fargate => Some("ferry-bench-aws"),
        Provider::CloudRun => Some("ferry-bench-gcp"),
        // One each: a move between the two Azure providers starts a fake for each.
        Provider::ContainerApps => Some("ferry-bench-aca"),
        Provider::ContainerInstances => Some("ferry-bench-aci"),
    }
}

/// The operation that deletes the provider's service (a move counts them to find old sides
/// left behind).
pub(crate) fn delete_operation(provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::Knative | Provider::Kubernetes => None,
        // ECS and the Cloud Run fake both name it so.
        Provider::Fargate | Provider::CloudRun => Some("DeleteService"),
        Provider::ContainerApps => Some("ContainerApps_Delete"),
        Provider::ContainerInstances => Some("ContainerGroups_Delete"),
    }
}

/// The ECS cluster (Fargate), Google project (Cloud Run) or Azure subscription (by the fake's
/// name for it, see [`AzureFake::subscription`]) the services go to.
const ACCOUNT: &str = "ferry-bench";
/// The access key the operator's AWS calls are signed with.
const ACCESS_KEY: &str = "AKIDFERRYBENCH";
/// How often new calls are fetched. Latencies come from the stand-in's timestamps, so this
/// only paces the one-at-a-time changes (and costs the Python fake one small request).
const POLL: Duration = Duration::from_millis(20);

/// A call the stand-in received (from the operator: the benchmark's own calls bypass it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Call {
    /// `DescribeServices`, `UpdateService`, ...
    pub(crate) operation: String,
    /// Whether it may change something (the stand-in's own classification).
    pub(crate) write: bool,
    /// When the stand-in received it.
    pub(crate) at: SystemTime,
    /// The change mark a write carries (see [`mark_in`]).
    pub(crate) mark: Option<String>,
}

impl Call {
    fn new(operation: String, write: bool, at: SystemTime, body: &Value) -> Self {
        let mark = if write { mark_in(body) } else { None };
        Self {
            operation,
            write,
            at,
            mark,
        }
    }
}

/// A running stand-in, the calls followed so far, and the task that follows them (stopped
/// on drop; the stand-in stops with it).
pub(crate) struct Cloud {
    stand_in: Arc<StandIn>,
    calls: Arc<Mutex<Vec<Call>>>,
    follower: JoinHandle<()>,
}

enum StandIn {
    /// moto, kept for its lifetime (dropping it stops the server), and the proxy in front of
    /// it that the operator talks to.
    Fargate {
        _moto: Moto,
        proxy: Proxy,
    },
    CloudRun(CloudRunFake),
    /// The fake Azure Resource Manager, for either Azure provider.
    Azure(AzureFake),
}

impl Cloud {
    /// Starts the stand-in of `provider`, points the operator at it (through `admin`) and
    /// follows its calls: a write carrying the mark of a change in `pending` ends it, and its
    /// latency goes to `latencies`.
    pub(crate) async fn start(
        provider: Provider,
        admin: &Client,
        pending: Pending,
        latencies: mpsc::UnboundedSender<Duration>,
    ) -> Result<Self, Error> {
        let stand_in = Arc::new(match provider {
            Provider::Fargate => StandIn::fargate(admin).await?,
            Provider::CloudRun => StandIn::cloud_run(admin).await?,
            Provider::ContainerApps | Provider::ContainerInstances => {
                StandIn::azure(provider, admin).await?
            }
            Provider::Knative | Provider::Kubernetes => {
                return Err(Error::Other(format!("{provider} has no cloud stand-in")));
            }
        });
        let calls = Arc::default();
        let follower = tokio::spawn(follow(
            Arc::clone(&stand_in),
            Arc::clone(&calls),
            pending,
            latencies,
        ));
        Ok(Self {
            stand_in,
            calls,
            follower,
        })
    }

    /// How many writes it has seen so far (to tell when the operator stopped writing).
    pub(crate) fn writes(&self) -> usize {
        lock(&self.calls).iter().filter(|c| c.write).count()
    }

    /// The calls of the phase `[from, to)` and what they make per object, for `n` objects.
    pub(crate) fn phase(&self, (from, to): (SystemTime, SystemTime), n: u64) -> CloudPhase {
        CloudPhase::of(count(&lock(&self.calls), from, to), n)
    }

    /// The figures of the phases `converging` and `idle` (each `[from, to)`) for `n` objects.
    pub(crate) fn report(
        &self,
        converging: (SystemTime, SystemTime),
        idle: (SystemTime, SystemTime),
        n: u64,
    ) -> CloudReport {
        CloudReport {
            stand_in: self.stand_in.describe(),
            converging: self.phase(converging, n),
            idle: self.phase(idle, n),
        }
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl StandIn {
    async fn fargate(admin: &Client) -> Result<Self, Error> {
        let moto = Moto::start().await?;
        let proxy = Proxy::start(&moto.endpoint())?;
        // Straight to moto, so the proxy counts the operator's calls only.
        let ecs = aws_sdk_ecs::Client::new(&moto_standin::sdk_config(&moto.endpoint()).await);
        ecs.create_cluster()
            .cluster_name(ACCOUNT)
            .send()
            .await
            .map_err(|e| {
                Error::Other(format!("CreateCluster on moto: {}", DisplayErrorContext(e)))
            })?;
        e2e::put_aws_secret(admin, NAMESPACE, ACCESS_KEY).await?;
        let name = provider_config(Provider::Fargate).unwrap_or_default();
        let config = e2e::fargate_provider_config(name, ACCOUNT, &proxy.endpoint(), NAMESPACE);
        e2e::put_provider_config(admin, config, &allowed()).await?;
        Ok(Self::Fargate { _moto: moto, proxy })
    }

    async fn cloud_run(admin: &Client) -> Result<Self, Error> {
        let fake = CloudRunFake::start().await?;
        let name = provider_config(Provider::CloudRun).unwrap_or_default();
        let config = e2e::cloud_run_provider_config(name, ACCOUNT, &fake.endpoint());
        e2e::put_provider_config(admin, config, &allowed()).await?;
        Ok(Self::CloudRun(fake))
    }

    async fn azure(provider: Provider, admin: &Client) -> Result<Self, Error> {
        let fake = AzureFake::start().await?;
        let name = provider_config(provider).unwrap_or_default();
        let subscription = fake.subscription(ACCOUNT);
        let config = e2e::azure_provider_config(name, subscription.id(), &fake.endpoint());
        e2e::put_provider_config(admin, config, &allowed()).await?;
        Ok(Self::Azure(fake))
    }

    fn describe(&self) -> &'static str {
        match self {
            Self::Fargate { .. } => "moto 5.2.5 (patched, tests/moto) behind its counting proxy",
            Self::CloudRun(_) => "cloudrun-fake (tests/cloudrun-fake), Cloud Run Admin API v2",
            Self::Azure(_) => {
                "azure-fake (tests/azure-fake), Azure Resource Manager: Container Apps \
                 2026-01-01, Container Instances 2026-05-01"
            }
        }
    }

    /// The calls received after the first `skip`.
    async fn calls_after(&self, skip: usize) -> Result<Vec<Call>, Error> {
        Ok(match self {
            Self::Fargate { proxy, .. } => proxy
                .requests_after(skip)
                .into_iter()
                .map(|r| Call::new(r.operation.clone(), r.is_write(), r.at, &r.body))
                .collect(),
            Self::CloudRun(fake) => fake
                .project(ACCOUNT)
                .requests_after(skip)
                .await?
                .into_iter()
                .map(|r| Call::new(r.method.clone(), r.is_write(), r.at, &r.body))
                .collect(),
            Self::Azure(fake) => fake
                .subscription(ACCOUNT)
                .requests_after(skip)
                .await?
                .into_iter()
                .map(|r| Call::new(r.operation.clone(), r.is_write(), r.at, &r.body))
                .collect(),
        })
    }
}

/// The ProviderConfig admits the benchmark's namespace only.
fn allowed() -> Value {
    json!({"allowedNamespaces": [NAMESPACE]})
}

/// Fetches the stand-in's new calls every [`POLL`], ends the pending changes they carry and
/// keeps them. Runs until aborted.
async fn follow(
    stand_in: Arc<StandIn>,
    calls: Arc<Mutex<Vec<Call>>>,
    pending: Pending,
    latencies: mpsc::UnboundedSender<Duration>,
) {
    let mut complained = false;
    loop {
        let seen = lock(&calls).len();
        match stand_in.calls_after(seen).await {
            Ok(fresh) => {
                let mut waiting = lock(&pending);
                for latency in fresh.iter().filter_map(|call| arrived(&mut waiting, call)) {
                    let _ = latencies.send(latency);
                }
                drop(waiting);
                lock(&calls).extend(fresh);
            }
            // Once: a stand-in that stopped answering would say so every 20 ms.
            Err(e) if !complained => {
                eprintln!("ferry-bench: reading the cloud stand-in's calls: {e}");
                complained = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(POLL).await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The latency of the change in `pending` (object name → (mark, when sent)) whose mark
/// `call` carries, which it ends; `None` when it carries no mark still pending.
fn arrived(pending: &mut HashMap<String, (String, SystemTime)>, call: &Call) -> Option<Duration> {
    let mark = call.mark.as_deref()?;
    let name = pending
        .iter()
        .find(|(_, (pending_mark, _))| pending_mark == mark)
        .map(|(name, _)| name.clone())?;
    let (_, sent) = pending.remove(&name)?;
    // Both clocks are this machine's wall clock; a write cannot precede its change.
    Some(call.at.duration_since(sent).unwrap_or_default())
}

/// The value of the environment variable [`MARK`] anywhere in a request body: ECS task
/// definitions (`containerDefinitions[].environment`), Cloud Run services and container apps
/// (`template.containers[].env`) and container groups
/// (`properties.containers[].properties.environmentVariables`) all list variables as
/// `{name, value}`.
pub(crate) fn mark_in(body: &Value) -> Option<String> {
    match body {
        Value::Object(fields) => {
            let value = fields.get("value").and_then(Value::as_str);
            match (fields.get("name").and_then(Value::as_str), value) {
                (Some(MARK), Some(value)) => Some(value.to_owned()),
                _ => fields.values().find_map(mark_in),
            }
        }
        Value::Array(items) => items.iter().find_map(mark_in),
        _ => None,
    }
}

/// Calls to a cloud in one phase, by kind and by operation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CloudCalls {
    pub(crate) reads: u64,
    pub(crate) writes: u64,
    pub(crate) reads_by_operation: BTreeMap<String, u64>,
    pub(crate) writes_by_operation: BTreeMap<String, u64>,
}

/// The calls among `calls` the stand-in received in `[from, to)`.
pub(crate) fn count(calls: &[Call], from: SystemTime, to: SystemTime) -> CloudCalls {
    let mut out = CloudCalls::default();
    for call in calls.iter().filter(|c| from <= c.at && c.at < to) {
        let (total, by_operation) = if call.write {
            (&mut out.writes, &mut out.writes_by_operation)
        } else {
            (&mut out.reads, &mut out.reads_by_operation)
        };
        *total += 1;
        *by_operation.entry(call.operation.clone()).or_default() += 1;
    }
    out
}

/// A phase's cloud calls and what they make per object.
#[derive(Debug, Serialize)]
pub(crate) struct CloudPhase {
    #[serde(flatten)]
    pub(crate) calls: CloudCalls,
    pub(crate) reads_per_object: f64,
    pub(crate) writes_per_object: f64,
}

impl CloudPhase {
    fn of(calls: CloudCalls, n: u64) -> Self {
        Self {
            reads_per_object: ratio(calls.reads, n),
            writes_per_object: ratio(calls.writes, n),
            calls,
        }
    }
}

/// The cloud figures of a run.
#[derive(Debug, Serialize)]
pub(crate) struct CloudReport {
    /// What answered the operator's cloud calls.
    pub(crate) stand_in: &'static str,
    pub(crate) converging: CloudPhase,
    pub(crate) idle: CloudPhase,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn call(operation: &str, write: bool, ms: u64, mark: Option<&str>) -> Call {
        Call {
            operation: operation.to_owned(),
            write,
            at: at(ms),
            mark: mark.map(str::to_owned),
        }
    }

    #[test]
    fn calls_are_counted_per_phase_by_kind_and_operation() {
        let calls = [
            call("DescribeServices", false, 5, None),
            call("RegisterTaskDefinition", true, 10, None),
            call("CreateService", true, 12, None),
            call("DescribeServices", false, 15, None),
            call("DescribeServices", false, 19, None),
            // The phase ends before 20.
            call("UpdateService", true, 20, None),
        ];
        assert_eq!(
            count(&calls, at(10), at(20)),
            CloudCalls {
                reads: 2,
                writes: 2,
                reads_by_operation: BTreeMap::from([("DescribeServices".to_owned(), 2)]),
                writes_by_operation: BTreeMap::from([
                    ("CreateService".to_owned(), 1),
                    ("RegisterTaskDefinition".to_owned(), 1),
                ]),
            }
        );
        assert_eq!(count(&calls, at(30), at(40)), CloudCalls::default());
        let phase = CloudPhase::of(count(&calls, at(0), at(100)), 4);
        assert!((phase.reads_per_object - 0.75).abs() < f64::EPSILON);
        assert!((phase.writes_per_object - 0.75).abs() < f64::EPSILON);
    }

    #[test]
    fn the_mark_is_found_in_ecs_and_cloud_run_bodies() {
        let ecs = json!({
            "family": "ferry-bench_svc-00001",
            "containerDefinitions": [{
                "name": "app",
                "environment": [
                    {"name": "OTHER", "value": "x"},
                    {"name": MARK, "value": "idle-3"},
                ],
            }],
        });
        assert_eq!(mark_in(&ecs).as_deref(), Some("idle-3"));
        let cloud_run = json!({
            "template": {"containers": [{"image": "i", "env": [{"name": MARK, "value": "load-7"}]}]},
        });
        assert_eq!(mark_in(&cloud_run).as_deref(), Some("load-7"));
        let container_group = json!({
            "location": "westeurope",
            "properties": {"containers": [{"name": "app", "properties": {
                "image": "i",
                "environmentVariables": [{"name": MARK, "value": "idle-9"}],
            }}]},
        });
        assert_eq!(mark_in(&container_group).as_deref(), Some("idle-9"));
        // A container named like the mark is not a variable.
        assert_eq!(mark_in(&json!({"containers": [{"name": MARK}]})), None);
        assert_eq!(mark_in(&json!({"service": "svc"})), None);
        assert_eq!(mark_in(&Value::Null), None);
        let write = Call::new("UpdateService".into(), true, at(0), &cloud_run);
        assert_eq!(write.mark.as_deref(), Some("load-7"));
        let read = Call::new("GetService".into(), false, at(0), &cloud_run);
        assert_eq!(read.mark, None, "only writes end a change");
    }

    #[test]
    fn a_write_carrying_a_pending_mark_ends_that_change() {
        let mut pending = HashMap::from([
            ("svc-00001".to_owned(), ("idle-1".to_owned(), at(1_000))),
            ("svc-00002".to_owned(), ("idle-2".to_owned(), at(2_000))),
        ]);
        let write = |ms, mark| call("RegisterTaskDefinition", true, ms, Some(mark));
        assert_eq!(
            arrived(&mut pending, &write(1_250, "idle-1")),
            Some(Duration::from_millis(250))
        );
        assert!(!pending.contains_key("svc-00001"));
        // Seen once: a later write carrying the same mark ends nothing.
        assert_eq!(arrived(&mut pending, &write(1_300, "idle-1")), None);
        // A mark no change is waiting for (an earlier change of the same object).
        assert_eq!(arrived(&mut pending, &write(2_100, "idle-0")), None);
        assert_eq!(
            arrived(&mut pending, &call("DescribeServices", false, 2_100, None)),
            None
        );
        assert_eq!(pending.len(), 1);
    }
}
