//! The pure half of a job's reconcile: what to do about its definition and runs given what the
//! provider holds and what the status remembers, and the Events its runs' changes bring.

use ferry_api::{ConcurrencyPolicy, JobRun, RunState};
use ferry_core::job::DesiredJob;
use ferry_core::job::status::{describe, has_run_for};
use ferry_provider::job::{Definition, JobObservation};
use kube::runtime::events::EventType;

use crate::plan::Announcement;

/// What a reconcile does at the provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobPlan {
    /// Apply the definition (it is missing or differs from the spec).
    pub apply: bool,
    /// Stop these runs (`concurrencyPolicy: Replace`).
    pub stop: Vec<String>,
    /// Start the run of the current generation.
    pub start: bool,
    /// Why the run of the current generation waits, when it does.
    pub waiting: Option<String>,
}

/// The plan for `desired` at spec generation `generation`, given what the provider holds and
/// the runs `history` (the status) remembers. A job without a schedule runs once per
/// generation: never again once the provider or the history holds a run of it.
pub fn plan(
    desired: &DesiredJob,
    generation: i64,
    observed: &JobObservation,
    history: &[JobRun],
) -> JobPlan {
    let mut out = JobPlan {
        apply: !matches!(
            observed.definition,
            Definition::Present {
                up_to_date: true,
                ..
            }
        ),
        ..JobPlan::default()
    };
    if desired.schedule.is_some()
        || desired.suspend
        || has_run_for(history, &observed.runs, generation)
    {
        return out;
    }
    let running: Vec<&JobRun> = observed
        .runs
        .iter()
        .filter(|r| r.state == RunState::Running)
        .collect();
    match (desired.concurrency_policy, running.as_slice()) {
        (ConcurrencyPolicy::Forbid, [first, ..]) => {
            out.waiting = Some(format!(
                "the run for generation {generation} waits for run {} to end \
                 (concurrencyPolicy: Forbid)",
                first.name
            ));
        }
        (ConcurrencyPolicy::Replace, running) => {
            out.stop = running.iter().map(|r| r.name.clone()).collect();
            out.start = true;
        }
        _ => out.start = true,
    }
    out
}

/// The Events that announce how `new` runs differ from `old` ones: a run that started, and a
/// run that ended.
pub fn run_events(old: &[JobRun], new: &[JobRun]) -> Vec<Announcement> {
    let mut out = Vec::new();
    // Oldest first, so the Events read in the order things happened.
    for run in new.iter().rev() {
        let before = old.iter().find(|o| o.name == run.name);
        if before.is_none() {
            let generation = run
                .generation
                .map_or_else(String::new, |g| format!(" for generation {g}"));
            out.push(Announcement {
                kind: EventType::Normal,
                reason: "RunStarted".into(),
                note: format!("Started run {}{generation}", run.name),
            });
        }
        if run.state.is_finished() && before.is_none_or(|b| !b.state.is_finished()) {
            let (kind, reason) = match run.state {
                RunState::Succeeded => (EventType::Normal, "RunSucceeded"),
                RunState::Failed => (EventType::Warning, "RunFailed"),
                _ => (EventType::Normal, "RunStopped"),
            };
            out.push(Announcement {
                kind,
                reason: reason.into(),
                note: describe(run),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use ferry_api::ServerlessJobSpec;
    use ferry_core::backend::BackendModel;
    use ferry_core::desired::ObjectRef;
    use ferry_core::job::Schedule;

    use super::*;

    fn desired(policy: ConcurrencyPolicy) -> DesiredJob {
        DesiredJob {
            object: ObjectRef {
                namespace: "shop".into(),
                name: "report".into(),
                uid: Some("u1".into()),
                generation: Some(3),
            },
            provider: ferry_api::Provider::Kubernetes,
            containers: Vec::new(),
            volumes: Vec::new(),
            task_count: 1,
            parallelism: 1,
            max_retries: ServerlessJobSpec::DEFAULT_MAX_RETRIES.unsigned_abs(),
            timeout_seconds: 600,
            schedule: None,
            concurrency_policy: policy,
            suspend: false,
            deletion_policy: ferry_api::DeletionPolicy::Delete,
            backend: BackendModel::new(()),
        }
    }

    fn run(name: &str, generation: i64, state: RunState) -> JobRun {
        JobRun {
            name: name.into(),
            generation: Some(generation),
            state,
            ..JobRun::default()
        }
    }

    fn observed(runs: Vec<JobRun>) -> JobObservation {
        JobObservation {
            definition: Definition::Present {
                up_to_date: true,
                id: None,
            },
            runs,
        }
    }

    #[test]
    fn a_new_generation_starts_its_run_once() {
        let want = desired(ConcurrencyPolicy::Forbid);
        let first = plan(&want, 3, &observed(vec![]), &[]);
        assert!(first.start && !first.apply && first.stop.is_empty());
        // The run the provider holds (an interrupted reconcile's) is not started again...
        let seen = observed(vec![run("report-3", 3, RunState::Running)]);
        assert!(!plan(&want, 3, &seen, &[]).start);
        // ...nor one the history remembers after the provider dropped it.
        let history = [run("report-3", 3, RunState::Succeeded)];
        assert!(!plan(&want, 3, &observed(vec![]), &history).start);
    }

    #[test]
    fn a_run_of_an_older_generation_under_way_follows_the_concurrency_policy() {
        let older = observed(vec![run("report-2", 2, RunState::Running)]);
        let forbid = plan(&desired(ConcurrencyPolicy::Forbid), 3, &older, &[]);
        assert!(!forbid.start);
        assert!(
            forbid.waiting.as_deref().unwrap().contains("report-2"),
            "{forbid:?}"
        );
        let replace = plan(&desired(ConcurrencyPolicy::Replace), 3, &older, &[]);
        assert_eq!(replace.stop, ["report-2"]);
        assert!(replace.start);
        let allow = plan(&desired(ConcurrencyPolicy::Allow), 3, &older, &[]);
        assert!(allow.start && allow.stop.is_empty());
    }

    #[test]
    fn scheduled_and_suspended_jobs_start_nothing_themselves() {
        let mut scheduled = desired(ConcurrencyPolicy::Forbid);
        scheduled.schedule = Some(Schedule::parse("0 3 * * *", None).unwrap());
        let absent = JobObservation::default();
        let p = plan(&scheduled, 3, &absent, &[]);
        assert!(p.apply && !p.start);
        let mut suspended = desired(ConcurrencyPolicy::Forbid);
        suspended.suspend = true;
        assert!(!plan(&suspended, 3, &observed(vec![]), &[]).start);
    }

    #[test]
    fn events_tell_a_run_starting_and_ending_once() {
        let started = [run("report-3", 3, RunState::Running)];
        let events = run_events(&[], &started);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].reason, "RunStarted");
        assert!(run_events(&started, &started).is_empty());
        let failed = [run("report-3", 3, RunState::Failed)];
        let events = run_events(&started, &failed);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].reason, "RunFailed");
        assert_eq!(events[0].kind, EventType::Warning);
        assert!(run_events(&failed, &failed).is_empty());
        // A run that started and ended between two looks gets both.
        let reasons: Vec<String> = run_events(&[], &[run("report-4", 4, RunState::Succeeded)])
            .into_iter()
            .map(|e| e.reason)
            .collect();
        assert_eq!(reasons, ["RunStarted", "RunSucceeded"]);
    }
}
