//! The I/O half of Container Apps jobs: the job is PUT (a long-running operation that is
//! started, never waited on: while Azure works on it, observe calls it up to date, and a write
//! waits for the next look), its executions listed, a run started with `Jobs_Start` and stopped
//! with `Jobs_StopExecution`, the job deleted (its executions go with it) or released.
//!
//! Idempotency: the job's name is deterministic and it carries the object's UID as a tag, as
//! the app does. A run's start has no idempotency token, so the start is keyed in the run's own
//! containers (`FERRY_RUN=<uid>-<generation>`, see [`super::build`]; a job whose containers
//! mount volumes is started without containers, and its run is keyed by the generation and UID
//! of the job's template): `start` lists the executions first and answers the run it finds
//! with that key, and sends `Jobs_Start` once,
//! never retried (a start whose answer was lost may have made the execution; the next observe
//! finds it by its key, and the controller, seeing a run for the generation, starts none).
//!
//! `concurrencyPolicy` of a schedule is honoured here, in `advance`: Container Apps starts every
//! scheduled execution whatever runs, so `Forbid` stops an execution that started while an
//! earlier one runs (the due run is skipped, and listed as Stopped), and `Replace` stops the
//! earlier one.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferry_api::conditions::reasons;
use ferry_api::{AzureProviderConfig, ConcurrencyPolicy, JobRun, RunState};
use ferry_azure::{Arm, arm_error_of};
use ferry_core::desired::ObjectRef;
use ferry_core::job::DesiredJob;
use ferry_provider::job::{Definition, JobClient, JobObservation};
use ferry_provider::{Deletion, ProviderError};
use serde_json::Value;
use tracing::{debug, info};

use super::build::{self, JobPlace, JobRequests};
use crate::build::{self as app, API_VERSION, SecretValue, SecretValues};
use crate::client::{check_storages, delete_ours, operation_in_progress, tagged_with, unbuildable};

/// How long a stop Ferry asked for is given to take effect before `advance` asks again: an
/// execution reads Running until its stop is done, and a stop sent again while one is under
/// way only starts another.
pub const STOP_PATIENCE: Duration = Duration::from_secs(120);

/// The executions (by ARM id) Ferry asked to stop, and when: shared by the clients of one
/// connector, so the reconciles that follow a stop wait for it. Forgotten on restart, which
/// costs at most one more stop.
#[derive(Clone, Default)]
pub(crate) struct Stops(Arc<Mutex<HashMap<String, Instant>>>);

impl Stops {
    /// Records a stop of `execution` asked now.
    fn asked(&self, execution: String) {
        let mut stops = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        stops.retain(|_, at| at.elapsed() < STOP_PATIENCE);
        stops.insert(execution, Instant::now());
    }

    /// Whether a stop of `execution` was asked less than [`STOP_PATIENCE`] ago.
    fn pending(&self, execution: &str) -> bool {
        let stops = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        stops
            .get(execution)
            .is_some_and(|at| at.elapsed() < STOP_PATIENCE)
    }
}

/// The Container Apps job of one ServerlessJob, for one reconcile.
pub(crate) struct ContainerAppsJobs {
    pub(crate) arm: Arm,
    pub(crate) config: AzureProviderConfig,
    /// The raw spec's `containerApps.resourceGroup`, so that an object whose spec no longer
    /// validates can still be deleted.
    pub(crate) resource_group: Option<String>,
    /// The copied app secrets, or why they could not be read (which only a write needs).
    pub(crate) values: Result<SecretValues, ProviderError>,
    /// The runs the last observe found: `advance`, called after it for each running run,
    /// weighs each against the others without listing them again.
    pub(crate) seen: Mutex<Option<Vec<JobRun>>>,
    /// The stops asked lately, the connector's.
    pub(crate) stops: Stops,
}

fn name_taken(place: &JobPlace) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "the Container Apps job {} in resource group {} exists and was not created by \
             Ferry for this object (its {} tag differs): rename the ServerlessJob, or delete \
             the job",
            place.name,
            place.resource_group,
            app::TAG_UID
        ),
        recheck: None,
    }
}

/// A run that waits for the job's own operation to end.
fn busy(place: &JobPlace, generation: i64) -> ProviderError {
    ProviderError::Transient {
        operation: "Jobs_Start",
        message: format!(
            "the Container Apps job {} is still applying the spec (provisioningState \
             InProgress): the run for generation {generation} starts when it is done",
            place.name
        ),
    }
}

fn is_not_found(error: &ProviderError) -> bool {
    arm_error_of(error).is_some_and(|e| e.status == 404)
}

/// Which of two runs started first (`Less`: `a` did): by start time, a run not started yet
/// being the newest, then by name, so the order is total.
fn by_age(a: &JobRun, b: &JobRun) -> Ordering {
    let start = |r: &JobRun| r.start_time.as_ref().map(|t| t.0);
    match (start(a), start(b)) {
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (x, y) => x.cmp(&y).then_with(|| a.name.cmp(&b.name)),
    }
}

impl ContainerAppsJobs {
    fn requests(&self, want: &DesiredJob) -> Result<JobRequests, ProviderError> {
        let values = self.values.clone()?;
        build::requests(want, &self.config, &values).map_err(|e| unbuildable(&e))
    }

    fn place_of(&self, object: &ObjectRef) -> JobPlace {
        JobPlace::of(object, &self.config, self.resource_group.as_deref())
    }

    /// The job's executions as ARM lists them (none when the job is gone).
    async fn executions(&self, place: &JobPlace) -> Result<Vec<Value>, ProviderError> {
        match self.arm.list(&place.executions_id(), API_VERSION).await {
            Ok(executions) => Ok(executions),
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The runs of `want`'s job, newest first.
    async fn runs(
        &self,
        want: &DesiredJob,
        place: &JobPlace,
    ) -> Result<Vec<JobRun>, ProviderError> {
        let mut runs: Vec<JobRun> = self
            .executions(place)
            .await?
            .iter()
            .map(|e| build::run_of(e, want))
            .collect();
        runs.sort_by(|a, b| by_age(b, a));
        Ok(runs)
    }

    /// The values of the job's secrets, as `Jobs_ListSecrets` answers them (a POST that only
    /// reads, so retried as a read is).
    async fn listed_secrets(&self, place: &JobPlace) -> Result<SecretValues, ProviderError> {
        let listed = self
            .arm
            .post(
                &format!("{}/listSecrets", place.id()),
                API_VERSION,
                None,
                true,
            )
            .await?;
        Ok(listed
            .body
            .iter()
            .filter_map(|b| b["value"].as_array())
            .flatten()
            .filter_map(|s| {
                let value = s["value"].as_str()?.to_owned();
                Some((
                    s["name"].as_str()?.to_owned(),
                    SecretValue {
                        value,
                        version: String::new(),
                    },
                ))
            })
            .collect())
    }

    fn remember(&self, runs: &[JobRun]) {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(runs.to_vec());
    }
}

#[async_trait]
impl JobClient for ContainerAppsJobs {
    async fn observe(&self, want: &DesiredJob) -> Result<JobObservation, ProviderError> {
        let requests = self.requests(want)?;
        let place = &requests.place;
        let Some(job) = self.arm.get(&place.id(), API_VERSION).await? else {
            self.remember(&[]);
            return Ok(JobObservation::default());
        };
        if !app::is_ours(&job, want.object.uid.as_deref()) {
            return Err(name_taken(place));
        }
        let changes = build::diff(&requests, &job);
        if changes.iter().any(|c| !c.writable()) {
            return Err(ProviderError::Terminal {
                reason: reasons::UNSUPPORTED,
                message: format!(
                    "the Container Apps job {} runs in environment {}, and a job cannot move to \
                     another environment ({}): delete the job (or the ServerlessJob) to \
                     recreate it there, or set spec.containerApps.resourceGroup to another \
                     resource group to move it as a new job",
                    place.name,
                    job["properties"]["environmentId"].as_str().unwrap_or("?"),
                    requests.body["properties"]["environmentId"]
                        .as_str()
                        .unwrap_or("?"),
                ),
                recheck: None,
            });
        }
        // A job whose last PUT failed or was canceled is sent again; one ARM still works on
        // would refuse a write: it is looked at again when done.
        let settled = !matches!(
            job["properties"]["provisioningState"].as_str(),
            Some("Failed" | "Canceled")
        );
        let up_to_date = app::in_progress(&job) || (changes.is_empty() && settled);
        if !up_to_date {
            debug!(job = %place.name, ?changes, "the Container Apps job differs from the spec");
        }
        let runs = self.runs(want, place).await?;
        self.remember(&runs);
        Ok(JobObservation {
            definition: Definition::Present {
                up_to_date,
                id: Some(place.id()),
            },
            runs,
        })
    }

    async fn apply(&self, want: &DesiredJob) -> Result<Option<String>, ProviderError> {
        let requests = self.requests(want)?;
        let uses = app::storage_uses(&want.volumes, &want.containers);
        check_storages(&self.arm, &requests.body, &uses).await?;
        let place = &requests.place;
        match self.arm.put(&place.id(), API_VERSION, &requests.body).await {
            Ok(accepted) => info!(
                job = %place.name,
                resource_group = %place.resource_group,
                status = accepted.status,
                "applied the Container Apps job"
            ),
            // Another operation on the job is running: the next look sees it done and writes.
            Err(e) if operation_in_progress(&e) => {
                debug!(job = %place.name, error = %e, "the job is busy; writing later");
            }
            Err(e) => return Err(e),
        }
        Ok(Some(place.id()))
    }

    async fn start(&self, want: &DesiredJob, generation: i64) -> Result<JobRun, ProviderError> {
        let place = build::place(want, &self.config).map_err(|e| unbuildable(&e))?;
        let uid = want
            .object
            .uid
            .as_deref()
            .ok_or_else(|| ProviderError::Terminal {
                reason: reasons::INVALID_SPEC,
                message: "the ServerlessJob has no UID to key its runs with".into(),
                recheck: None,
            })?;
        let key = build::run_key(uid, generation);
        let body = build::start_body(want, &key).map_err(|e| unbuildable(&e))?;
        // An earlier start, whose answer or record was lost, already made the run.
        let executions = self.executions(&place).await?;
        let found = match &body {
            Some(_) => build::find_run(&executions, &key),
            None => build::find_template_run(&executions, uid, generation),
        };
        if let Some(found) = found {
            debug!(job = %place.name, %key, "the run was started before");
            return Ok(build::run_of(found, want));
        }
        let Some(job) = self.arm.get(&place.id(), API_VERSION).await? else {
            return Err(ProviderError::Transient {
                operation: "Jobs_Start",
                message: format!(
                    "the Container Apps job {} does not exist yet: the run for generation \
                     {generation} starts once it does",
                    place.name
                ),
            });
        };
        if !app::is_ours(&job, Some(uid)) {
            return Err(name_taken(&place));
        }
        if app::in_progress(&job) {
            return Err(busy(&place, generation));
        }
        // Started without a template, the run is the job's template: it must be this
        // generation's (the apply that makes it so may have been refused while ARM was busy).
        if body.is_none() && build::template_generation(&job, uid) != Some(generation) {
            return Err(ProviderError::Transient {
                operation: "Jobs_Start",
                message: format!(
                    "the Container Apps job {} does not hold generation {generation}'s template \
                     yet: its run starts (with the job's template, which mounts its volumes) \
                     once the job is applied",
                    place.name
                ),
            });
        }
        // Sent once: see the module's comment.
        let accepted = match self
            .arm
            .post(&place.start_id(), API_VERSION, body.as_ref(), false)
            .await
        {
            Ok(accepted) => accepted,
            Err(e) if operation_in_progress(&e) => return Err(busy(&place, generation)),
            Err(e) => return Err(e),
        };
        let name = accepted
            .body
            .as_ref()
            .and_then(|b| b["name"].as_str())
            .map(str::to_owned);
        info!(job = %place.name, %key, execution = ?name, "started a run of the Container Apps job");
        if let Some(name) = name {
            return Ok(JobRun {
                name,
                generation: Some(generation),
                state: RunState::Running,
                ..JobRun::default()
            });
        }
        // An answer without the execution's name (the definitions declare none for 202): the
        // listing has it.
        let executions = self.executions(&place).await?;
        let found = match &body {
            Some(_) => build::find_run(&executions, &key),
            None => build::find_template_run(&executions, uid, generation),
        };
        match found {
            Some(found) => Ok(build::run_of(found, want)),
            None => Err(ProviderError::Transient {
                operation: "Jobs_Start",
                message: format!(
                    "Container Apps accepted the run for generation {generation} of job {} but \
                     does not list it yet: Ferry looks for it again before starting anything",
                    place.name,
                ),
            }),
        }
    }

    async fn advance(&self, want: &DesiredJob, run: &JobRun) -> Result<(), ProviderError> {
        let policy = want.concurrency_policy;
        // Without a schedule the controller starts runs and applies the policy itself.
        if want.schedule.is_none()
            || policy == ConcurrencyPolicy::Allow
            || run.state != RunState::Running
        {
            return Ok(());
        }
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let runs = if let Some(runs) = seen {
            runs
        } else {
            let place = build::place(want, &self.config).map_err(|e| unbuildable(&e))?;
            self.runs(want, &place).await?
        };
        let mut others = runs
            .iter()
            .filter(|r| r.state == RunState::Running && r.name != run.name);
        let overlapped = match policy {
            // The later run goes: it was due while an earlier one ran.
            ConcurrencyPolicy::Forbid => others.any(|o| by_age(o, run) == Ordering::Less),
            // The earlier run goes: a later one replaces it.
            ConcurrencyPolicy::Replace => others.any(|o| by_age(o, run) == Ordering::Greater),
            ConcurrencyPolicy::Allow => false,
        };
        let place = self.place_of(&want.object);
        if overlapped && !self.stops.pending(&place.stop_id(&run.name)) {
            info!(execution = %run.name, policy = policy.as_str(), "stopping an overlapping run");
            self.stop(want, &run.name).await?;
        }
        Ok(())
    }

    async fn stop(&self, want: &DesiredJob, run: &str) -> Result<(), ProviderError> {
        let place = self.place_of(&want.object);
        match self
            .arm
            .post(&place.stop_id(run), API_VERSION, None, true)
            .await
        {
            Ok(_) => {
                info!(job = %place.name, execution = run, "stopping the execution");
                self.stops.asked(place.stop_id(run));
                Ok(())
            }
            // Gone with its job, or never there: nothing runs.
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let place = self.place_of(object);
        // The job's executions, running ones included, go with it.
        delete_ours(&self.arm, &place.id(), object.uid.as_deref(), || {
            info!(job = %place.name, resource_group = %place.resource_group, "deleting the Container Apps job");
        })
        .await
    }

    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let place = self.place_of(object);
        let id = place.id();
        let Some(job) = tagged_with(&self.arm, &id, object.uid.as_deref()).await? else {
            return Ok(());
        };
        let values = self.values.clone().unwrap_or_default();
        // Without the UID tag the job (its schedule and executions with it) is adoptable by
        // the next object of this name. ARM never describes a secret's value, and the copied
        // Secrets may be gone with the namespace: Jobs_ListSecrets tells them.
        let body = match app::released(&job, &values) {
            Some(body) => Some(body),
            None => app::released(&job, &self.listed_secrets(&place).await?),
        };
        let body = body.ok_or_else(|| ProviderError::Terminal {
            reason: reasons::PROVIDER_ERROR,
            message: format!(
                "cannot untag the Container Apps job {}: it holds an app secret whose value \
                 neither its Secret nor Jobs_ListSecrets gave Ferry (ARM never describes secret \
                 values); remove the {} tag by hand",
                place.name,
                app::TAG_UID
            ),
            recheck: None,
        })?;
        self.arm.put(&id, API_VERSION, &body).await?;
        info!(job = %place.name, "released the Container Apps job (its UID tag removed)");
        Ok(())
    }
}
