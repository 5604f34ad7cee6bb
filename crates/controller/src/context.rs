//! What every reconcile shares: the tunables, the API client, the backends and their
//! connectors, Events, metrics, prices, and what Ferry remembers per object (failures in a row
//! for the backoff, the status it last wrote).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_provider::backend::{Connectors, Registry};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::Reporter;
use kube::{Resource, ResourceExt};

use crate::events::Events;
use crate::metrics::Metrics;
use crate::prices::Pricing;
use crate::shutdown::InFlight;

/// Tunables of the reconcile loop.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often an object that is up to date is looked at again (its provider resources are
    /// observed on this interval, with jitter).
    pub resync: Duration,
    /// How often an object whose provider is still working is looked at.
    pub progress_poll: Duration,
    /// How many objects are reconciled at once.
    pub concurrency: u16,
    /// First and longest delay between retries after an error.
    pub backoff: (Duration, Duration),
    /// Watch only this namespace's ServerlessServices and ServerlessJobs (default: every
    /// namespace).
    pub namespace: Option<String>,
    /// The operator's own namespace, the only one whose Secrets hold cloud credentials.
    pub operator_namespace: String,
    /// A ConfigMap in the operator's namespace whose key `prices.yaml` overlays Ferry's price
    /// table for `status.estimatedMonthlyCost`.
    pub prices_config_map: Option<String>,
    /// How long a shutdown waits for reconciles in flight before it cancels them.
    pub shutdown_grace: Duration,
}

impl Settings {
    /// The finalizer that keeps a ProviderConfig while this operator's objects use it. An
    /// operator confined to one namespace sees only that namespace's users, so it holds a
    /// finalizer of its own (`in-use.ferry.dev/<namespace>`): it never lets go of a
    /// ProviderConfig that objects elsewhere, served by another Ferry, still use.
    pub fn in_use_finalizer(&self) -> String {
        match &self.namespace {
            None => crate::provider_configs::IN_USE_FINALIZER.to_owned(),
            Some(namespace) => format!("in-use.ferry.dev/{namespace}"),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(600),
            progress_poll: Duration::from_secs(5),
            concurrency: 32,
            backoff: (Duration::from_secs(1), Duration::from_secs(300)),
            namespace: None,
            operator_namespace: "ferry-system".into(),
            prices_config_map: None,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Everything a reconcile needs besides the object.
pub struct Context {
    /// The API server.
    pub client: kube::Client,
    /// Every provider's backend: its rules and what it needs from the cluster.
    pub backends: Registry,
    /// Every provider's connector.
    pub connectors: Connectors,
    /// Publishes Events.
    pub events: Events,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Tunables.
    pub settings: Settings,
    /// The clock, whole seconds (what the API server stores).
    pub now: fn() -> Time,
    /// A number in 0..1 that spreads requeues (random; fixed in tests).
    pub jitter: fn() -> f64,
    /// The prices behind `status.estimatedMonthlyCost`.
    pub pricing: Arc<Pricing>,
    /// Reconciles running now, which a shutdown waits for.
    pub in_flight: InFlight,
    failures: Mutex<HashMap<(String, String), u32>>,
    /// What Ferry last wrote into each object's status (by UID; a fingerprint without the
    /// conditions' transition times). Under load the watch cache lags Ferry's own writes; a
    /// reconcile that reads a stale status would write the same status (and announce the same
    /// Ready change) again. Keyed by kind and UID.
    written: Mutex<HashMap<(String, String), u64>>,
}

/// The wall clock, truncated to whole seconds as the API server stores times.
pub fn wall_clock() -> Time {
    Time(jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap_or_default())
}

impl Context {
    /// A context for the providers of `backends`, reconciled through `connectors`.
    pub fn new(
        client: kube::Client,
        backends: Registry,
        connectors: Connectors,
        reporter: Reporter,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        Self {
            events: Events::new(client.clone(), reporter),
            in_flight: InFlight::new(metrics.in_flight.clone()),
            pricing: Arc::new(Pricing::embedded(backends.catalog().clone())),
            client,
            backends,
            connectors,
            metrics,
            settings,
            now: wall_clock,
            jitter: rand::random::<f64>,
            failures: Mutex::default(),
            written: Mutex::default(),
        }
    }

    fn key<K: Resource<DynamicType = ()>>(object: &K) -> (String, String) {
        (
            format!(
                "{}/{}",
                K::kind(&()),
                object.namespace().unwrap_or_default()
            ),
            object.name_any(),
        )
    }

    /// Counts a failure of `svc` and returns how many there have been in a row.
    pub(crate) fn note_failure<K: Resource<DynamicType = ()>>(&self, svc: &K) -> u32 {
        let mut failures = lock(&self.failures);
        let n = failures.entry(Self::key(svc)).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// How many failures of `svc` there have been in a row.
    pub(crate) fn failures<K: Resource<DynamicType = ()>>(&self, svc: &K) -> u32 {
        lock(&self.failures)
            .get(&Self::key(svc))
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn forget_failures<K: Resource<DynamicType = ()>>(&self, svc: &K) {
        lock(&self.failures).remove(&Self::key(svc));
    }

    /// Forgets what was remembered about `svc`, which is gone.
    pub fn forget<K: Resource<DynamicType = ()>>(&self, svc: &K) {
        self.forget_failures(svc);
        self.note_written(svc, None);
    }

    /// Forgets what was remembered about every object of `objects`' kind but `objects` (the
    /// ones that exist).
    pub fn forget_all_but<K: Resource<DynamicType = ()>>(&self, objects: &[Arc<K>]) {
        let kind = K::kind(&()).into_owned();
        let written: std::collections::HashSet<(String, String)> = objects
            .iter()
            .map(|o| Self::written_key(o.as_ref()))
            .collect();
        let keys: std::collections::HashSet<(String, String)> =
            objects.iter().map(|o| Self::key(o.as_ref())).collect();
        lock(&self.written).retain(|key, _| key.0 != kind || written.contains(key));
        let prefix = format!("{kind}/");
        lock(&self.failures).retain(|key, _| !key.0.starts_with(&prefix) || keys.contains(key));
    }

    fn written_key<K: Resource<DynamicType = ()>>(object: &K) -> (String, String) {
        (
            K::kind(&()).into_owned(),
            object.meta().uid.clone().unwrap_or_default(),
        )
    }

    /// Whether `fingerprint` is what Ferry last wrote into `object`'s status.
    pub(crate) fn wrote<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        fingerprint: u64,
    ) -> bool {
        lock(&self.written).get(&Self::written_key(object)) == Some(&fingerprint)
    }

    pub(crate) fn note_written<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        fingerprint: Option<u64>,
    ) {
        let key = Self::written_key(object);
        let mut written = lock(&self.written);
        match fingerprint {
            Some(f) => written.insert(key, f),
            None => written.remove(&key),
        };
    }
}

/// A poisoned lock only means another reconcile panicked holding it; the maps stay usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
