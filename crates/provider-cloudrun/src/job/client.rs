//! The I/O half of Cloud Run jobs: the job read with `GetJob`, created and updated as
//! long-running operations that are never waited for (the next `GetJob` shows where Cloud Run
//! is), runs read with `ListExecutions`, started by an `UpdateJob` that carries the run's
//! execution token, stopped with `CancelExecution`; and the Cloud Scheduler job of a schedule.
//!
//! Idempotency: the job and scheduler job names are deterministic, the job carries the
//! object's UID as a label (the scheduler job in its description), and a run's execution is
//! named after its token (`JOB-gGENERATION-UIDHASH`): `start` first looks for that execution,
//! so a start retried after a lost answer or a crash finds the run instead of making one.
//! Updates carry the observed `etag`. What one call finds (`observe`) the next ones of the same
//! reconcile reuse, as the service client does.

use std::sync::Mutex;

use async_trait::async_trait;
use ferry_api::conditions::reasons;
use ferry_api::{CloudRunProviderConfig, ConcurrencyPolicy, JobRun, RunState};
use ferry_core::desired::ObjectRef;
use ferry_core::job::DesiredJob;
use ferry_provider::job::{Definition, JobClient, JobObservation};
use ferry_provider::{Deletion, ProviderError};
use google_cloud_gax::error::rpc::Code;
use google_cloud_run_v2::client::{Executions, Jobs};
use google_cloud_run_v2::model;
use google_cloud_scheduler_v1::client::CloudScheduler;
use google_cloud_scheduler_v1::model as scheduler;
use google_cloud_wkt::FieldMask;
use tracing::{debug, info};

use super::build::{self, JobRequests};
use crate::build::LABEL_UID;
use crate::client::errors::{classify, code_of};

/// Most executions read per observe, newest first: the status keeps ten runs, and a job
/// without a schedule has one per spec change.
const PAGE_SIZE: i32 = 25;

/// The Google clients jobs use, of one ProviderConfig.
#[derive(Clone, Debug)]
pub(crate) struct JobClients {
    pub(crate) jobs: Jobs,
    pub(crate) executions: Executions,
    pub(crate) scheduler: CloudScheduler,
}

/// What the last `observe` read: later calls of the same reconcile use it.
#[derive(Clone, Debug, Default)]
struct Seen {
    job: Option<model::Job>,
    /// Whether the Cloud Scheduler job was read (a job without a schedule skips it).
    scheduler_read: bool,
    /// The Cloud Scheduler job.
    scheduler: Option<scheduler::Job>,
    /// The object's executions, newest first.
    executions: Vec<model::Execution>,
}

/// The Cloud Run job of one `ServerlessJob`.
pub(crate) struct CloudRunJobClient {
    clients: JobClients,
    config: CloudRunProviderConfig,
    /// `projects/P/locations/R` from the raw spec, so a job whose spec no longer validates can
    /// still be deleted.
    location: String,
    seen: Mutex<Option<Seen>>,
}

fn requests_for(
    want: &DesiredJob,
    config: &CloudRunProviderConfig,
) -> Result<JobRequests, ProviderError> {
    build::requests(want, config).map_err(|e| ProviderError::Terminal {
        reason: reasons::INVALID_SPEC,
        message: e.to_string(),
        recheck: None,
    })
}

fn name_taken(what: &str, name: &str, mark: &str) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "the {what} {name} exists and was not created by Ferry for this object (its {mark} \
             differs): rename the ServerlessJob, or delete the {what}"
        ),
        recheck: None,
    }
}

fn job_taken(name: &str) -> ProviderError {
    name_taken("Cloud Run job", name, &format!("{LABEL_UID} label"))
}

fn scheduler_taken(name: &str) -> ProviderError {
    name_taken("Cloud Scheduler job", name, "description's ferry-uid")
}

fn is(e: &google_cloud_gax::error::Error, code: Code) -> bool {
    code_of(e) == Some(code)
}

fn newest_first(executions: &mut [model::Execution]) {
    let created = |e: &model::Execution| e.create_time.map(|t| (t.seconds(), t.nanos()));
    executions.sort_by(|a, b| {
        created(b)
            .cmp(&created(a))
            .then_with(|| b.name.cmp(&a.name))
    });
}

impl CloudRunJobClient {
    pub(crate) fn new(
        clients: JobClients,
        config: CloudRunProviderConfig,
        location: String,
    ) -> Self {
        Self {
            clients,
            config,
            location,
            seen: Mutex::default(),
        }
    }

    fn remember(&self, seen: Seen) {
        *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(seen);
    }

    fn recall(&self) -> Option<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn get_job(&self, name: &str) -> Result<Option<model::Job>, ProviderError> {
        match self.clients.jobs.get_job().set_name(name).send().await {
            Ok(job) => Ok(Some(job)),
            Err(e) if is(&e, Code::NotFound) => Ok(None),
            Err(e) => Err(classify("GetJob", &e)),
        }
    }

    async fn get_scheduler(&self, name: &str) -> Result<Option<scheduler::Job>, ProviderError> {
        match self.clients.scheduler.get_job().set_name(name).send().await {
            Ok(job) => Ok(Some(job)),
            Err(e) if is(&e, Code::NotFound) => Ok(None),
            Err(e) => Err(classify("CloudScheduler.GetJob", &e)),
        }
    }

    async fn get_execution(&self, name: &str) -> Result<Option<model::Execution>, ProviderError> {
        match self
            .clients
            .executions
            .get_execution()
            .set_name(name)
            .send()
            .await
        {
            Ok(execution) => Ok(Some(execution)),
            Err(e) if is(&e, Code::NotFound) => Ok(None),
            Err(e) => Err(classify("GetExecution", &e)),
        }
    }

    /// The executions of the job `name` that are the object's with `uid`, newest first.
    async fn executions(
        &self,
        name: &str,
        uid: Option<&str>,
    ) -> Result<Vec<model::Execution>, ProviderError> {
        let listed = match self
            .clients
            .executions
            .list_executions()
            .set_parent(name)
            .set_page_size(PAGE_SIZE)
            .send()
            .await
        {
            Ok(listed) => listed.executions,
            // Deleted since it was read.
            Err(e) if is(&e, Code::NotFound) => Vec::new(),
            Err(e) => return Err(classify("ListExecutions", &e)),
        };
        let mut ours: Vec<model::Execution> = listed
            .into_iter()
            .filter(|e| build::execution_is_ours(e, uid))
            .collect();
        newest_first(&mut ours);
        Ok(ours)
    }

    /// Cancels the execution `name`; one that has ended or is gone needs nothing.
    async fn cancel(&self, name: &str) -> Result<(), ProviderError> {
        match self
            .clients
            .executions
            .cancel_execution()
            .set_name(name)
            .send()
            .await
        {
            Ok(op) => {
                info!(execution = name, operation = %op.name, "cancelling the Cloud Run execution");
                Ok(())
            }
            Err(e) if is(&e, Code::NotFound) || is(&e, Code::FailedPrecondition) => {
                debug!(execution = name, "the execution has ended already");
                Ok(())
            }
            Err(e) => Err(classify("CancelExecution", &e)),
        }
    }

    /// What the last observe saw of the job and its schedule, or a fresh read of both.
    async fn seen_or_read(&self, requests: &JobRequests) -> Result<Seen, ProviderError> {
        let mut seen = match self.recall() {
            Some(seen) => seen,
            None => Seen {
                job: self.get_job(&requests.name).await?,
                ..Seen::default()
            },
        };
        if !seen.scheduler_read {
            seen.scheduler = self.get_scheduler(&requests.scheduler_name).await?;
            seen.scheduler_read = true;
        }
        Ok(seen)
    }

    async fn create_job(&self, requests: &JobRequests) -> Result<(), ProviderError> {
        match self
            .clients
            .jobs
            .create_job()
            .set_parent(&requests.parent)
            .set_job_id(&requests.job_id)
            .set_job(requests.job.clone())
            .send()
            .await
        {
            Ok(op) => {
                info!(job = %requests.name, operation = %op.name, "creating the Cloud Run job");
                Ok(())
            }
            // An earlier create whose answer was lost: observe finds it next time.
            Err(e) if is(&e, Code::AlreadyExists) => Ok(()),
            Err(e) => Err(classify("CreateJob", &e)),
        }
    }

    async fn update_job(
        &self,
        requests: &JobRequests,
        observed: &model::Job,
    ) -> Result<(), ProviderError> {
        let mut job = requests.job.clone();
        // Only a change to what Ferry last saw goes through; another writer's change makes this
        // fail with ABORTED, and the next reconcile looks again.
        job.etag.clone_from(&observed.etag);
        let op = self
            .clients
            .jobs
            .update_job()
            .set_job(job)
            .send()
            .await
            .map_err(|e| classify("UpdateJob", &e))?;
        info!(job = %requests.name, operation = %op.name, "updating the Cloud Run job");
        Ok(())
    }

    /// Makes the Cloud Scheduler job what `requests` says: created, updated, paused or resumed,
    /// or deleted when the job has no schedule (any more).
    async fn apply_schedule(
        &self,
        requests: &JobRequests,
        observed: Option<scheduler::Job>,
        uid: Option<&str>,
    ) -> Result<(), ProviderError> {
        let name = &requests.scheduler_name;
        let observed = match observed {
            Some(job) if !build::scheduler_is_ours(&job, uid) => {
                return match &requests.scheduler {
                    Some(_) => Err(scheduler_taken(name)),
                    // Someone else's job of that name: none of Ferry's business.
                    None => Ok(()),
                };
            }
            other => other,
        };
        let Some(want) = &requests.scheduler else {
            if observed.is_some() {
                self.delete_scheduler(name).await?;
                info!(scheduler_job = %name, "deleted the schedule");
            }
            return Ok(());
        };
        let current = match observed {
            None => {
                match self
                    .clients
                    .scheduler
                    .create_job()
                    .set_parent(&requests.parent)
                    .set_job(want.clone())
                    .send()
                    .await
                {
                    Ok(created) => {
                        info!(scheduler_job = %name, "created the schedule");
                        created
                    }
                    // An earlier create whose answer was lost: the next reconcile reads it.
                    Err(e) if is(&e, Code::AlreadyExists) => return Ok(()),
                    Err(e) => return Err(classify("CloudScheduler.CreateJob", &e)),
                }
            }
            Some(have) if !build::scheduler_diff(want, &have).is_empty() => {
                let mask = FieldMask::default().set_paths([
                    "description",
                    "schedule",
                    "time_zone",
                    "http_target",
                ]);
                let updated = self
                    .clients
                    .scheduler
                    .update_job()
                    .set_job(want.clone())
                    .set_update_mask(mask)
                    .send()
                    .await
                    .map_err(|e| classify("CloudScheduler.UpdateJob", &e))?;
                info!(scheduler_job = %name, "updated the schedule");
                updated
            }
            Some(have) => have,
        };
        match (requests.paused, build::is_paused(&current)) {
            (true, false) => {
                self.clients
                    .scheduler
                    .pause_job()
                    .set_name(name)
                    .send()
                    .await
                    .map_err(|e| classify("CloudScheduler.PauseJob", &e))?;
                info!(scheduler_job = %name, "paused the schedule (suspend)");
            }
            (false, true) => {
                self.clients
                    .scheduler
                    .resume_job()
                    .set_name(name)
                    .send()
                    .await
                    .map_err(|e| classify("CloudScheduler.ResumeJob", &e))?;
                info!(scheduler_job = %name, "resumed the schedule");
            }
            _ => {}
        }
        Ok(())
    }

    async fn delete_scheduler(&self, name: &str) -> Result<(), ProviderError> {
        match self
            .clients
            .scheduler
            .delete_job()
            .set_name(name)
            .send()
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is(&e, Code::NotFound) => Ok(()),
            Err(e) => Err(classify("CloudScheduler.DeleteJob", &e)),
        }
    }

    /// The object's executions, from the last observe or read again.
    async fn known_executions(
        &self,
        requests: &JobRequests,
        uid: Option<&str>,
    ) -> Result<Vec<model::Execution>, ProviderError> {
        match self.recall() {
            Some(seen) => Ok(seen.executions),
            None => self.executions(&requests.name, uid).await,
        }
    }
}

#[async_trait]
impl JobClient for CloudRunJobClient {
    async fn observe(&self, want: &DesiredJob) -> Result<JobObservation, ProviderError> {
        let requests = requests_for(want, &self.config)?;
        let uid = want.object.uid.as_deref();
        let Some(job) = self.get_job(&requests.name).await? else {
            self.remember(Seen::default());
            return Ok(JobObservation::default());
        };
        if !build::is_ours(&job, uid) {
            return Err(job_taken(&requests.name));
        }
        let changes = build::diff(&requests, &job);
        let mut up_to_date = changes.is_empty();
        if !up_to_date {
            debug!(job = %requests.name, ?changes, "the Cloud Run job differs from the spec");
        }
        if up_to_date && let Some((reason, message)) = build::definition_failure(&job) {
            // The same definition would fail the same way: wait for a change of the spec.
            return Err(ProviderError::Terminal {
                reason,
                message,
                recheck: None,
            });
        }
        // A job without a schedule leaves the scheduler alone: its fingerprint says whether
        // the job had one when it was last applied.
        let scheduler_read = requests.scheduler.is_some();
        let scheduler = match &requests.scheduler {
            Some(wanted) => {
                let observed = self.get_scheduler(&requests.scheduler_name).await?;
                match &observed {
                    Some(have) if !build::scheduler_is_ours(have, uid) => {
                        return Err(scheduler_taken(&requests.scheduler_name));
                    }
                    Some(have) => {
                        up_to_date &= build::scheduler_diff(wanted, have).is_empty()
                            && build::is_paused(have) == requests.paused;
                    }
                    None => up_to_date = false,
                }
                observed
            }
            None => None,
        };
        let executions = self.executions(&requests.name, uid).await?;
        let runs = executions.iter().map(build::run_of).collect();
        self.remember(Seen {
            job: Some(job),
            scheduler_read,
            scheduler,
            executions,
        });
        Ok(JobObservation {
            definition: Definition::Present {
                up_to_date,
                id: Some(requests.name),
            },
            runs,
        })
    }

    async fn apply(&self, want: &DesiredJob) -> Result<Option<String>, ProviderError> {
        let requests = requests_for(want, &self.config)?;
        let uid = want.object.uid.as_deref();
        let seen = self.seen_or_read(&requests).await?;
        match &seen.job {
            None => self.create_job(&requests).await?,
            Some(job) if !build::is_ours(job, uid) => return Err(job_taken(&requests.name)),
            Some(job) if !build::diff(&requests, job).is_empty() => {
                self.update_job(&requests, job).await?;
            }
            Some(_) => {}
        }
        self.apply_schedule(&requests, seen.scheduler, uid).await?;
        Ok(Some(requests.name))
    }

    async fn start(&self, want: &DesiredJob, generation: i64) -> Result<JobRun, ProviderError> {
        let requests = requests_for(want, &self.config)?;
        let execution = requests.run_execution(&want.object, generation);
        // An earlier start (whose answer, or whose record, was lost) made it already.
        if let Some(found) = self.get_execution(&execution).await? {
            info!(%execution, "the run was started already");
            return Ok(build::run_of(&found));
        }
        // The token names the execution: Cloud Run starts it as it brings the job to this
        // version, and a job that is missing (deleted behind Ferry's back) is made again.
        let op = self
            .clients
            .jobs
            .update_job()
            .set_job(requests.run_job(&want.object, generation))
            .set_allow_missing(true)
            .send()
            .await
            .map_err(|e| classify("UpdateJob", &e))?;
        info!(%execution, operation = %op.name, generation, "starting the run");
        Ok(match self.get_execution(&execution).await? {
            Some(started) => build::run_of(&started),
            // Cloud Run makes it as it reconciles the job; the next observe lists it.
            None => JobRun {
                name: execution.rsplit('/').next().unwrap_or_default().to_owned(),
                generation: Some(generation),
                state: RunState::Running,
                ..JobRun::default()
            },
        })
    }

    /// `Replace` on a schedule: Cloud Scheduler starts a run whatever runs, so the earlier run
    /// is cancelled here once a newer one is seen running. Cloud Run itself runs, retries and
    /// times out the tasks of a run.
    async fn advance(&self, want: &DesiredJob, run: &JobRun) -> Result<(), ProviderError> {
        if want.schedule.is_none()
            || want.concurrency_policy != ConcurrencyPolicy::Replace
            || run.state != RunState::Running
        {
            return Ok(());
        }
        let requests = requests_for(want, &self.config)?;
        let executions = self
            .known_executions(&requests, want.object.uid.as_deref())
            .await?;
        let newer_running = executions
            .iter()
            .map(build::run_of)
            .take_while(|r| r.name != run.name)
            .find(|r| r.state == RunState::Running);
        if let Some(newer) = newer_running {
            info!(
                run = %run.name,
                newer = %newer.name,
                "cancelling the earlier run (concurrencyPolicy: Replace)"
            );
            self.cancel(&requests.execution(&run.name)).await?;
        }
        Ok(())
    }

    async fn stop(&self, want: &DesiredJob, run: &str) -> Result<(), ProviderError> {
        let requests = requests_for(want, &self.config)?;
        self.cancel(&requests.execution(run)).await
    }

    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let uid = object.uid.as_deref();
        let (_, name) = build::names_of(object, &self.location);
        // The schedule first, so that no run starts while the job goes.
        if let Some(schedule) = self.get_scheduler(&name).await?
            && build::scheduler_is_ours(&schedule, uid)
        {
            self.delete_scheduler(&name).await?;
            info!(scheduler_job = %name, "deleted the schedule");
        }
        let Some(job) = self.get_job(&name).await? else {
            return Ok(Deletion::Gone);
        };
        if !build::is_ours(&job, uid) {
            return Ok(Deletion::Gone);
        }
        if job.delete_time.is_some() {
            return Ok(Deletion::InProgress);
        }
        // Runs under way are stopped, not left to finish without their job.
        for execution in self.executions(&name, uid).await? {
            if build::run_of(&execution).state == RunState::Running {
                self.cancel(&execution.name).await?;
            }
        }
        match self
            .clients
            .jobs
            .delete_job()
            .set_name(&name)
            .set_etag(&job.etag)
            .send()
            .await
        {
            Ok(op) => {
                info!(job = %name, operation = %op.name, "deleting the Cloud Run job and its executions");
                Ok(Deletion::InProgress)
            }
            Err(e) if is(&e, Code::NotFound) => Ok(Deletion::Gone),
            Err(e) => Err(classify("DeleteJob", &e)),
        }
    }

    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let Some(uid) = object.uid.as_deref() else {
            return Ok(());
        };
        let (_, name) = build::names_of(object, &self.location);
        if let Some(job) = self.get_job(&name).await?
            && job.labels.get(LABEL_UID) == Some(&crate::build::label_value(uid))
        {
            // Without the UID label the job is adoptable by the next object of this name. The
            // job goes back as read (the v2 Job API has no update mask), its etag guarding
            // against a change in between, without the token of its last run, which is no new
            // run.
            let mut released = job;
            build::release(&mut released);
            released.create_execution = None;
            let op = self
                .clients
                .jobs
                .update_job()
                .set_job(released)
                .send()
                .await
                .map_err(|e| classify("UpdateJob", &e))?;
            info!(job = %name, operation = %op.name, "released the Cloud Run job");
        }
        if let Some(schedule) = self.get_scheduler(&name).await?
            && build::scheduler_is_ours(&schedule, Some(uid))
        {
            let description = build::released_description(&schedule.description);
            if description != schedule.description {
                self.clients
                    .scheduler
                    .update_job()
                    .set_job(schedule.set_description(description))
                    .set_update_mask(FieldMask::default().set_paths(["description"]))
                    .send()
                    .await
                    .map_err(|e| classify("CloudScheduler.UpdateJob", &e))?;
                info!(scheduler_job = %name, "released the schedule");
            }
        }
        Ok(())
    }
}
