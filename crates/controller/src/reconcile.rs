//! One reconcile: validate, connect, observe, create or update or nothing, compute status,
//! write it only when it changed, requeue. Deletion: release or delete at the provider, then
//! drop the finalizer. Only the provider calls, the finalizer patches, the status write and
//! Events do I/O; what to do and what to write are pure functions of what was found.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferry_api::{API_VERSION, DeletionPolicy, ServerlessService, ServerlessServiceStatus};
use ferry_core::desired::{Desired, ObjectRef};
use ferry_core::status::{self, Outcome, Outputs, Readiness};
use ferry_provider::backend::{Connectors, Registry};
use ferry_provider::{Deletion, ExternalClient, Observation, ProviderError, Started};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{Instrument, debug, info_span, warn};

use crate::events::Events;
use crate::metrics::{CallLabels, Metrics, ReconcileLabels};
use crate::prices::Pricing;
use crate::shutdown::InFlight;

/// The finalizer that keeps an object until its provider resources are gone.
pub const FINALIZER: &str = "ferry.dev/cleanup";
/// The field manager of Ferry's status writes.
pub const MANAGER: &str = "ferry";

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
    /// The operator's own namespace, the only one whose Secrets hold cloud credentials.
    pub operator_namespace: String,
    /// A ConfigMap in the operator's namespace whose key `prices.yaml` overlays Ferry's price
    /// table for `status.estimatedMonthlyCost`.
    pub prices_config_map: Option<String>,
    /// How long a shutdown waits for reconciles in flight before it cancels them.
    pub shutdown_grace: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(600),
            progress_poll: Duration::from_secs(5),
            concurrency: 32,
            backoff: (Duration::from_secs(1), Duration::from_secs(300)),
            operator_namespace: "ferry-system".into(),
            prices_config_map: None,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What a reconcile can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the Kubernetes API failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The provider failed in a way worth retrying.
    #[error("provider: {0}")]
    Provider(ProviderError),
    /// The provider is still deleting; the finalizer stays.
    #[error("waiting for the provider to finish deleting")]
    DeletionInProgress,
}

impl Error {
    /// A fixed label for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::Provider(e) => e.category(),
            Error::DeletionInProgress => "deleting",
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
    /// Ready change) again.
    written: Mutex<HashMap<String, u64>>,
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

    fn key(svc: &ServerlessService) -> (String, String) {
        (svc.namespace().unwrap_or_default(), svc.name_any())
    }

    /// Counts a failure of `svc` and returns how many there have been in a row.
    fn note_failure(&self, svc: &ServerlessService) -> u32 {
        let mut failures = lock(&self.failures);
        let n = failures.entry(Self::key(svc)).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    fn forget_failures(&self, svc: &ServerlessService) {
        lock(&self.failures).remove(&Self::key(svc));
    }

    /// Forgets what was remembered about `svc`, which is gone.
    pub fn forget(&self, svc: &ServerlessService) {
        self.forget_failures(svc);
        self.note_written(svc, None);
    }

    /// Forgets what was remembered about every object but `objects` (the ones that exist).
    pub fn forget_all_but(&self, objects: &[Arc<ServerlessService>]) {
        let uids: std::collections::HashSet<&str> = objects
            .iter()
            .filter_map(|s| s.metadata.uid.as_deref())
            .collect();
        let keys: std::collections::HashSet<(String, String)> =
            objects.iter().map(|s| Self::key(s)).collect();
        lock(&self.written).retain(|uid, _| uids.contains(uid.as_str()));
        lock(&self.failures).retain(|key, _| keys.contains(key));
    }

    /// Whether `fingerprint` is what Ferry last wrote into `svc`'s status.
    fn wrote(&self, svc: &ServerlessService, fingerprint: u64) -> bool {
        let uid = svc.metadata.uid.as_deref().unwrap_or_default();
        lock(&self.written).get(uid) == Some(&fingerprint)
    }

    fn note_written(&self, svc: &ServerlessService, fingerprint: Option<u64>) {
        let uid = svc.metadata.uid.clone().unwrap_or_default();
        let mut written = lock(&self.written);
        match fingerprint {
            Some(f) => written.insert(uid, f),
            None => written.remove(&uid),
        };
    }
}

/// A poisoned lock only means another reconcile panicked holding it; the maps stay usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A status's fingerprint, leaving out the conditions' transition times: a status computed
/// from a stale copy gets new times for the same conditions.
fn status_fingerprint(status: &ServerlessServiceStatus) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut value = serde_json::to_value(status).unwrap_or_default();
    if let Some(conditions) = value.get_mut("conditions").and_then(|c| c.as_array_mut()) {
        for c in conditions.iter_mut().filter_map(|c| c.as_object_mut()) {
            c.remove("lastTransitionTime");
        }
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

/// Reconciles one object (the kube-runtime reconciler).
pub async fn reconcile(svc: Arc<ServerlessService>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!(
        "reconcile",
        namespace = svc.namespace().unwrap_or_default(),
        name = svc.name_any(),
        generation = svc.metadata.generation.unwrap_or_default(),
        provider = svc.spec.provider.as_str(),
    );
    let started = Instant::now();
    let in_flight = ctx.in_flight.enter();
    let result = reconcile_object(&svc, &ctx).instrument(span).await;
    drop(in_flight);
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    let label = result.as_ref().map_or_else(Error::category, |_| "ok");
    ctx.metrics
        .reconciles
        .get_or_create(&ReconcileLabels { result: label })
        .inc();
    result
}

/// How long to wait after an error (the kube-runtime error policy): exponential backoff per
/// object with jitter, or the provider's own hint when it throttles.
#[allow(clippy::needless_pass_by_value)] // kube-runtime's error-policy signature
pub fn error_policy(svc: Arc<ServerlessService>, error: &Error, ctx: Arc<Context>) -> Action {
    if let Error::Provider(ProviderError::Throttled {
        retry_after: Some(after),
        ..
    }) = error
    {
        return Action::requeue(*after);
    }
    let failures = ctx.note_failure(&svc);
    let delay = backoff(failures, ctx.settings.backoff, (ctx.jitter)());
    match error {
        Error::DeletionInProgress => debug!(?delay, "waiting for the provider to delete"),
        other => warn!(error = %other, ?delay, "reconcile failed; retrying"),
    }
    Action::requeue(delay)
}

/// `first x 2^(failures-1)` up to `max`, then spread by up to 20% either way (`unit` in 0..1)
/// so objects that failed together do not retry together.
pub fn backoff(failures: u32, (first, max): (Duration, Duration), unit: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let base = first.saturating_mul(1 << exponent).min(max);
    base.mul_f64(0.8 + 0.4 * unit.clamp(0.0, 1.0))
}

async fn reconcile_object(svc: &ServerlessService, ctx: &Context) -> Result<Action, Error> {
    let api: Api<ServerlessService> =
        Api::namespaced(ctx.client.clone(), &svc.namespace().unwrap_or_default());
    if svc.metadata.deletion_timestamp.is_some() {
        return cleanup(svc, &api, ctx).await;
    }
    let backend = ctx.backends.get(svc.spec.provider);
    if backend.needs_finalizer(&svc.spec) && !svc.finalizers().iter().any(|f| f == FINALIZER) {
        // The finalizer goes on before anything is created; its write brings the next
        // reconcile.
        add_finalizer(&api, svc).await?;
        return Ok(Action::await_change());
    }
    let step = sync(svc, ctx).await;
    write_status(&api, svc, &step.outcome, ctx).await?;
    if let Some(error) = step.error {
        return Err(error);
    }
    ctx.forget_failures(svc);
    Ok(step.action)
}

/// The result of bringing the provider to the desired state.
struct Step {
    outcome: Outcome,
    action: Action,
    error: Option<Error>,
}

impl Step {
    fn done(outcome: Outcome, action: Action) -> Self {
        Self {
            outcome,
            action,
            error: None,
        }
    }

    /// A failed provider call: terminal errors wait (for a change, or the recheck), the others
    /// go to the error policy.
    fn failed(error: ProviderError) -> Self {
        let outcome = Outcome::NotSynced {
            reason: error.reason(),
            message: error.to_string(),
            stalled: error.is_terminal(),
        };
        match error {
            ProviderError::Terminal { recheck, .. } => Self::done(
                outcome,
                recheck.map_or_else(Action::await_change, Action::requeue),
            ),
            other => Self {
                outcome,
                action: Action::await_change(),
                error: Some(Error::Provider(other)),
            },
        }
    }
}

async fn connect(svc: &ServerlessService, ctx: &Context) -> Result<Measured, ProviderError> {
    let provider = svc.spec.provider;
    let result = ctx.connectors.get(provider).connect(svc).await;
    count_call(&ctx.metrics, provider.as_str(), "connect", &result);
    Ok(Measured {
        inner: result?,
        backend: provider.as_str(),
        metrics: ctx.metrics.clone(),
    })
}

fn count_call<T>(
    metrics: &Metrics,
    backend: &'static str,
    operation: &'static str,
    result: &Result<T, ProviderError>,
) {
    let outcome = result
        .as_ref()
        .map_or_else(ProviderError::category, |_| "ok");
    metrics
        .provider_calls
        .get_or_create(&CallLabels {
            backend,
            operation,
            outcome,
        })
        .inc();
}

async fn sync(svc: &ServerlessService, ctx: &Context) -> Step {
    let valid = match ferry_core::validate(svc, ctx.backends.get(svc.spec.provider)) {
        Ok(valid) => valid,
        Err(invalid) => return Step::done(Outcome::Invalid(invalid), Action::await_change()),
    };
    for warning in &valid.warnings {
        debug!(field = %warning.field, "{}", warning.message);
    }
    let desired = &valid.desired;
    let backend = match connect(svc, ctx).await {
        Ok(b) => b,
        Err(e) => return Step::failed(e),
    };
    let settings = &ctx.settings;
    let progressing = |what: String, outputs: Outputs| {
        Step::done(
            Outcome::Observed {
                readiness: Readiness::Progressing(what),
                outputs,
            },
            Action::requeue(settings.progress_poll),
        )
    };
    match backend.observe(desired).await {
        Err(e) => Step::failed(e),
        Ok(Observation::Absent) => match backend.create(desired).await {
            Ok(started) => {
                publish(
                    ctx,
                    svc,
                    EventType::Normal,
                    "Created",
                    "Create",
                    &created_note(desired),
                )
                .await;
                progressing(
                    format!(
                        "{} is creating the service",
                        svc.spec.provider.display_name()
                    ),
                    Outputs {
                        operation: started.operation,
                        ..Outputs::default()
                    },
                )
            }
            Err(e) => Step::failed(e),
        },
        Ok(Observation::Present {
            up_to_date: false,
            outputs,
            ..
        }) => match backend.update(desired).await {
            Ok(started) => {
                let note = format!(
                    "Updated the {} service to generation {}",
                    svc.spec.provider.display_name(),
                    generation(svc)
                );
                publish(ctx, svc, EventType::Normal, "Updated", "Update", &note).await;
                progressing(
                    format!(
                        "{} is rolling out generation {}",
                        svc.spec.provider.display_name(),
                        generation(svc)
                    ),
                    Outputs {
                        operation: started.operation,
                        ..outputs
                    },
                )
            }
            Err(e) => Step::failed(e),
        },
        Ok(Observation::Present {
            up_to_date: true,
            readiness,
            outputs,
        }) => {
            let action = match readiness {
                Readiness::Progressing(_) => Action::requeue(settings.progress_poll),
                Readiness::Ready | Readiness::Failed { .. } => {
                    Action::requeue(settings.resync.mul_f64(0.9 + 0.2 * (ctx.jitter)()))
                }
            };
            Step::done(Outcome::Observed { readiness, outputs }, action)
        }
    }
}

fn generation(svc: &ServerlessService) -> i64 {
    svc.metadata.generation.unwrap_or_default()
}

fn created_note(desired: &Desired) -> String {
    format!(
        "Created the {} service for generation {}",
        desired.provider.display_name(),
        desired.object.generation.unwrap_or_default()
    )
}

fn object_ref(svc: &ServerlessService) -> ObjectRef {
    ObjectRef {
        namespace: svc.namespace().unwrap_or_default(),
        name: svc.name_any(),
        uid: svc.uid(),
        generation: svc.metadata.generation,
    }
}

async fn cleanup(
    svc: &ServerlessService,
    api: &Api<ServerlessService>,
    ctx: &Context,
) -> Result<Action, Error> {
    if !svc.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let object = object_ref(svc);
    let orphan = svc.spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Orphan;
    let message = if orphan {
        format!(
            "leaving the {} service in place (deletionPolicy: Orphan)",
            svc.spec.provider.display_name()
        )
    } else {
        format!(
            "waiting for {} to delete the service",
            svc.spec.provider.display_name()
        )
    };
    write_status(api, svc, &Outcome::Deleting(message), ctx).await?;
    let backend = connect(svc, ctx).await.map_err(Error::Provider)?;
    if orphan {
        backend.release(&object).await.map_err(Error::Provider)?;
    } else if backend.delete(&object).await.map_err(Error::Provider)? == Deletion::InProgress {
        return Err(Error::DeletionInProgress);
    }
    remove_finalizer(api, svc).await?;
    ctx.forget_failures(svc);
    ctx.note_written(svc, None);
    Ok(Action::await_change())
}

/// Adds the finalizer with a JSON patch that fails if the finalizers changed meanwhile, as
/// kube-runtime's `finalizer()` does.
async fn add_finalizer(api: &Api<ServerlessService>, svc: &ServerlessService) -> Result<(), Error> {
    let current = svc.metadata.finalizers.clone();
    let patch = match &current {
        None => json_patch(json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])),
        Some(list) => json_patch(json!([
            {"op": "test", "path": "/metadata/finalizers", "value": list},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ])),
    }?;
    api.patch(
        &svc.name_any(),
        &PatchParams::default(),
        &Patch::Json::<()>(patch),
    )
    .await?;
    Ok(())
}

async fn remove_finalizer(
    api: &Api<ServerlessService>,
    svc: &ServerlessService,
) -> Result<(), Error> {
    let list = svc.finalizers();
    let Some(index) = list.iter().position(|f| f == FINALIZER) else {
        return Ok(());
    };
    let patch = json_patch(json!([
        {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": FINALIZER},
        {"op": "remove", "path": format!("/metadata/finalizers/{index}")},
    ]))?;
    api.patch(
        &svc.name_any(),
        &PatchParams::default(),
        &Patch::Json::<()>(patch),
    )
    .await?;
    Ok(())
}

/// A JSON patch from a JSON literal.
fn json_patch(ops: serde_json::Value) -> Result<json_patch::Patch, Error> {
    serde_json::from_value(ops).map_err(|e| Error::Kube(kube::Error::SerdeError(e)))
}

/// Writes the status for `outcome` with server-side apply, only when it differs from what the
/// object already says, and publishes an Event when `Ready` changes.
async fn write_status(
    api: &Api<ServerlessService>,
    svc: &ServerlessService,
    outcome: &Outcome,
    ctx: &Context,
) -> Result<(), Error> {
    let mut new = status::compute(
        svc.status.as_ref(),
        svc.spec.provider,
        svc.metadata.generation,
        outcome,
        &(ctx.now)(),
    );
    // A pure function of the spec and the prices: unchanged, it adds nothing to write.
    new.estimated_monthly_cost = match outcome {
        Outcome::Invalid(_) => None,
        _ => ctx.pricing.status_estimate(svc),
    };
    if svc.status.as_ref() == Some(&new) {
        return Ok(());
    }
    let fingerprint = status_fingerprint(&new);
    if ctx.wrote(svc, fingerprint) {
        return Ok(());
    }
    let body = json!({"apiVersion": API_VERSION, "kind": "ServerlessService", "status": new});
    api.patch_status(
        &svc.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    ctx.metrics.status_writes.inc();
    ctx.note_written(svc, Some(fingerprint));
    announce_ready_change(ctx, svc, svc.status.as_ref(), &new).await;
    Ok(())
}

async fn announce_ready_change(
    ctx: &Context,
    svc: &ServerlessService,
    old: Option<&ServerlessServiceStatus>,
    new: &ServerlessServiceStatus,
) {
    let before = status::ready(old).map(|c| (c.status.clone(), c.reason.clone()));
    let Some(after) = status::ready(Some(new)) else {
        return;
    };
    if before.as_ref().map(|(s, r)| (s.as_str(), r.as_str()))
        == Some((after.status.as_str(), after.reason.as_str()))
    {
        return;
    }
    let (kind, note) = match after.status.as_str() {
        "True" => (
            EventType::Normal,
            match &new.url {
                Some(url) => format!("Serving at {url}"),
                None => "Serving".to_owned(),
            },
        ),
        "False" => (EventType::Warning, after.message.clone()),
        _ => return,
    };
    let reason = after.reason.clone();
    publish(ctx, svc, kind, &reason, "Reconcile", &note).await;
}

/// Publishes an Event about `svc`; a failure is logged, never fatal.
async fn publish(
    ctx: &Context,
    svc: &ServerlessService,
    type_: EventType,
    reason: &str,
    action: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.chars().take(1024).collect()),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.events.publish(&event, &svc.object_ref(&())).await {
        warn!(error = %e, "could not publish an event");
    }
}

/// A backend with its calls counted by operation and outcome.
struct Measured {
    inner: Arc<dyn ExternalClient>,
    backend: &'static str,
    metrics: Arc<Metrics>,
}

impl Measured {
    fn count<T>(&self, operation: &'static str, result: &Result<T, ProviderError>) {
        count_call(&self.metrics, self.backend, operation, result);
    }
}

#[async_trait]
impl ExternalClient for Measured {
    async fn observe(&self, want: &Desired) -> Result<Observation, ProviderError> {
        let r = self.inner.observe(want).await;
        self.count("observe", &r);
        r
    }

    async fn create(&self, want: &Desired) -> Result<Started, ProviderError> {
        let r = self.inner.create(want).await;
        self.count("create", &r);
        r
    }

    async fn update(&self, want: &Desired) -> Result<Started, ProviderError> {
        let r = self.inner.update(want).await;
        self.count("update", &r);
        r
    }

    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let r = self.inner.delete(object).await;
        self.count("delete", &r);
        r
    }

    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let r = self.inner.release(object).await;
        self.count("release", &r);
        r
    }
}
