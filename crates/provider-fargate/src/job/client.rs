//! The I/O half of Fargate's jobs: the task definition registered as for services (in the
//! job's own family), each attempt of each task started with its own `RunTask` and
//! `clientToken`, the runs read back with `ListTasks` (the job's family, running and stopped)
//! and `DescribeTasks`, attempts stopped with `StopTask`, and the schedule kept in EventBridge
//! Scheduler.
//!
//! `observe` reads; what it found is remembered for the calls of the same reconcile
//! (`apply`'s schedule state, `advance`, `stop`), which read again when it is missing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use aws_sdk_ecs as ecs;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_scheduler as scheduler;
use ferry_api::conditions::reasons;
use ferry_api::{FargateProviderConfig, JobRun};
use ferry_core::desired::ObjectRef;
use ferry_core::job::DesiredJob;
use ferry_provider::job::{Definition, JobClient, JobObservation};
use ferry_provider::{Deletion, ProviderError};
use jiff::Timestamp;
use scheduler::operation::create_schedule::CreateScheduleError;
use scheduler::operation::delete_schedule::DeleteScheduleError;
use scheduler::operation::get_schedule::GetScheduleError;
use tracing::{debug, info};

use super::build::{
    self, Attempt, JobRequests, RunTaskRequest, SCHEDULE_GROUP, ScheduleOwner, ScheduleRequest,
};
use super::runs::{self, ObservedContainer, ObservedTask, Placed, RunTasks, TaskState};
use crate::build::{AccountError, ObservedTaskDefinition, TAG_FINGERPRINT, TAG_MANAGED_BY};
use crate::client::AwsAccount;
use crate::client::aws::{ACCOUNT_RECHECK, classify};
use crate::client::requests::{
    active_revisions, built, deregister_task_definition, ecs_tags, network,
    register_task_definition, strategy,
};

/// Tasks one `DescribeTasks` takes (ECS API reference, DescribeTasks: "up to 100 tasks").
const DESCRIBE_BATCH: usize = 100;
/// Task ARNs one `ListTasks` page holds at most (ECS API reference, ListTasks `maxResults`).
const LIST_PAGE: i32 = 100;

/// The runs and schedule of one job in one account.
pub struct FargateJobs {
    pub(crate) aws: Arc<AwsAccount>,
    pub(crate) config: FargateProviderConfig,
    pub(crate) config_name: String,
    /// The job's cluster, from the raw spec, so deletion works for a spec that no longer
    /// validates.
    pub(crate) cluster: String,
    /// The role EventBridge Scheduler runs tasks as (the ProviderConfig's
    /// `fargate.schedulerRoleArn`).
    pub(crate) scheduler_role: Option<String>,
    /// What the last `observe` found.
    pub(crate) seen: Mutex<Option<Seen>>,
}

/// What an `observe` found, for the calls after it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seen {
    runs: Vec<RunTasks>,
}

fn invalid(e: &AccountError) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::INVALID_SPEC,
        message: e.to_string(),
        recheck: None,
    }
}

fn transient(operation: &'static str, message: impl Into<String>) -> ProviderError {
    ProviderError::Transient {
        operation,
        message: message.into(),
    }
}

fn schedule_taken(name: &str) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "the EventBridge Scheduler schedule {SCHEDULE_GROUP}/{name} exists and was not \
             created by Ferry for this ServerlessJob (its description names another owner): \
             rename the ServerlessJob, or delete the schedule"
        ),
        recheck: None,
    }
}

fn no_role(config_name: &str) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::UNSUPPORTED,
        message: format!(
            "spec.schedule: EventBridge Scheduler starts a Fargate job's runs as an IAM role \
             (trusted by scheduler.amazonaws.com, allowed ecs:RunTask and ecs:TagResource on \
             the job's task definitions and iam:PassRole for its roles), and ProviderConfig \
             {config_name} names none: set its spec.fargate.schedulerRoleArn to \
             arn:aws:iam::ACCOUNT:role/NAME, or remove spec.schedule"
        ),
        recheck: Some(ACCOUNT_RECHECK),
    }
}

fn time(t: Option<&ecs::primitives::DateTime>) -> Option<Timestamp> {
    let t = t?;
    Timestamp::new(t.secs(), i32::try_from(t.subsec_nanos()).unwrap_or(0)).ok()
}

/// A task as [`runs`] reads it.
fn observed_task(t: &ecs::types::Task) -> ObservedTask {
    ObservedTask {
        arn: t.task_arn().unwrap_or_default().to_owned(),
        task_definition_arn: t.task_definition_arn().unwrap_or_default().to_owned(),
        started_by: t.started_by().unwrap_or_default().to_owned(),
        group: t.group().unwrap_or_default().to_owned(),
        last_status: t.last_status().unwrap_or_default().to_owned(),
        desired_status: t.desired_status().unwrap_or_default().to_owned(),
        created_at: time(t.created_at()),
        stopped_at: time(t.stopped_at()),
        stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
        stopped_reason: t.stopped_reason().map(str::to_owned),
        containers: t
            .containers()
            .iter()
            .map(|c| ObservedContainer {
                name: c.name().unwrap_or_default().to_owned(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_owned),
            })
            .collect(),
    }
}

/// Whether a StopTask error says the task is not there.
fn task_gone<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error
        .as_service_error()
        .is_some_and(|e| e.message().is_some_and(|m| m.contains("not found")))
}

impl FargateJobs {
    fn remember(&self, seen: Option<Seen>) {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
    }

    fn recall(&self) -> Option<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn requests(&self, want: &DesiredJob) -> Result<JobRequests, ProviderError> {
        build::requests(want, &self.config, &self.config_name).map_err(|e| invalid(&e))
    }

    /// The newest ACTIVE revision of `family`, when there is one: `DescribeTaskDefinition`
    /// with the family alone answers the latest ACTIVE revision (ECS API reference).
    async fn newest_revision(
        &self,
        family: &str,
    ) -> Result<Option<ObservedTaskDefinition>, ProviderError> {
        const OP: &str = "DescribeTaskDefinition";
        let answer = match self
            .aws
            .ecs
            .describe_task_definition()
            .task_definition(family)
            .include(ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
        {
            Ok(answer) => answer,
            // ECS answers a family without ACTIVE revisions so.
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.code() == Some("ClientException")
                        && s.message()
                            .is_some_and(|m| m.contains("Unable to describe task definition"))
                }) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(classify(OP, &e)),
        };
        let Some(definition) = answer.task_definition() else {
            return Ok(None);
        };
        if definition.status() != Some(&ecs::types::TaskDefinitionStatus::Active) {
            return Ok(None);
        }
        Ok(Some(ObservedTaskDefinition {
            arn: definition
                .task_definition_arn()
                .unwrap_or_default()
                .to_owned(),
            family: definition.family().unwrap_or_default().to_owned(),
            revision: definition.revision(),
            tags: crate::client::directory::ecs_tags(answer.tags()),
        }))
    }

    /// The ARN of the task definition `requests` describe, registering it unless it is the
    /// newest revision already (so an interrupted apply does not register it twice).
    async fn task_definition(&self, requests: &JobRequests) -> Result<String, ProviderError> {
        let family = &requests.task_definition.family;
        if let Some(newest) = self.newest_revision(family).await?
            && newest.tags.get(TAG_FINGERPRINT) == Some(&requests.task_definition_fingerprint)
        {
            return Ok(newest.arn);
        }
        let arn = register_task_definition(&self.aws.ecs, &requests.task_definition).await?;
        info!(%arn, "registered the job's task definition");
        Ok(arn)
    }

    /// The ARN of `cluster`, read once per account.
    async fn cluster_arn(&self, cluster: &str) -> Result<String, ProviderError> {
        if let Some(arn) = self.aws.cluster_arns.lock().await.get(cluster) {
            return Ok(arn.clone());
        }
        let answer = self
            .aws
            .ecs
            .describe_clusters()
            .clusters(cluster)
            .send()
            .await
            .map_err(|e| classify("DescribeClusters", &e))?;
        let arn = answer
            .clusters()
            .iter()
            .find(|c| c.status() == Some("ACTIVE"))
            .and_then(|c| c.cluster_arn())
            .ok_or_else(|| ProviderError::Terminal {
                reason: reasons::PROVIDER_ERROR,
                message: format!(
                    "ECS cluster {cluster} is missing or not ACTIVE: create it, or name another \
                     in spec.fargate.cluster"
                ),
                recheck: Some(ACCOUNT_RECHECK),
            })?
            .to_owned();
        self.aws
            .cluster_arns
            .lock()
            .await
            .insert(cluster.to_owned(), arn.clone());
        Ok(arn)
    }

    /// Every task of `family` in `cluster` ECS reports, running and stopped.
    async fn family_tasks(
        &self,
        cluster: &str,
        family: &str,
    ) -> Result<Vec<ObservedTask>, ProviderError> {
        let mut arns = Vec::new();
        for status in [
            ecs::types::DesiredStatus::Running,
            ecs::types::DesiredStatus::Stopped,
        ] {
            let mut pages = self
                .aws
                .ecs
                .list_tasks()
                .cluster(cluster)
                .family(family)
                .desired_status(status)
                .max_results(LIST_PAGE)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify("ListTasks", &e))?;
                arns.extend(page.task_arns().iter().cloned());
            }
        }
        arns.sort();
        arns.dedup();
        let mut tasks = Vec::with_capacity(arns.len());
        for chunk in arns.chunks(DESCRIBE_BATCH) {
            let answer = self
                .aws
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| classify("DescribeTasks", &e))?;
            tasks.extend(answer.tasks().iter().map(observed_task));
        }
        Ok(tasks)
    }

    /// The job's runs, from what `observe` remembered or read now.
    async fn runs(&self, want: &DesiredJob) -> Result<Vec<RunTasks>, ProviderError> {
        if let Some(seen) = self.recall() {
            return Ok(seen.runs);
        }
        let requests = self.requests(want)?;
        let tasks = self
            .family_tasks(&requests.launch.cluster, &requests.task_definition.family)
            .await?;
        Ok(runs::group_runs(&want.object, tasks))
    }

    async fn get_schedule(
        &self,
        name: &str,
    ) -> Result<Option<scheduler::operation::get_schedule::GetScheduleOutput>, ProviderError> {
        match self
            .aws
            .scheduler
            .get_schedule()
            .name(name)
            .group_name(SCHEDULE_GROUP)
            .send()
            .await
        {
            Ok(schedule) => Ok(Some(schedule)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(GetScheduleError::is_resource_not_found_exception) =>
            {
                Ok(None)
            }
            Err(e) => Err(classify("GetSchedule", &e)),
        }
    }

    async fn delete_schedule(&self, name: &str) -> Result<(), ProviderError> {
        match self
            .aws
            .scheduler
            .delete_schedule()
            .name(name)
            .group_name(SCHEDULE_GROUP)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(DeleteScheduleError::is_resource_not_found_exception) =>
            {
                Ok(())
            }
            Err(e) => Err(classify("DeleteSchedule", &e)),
        }
    }

    /// The schedule `want` should have now, in the state the runs under way ask for.
    async fn wanted_schedule(
        &self,
        want: &DesiredJob,
        requests: &JobRequests,
        task_definition_arn: &str,
        runs: &[RunTasks],
    ) -> Result<Option<ScheduleRequest>, ProviderError> {
        if want.schedule.is_none() {
            return Ok(None);
        }
        let role = self
            .scheduler_role
            .as_deref()
            .ok_or_else(|| no_role(&self.config_name))?;
        let cluster_arn = self.cluster_arn(&requests.launch.cluster).await?;
        let running = runs
            .iter()
            .any(|r| r.scheduled && r.run(want.max_retries).state == ferry_api::RunState::Running);
        let state = build::schedule_state(want, running);
        build::schedule(
            want,
            requests,
            &cluster_arn,
            task_definition_arn,
            role,
            state,
        )
        .map_err(|why| ProviderError::Terminal {
            reason: reasons::INVALID_SPEC,
            message: format!("spec.schedule: {why}"),
            recheck: None,
        })
    }

    /// Whether the live schedule `live` is what `want` asks for.
    async fn schedule_up_to_date(
        &self,
        want: &DesiredJob,
        requests: &JobRequests,
        current: Option<&str>,
        live: Option<&scheduler::operation::get_schedule::GetScheduleOutput>,
        runs: &[RunTasks],
    ) -> Result<bool, ProviderError> {
        let object = &want.object;
        let name = build::schedule_name(&object.namespace, &object.name);
        let owner = live.map(|l| build::schedule_owner(l.description(), object.uid.as_deref()));
        match (&want.schedule, owner) {
            (None, None | Some(ScheduleOwner::Foreign | ScheduleOwner::Released)) => Ok(true),
            (Some(_), Some(ScheduleOwner::Foreign)) => Err(schedule_taken(&name)),
            // A schedule left from an earlier spec (apply deletes it), or none yet, or one an
            // earlier object released (apply adopts it).
            (None, Some(ScheduleOwner::Ours(_)))
            | (Some(_), None | Some(ScheduleOwner::Released)) => Ok(false),
            (Some(_), Some(ScheduleOwner::Ours(fingerprint))) => {
                let Some(current) = current else {
                    return Ok(false);
                };
                if self.scheduler_role.is_none() {
                    return Ok(false);
                }
                let wanted = self.wanted_schedule(want, requests, current, runs).await?;
                let state = live
                    .and_then(|l| l.state())
                    .map(scheduler::types::ScheduleState::as_str);
                Ok(wanted.is_some_and(|w| {
                    w.fingerprint == fingerprint && Some(w.state.as_str()) == state
                }))
            }
        }
    }

    /// Creates or replaces the job's schedule with `request`.
    async fn put_schedule(
        &self,
        request: &ScheduleRequest,
        exists: bool,
    ) -> Result<(), ProviderError> {
        let target = schedule_target(request)?;
        let window = built(
            "CreateSchedule",
            scheduler::types::FlexibleTimeWindow::builder()
                .mode(scheduler::types::FlexibleTimeWindowMode::from(
                    request.flexible_time_window.mode.as_str(),
                ))
                .build(),
        )?;
        let state = scheduler::types::ScheduleState::from(request.state.as_str());
        let after =
            scheduler::types::ActionAfterCompletion::from(request.action_after_completion.as_str());
        // The same request is the same token: a create repeated after a lost answer finds the
        // schedule it made.
        let token = format!("ferry-{}-{}", request.fingerprint, request.state);
        if !exists {
            let created = self
                .aws
                .scheduler
                .create_schedule()
                .name(&request.name)
                .group_name(&request.group_name)
                .schedule_expression(&request.schedule_expression)
                .schedule_expression_timezone(&request.schedule_expression_timezone)
                .description(&request.description)
                .state(state.clone())
                .flexible_time_window(window.clone())
                .target(target.clone())
                .action_after_completion(after.clone())
                .client_token(&token)
                .send()
                .await;
            match created {
                Ok(_) => {
                    info!(schedule = %request.name, "created the EventBridge Scheduler schedule");
                    return Ok(());
                }
                // Made since it was read (an earlier, interrupted apply): replace it.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(CreateScheduleError::is_conflict_exception) => {}
                Err(e) => return Err(classify("CreateSchedule", &e)),
            }
        }
        self.aws
            .scheduler
            .update_schedule()
            .name(&request.name)
            .group_name(&request.group_name)
            .schedule_expression(&request.schedule_expression)
            .schedule_expression_timezone(&request.schedule_expression_timezone)
            .description(&request.description)
            .state(state)
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(after)
            .client_token(&token)
            .send()
            .await
            .map_err(|e| classify("UpdateSchedule", &e))?;
        info!(schedule = %request.name, "updated the EventBridge Scheduler schedule");
        Ok(())
    }

    /// Starts `starts` (index, attempt) of `run`, lowest index first, stopping at the first
    /// failure (the next call starts the rest, in order); the tasks ECS answered.
    async fn start_attempts(
        &self,
        want: &DesiredJob,
        requests: &JobRequests,
        run: &RunTasks,
        starts: &[(u32, u32)],
    ) -> Result<Vec<Placed>, ProviderError> {
        if starts.is_empty() {
            return Ok(Vec::new());
        }
        let definition = match run.task_definition_arn() {
            Some(arn) => arn.to_owned(),
            None => self.task_definition(requests).await?,
        };
        let mut containers = run.containers();
        if containers.is_empty() {
            containers = want.containers.iter().map(|c| c.name.clone()).collect();
        }
        let mut placed = Vec::new();
        for &(index, attempt) in starts {
            let request = build::run_task(
                want,
                requests,
                &definition,
                &containers,
                &Attempt {
                    run: &run.name,
                    generation: run.generation,
                    index,
                    attempt,
                    count: run.count,
                },
            );
            for task in self.run_task(&request).await? {
                placed.push(Placed {
                    index,
                    attempt,
                    task,
                });
            }
            debug!(run = %run.name, index, attempt, "started a task");
        }
        Ok(placed)
    }

    /// One `RunTask`; the tasks it started, or the tasks an earlier call with the same token
    /// started.
    async fn run_task(&self, r: &RunTaskRequest) -> Result<Vec<ObservedTask>, ProviderError> {
        const OP: &str = "RunTask";
        let overrides = r.overrides.as_ref().map(|o| {
            ecs::types::TaskOverride::builder()
                .set_container_overrides(Some(
                    o.container_overrides
                        .iter()
                        .map(|c| {
                            ecs::types::ContainerOverride::builder()
                                .name(&c.name)
                                .set_environment(Some(
                                    c.environment
                                        .iter()
                                        .map(|e| {
                                            ecs::types::KeyValuePair::builder()
                                                .name(&e.name)
                                                .value(&e.value)
                                                .build()
                                        })
                                        .collect(),
                                ))
                                .build()
                        })
                        .collect(),
                ))
                .build()
        });
        let answer = self
            .aws
            .ecs
            .run_task()
            .cluster(&r.cluster)
            .task_definition(&r.task_definition)
            .count(r.count)
            .started_by(&r.started_by)
            .group(&r.group)
            .client_token(&r.client_token)
            .set_launch_type(r.launch_type.as_deref().map(ecs::types::LaunchType::from))
            .set_capacity_provider_strategy(strategy(&r.capacity_provider_strategy)?)
            .platform_version(&r.platform_version)
            .network_configuration(network(&r.network_configuration)?)
            .set_overrides(overrides)
            .set_tags(Some(ecs_tags(&r.tags)))
            .enable_ecs_managed_tags(r.enable_ecs_managed_tags)
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                // The token was used with other parameters (the run's task definition was
                // registered again since): the task that call started is the one.
                let started: Vec<String> = match e.as_service_error() {
                    Some(ecs::operation::run_task::RunTaskError::ConflictException(c)) => {
                        c.resource_ids().to_vec()
                    }
                    _ => return Err(classify(OP, &e)),
                };
                return self.describe(&r.cluster, &started).await;
            }
        };
        if answer.tasks().is_empty() {
            let why: Vec<String> = answer
                .failures()
                .iter()
                .map(|f| {
                    format!(
                        "{} {}",
                        f.reason().unwrap_or_default(),
                        f.detail().unwrap_or_default()
                    )
                })
                .collect();
            return Err(transient(
                OP,
                format!("ECS started no task: {}", why.join("; ")),
            ));
        }
        Ok(answer.tasks().iter().map(observed_task).collect())
    }

    async fn describe(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<ObservedTask>, ProviderError> {
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let answer = self
            .aws
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|e| classify("DescribeTasks", &e))?;
        Ok(answer.tasks().iter().map(observed_task).collect())
    }

    async fn stop_task(&self, cluster: &str, arn: &str, reason: &str) -> Result<(), ProviderError> {
        match self
            .aws
            .ecs
            .stop_task()
            .cluster(cluster)
            .task(arn)
            .reason(reason)
            .send()
            .await
        {
            Ok(_) => {
                info!(task = %arn, %reason, "stopped a task");
                Ok(())
            }
            Err(e) if task_gone(&e) => Ok(()),
            Err(e) => Err(classify("StopTask", &e)),
        }
    }

    /// Deregisters the revisions of `family` Ferry registered, newest first, as the service
    /// side does once its service is gone.
    async fn deregister_revisions(&self, family: &str) -> Result<(), ProviderError> {
        let mut arns = active_revisions(&self.aws.ecs, family).await?;
        arns.reverse();
        for arn in arns {
            let revision = self.aws.directory.task_definition(&arn).await?;
            if revision.tags.get(TAG_MANAGED_BY).map(String::as_str) == Some("ferry") {
                deregister_task_definition(&self.aws.ecs, &arn).await?;
                debug!(%arn, "deregistered a task definition");
            }
        }
        Ok(())
    }
}

#[async_trait]
impl JobClient for FargateJobs {
    async fn observe(&self, want: &DesiredJob) -> Result<JobObservation, ProviderError> {
        let requests = self.requests(want)?;
        let object = &want.object;
        let family = &requests.task_definition.family;
        let newest = self.newest_revision(family).await?;
        let current = newest
            .as_ref()
            .filter(|td| {
                td.tags.get(TAG_FINGERPRINT) == Some(&requests.task_definition_fingerprint)
            })
            .map(|td| td.arn.clone());
        let live = self
            .get_schedule(&build::schedule_name(&object.namespace, &object.name))
            .await?;
        let tasks = self.family_tasks(&requests.launch.cluster, family).await?;
        let runs = runs::group_runs(object, tasks);
        let schedule_ok = self
            .schedule_up_to_date(want, &requests, current.as_deref(), live.as_ref(), &runs)
            .await?;
        let ours = live.as_ref().is_some_and(|l| {
            matches!(
                build::schedule_owner(l.description(), object.uid.as_deref()),
                ScheduleOwner::Ours(_)
            )
        });
        let definition = if newest.is_none() && !ours {
            Definition::Absent
        } else {
            Definition::Present {
                up_to_date: current.is_some() && schedule_ok,
                id: newest.map(|td| td.arn),
            }
        };
        let observed = runs.iter().map(|r| r.run(want.max_retries)).collect();
        self.remember(Some(Seen { runs }));
        Ok(JobObservation {
            definition,
            runs: observed,
        })
    }

    async fn apply(&self, want: &DesiredJob) -> Result<Option<String>, ProviderError> {
        let requests = self.requests(want)?;
        let object = &want.object;
        let arn = self.task_definition(&requests).await?;
        let name = build::schedule_name(&object.namespace, &object.name);
        let live = self.get_schedule(&name).await?;
        let owner = live
            .as_ref()
            .map(|l| build::schedule_owner(l.description(), object.uid.as_deref()));
        let runs = self.recall().map(|s| s.runs).unwrap_or_default();
        match self.wanted_schedule(want, &requests, &arn, &runs).await? {
            None => {
                if matches!(owner, Some(ScheduleOwner::Ours(_))) {
                    self.delete_schedule(&name).await?;
                    info!(schedule = %name, "deleted the schedule the spec no longer has");
                }
            }
            Some(request) => match owner {
                Some(ScheduleOwner::Foreign) => return Err(schedule_taken(&name)),
                owner => self.put_schedule(&request, owner.is_some()).await?,
            },
        }
        Ok(Some(arn))
    }

    async fn start(&self, want: &DesiredJob, generation: i64) -> Result<JobRun, ProviderError> {
        let requests = self.requests(want)?;
        let mut run = RunTasks::empty(
            build::run_name(&want.object, generation),
            generation,
            want.task_count,
        );
        let plan = runs::advance(want, &run, &[], Timestamp::now());
        let placed = self
            .start_attempts(want, &requests, &run, &plan.start)
            .await?;
        run.tasks = placed;
        info!(run = %run.name, tasks = run.tasks.len(), "started the run");
        Ok(run.run(want.max_retries))
    }

    async fn advance(&self, want: &DesiredJob, run: &JobRun) -> Result<(), ProviderError> {
        let runs = self.runs(want).await?;
        let Some(tasks) = runs.iter().find(|r| r.name == run.name) else {
            return Ok(());
        };
        let plan = runs::advance(want, tasks, &runs, Timestamp::now());
        let requests = self.requests(want)?;
        for (arn, reason) in &plan.stop {
            self.stop_task(&requests.launch.cluster, arn, reason)
                .await?;
        }
        self.start_attempts(want, &requests, tasks, &plan.start)
            .await?;
        Ok(())
    }

    async fn stop(&self, want: &DesiredJob, run: &str) -> Result<(), ProviderError> {
        let runs = self.runs(want).await?;
        let Some(tasks) = runs.iter().find(|r| r.name == run) else {
            return Ok(());
        };
        let reason = format!(
            "{} replaced by generation {} (concurrencyPolicy: Replace)",
            build::STOP_PREFIX,
            want.object.generation.unwrap_or_default()
        );
        let cluster = self.requests(want)?.launch.cluster;
        for state in tasks.states(want.max_retries) {
            if let TaskState::Active {
                arn, ending: false, ..
            } = state
            {
                self.stop_task(&cluster, &arn, &reason).await?;
            }
        }
        Ok(())
    }

    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let name = build::schedule_name(&object.namespace, &object.name);
        if let Some(live) = self.get_schedule(&name).await?
            && matches!(
                build::schedule_owner(live.description(), object.uid.as_deref()),
                ScheduleOwner::Ours(_)
            )
        {
            self.delete_schedule(&name).await?;
            info!(schedule = %name, "deleted the schedule");
        }
        let family = build::family(&object.namespace, &object.name);
        let tasks = self.family_tasks(&self.cluster, &family).await?;
        let mut remaining = false;
        for run in runs::group_runs(object, tasks) {
            for placed in &run.tasks {
                let task = &placed.task;
                if task.last_status == "STOPPED" {
                    continue;
                }
                remaining = true;
                if task.desired_status != "STOPPED" {
                    let reason = format!("{} the ServerlessJob was deleted", build::STOP_PREFIX);
                    self.stop_task(&self.cluster, &task.arn, &reason).await?;
                }
            }
        }
        if remaining {
            return Ok(Deletion::InProgress);
        }
        self.deregister_revisions(&family).await?;
        Ok(Deletion::Gone)
    }

    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let name = build::schedule_name(&object.namespace, &object.name);
        let Some(live) = self.get_schedule(&name).await? else {
            return Ok(());
        };
        let ScheduleOwner::Ours(fingerprint) =
            build::schedule_owner(live.description(), object.uid.as_deref())
        else {
            return Ok(());
        };
        // UpdateSchedule replaces the whole schedule: everything as it is, but the UID, so
        // the next object of this name may adopt it. Its tasks run on.
        let description = build::description(object, None, &fingerprint);
        let mut update = self
            .aws
            .scheduler
            .update_schedule()
            .name(&name)
            .group_name(SCHEDULE_GROUP)
            .description(description)
            .set_schedule_expression(live.schedule_expression().map(str::to_owned))
            .set_schedule_expression_timezone(
                live.schedule_expression_timezone().map(str::to_owned),
            )
            .set_state(live.state().cloned())
            .set_flexible_time_window(live.flexible_time_window().cloned())
            .set_target(live.target().cloned())
            .set_action_after_completion(live.action_after_completion().cloned())
            .set_kms_key_arn(live.kms_key_arn().map(str::to_owned));
        update = update
            .set_start_date(live.start_date().copied())
            .set_end_date(live.end_date().copied());
        update
            .send()
            .await
            .map_err(|e| classify("UpdateSchedule", &e))?;
        info!(schedule = %name, "released the schedule");
        Ok(())
    }
}

/// The scheduler SDK's `Target` of `request`.
fn schedule_target(request: &ScheduleRequest) -> Result<scheduler::types::Target, ProviderError> {
    const OP: &str = "CreateSchedule";
    let ecs = &request.target.ecs_parameters;
    let vpc = &ecs.network_configuration.awsvpc_configuration;
    let awsvpc = built(
        OP,
        scheduler::types::AwsVpcConfiguration::builder()
            .set_subnets(Some(vpc.subnets.clone()))
            .set_security_groups(
                (!vpc.security_groups.is_empty()).then(|| vpc.security_groups.clone()),
            )
            .assign_public_ip(scheduler::types::AssignPublicIp::from(
                vpc.assign_public_ip.as_str(),
            ))
            .build(),
    )?;
    let strategy = ecs
        .capacity_provider_strategy
        .iter()
        .map(|i| {
            built(
                OP,
                scheduler::types::CapacityProviderStrategyItem::builder()
                    .capacity_provider(&i.capacity_provider)
                    .weight(i.weight)
                    .build(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let parameters = built(
        OP,
        scheduler::types::EcsParameters::builder()
            .task_definition_arn(&ecs.task_definition_arn)
            .task_count(ecs.task_count)
            .set_launch_type(
                ecs.launch_type
                    .as_deref()
                    .map(scheduler::types::LaunchType::from),
            )
            .set_capacity_provider_strategy((!strategy.is_empty()).then_some(strategy))
            .platform_version(&ecs.platform_version)
            .network_configuration(
                scheduler::types::NetworkConfiguration::builder()
                    .awsvpc_configuration(awsvpc)
                    .build(),
            )
            .group(&ecs.group)
            .enable_ecs_managed_tags(ecs.enable_ecs_managed_tags)
            .set_tags(Some(
                ecs.tags
                    .iter()
                    .map(|t| t.clone().into_iter().collect::<HashMap<_, _>>())
                    .collect(),
            ))
            .build(),
    )?;
    built(
        OP,
        scheduler::types::Target::builder()
            .arn(&request.target.arn)
            .role_arn(&request.target.role_arn)
            .ecs_parameters(parameters)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_times_become_timestamps() {
        let t = ecs::primitives::DateTime::from_secs_and_nanos(1_800_000_000, 500_000_000);
        assert_eq!(
            time(Some(&t)),
            Some(Timestamp::new(1_800_000_000, 500_000_000).unwrap())
        );
        assert_eq!(time(None), None);
    }
}
