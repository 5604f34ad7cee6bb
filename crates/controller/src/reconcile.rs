//! One reconcile, the I/O around [`crate::plan`]: validate, connect, observe, then create,
//! update or report as `plan::next` decides (during a move between providers, as
//! `migration::plan` says); write the status `plan::desired_status` gives, only when it
//! changed; requeue. Deletion: release or delete at the provider, then drop the
//! finalizer. Only the provider calls, the finalizer patches, the status write and Events do
//! I/O here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferry_api::{
    API_VERSION, DeletionPolicy, MigrationPhase, MigrationSettings, MigrationStatus,
    ProviderConfig, ProviderConfigReference, ServerlessService,
};
use ferry_core::desired::{Desired, ObjectRef};
use ferry_core::status::{Outcome, Outputs};
use ferry_provider::{Deletion, ExternalClient, Observation, ProviderError, Started};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{Instrument, debug, info_span, warn};

use crate::context::Context;
use crate::metrics::{CallLabels, Metrics, ReconcileLabels};
use crate::migration::{self, Facts, NewSide, Plan, Side, sides_of, wanted_side};
use crate::plan::{self, Next, StatusInput, Step};
use crate::provider_configs::{ConfigUser, add_in_use};

/// The finalizer that keeps an object until its provider resources are gone.
pub const FINALIZER: &str = "ferry.dev/cleanup";
/// The field manager of Ferry's status writes.
pub const MANAGER: &str = "ferry";

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

/// Reconciles one object (the kube-runtime reconciler).
pub async fn reconcile(svc: Arc<ServerlessService>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!(
        "reconcile",
        namespace = svc.namespace().unwrap_or_default(),
        name = svc.name_any(),
        generation = svc.metadata.generation.unwrap_or_default(),
        provider = svc.spec.provider.as_str(),
    );
    // Boxed: the reconcile is most of the future, which would otherwise be too large to move.
    measured(
        &ctx,
        Box::pin(reconcile_object(&svc, &ctx).instrument(span)),
    )
    .await
}

/// Runs one reconcile as a shutdown waits for it, counted and timed in the metrics.
pub(crate) async fn measured(
    ctx: &Context,
    reconcile: impl std::future::Future<Output = Result<Action, Error>>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let in_flight = ctx.in_flight.enter();
    let result = reconcile.await;
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
    retry_after(svc.as_ref(), error, &ctx)
}

/// [`error_policy`] for an object of any Ferry kind.
pub(crate) fn retry_after<K: kube::Resource<DynamicType = ()>>(
    object: &K,
    error: &Error,
    ctx: &Context,
) -> Action {
    // Counted even when the provider's hint sets the delay: how long a failure has lasted
    // decides when `deletionPolicy: Orphan` lets an object go anyway.
    let failures = ctx.note_failure(object);
    if let Error::Provider(ProviderError::Throttled {
        retry_after: Some(after),
        ..
    }) = error
    {
        return Action::requeue(*after);
    }
    let delay = plan::backoff(failures, ctx.settings.backoff, (ctx.jitter)());
    match error {
        Error::DeletionInProgress => debug!(?delay, "waiting for the provider to delete"),
        other => warn!(error = %other, ?delay, "reconcile failed; retrying"),
    }
    Action::requeue(delay)
}

async fn reconcile_object(svc: &ServerlessService, ctx: &Context) -> Result<Action, Error> {
    let api: Api<ServerlessService> =
        Api::namespaced(ctx.client.clone(), &svc.namespace().unwrap_or_default());
    if svc.metadata.deletion_timestamp.is_some() {
        return cleanup(svc, &api, ctx).await;
    }
    let now = (ctx.now)();
    let wanted = wanted_side(svc, &ctx.backends);
    let plan = migration::plan(&Facts {
        status: svc.status.as_ref(),
        wanted: &wanted,
        same_location: same_location(svc, ctx, &wanted),
        generation: svc.metadata.generation,
        drain: drain_of(svc),
        now: &now,
    });
    // The finalizer goes on before anything is created (its write brings the next reconcile)
    // when deleting any side this object has or wants needs Ferry.
    let needs_finalizer = sides_of(svc, &wanted)
        .iter()
        .any(|side| ctx.backends.get(side.provider).needs_finalizer(&svc.spec));
    if needs_finalizer && !svc.finalizers().iter().any(|f| f == FINALIZER) {
        hold_provider_configs(svc, ctx).await?;
        add_finalizer(&api, svc).await?;
        return Ok(Action::await_change());
    }
    let (step, migration) = match plan {
        Plan::Steady => (sync(svc, ctx).await, None),
        Plan::Create(migration) => create_side(svc, ctx, migration, &now).await,
        Plan::Drain {
            migration,
            remaining,
        } => drain(svc, ctx, migration, remaining).await,
        Plan::Remove { side, migration } => remove(svc, ctx, &side, migration, &wanted, &now).await,
        Plan::Hold(migration) => (
            Step::done(Outcome::Kept, Action::await_change()),
            Some(migration),
        ),
    };
    write_status(&api, svc, &step.outcome, migration.as_ref(), &wanted, ctx).await?;
    if let Some(error) = step.error {
        return Err(error);
    }
    ctx.forget_failures(svc);
    Ok(step.action)
}

/// Whether the serving side's ProviderConfig and the wanted one name the same account and
/// region, so that switching between them is a rename, not a move.
fn same_location(svc: &ServerlessService, ctx: &Context, wanted: &Side) -> bool {
    let Some(serving) = Side::serving(svc.status.as_ref()) else {
        return true;
    };
    let (Some(old), Some(new)) = (&serving.config, &wanted.config) else {
        return true;
    };
    if serving.provider != wanted.provider {
        return false;
    }
    let rules = ctx.backends.get(wanted.provider);
    let location = |name: &str| {
        ctx.pricing
            .provider_config(name)
            .and_then(|c| rules.location(&c.spec))
    };
    match (location(old), location(new)) {
        (Some(a), Some(b)) => a == b,
        // Without both ProviderConfigs Ferry cannot tell; moving would risk deleting what the
        // new name still points at, so it does not move.
        _ => true,
    }
}

fn drain_of(svc: &ServerlessService) -> Duration {
    let seconds = svc
        .spec
        .migration
        .as_ref()
        .and_then(|m| m.drain_seconds)
        .unwrap_or(MigrationSettings::DEFAULT_DRAIN_SECONDS);
    Duration::from_secs(u64::try_from(seconds).unwrap_or_default())
}

/// Creating: reconciles the wanted side; switches to it once Ready, or rolls back if it failed.
async fn create_side(
    svc: &ServerlessService,
    ctx: &Context,
    migration: MigrationStatus,
    now: &Time,
) -> (Step, Option<MigrationStatus>) {
    let (from, to) = (
        migration::describe(&Side::from_of(&migration)),
        migration::describe(&Side::to_of(&migration)),
    );
    if svc.status.as_ref().and_then(|s| s.migration.as_ref()) != Some(&migration) {
        let note = format!("Moving from {from} to {to}: {to} is created beside it");
        publish(ctx, svc, EventType::Normal, "Migrating", "Migrate", &note).await;
    }
    let mut step = sync(svc, ctx).await;
    let after = migration::after_creating(migration, &NewSide::of(&step.outcome), now);
    match after.phase {
        MigrationPhase::Draining => {
            let note = format!(
                "{to} is Ready and status.url names it; {from} keeps serving {} s, then goes",
                drain_of(svc).as_secs()
            );
            publish(ctx, svc, EventType::Normal, "Switched", "Migrate", &note).await;
            step.action = Action::requeue(drain_of(svc).min(ctx.settings.progress_poll));
        }
        MigrationPhase::RollingBack => {
            let why = after.message.clone().unwrap_or_default();
            let note = format!("{to} failed ({why}): removing it; {from} keeps serving");
            publish(
                ctx,
                svc,
                EventType::Warning,
                "RollingBack",
                "Migrate",
                &note,
            )
            .await;
            step = Step::done(step.outcome, Action::requeue(Duration::ZERO));
        }
        _ => {}
    }
    (step, Some(after))
}

/// Draining: the wanted side serves and is reconciled as always; the old one goes when due.
async fn drain(
    svc: &ServerlessService,
    ctx: &Context,
    migration: MigrationStatus,
    remaining: Duration,
) -> (Step, Option<MigrationStatus>) {
    let mut step = sync(svc, ctx).await;
    if !remaining.is_zero() {
        step.action = Action::requeue(remaining.min(ctx.settings.resync));
        return (step, Some(migration));
    }
    let old = Side::from_of(&migration);
    match remove_side(svc, ctx, &old).await {
        Ok(Deletion::Gone) => {
            let note = format!(
                "{} is gone; the move is complete",
                migration::describe(&old)
            );
            publish(ctx, svc, EventType::Normal, "Migrated", "Migrate", &note).await;
            (step, None)
        }
        Ok(Deletion::InProgress) => {
            step.action = Action::requeue(ctx.settings.progress_poll);
            (step, Some(migration))
        }
        Err(e) => {
            step.error = Some(Error::Provider(e));
            (step, Some(migration))
        }
    }
}

/// RollingBack: removes the side the spec no longer wants (or that failed); the old side
/// serves throughout.
async fn remove(
    svc: &ServerlessService,
    ctx: &Context,
    side: &Side,
    migration: MigrationStatus,
    wanted: &Side,
    now: &Time,
) -> (Step, Option<MigrationStatus>) {
    match remove_side(svc, ctx, side).await {
        Ok(Deletion::Gone) => {
            let gone = migration::describe(side);
            let serving = migration::describe(&Side::from_of(&migration));
            let drained = migration.phase == MigrationPhase::Draining;
            let after = migration::after_removal(migration, wanted, now);
            let (kind, reason, note) = match (&after, drained) {
                (Some(_), _) => (
                    EventType::Warning,
                    "RolledBack",
                    format!("{gone} is gone; {serving} serves; change the spec to try again"),
                ),
                (None, true) => (
                    EventType::Normal,
                    "Migrated",
                    format!("{gone} is gone; the move is complete"),
                ),
                (None, false) => (
                    EventType::Normal,
                    "MoveCancelled",
                    format!("{gone} is gone: the spec no longer asks for it; {serving} serves"),
                ),
            };
            publish(ctx, svc, kind, reason, "Migrate", &note).await;
            let action = if after.is_some() {
                Action::await_change()
            } else {
                // The spec wants another side now: the next reconcile starts towards it.
                Action::requeue(Duration::ZERO)
            };
            (Step::done(Outcome::Kept, action), after)
        }
        Ok(Deletion::InProgress) => (
            Step::done(Outcome::Kept, Action::requeue(ctx.settings.progress_poll)),
            Some(migration),
        ),
        Err(e) => (
            Step {
                outcome: Outcome::Kept,
                action: Action::await_change(),
                error: Some(Error::Provider(e)),
            },
            Some(migration),
        ),
    }
}

/// `svc` as it would be on `side`: the same object, that provider and ProviderConfig.
fn on_side(svc: &ServerlessService, side: &Side) -> ServerlessService {
    let mut on = svc.clone();
    on.spec.provider = side.provider;
    on.spec.provider_config_ref = side
        .config
        .as_ref()
        .map(|name| ProviderConfigReference { name: name.clone() });
    on
}

/// Deletes what Ferry made for `svc` on `side`, or lets it go (`deletionPolicy: Orphan`).
async fn remove_side(
    svc: &ServerlessService,
    ctx: &Context,
    side: &Side,
) -> Result<Deletion, ProviderError> {
    let object = object_ref(svc);
    let backend = connect(&on_side(svc, side), ctx).await?;
    if svc.spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Orphan {
        backend.release(&object).await?;
        Ok(Deletion::Gone)
    } else {
        backend.delete(&object).await
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

pub(crate) fn count_call<T>(
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

/// Brings the provider to the spec: validate, connect, observe, then create, update or report
/// as [`plan::next`] decides.
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
    let observation = match backend.observe(desired).await {
        Ok(observation) => observation,
        Err(e) => return Step::failed(e),
    };
    let settings = &ctx.settings;
    let provider = svc.spec.provider.display_name();
    match plan::next(observation) {
        Next::Create => match backend.create(desired).await {
            Ok(started) => {
                let note = format!(
                    "Created the {provider} service for generation {}",
                    generation(svc)
                );
                publish(ctx, svc, EventType::Normal, "Created", "Create", &note).await;
                let what = format!("{provider} is creating the service");
                plan::after_write(started, what, Outputs::default(), settings.progress_poll)
            }
            Err(e) => Step::failed(e),
        },
        Next::Update { outputs } => match backend.update(desired).await {
            Ok(started) => {
                let note = format!(
                    "Updated the {provider} service to generation {}",
                    generation(svc)
                );
                publish(ctx, svc, EventType::Normal, "Updated", "Update", &note).await;
                let what = format!("{provider} is rolling out generation {}", generation(svc));
                plan::after_write(started, what, outputs, settings.progress_poll)
            }
            Err(e) => Step::failed(e),
        },
        Next::Report { readiness, outputs } => plan::report(
            readiness,
            outputs,
            settings.progress_poll,
            settings.resync,
            (ctx.jitter)(),
        ),
    }
}

fn generation(svc: &ServerlessService) -> i64 {
    svc.metadata.generation.unwrap_or_default()
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
    let orphan = svc.spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Orphan;
    let wanted = wanted_side(svc, &ctx.backends);
    // Every side the object has or wants goes (a move's both sides, mid-move).
    let sides = sides_of(svc, &wanted);
    let names: Vec<&str> = sides.iter().map(|s| s.provider.display_name()).collect();
    let message = if orphan {
        format!(
            "leaving the {} service in place (deletionPolicy: Orphan)",
            names.join(" and ")
        )
    } else {
        format!("waiting for {} to delete the service", names.join(" and "))
    };
    write_status(
        api,
        svc,
        &Outcome::Deleting(message),
        svc.status.as_ref().and_then(|s| s.migration.as_ref()),
        &wanted,
        ctx,
    )
    .await?;
    let mut pending = false;
    for side in &sides {
        match remove_side(svc, ctx, side).await {
            Ok(Deletion::Gone) => {}
            Ok(Deletion::InProgress) => pending = true,
            Err(e) if orphan && plan::release_anyway(&e, ctx.failures(svc)) => {
                let note = left_in_cloud(svc, side, &e);
                warn!(provider = side.provider.as_str(), error = %e, "{note}");
                let reason = "ReleasedUnreachable";
                publish(ctx, svc, EventType::Warning, reason, "Release", &note).await;
            }
            Err(e) => return Err(Error::Provider(e)),
        }
    }
    if pending {
        return Err(Error::DeletionInProgress);
    }
    remove_finalizer(api, svc).await?;
    ctx.forget_failures(svc);
    ctx.note_written(svc, None);
    Ok(Action::await_change())
}

/// What a Warning says when `deletionPolicy: Orphan` lets `svc` go without reaching `side`'s
/// provider: what stays in the cloud, and how to find it.
fn left_in_cloud(svc: &ServerlessService, side: &Side, error: &ProviderError) -> String {
    let status = svc.status.as_ref();
    let serving = Side::serving(status).is_some_and(|s| s.same_as(side, false));
    let id = if serving {
        status.and_then(|s| s.resource_ref.as_ref())
    } else {
        status
            .and_then(|s| s.migration.as_ref())
            .filter(|m| Side::from_of(m).same_as(side, false))
            .and_then(|m| m.previous.as_ref())
            .and_then(|p| p.resource_ref.as_ref())
    };
    let what = id.map_or_else(
        || "what Ferry made for it (named after the object)".to_owned(),
        |r| r.id.clone(),
    );
    format!(
        "deletionPolicy: Orphan: released without reaching {} ({error}). {what} stays in the \
         cloud, still tagged with this object's UID {}: remove the tag or delete it there",
        migration::describe(side),
        svc.uid().unwrap_or_default()
    )
}

/// Puts the in-use finalizer on the ProviderConfigs `object` (a service or a job) will use
/// before anything is created through them, where the controller's cache shows it missing: the
/// ProviderConfig controller would add it too, but only after its debounce, and a
/// ProviderConfig deleted in between would strand the object.
pub(crate) async fn hold_provider_configs<K: ConfigUser>(
    object: &K,
    ctx: &Context,
) -> Result<(), Error> {
    let api: Api<ProviderConfig> = Api::all(ctx.client.clone());
    let finalizer = ctx.settings.in_use_finalizer();
    for name in object.configs_used(&ctx.backends) {
        let Some(config) = ctx.pricing.provider_config(&name) else {
            continue;
        };
        let held = config.finalizers().contains(&finalizer);
        if !held && config.metadata.deletion_timestamp.is_none() {
            add_in_use(&api, &config, &finalizer).await?;
        }
    }
    Ok(())
}

/// Adds the finalizer with a JSON patch that fails if the finalizers changed meanwhile, as
/// kube-runtime's `finalizer()` does.
pub(crate) async fn add_finalizer<K: Finalized>(api: &Api<K>, svc: &K) -> Result<(), Error> {
    let current = svc.meta().finalizers.clone();
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

pub(crate) async fn remove_finalizer<K: Finalized>(api: &Api<K>, svc: &K) -> Result<(), Error> {
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

/// What the finalizer patches need of a kind.
pub(crate) trait Finalized:
    Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug
{
}

impl<K> Finalized for K where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug
{
}

/// A JSON patch from a JSON literal.
fn json_patch(ops: serde_json::Value) -> Result<json_patch::Patch, Error> {
    serde_json::from_value(ops).map_err(|e| Error::Kube(kube::Error::SerdeError(e)))
}

/// Writes the status for `outcome` (during a move, `migration`'s) with server-side apply, only
/// when it differs from what the object already says (or from what Ferry last wrote, which a
/// lagging cache may not show yet), and publishes an Event when `Ready` changes.
async fn write_status(
    api: &Api<ServerlessService>,
    svc: &ServerlessService,
    outcome: &Outcome,
    migration: Option<&MigrationStatus>,
    wanted: &Side,
    ctx: &Context,
) -> Result<(), Error> {
    let now = (ctx.now)();
    let estimate = match outcome {
        Outcome::Invalid(_) => None,
        _ => ctx.pricing.status_estimate(svc),
    };
    let old = svc.status.as_ref();
    let mut computed = plan::desired_status(&StatusInput {
        old,
        provider: svc.spec.provider,
        generation: svc.metadata.generation,
        outcome,
        estimate,
        now: &now,
    });
    if matches!(outcome, Outcome::Kept) {
        // Nothing was learnt of the wanted side: the status still names the side that serves.
        if let Some(old) = old {
            computed.provider = old.provider;
            computed.provider_config.clone_from(&old.provider_config);
        }
    } else {
        computed.provider_config.clone_from(&wanted.config);
    }
    let new = migration::status_during(old, computed, migration, &now);
    if old == Some(&new) {
        return Ok(());
    }
    let fingerprint = plan::status_fingerprint(&new);
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
    if let Some(event) = plan::ready_change(old, &new) {
        publish(
            ctx,
            svc,
            event.kind,
            &event.reason,
            "Reconcile",
            &event.note,
        )
        .await;
    }
    Ok(())
}

/// Publishes an Event about `svc`; a failure is logged, never fatal.
pub(crate) async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    svc: &K,
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
