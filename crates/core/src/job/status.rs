//! A ServerlessJob's status as a pure function: the runs the provider reports merged into the
//! bounded history, and the conditions that summarize them. As for services, a reconcile that
//! finds nothing new computes the same status and writes nothing.
//!
//! The conditions speak of one run: for a job without a schedule, the run of the current spec
//! (so `kubectl wait --for=condition=Complete` waits for the spec just applied); for a
//! scheduled job, the newest run that ended.

use std::cmp::Ordering;

use ferry_api::conditions::{reasons, types};
use ferry_api::{JobRun, Provider, ResourceRef, RunState, ServerlessJobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::findings::Invalid;
use crate::job::DesiredJob;
use crate::status::{condition, settle};

/// What one reconcile found.
#[derive(Clone, Debug, PartialEq)]
pub enum JobOutcome {
    /// The spec cannot run: Ferry waits for it to change.
    Invalid(Invalid),
    /// The provider was reached and holds the definition (`id`) and `runs`.
    Observed {
        /// The provider's identifier of the definition.
        id: Option<String>,
        /// The runs it holds, as it reports them. They are the whole truth: a run the history
        /// says is running and the provider no longer holds was stopped.
        runs: Vec<JobRun>,
        /// Why no run for the current spec started yet, when one is due and waits.
        waiting: Option<String>,
    },
    /// Writing the desired state failed with a reason from the documented list.
    NotSynced {
        /// The reason.
        reason: &'static str,
        /// What happened.
        message: String,
        /// Whether Ferry waits for a change rather than retrying soon.
        stalled: bool,
    },
    /// The object is being deleted and Ferry waits for the provider.
    Deleting(String),
}

/// What the status of a job is computed from.
pub struct JobStatusInput<'a> {
    /// The status the object has.
    pub old: Option<&'a ServerlessJobStatus>,
    /// The provider.
    pub provider: Provider,
    /// The spec generation.
    pub generation: Option<i64>,
    /// The desired model, when the spec is valid.
    pub desired: Option<&'a DesiredJob>,
    /// What the reconcile found.
    pub outcome: &'a JobOutcome,
    /// Now, in whole seconds.
    pub now: &'a Time,
}

/// The status for what a reconcile found.
pub fn compute(input: &JobStatusInput<'_>) -> ServerlessJobStatus {
    let old = input.old;
    let old_conditions = old.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let generation = input.generation;
    let c = |t: &str, s: &str, r: &str, m: &str| condition(t, s, r, m, generation, input.now);
    // The provider that holds the job's definition and runs: the spec's once it was reached,
    // until then the one that held them before (an invalid move must not forget where they are).
    let provider = match input.outcome {
        JobOutcome::Observed { .. } => Some(input.provider),
        _ => old.and_then(|s| s.provider).or(Some(input.provider)),
    };
    let mut status = ServerlessJobStatus {
        observed_generation: generation,
        provider,
        ..old.cloned().unwrap_or_default()
    };
    let mut conditions = Vec::new();
    match input.outcome {
        JobOutcome::Invalid(invalid) => {
            let message = invalid.to_string();
            conditions.push(c(types::READY, "False", invalid.reason(), &message));
            conditions.push(c(types::SYNCED, "False", invalid.reason(), &message));
            conditions.push(c(types::STALLED, "True", invalid.reason(), &message));
        }
        JobOutcome::Observed { id, runs, waiting } => {
            status.resource_ref = id.as_ref().map(|id| ResourceRef { id: id.clone() });
            status.runs = merge_runs(&status.runs, runs, input.now);
            status.last_run = status.runs.first().cloned();
            conditions.push(c(types::SYNCED, "True", reasons::RECONCILE_SUCCESS, ""));
            if let Some(desired) = input.desired {
                conditions.extend(run_conditions(
                    desired,
                    &status.runs,
                    generation,
                    waiting.as_deref(),
                    &c,
                ));
            }
        }
        JobOutcome::NotSynced {
            reason,
            message,
            stalled,
        } => {
            conditions.push(c(types::SYNCED, "False", reason, message));
            // What the runs said still stands.
            conditions.extend(
                old_conditions
                    .iter()
                    .filter(|o| {
                        [types::READY, types::COMPLETE, types::FAILED].contains(&o.type_.as_str())
                    })
                    .cloned(),
            );
            if !conditions.iter().any(|o| o.type_ == types::READY) {
                conditions.push(c(types::READY, "False", reason, message));
            }
            let kstatus = if *stalled {
                types::STALLED
            } else {
                types::RECONCILING
            };
            conditions.push(c(kstatus, "True", reason, message));
        }
        JobOutcome::Deleting(message) => {
            conditions.push(c(types::READY, "False", reasons::DELETING, message));
            conditions.push(c(types::RECONCILING, "True", reasons::DELETING, message));
            if let Some(synced) = old_conditions.iter().find(|o| o.type_ == types::SYNCED) {
                conditions.push(synced.clone());
            }
        }
    }
    status.conditions = settle(conditions, old_conditions);
    status
}

/// The conditions that speak of the runs.
fn run_conditions(
    desired: &DesiredJob,
    runs: &[JobRun],
    generation: Option<i64>,
    waiting: Option<&str>,
    c: &dyn Fn(&str, &str, &str, &str) -> Condition,
) -> Vec<Condition> {
    let mut out = Vec::new();
    let subject = match &desired.schedule {
        Some(_) => runs.iter().find(|r| r.state.is_finished()),
        None => runs.iter().find(|r| r.generation == generation),
    };
    if let Some(run) = subject {
        let (complete, failed, reason) = match run.state {
            RunState::Running => ("False", "False", reasons::RUNNING),
            RunState::Succeeded => ("True", "False", reasons::SUCCEEDED),
            RunState::Failed => ("False", "True", run_reason(run)),
            RunState::Stopped => ("False", "False", reasons::STOPPED),
        };
        let message = describe(run);
        out.push(c(types::COMPLETE, complete, reason, &message));
        out.push(c(types::FAILED, failed, reason, &message));
    }
    match (&desired.schedule, subject) {
        (Some(schedule), _) => {
            let (reason, message) = if desired.suspend {
                (
                    reasons::SUSPENDED,
                    "suspended: the schedule starts no runs until spec.suspend is false".to_owned(),
                )
            } else {
                (
                    reasons::SCHEDULED,
                    format!(
                        "runs on schedule '{}' ({})",
                        schedule.cron, schedule.time_zone
                    ),
                )
            };
            out.push(c(types::READY, "True", reason, &message));
        }
        (None, Some(run)) => match run.state {
            RunState::Running => {
                let message = describe(run);
                out.push(c(types::READY, "Unknown", reasons::RUNNING, &message));
                out.push(c(types::RECONCILING, "True", reasons::RUNNING, &message));
            }
            RunState::Succeeded => {
                out.push(c(types::READY, "True", reasons::SUCCEEDED, &describe(run)));
            }
            RunState::Failed | RunState::Stopped => {
                let reason = if run.state == RunState::Stopped {
                    reasons::STOPPED
                } else {
                    run_reason(run)
                };
                let message = describe(run);
                out.push(c(types::READY, "False", reason, &message));
                out.push(c(types::STALLED, "True", reason, &message));
            }
        },
        (None, None) if desired.suspend => out.push(c(
            types::READY,
            "True",
            reasons::SUSPENDED,
            "suspended: the current spec runs once spec.suspend is false",
        )),
        (None, None) => {
            let message = waiting.unwrap_or("starting the run for the current spec");
            out.push(c(types::READY, "Unknown", reasons::RUNNING, message));
            out.push(c(types::RECONCILING, "True", reasons::RUNNING, message));
        }
    }
    out
}

/// A failed run's documented reason (`ContainerFailed` when the provider gave none).
fn run_reason(run: &JobRun) -> &'static str {
    let documented = [
        reasons::CONTAINER_FAILED,
        reasons::IMAGE_NOT_FOUND,
        reasons::DEADLINE_EXCEEDED,
        reasons::TASK_FAILED_TO_START,
        reasons::STOPPED,
    ];
    documented
        .into_iter()
        .find(|r| run.reason.as_deref() == Some(*r))
        .unwrap_or(reasons::CONTAINER_FAILED)
}

/// One line about a run, for conditions and Events.
pub fn describe(run: &JobRun) -> String {
    let counts = format!(
        "{} succeeded, {} failed, {} running",
        run.succeeded, run.failed, run.active
    );
    let state = match run.state {
        RunState::Running => "is running",
        RunState::Succeeded => "succeeded",
        RunState::Failed => "failed",
        RunState::Stopped => "was stopped",
    };
    match &run.message {
        Some(message) if run.state != RunState::Running => {
            format!("run {} {state} ({counts}): {message}", run.name)
        }
        _ => format!("run {} {state} ({counts})", run.name),
    }
}

/// The history after an observation: every run the provider holds (its word wins), then the
/// older records it no longer holds, newest first, at most
/// [`ServerlessJobStatus::RUN_HISTORY`]. A record of a running run the provider no longer
/// holds becomes `Stopped`: nothing will report its end.
pub fn merge_runs(history: &[JobRun], observed: &[JobRun], now: &Time) -> Vec<JobRun> {
    let mut runs: Vec<JobRun> = observed.to_vec();
    for old in history {
        if runs.iter().any(|r| r.name == old.name) {
            continue;
        }
        let mut old = old.clone();
        if old.state == RunState::Running {
            old.state = RunState::Stopped;
            old.reason = Some(reasons::STOPPED.to_owned());
            old.message = Some("the provider no longer holds this run".to_owned());
            old.active = 0;
            old.completion_time = Some(now.clone());
        }
        runs.push(old);
    }
    runs.sort_by(newest_first);
    runs.truncate(ServerlessJobStatus::RUN_HISTORY);
    runs
}

/// Newest first: by start time (a run not started yet is the newest), then by generation,
/// then by name, so the order is total and stable.
fn newest_first(a: &JobRun, b: &JobRun) -> Ordering {
    let start = |r: &JobRun| r.start_time.as_ref().map(|t| t.0);
    match (start(a), start(b)) {
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (x, y) => y
            .cmp(&x)
            .then(b.generation.cmp(&a.generation))
            .then(b.name.cmp(&a.name)),
    }
}

/// Whether the history (or the provider) already holds a run for `generation`: then it is
/// never started again, even when the provider has since dropped its record.
pub fn has_run_for(history: &[JobRun], observed: &[JobRun], generation: i64) -> bool {
    observed
        .iter()
        .chain(history)
        .any(|r| r.generation == Some(generation))
}

#[cfg(test)]
mod tests {
    use ferry_api::{ConcurrencyPolicy, DeletionPolicy};

    use super::*;
    use crate::backend::BackendModel;
    use crate::desired::ObjectRef;
    use crate::job::Schedule;

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_800_000_000 + seconds).unwrap())
    }

    fn desired(schedule: Option<&str>) -> DesiredJob {
        DesiredJob {
            object: ObjectRef {
                namespace: "shop".into(),
                name: "report".into(),
                uid: Some("u1".into()),
                generation: Some(2),
            },
            provider: Provider::Kubernetes,
            containers: Vec::new(),
            volumes: Vec::new(),
            task_count: 1,
            parallelism: 1,
            max_retries: 3,
            timeout_seconds: 600,
            schedule: schedule.map(|s| Schedule::parse(s, None).unwrap()),
            concurrency_policy: ConcurrencyPolicy::Forbid,
            suspend: false,
            deletion_policy: DeletionPolicy::Delete,
            backend: BackendModel::new(()),
        }
    }

    fn run(name: &str, generation: i64, state: RunState, started: i64) -> JobRun {
        JobRun {
            name: name.into(),
            generation: Some(generation),
            state,
            start_time: Some(at(started)),
            ..JobRun::default()
        }
    }

    fn status_of(
        old: Option<&ServerlessJobStatus>,
        want: &DesiredJob,
        runs: Vec<JobRun>,
        now: i64,
    ) -> ServerlessJobStatus {
        compute(&JobStatusInput {
            old,
            provider: Provider::Kubernetes,
            generation: Some(2),
            desired: Some(want),
            outcome: &JobOutcome::Observed {
                id: None,
                runs,
                waiting: None,
            },
            now: &at(now),
        })
    }

    fn get<'a>(status: &'a ServerlessJobStatus, type_: &str) -> (&'a str, &'a str) {
        let c = status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("no {type_} in {:?}", status.conditions));
        (c.status.as_str(), c.reason.as_str())
    }

    #[test]
    fn a_run_of_the_current_spec_is_what_the_conditions_tell() {
        let want = desired(None);
        let running = status_of(
            None,
            &want,
            vec![run("report-2", 2, RunState::Running, 0)],
            1,
        );
        assert_eq!(get(&running, types::READY), ("Unknown", reasons::RUNNING));
        assert_eq!(
            get(&running, types::RECONCILING),
            ("True", reasons::RUNNING)
        );
        assert_eq!(get(&running, types::COMPLETE), ("False", reasons::RUNNING));
        assert_eq!(running.last_run.as_ref().unwrap().name, "report-2");

        let done = status_of(
            Some(&running),
            &want,
            vec![run("report-2", 2, RunState::Succeeded, 0)],
            9,
        );
        assert_eq!(get(&done, types::READY), ("True", reasons::SUCCEEDED));
        assert_eq!(get(&done, types::COMPLETE), ("True", reasons::SUCCEEDED));
        assert_eq!(get(&done, types::FAILED), ("False", reasons::SUCCEEDED));
        assert!(
            !done
                .conditions
                .iter()
                .any(|c| c.type_ == types::RECONCILING)
        );
        // Synced did not flip: its transition time stays.
        let synced = |s: &ServerlessJobStatus| {
            s.conditions
                .iter()
                .find(|c| c.type_ == types::SYNCED)
                .unwrap()
                .last_transition_time
                .clone()
        };
        assert_eq!(synced(&done), synced(&running));
        // The same observation again computes the same status: nothing to write.
        let again = status_of(
            Some(&done),
            &want,
            vec![run("report-2", 2, RunState::Succeeded, 0)],
            20,
        );
        assert_eq!(again, done);
    }

    #[test]
    fn a_failed_run_stalls_with_its_reason() {
        let mut failed = run("report-2", 2, RunState::Failed, 0);
        failed.reason = Some(reasons::DEADLINE_EXCEEDED.into());
        failed.message = Some("task 0 ran past 600 s".into());
        let status = status_of(None, &desired(None), vec![failed], 5);
        assert_eq!(
            get(&status, types::READY),
            ("False", reasons::DEADLINE_EXCEEDED)
        );
        assert_eq!(
            get(&status, types::FAILED),
            ("True", reasons::DEADLINE_EXCEEDED)
        );
        assert_eq!(
            get(&status, types::STALLED),
            ("True", reasons::DEADLINE_EXCEEDED)
        );
        let ready = status
            .conditions
            .iter()
            .find(|c| c.type_ == types::READY)
            .unwrap();
        assert!(
            ready.message.contains("ran past 600 s"),
            "{}",
            ready.message
        );
    }

    #[test]
    fn a_scheduled_job_is_ready_and_tells_how_its_newest_finished_run_ended() {
        let want = desired(Some("0 3 * * *"));
        let status = status_of(
            None,
            &want,
            vec![
                run("report-29000002", 2, RunState::Running, 100),
                run("report-29000001", 2, RunState::Failed, 50),
            ],
            101,
        );
        assert_eq!(get(&status, types::READY), ("True", reasons::SCHEDULED));
        assert_eq!(
            get(&status, types::FAILED),
            ("True", reasons::CONTAINER_FAILED)
        );
        assert_eq!(status.last_run.unwrap().name, "report-29000002");
    }

    #[test]
    fn history_keeps_the_newest_runs_and_marks_a_vanished_running_one_stopped() {
        let history: Vec<JobRun> = (0..10)
            .map(|i| run(&format!("old-{i}"), 1, RunState::Succeeded, i))
            .chain([run("gone", 1, RunState::Running, 5)])
            .collect();
        let merged = merge_runs(&history, &[run("new", 2, RunState::Running, 100)], &at(101));
        assert_eq!(merged.len(), ServerlessJobStatus::RUN_HISTORY);
        assert_eq!(merged[0].name, "new");
        let gone = merged.iter().find(|r| r.name == "gone").unwrap();
        assert_eq!(gone.state, RunState::Stopped);
        assert_eq!(gone.reason.as_deref(), Some(reasons::STOPPED));
        assert!(!merged.iter().any(|r| r.name == "old-0"), "the oldest goes");
    }

    #[test]
    fn a_run_not_started_yet_sorts_first() {
        let mut pending = run("pending", 3, RunState::Running, 0);
        pending.start_time = None;
        let merged = merge_runs(
            &[run("old", 2, RunState::Succeeded, 50)],
            &[pending],
            &at(60),
        );
        assert_eq!(merged[0].name, "pending");
    }

    #[test]
    fn suspended_and_waiting_jobs_say_so() {
        let mut want = desired(None);
        want.suspend = true;
        let status = status_of(None, &want, Vec::new(), 0);
        assert_eq!(get(&status, types::READY), ("True", reasons::SUSPENDED));
        let waiting = compute(&JobStatusInput {
            old: None,
            provider: Provider::Kubernetes,
            generation: Some(2),
            desired: Some(&desired(None)),
            outcome: &JobOutcome::Observed {
                id: None,
                runs: vec![run("report-1", 1, RunState::Running, 0)],
                waiting: Some("waits for run report-1".into()),
            },
            now: &at(1),
        });
        let ready = waiting
            .conditions
            .iter()
            .find(|c| c.type_ == types::READY)
            .unwrap();
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.message, "waits for run report-1");
    }

    /// An invalid spec (a move the CRD did not refuse) keeps the provider that holds the runs,
    /// so the next reconcile still knows where they are; a reached provider is recorded.
    #[test]
    fn the_provider_of_the_status_is_where_the_runs_are() {
        let old = ServerlessJobStatus {
            provider: Some(Provider::Fargate),
            ..ServerlessJobStatus::default()
        };
        let mut f = crate::findings::Findings::default();
        f.invalid("spec.provider", "cannot change");
        let invalid = f.finish(()).unwrap_err();
        let input = |outcome: &JobOutcome| {
            compute(&JobStatusInput {
                old: Some(&old),
                provider: Provider::Kubernetes,
                generation: Some(2),
                desired: None,
                outcome,
                now: &at(0),
            })
        };
        let kept = input(&JobOutcome::Invalid(invalid));
        assert_eq!(kept.provider, Some(Provider::Fargate));
        let reached = input(&JobOutcome::Observed {
            id: None,
            runs: Vec::new(),
            waiting: None,
        });
        assert_eq!(reached.provider, Some(Provider::Kubernetes));
    }
}
