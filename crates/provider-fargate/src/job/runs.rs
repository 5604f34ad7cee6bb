//! What ECS says about a job's tasks, in Ferry's terms, and what a run needs next. Pure: the
//! client describes the tasks ([`ObservedTask`]), this module places each in its run
//! ([`group_runs`]), reads each run's state ([`RunTasks::run`]) and decides what
//! [`advance`] starts and stops, since ECS itself runs no retries, no parallelism limit and no
//! timeout.
//!
//! A task's outcome (ECS API reference, `Task.stopCode` and `stoppedReason`, and the
//! containers' `exitCode`):
//! - `EssentialContainerExited` (or no stop code): succeeded when every container exited 0,
//!   else `ContainerFailed` with the first non-zero exit; a container that never ran fails as
//!   `TaskFailedToStart` (`ImageNotFound` when its image could not be pulled). Every container
//!   must exit 0, as every container of a Job's pod must: a sidecar has to end with the task.
//! - `TaskFailedToStart`: `ImageNotFound` when the reason is a `CannotPullContainerError`, else
//!   `TaskFailedToStart`.
//! - `UserInitiated`: `DeadlineExceeded` when Ferry stopped it at `timeoutSeconds` (its reason
//!   starts with [`DEADLINE_PREFIX`]); otherwise the task was stopped (by Ferry replacing the
//!   run, or by someone else), which stops the run: `Stopped`.
//! - anything else ECS stops a task for (`SpotInterruption`, `TerminationNotice`,
//!   `ServiceSchedulerInitiated`): a failed attempt with reason `Stopped`, retried.
//!
//! A failed attempt is retried while `maxRetries` allows; a task that fails after its retries
//! fails the run, and Ferry then stops the run's other tasks (as a Job whose backoff limit is
//! exceeded ends its pods), so a run's end is decided while every record of it is fresh.
//!
//! Tasks ECS no longer reports: ECS keeps a stopped task's record for at least an hour (ECS
//! API reference, DescribeTasks: "stopped tasks appear in the returned results for at least one
//! hour"). Ferry starts a run's tasks in index order, so a task with no record whose index is
//! below one that has a record was started and has ended: a failure would have been retried
//! or would have failed the run within a reconcile, so it counts as succeeded. A task with no
//! record above every recorded index counts as not started; starting it again repeats its
//! `clientToken`, and ECS answers with the task it started (for 24 hours; ECS API reference,
//! "Ensuring idempotency") instead of starting another.

use std::collections::{BTreeMap, HashMap, HashSet};

use ferry_api::conditions::reasons;
use ferry_api::{ConcurrencyPolicy, JobRun, RunState};
use ferry_core::desired::ObjectRef;
use ferry_core::job::DesiredJob;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::build::{
    DEADLINE_PREFIX, STOP_PREFIX, Slot, TaskGroup, deadline_reason, is_run_of, is_scheduled_run,
    scheduled_run_name,
};

/// Tasks one `advance` (or `start`) starts at most: one second of Fargate's RunTask quota
/// (AWS Fargate throttling quotas: 20 RunTask calls a second, burst and sustained), so a
/// reconcile stays short; the run goes on at the next one.
pub const MAX_STARTS: usize = 20;

/// One container of a task, as DescribeTasks answers it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedContainer {
    /// Name.
    pub name: String,
    /// Its exit code, once it exited.
    pub exit_code: Option<i32>,
    /// Why it stopped, when ECS says (a pull error, ...).
    pub reason: Option<String>,
}

/// One task, as DescribeTasks answers it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedTask {
    /// ARN.
    pub arn: String,
    /// The task definition it runs.
    pub task_definition_arn: String,
    /// `startedBy`.
    pub started_by: String,
    /// The task group.
    pub group: String,
    /// `PROVISIONING` ... `STOPPED`.
    pub last_status: String,
    /// `RUNNING` or `STOPPED`.
    pub desired_status: String,
    /// When RunTask made it.
    pub created_at: Option<Timestamp>,
    /// When it stopped.
    pub stopped_at: Option<Timestamp>,
    /// Why it stopped, as a code.
    pub stop_code: Option<String>,
    /// Why it stopped, for people.
    pub stopped_reason: Option<String>,
    /// Its containers.
    pub containers: Vec<ObservedContainer>,
}

impl ObservedTask {
    fn stopped(&self) -> bool {
        self.last_status == "STOPPED"
    }

    /// Asked to stop (by StopTask, or because a container exited) but not stopped yet.
    fn ending(&self) -> bool {
        self.desired_status == "STOPPED" && !self.stopped()
    }
}

/// A task of the job in its run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// Its index.
    pub index: u32,
    /// Its attempt.
    pub attempt: u32,
    /// The task.
    pub task: ObservedTask,
}

/// One run's tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunTasks {
    /// The run's name ([`run_name`](super::build::run_name) or
    /// [`scheduled_run_name`](super::build::scheduled_run_name)).
    pub name: String,
    /// The spec generation it runs.
    pub generation: i64,
    /// Whether a schedule started it.
    pub scheduled: bool,
    /// Its task count.
    pub count: u32,
    /// Its tasks, every attempt.
    pub tasks: Vec<Placed>,
}

/// Where one task (one index) of a run stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Not started yet.
    NotStarted,
    /// Started and ended long enough ago that ECS forgot it: counted as succeeded.
    Aged,
    /// Its latest attempt runs.
    Active {
        /// The attempt's task.
        arn: String,
        /// When it was created.
        created_at: Option<Timestamp>,
        /// Whether it is already stopping.
        ending: bool,
    },
    /// It succeeded.
    Succeeded,
    /// Its latest attempt failed and may be retried.
    Retry {
        /// The next attempt.
        next: u32,
    },
    /// It failed after its retries.
    Failed {
        /// Attempts made.
        attempts: u32,
        /// A documented reason.
        reason: &'static str,
        /// What ECS said.
        message: String,
    },
    /// It was stopped (the run was replaced, or someone stopped it).
    Stopped {
        /// The stop's reason.
        message: String,
    },
}

/// How one stopped attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every container exited 0.
    Succeeded,
    /// It failed; retried while `maxRetries` allows.
    Failed {
        /// A documented reason.
        reason: &'static str,
        /// What ECS said.
        message: String,
    },
    /// It was stopped: the run ends.
    Stopped {
        /// The stop's reason.
        message: String,
    },
}

const PULL_ERROR: &str = "CannotPullContainerError";

/// How `task` ended; `None` while it has not stopped.
pub fn outcome(task: &ObservedTask) -> Option<Outcome> {
    if !task.stopped() {
        return None;
    }
    let reason = task.stopped_reason.clone().unwrap_or_default();
    let pull_failed = reason.contains(PULL_ERROR)
        || task
            .containers
            .iter()
            .any(|c| c.reason.as_deref().is_some_and(|r| r.contains(PULL_ERROR)));
    let failed = |reason: &'static str, message: String| Outcome::Failed { reason, message };
    Some(match task.stop_code.as_deref() {
        Some("UserInitiated") if reason.starts_with(DEADLINE_PREFIX) => {
            failed(reasons::DEADLINE_EXCEEDED, reason)
        }
        Some("UserInitiated") => Outcome::Stopped {
            message: if reason.is_empty() {
                "the task was stopped".to_owned()
            } else {
                reason
            },
        },
        Some("TaskFailedToStart") if pull_failed => failed(reasons::IMAGE_NOT_FOUND, reason),
        Some("TaskFailedToStart") => failed(reasons::TASK_FAILED_TO_START, reason),
        None | Some("EssentialContainerExited") => exits(task, pull_failed),
        Some(code) => failed(
            reasons::STOPPED,
            format!("ECS stopped the task ({code}): {reason}"),
        ),
    })
}

/// The outcome of a task whose containers exited.
fn exits(task: &ObservedTask, pull_failed: bool) -> Outcome {
    if let Some(c) = task
        .containers
        .iter()
        .find(|c| c.exit_code.is_some_and(|code| code != 0))
    {
        return Outcome::Failed {
            reason: reasons::CONTAINER_FAILED,
            message: format!(
                "container {} exited with {}",
                c.name,
                c.exit_code.unwrap_or_default()
            ),
        };
    }
    if let Some(c) = task.containers.iter().find(|c| c.exit_code.is_none()) {
        let why = c
            .reason
            .clone()
            .or_else(|| task.stopped_reason.clone())
            .unwrap_or_default();
        return Outcome::Failed {
            reason: if pull_failed {
                reasons::IMAGE_NOT_FOUND
            } else {
                reasons::TASK_FAILED_TO_START
            },
            message: format!("container {} did not run: {why}", c.name),
        };
    }
    Outcome::Succeeded
}

/// The run and place of `task`, when it is one of `object`'s.
fn place(object: &ObjectRef, task: ObservedTask) -> Option<(String, i64, bool, u32, Placed)> {
    let group = TaskGroup::parse(&task.group)?;
    if Some(group.uid.as_str()) != object.uid.as_deref() {
        return None;
    }
    match group.slot {
        Slot::Task {
            index,
            attempt,
            count,
        } => {
            if !is_run_of(object, &task.started_by) {
                return None;
            }
            let run = task.started_by.clone();
            let scheduled = is_scheduled_run(object, &run);
            Some((
                run,
                group.generation,
                scheduled,
                count,
                Placed {
                    index,
                    attempt,
                    task,
                },
            ))
        }
        Slot::Schedule => {
            let run = scheduled_run_name(object, task.created_at?);
            Some((
                run,
                group.generation,
                true,
                1,
                Placed {
                    index: 0,
                    attempt: 0,
                    task,
                },
            ))
        }
    }
}

/// `object`'s runs among `tasks` (others' tasks are left out), newest first.
pub fn group_runs(object: &ObjectRef, tasks: Vec<ObservedTask>) -> Vec<RunTasks> {
    let mut seen = HashSet::new();
    let mut by_name: HashMap<String, RunTasks> = HashMap::new();
    for task in tasks {
        if !seen.insert(task.arn.clone()) {
            continue;
        }
        let Some((name, generation, scheduled, count, placed)) = place(object, task) else {
            continue;
        };
        let run = by_name.entry(name.clone()).or_insert_with(|| RunTasks {
            name,
            generation,
            scheduled,
            count,
            tasks: Vec::new(),
        });
        run.count = run.count.max(count);
        run.tasks.push(placed);
    }
    let mut runs: Vec<RunTasks> = by_name.into_values().collect();
    runs.sort_by(|a, b| {
        b.start_time()
            .cmp(&a.start_time())
            .then(b.generation.cmp(&a.generation))
            .then(b.name.cmp(&a.name))
    });
    runs
}

impl RunTasks {
    /// A run with no task yet.
    pub fn empty(name: String, generation: i64, count: u32) -> Self {
        Self {
            name,
            generation,
            scheduled: false,
            count,
            tasks: Vec::new(),
        }
    }

    /// When its first task was created.
    pub fn start_time(&self) -> Option<Timestamp> {
        self.tasks.iter().filter_map(|p| p.task.created_at).min()
    }

    /// The task definition its newest task runs: its retries run the same.
    pub fn task_definition_arn(&self) -> Option<&str> {
        self.tasks
            .iter()
            .max_by_key(|p| p.task.created_at)
            .map(|p| p.task.task_definition_arn.as_str())
            .filter(|arn| !arn.is_empty())
    }

    /// The containers of its tasks (what the overrides of a retry must name).
    pub fn containers(&self) -> Vec<String> {
        self.tasks
            .iter()
            .max_by_key(|p| p.task.created_at)
            .map(|p| p.task.containers.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Where each of its tasks stands, by index, with `max_retries` retries per task.
    pub fn states(&self, max_retries: u32) -> Vec<TaskState> {
        let highest = self.tasks.iter().map(|p| p.index).max();
        let mut by_index: BTreeMap<u32, Vec<&Placed>> = BTreeMap::new();
        for placed in &self.tasks {
            by_index.entry(placed.index).or_default().push(placed);
        }
        (0..self.count)
            .map(|index| {
                let mut attempts = by_index.remove(&index).unwrap_or_default();
                attempts.sort_by_key(|p| p.attempt);
                if let Some(active) = attempts.iter().find(|p| !p.task.stopped()) {
                    return TaskState::Active {
                        arn: active.task.arn.clone(),
                        created_at: active.task.created_at,
                        ending: active.task.ending(),
                    };
                }
                let Some(latest) = attempts.last() else {
                    return if highest.is_some_and(|h| h > index) {
                        TaskState::Aged
                    } else {
                        TaskState::NotStarted
                    };
                };
                match outcome(&latest.task) {
                    Some(Outcome::Succeeded) | None => TaskState::Succeeded,
                    Some(Outcome::Stopped { message }) => TaskState::Stopped { message },
                    Some(Outcome::Failed { .. }) if latest.attempt < max_retries => {
                        TaskState::Retry {
                            next: latest.attempt + 1,
                        }
                    }
                    Some(Outcome::Failed { reason, message }) => TaskState::Failed {
                        attempts: latest.attempt + 1,
                        reason,
                        message,
                    },
                }
            })
            .collect()
    }

    /// The run in `status.runs` terms, with `max_retries` retries per task.
    pub fn run(&self, max_retries: u32) -> JobRun {
        let states = self.states(max_retries);
        let count = |f: fn(&TaskState) -> bool| {
            i32::try_from(states.iter().filter(|s| f(s)).count()).unwrap_or(i32::MAX)
        };
        let active = count(|s| matches!(s, TaskState::Active { .. }));
        let succeeded = count(|s| matches!(s, TaskState::Succeeded | TaskState::Aged));
        let failed = count(|s| matches!(s, TaskState::Failed { .. }));
        let first_failure = states.iter().enumerate().find_map(|(i, s)| match s {
            TaskState::Failed {
                attempts,
                reason,
                message,
            } => Some((i, *attempts, *reason, message.clone())),
            _ => None,
        });
        let first_stop = states.iter().find_map(|s| match s {
            TaskState::Stopped { message } => Some(message.clone()),
            _ => None,
        });
        let (state, reason, message) = if active > 0 {
            (RunState::Running, None, None)
        } else if let Some((index, attempts, reason, message)) = first_failure {
            let which = if self.count > 1 {
                format!("task {index} failed")
            } else {
                "the task failed".to_owned()
            };
            let tries = if attempts == 1 {
                "1 attempt".to_owned()
            } else {
                format!("{attempts} attempts")
            };
            (
                RunState::Failed,
                Some(reason),
                Some(format!("{which} after {tries}: {message}")),
            )
        } else if let Some(message) = first_stop {
            (RunState::Stopped, Some(reasons::STOPPED), Some(message))
        } else if u32::try_from(succeeded).is_ok_and(|s| s == self.count) {
            (RunState::Succeeded, None, None)
        } else {
            (RunState::Running, None, None)
        };
        let completion_time = state
            .is_finished()
            .then(|| self.tasks.iter().filter_map(|p| p.task.stopped_at).max())
            .flatten();
        JobRun {
            name: self.name.clone(),
            generation: Some(self.generation),
            state,
            start_time: self.start_time().map(Time),
            completion_time: completion_time.map(Time),
            succeeded,
            failed,
            active,
            reason: reason.map(str::to_owned),
            message,
        }
    }
}

/// What [`advance`] does: the tasks to stop (ARN and StopTask reason), then the attempts to
/// start (index and attempt), in that order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advance {
    /// Tasks to stop, with the reason StopTask records.
    pub stop: Vec<(String, String)>,
    /// Attempts to start: (index, attempt), lowest index first.
    pub start: Vec<(u32, u32)>,
}

/// What `run` of `want` needs at `now`, given the job's `others` runs: stop what is past
/// `timeoutSeconds`, what a failed or stopped task ends, and what `concurrencyPolicy` says of
/// a scheduled run; start retries and the next tasks while fewer than `parallelism` run.
pub fn advance(want: &DesiredJob, run: &RunTasks, others: &[RunTasks], now: Timestamp) -> Advance {
    let max_retries = want.max_retries;
    if run.run(max_retries).state.is_finished() {
        return Advance::default();
    }
    let states = run.states(max_retries);
    let running: Vec<(&String, Option<Timestamp>)> = states
        .iter()
        .filter_map(|s| match s {
            TaskState::Active {
                arn,
                created_at,
                ending: false,
            } => Some((arn, *created_at)),
            _ => None,
        })
        .collect();
    let stop_all = |reason: String| Advance {
        stop: running
            .iter()
            .map(|(arn, _)| ((*arn).clone(), reason.clone()))
            .collect(),
        start: Vec::new(),
    };
    if run.scheduled
        && let Some(reason) = concurrency_stop(want, run, others)
    {
        return stop_all(reason);
    }
    let ended = states.iter().enumerate().find_map(|(i, s)| match s {
        TaskState::Failed { .. } => Some(format!("task {i} failed after its retries")),
        TaskState::Stopped { .. } => Some(format!("task {i} was stopped")),
        _ => None,
    });
    if let Some(why) = ended {
        return stop_all(format!("{STOP_PREFIX} the run has ended: {why}"));
    }
    let timeout = jiff::SignedDuration::from_secs(i64::from(want.timeout_seconds));
    let stop = running
        .iter()
        .filter(|(_, created)| created.is_some_and(|c| now.duration_since(c) >= timeout))
        .map(|(arn, _)| ((*arn).clone(), deadline_reason(want.timeout_seconds)))
        .collect();
    let active = states
        .iter()
        .filter(|s| matches!(s, TaskState::Active { .. }))
        .count();
    let slots = usize::try_from(want.parallelism)
        .unwrap_or(usize::MAX)
        .saturating_sub(active)
        .min(MAX_STARTS);
    let retries = states.iter().zip(0u32..).filter_map(|(s, i)| match s {
        TaskState::Retry { next } => Some((i, *next)),
        _ => None,
    });
    let fresh = states.iter().zip(0u32..).filter_map(|(s, i)| match s {
        TaskState::NotStarted => Some((i, 0)),
        _ => None,
    });
    Advance {
        stop,
        start: retries.chain(fresh).take(slots).collect(),
    }
}

/// Why a scheduled `run` must stop under the job's `concurrencyPolicy`: `Replace` stops it
/// when a newer scheduled run exists, `Forbid` when an older one still runs (what EventBridge
/// Scheduler started while the schedule could not yet be disabled).
fn concurrency_stop(want: &DesiredJob, run: &RunTasks, others: &[RunTasks]) -> Option<String> {
    let started = run.start_time();
    let scheduled = others.iter().filter(|o| o.scheduled && o.name != run.name);
    match want.concurrency_policy {
        ConcurrencyPolicy::Allow => None,
        ConcurrencyPolicy::Replace => scheduled
            .filter(|o| o.start_time() > started)
            .max_by_key(|o| o.start_time())
            .map(|newer| {
                format!(
                    "{STOP_PREFIX} replaced by run {} (concurrencyPolicy: Replace)",
                    newer.name
                )
            }),
        ConcurrencyPolicy::Forbid => scheduled
            .filter(|o| o.start_time() < started)
            .find(|o| o.run(want.max_retries).state == RunState::Running)
            .map(|older| {
                format!(
                    "{STOP_PREFIX} skipped: run {} still runs (concurrencyPolicy: Forbid)",
                    older.name
                )
            }),
    }
}
