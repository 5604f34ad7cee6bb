//! One reconcile of a `ServerlessJob`, the I/O around [`plan`]: validate, connect, observe the
//! definition and the runs, then apply, stop and start as the plan says; write the status
//! [`ferry_core::job::status::compute`] gives, only when it changed, with an Event per run that
//! started or ended; requeue (soon while a run is under way). The ProviderConfig a cloud job
//! names is held (its in-use finalizer) before the job's own finalizer goes on, so before
//! anything exists at the provider. Deletion: release or delete at the provider, then drop the
//! finalizer (which lets the ProviderConfig go, once nothing else uses it).

pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use ferry_api::{API_VERSION, DeletionPolicy, JobRun, RunState, ServerlessJob};
use ferry_core::desired::ObjectRef;
use ferry_core::job::status::{JobOutcome, JobStatusInput, compute};
use ferry_core::job::{DesiredJob, validate_job};
use ferry_provider::ProviderError;
use ferry_provider::job::{Definition, Jobs};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use serde_json::json;
use tracing::{Instrument, info_span};

use crate::context::Context;
use crate::reconcile::{
    Error, FINALIZER, MANAGER, add_finalizer, count_call, hold_provider_configs, measured, publish,
    remove_finalizer, retry_after,
};

/// Reconciles one job (the kube-runtime reconciler).
pub async fn reconcile_job(job: Arc<ServerlessJob>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!(
        "reconcile_job",
        namespace = job.namespace().unwrap_or_default(),
        name = job.name_any(),
        generation = job.metadata.generation.unwrap_or_default(),
        provider = job.spec.provider.as_str(),
    );
    measured(
        &ctx,
        Box::pin(reconcile_object(&job, &ctx).instrument(span)),
    )
    .await
}

/// How long to wait after an error: as for services.
#[allow(clippy::needless_pass_by_value)] // kube-runtime's error-policy signature
pub fn job_error_policy(job: Arc<ServerlessJob>, error: &Error, ctx: Arc<Context>) -> Action {
    retry_after(job.as_ref(), error, &ctx)
}

async fn reconcile_object(job: &ServerlessJob, ctx: &Context) -> Result<Action, Error> {
    let api: Api<ServerlessJob> =
        Api::namespaced(ctx.client.clone(), &job.namespace().unwrap_or_default());
    if job.metadata.deletion_timestamp.is_some() {
        return cleanup(job, &api, ctx).await;
    }
    let backend = ctx.backends.get(job.spec.provider);
    if backend.needs_job_finalizer(&job.spec) && !job.finalizers().iter().any(|f| f == FINALIZER) {
        // Before anything exists at the provider, so its cleanup can still reach it.
        hold_provider_configs(job, ctx).await?;
        add_finalizer(&api, job).await?;
        return Ok(Action::await_change());
    }
    let valid = match validate_job(job, backend) {
        Ok(valid) => valid,
        Err(invalid) => {
            write_status(&api, job, None, &JobOutcome::Invalid(invalid), ctx).await?;
            return Ok(Action::await_change());
        }
    };
    let desired = &valid.desired;
    let (outcome, error) = match sync(job, desired, ctx).await {
        Ok(outcome) => (outcome, None),
        Err(e) => (
            JobOutcome::NotSynced {
                reason: e.reason(),
                message: e.to_string(),
                stalled: e.is_terminal(),
            },
            Some(e),
        ),
    };
    let running = match &outcome {
        JobOutcome::Observed { runs, waiting, .. } => {
            waiting.is_some() || runs.iter().any(|r| r.state == RunState::Running)
        }
        _ => false,
    };
    write_status(&api, job, Some(desired), &outcome, ctx).await?;
    if let Some(error) = error {
        if error.is_terminal() {
            return Ok(match &error {
                ProviderError::Terminal {
                    recheck: Some(after),
                    ..
                } => Action::requeue(*after),
                _ => Action::await_change(),
            });
        }
        return Err(Error::Provider(error));
    }
    ctx.forget_failures(job);
    if running {
        return Ok(Action::requeue(ctx.settings.progress_poll));
    }
    let resync =
        Duration::from_secs_f64(ctx.settings.resync.as_secs_f64() * (0.9 + 0.2 * (ctx.jitter)()));
    // A schedule's run is the provider's to start: look soon after it should have, so what
    // Ferry does for it (a backend's retries and timeouts, Forbid and Replace) is not left
    // to the resync.
    let next_fire = desired
        .schedule
        .as_ref()
        .and_then(|schedule| until_next_fire(schedule, &(ctx.now)(), resync));
    Ok(Action::requeue(next_fire.map_or(resync, |d| d.min(resync))))
}

/// How long from `now` until a few seconds after `schedule` next fires, when that is within
/// `horizon`.
fn until_next_fire(
    schedule: &ferry_core::job::Schedule,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    horizon: Duration,
) -> Option<Duration> {
    const AFTER: Duration = Duration::from_secs(5);
    let from = now.0;
    let until = from.checked_add(horizon).ok()?;
    let next = *schedule.fires(from, until, 1).first()?;
    let wait = from.duration_until(next);
    Duration::try_from(wait).ok().map(|d| d + AFTER)
}

/// Observes the job's definition and runs, and applies, stops and starts as [`plan::plan`]
/// says; the outcome is what the provider holds afterwards (the run just started included).
async fn sync(
    job: &ServerlessJob,
    desired: &DesiredJob,
    ctx: &Context,
) -> Result<JobOutcome, ProviderError> {
    let client = connect(job, ctx).await?;
    let observed = client.observe(desired).await?;
    let generation = job.metadata.generation.unwrap_or_default();
    let history = job
        .status
        .as_ref()
        .map(|s| s.runs.as_slice())
        .unwrap_or_default();
    let plan = plan::plan(desired, generation, &observed, history);
    let mut id = match &observed.definition {
        Definition::Present { id, .. } => id.clone(),
        Definition::Absent => None,
    };
    if plan.apply {
        id = client.apply(desired).await?;
    }
    for run in observed
        .runs
        .iter()
        .filter(|r| r.state == RunState::Running && !plan.stop.contains(&r.name))
    {
        client.advance(desired, run).await?;
    }
    for run in &plan.stop {
        client.stop(desired, run).await?;
        let note = format!("Stopping run {run}: generation {generation} replaces it");
        publish(ctx, job, EventType::Normal, "Replacing", "Stop", &note).await;
    }
    let mut runs = observed.runs;
    if plan.start {
        let run = client.start(desired, generation).await?;
        runs.retain(|r| r.name != run.name);
        runs.insert(0, run);
    }
    Ok(JobOutcome::Observed {
        id,
        runs,
        waiting: plan.waiting,
    })
}

/// The job client of `job`'s provider, its calls counted.
async fn connect(job: &ServerlessJob, ctx: &Context) -> Result<Measured, ProviderError> {
    let provider = job.spec.provider;
    let result = ctx.connectors.get(provider).connect_job(job).await;
    count_call(&ctx.metrics, provider.as_str(), "connect", &result);
    Ok(Measured {
        inner: result?,
        backend: provider.as_str(),
        ctx_metrics: ctx.metrics.clone(),
    })
}

fn object_ref(job: &ServerlessJob) -> ObjectRef {
    ObjectRef {
        namespace: job.namespace().unwrap_or_default(),
        name: job.name_any(),
        uid: job.uid(),
        generation: job.metadata.generation,
    }
}

async fn cleanup(
    job: &ServerlessJob,
    api: &Api<ServerlessJob>,
    ctx: &Context,
) -> Result<Action, Error> {
    if !job.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let orphan = job.spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Orphan;
    let provider = job.spec.provider.display_name();
    let message = if orphan {
        format!("leaving the {provider} job and its runs in place (deletionPolicy: Orphan)")
    } else {
        format!("waiting for {provider} to delete the job and stop its runs")
    };
    write_status(api, job, None, &JobOutcome::Deleting(message), ctx).await?;
    let client = connect(job, ctx).await.map_err(Error::Provider)?;
    let object = object_ref(job);
    if orphan {
        client.release(&object).await.map_err(Error::Provider)?;
    } else if client.delete(&object).await.map_err(Error::Provider)?
        == ferry_provider::Deletion::InProgress
    {
        return Err(Error::DeletionInProgress);
    }
    remove_finalizer(api, job).await?;
    ctx.forget_failures(job);
    ctx.note_written(job, None);
    Ok(Action::await_change())
}

/// Writes the status for `outcome` with server-side apply, only when it differs from what the
/// object says (or from what Ferry last wrote), and publishes an Event per run that started or
/// ended.
async fn write_status(
    api: &Api<ServerlessJob>,
    job: &ServerlessJob,
    desired: Option<&DesiredJob>,
    outcome: &JobOutcome,
    ctx: &Context,
) -> Result<(), Error> {
    let now = (ctx.now)();
    let old = job.status.as_ref();
    let new = compute(&JobStatusInput {
        old,
        provider: job.spec.provider,
        generation: job.metadata.generation,
        desired,
        outcome,
        now: &now,
    });
    if old == Some(&new) {
        return Ok(());
    }
    let fingerprint = crate::plan::status_fingerprint(&new);
    if ctx.wrote(job, fingerprint) {
        return Ok(());
    }
    let body = json!({"apiVersion": API_VERSION, "kind": "ServerlessJob", "status": new});
    api.patch_status(
        &job.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    ctx.metrics.status_writes.inc();
    ctx.note_written(job, Some(fingerprint));
    let old_runs: &[JobRun] = old.map(|s| s.runs.as_slice()).unwrap_or_default();
    for event in plan::run_events(old_runs, &new.runs) {
        publish(ctx, job, event.kind, &event.reason, "Run", &event.note).await;
    }
    Ok(())
}

/// A job client with its calls counted by operation and outcome.
struct Measured {
    inner: Jobs,
    backend: &'static str,
    ctx_metrics: Arc<crate::metrics::Metrics>,
}

impl Measured {
    fn count<T>(&self, operation: &'static str, result: &Result<T, ProviderError>) {
        count_call(&self.ctx_metrics, self.backend, operation, result);
    }

    async fn observe(
        &self,
        want: &DesiredJob,
    ) -> Result<ferry_provider::job::JobObservation, ProviderError> {
        let r = self.inner.observe(want).await;
        self.count("observe", &r);
        r
    }

    async fn apply(&self, want: &DesiredJob) -> Result<Option<String>, ProviderError> {
        let r = self.inner.apply(want).await;
        self.count("apply", &r);
        r
    }

    async fn start(&self, want: &DesiredJob, generation: i64) -> Result<JobRun, ProviderError> {
        let r = self.inner.start(want, generation).await;
        self.count("start", &r);
        r
    }

    async fn advance(&self, want: &DesiredJob, run: &JobRun) -> Result<(), ProviderError> {
        let r = self.inner.advance(want, run).await;
        self.count("advance", &r);
        r
    }

    async fn stop(&self, want: &DesiredJob, run: &str) -> Result<(), ProviderError> {
        let r = self.inner.stop(want, run).await;
        self.count("stop", &r);
        r
    }

    async fn delete(&self, object: &ObjectRef) -> Result<ferry_provider::Deletion, ProviderError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(text.parse().unwrap())
    }

    #[test]
    fn a_scheduled_job_is_looked_at_just_after_its_next_run_within_the_resync() {
        let daily = ferry_core::job::Schedule::parse("0 3 * * *", None).unwrap();
        let hour = Duration::from_secs(3600);
        // 02:50 UTC: the run is 10 minutes away; looked at 5 s after it.
        let wait = until_next_fire(&daily, &at("2027-01-05T02:50:00Z"), hour);
        assert_eq!(wait, Some(Duration::from_secs(605)));
        // 03:10: the next is tomorrow, past the hour: the resync decides.
        assert_eq!(
            until_next_fire(&daily, &at("2027-01-05T03:10:00Z"), hour),
            None
        );
    }
}
