//! One reconcile, the I/O around [`crate::plan`]: validate, connect, observe, then create,
//! update or report as `plan::next` decides; write the status `plan::status_to_write` gives,
//! only when it changed; requeue. Deletion: release or delete at the provider, then drop the
//! finalizer. Only the provider calls, the finalizer patches, the status write and Events do
//! I/O here.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use ferry_api::{API_VERSION, DeletionPolicy, ServerlessService};
use ferry_core::desired::{Desired, ObjectRef};
use ferry_core::status::{Outcome, Outputs};
use ferry_provider::{Deletion, ExternalClient, Observation, ProviderError, Started};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{Instrument, debug, info_span, warn};

use crate::context::Context;
use crate::metrics::{CallLabels, Metrics, ReconcileLabels};
use crate::plan::{self, Next, StatusInput, Step};

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
/// object already says (or from what Ferry last wrote, which a lagging cache may not show yet),
/// and publishes an Event when `Ready` changes.
async fn write_status(
    api: &Api<ServerlessService>,
    svc: &ServerlessService,
    outcome: &Outcome,
    ctx: &Context,
) -> Result<(), Error> {
    let now = (ctx.now)();
    let estimate = match outcome {
        Outcome::Invalid(_) => None,
        _ => ctx.pricing.status_estimate(svc),
    };
    let Some(new) = plan::status_to_write(&StatusInput {
        old: svc.status.as_ref(),
        provider: svc.spec.provider,
        generation: svc.metadata.generation,
        outcome,
        estimate,
        now: &now,
    }) else {
        return Ok(());
    };
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
    if let Some(event) = plan::ready_change(svc.status.as_ref(), &new) {
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
