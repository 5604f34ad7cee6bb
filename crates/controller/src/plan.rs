//! The pure half of a reconcile: from what was observed, what to do next at the provider; from
//! what happened, the status to write, the Event that announces a change of `Ready`, and when to
//! look again. [`crate::reconcile`] does the I/O around these and nothing else.

use std::time::Duration;

use ferry_api::ServerlessServiceStatus;
use ferry_core::status::{self, Outcome, Outputs, Readiness};
use ferry_provider::{Observation, ProviderError, Started};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use crate::reconcile::Error;

/// What to do at the provider, given what was observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing exists: create it.
    Create,
    /// It exists but differs from the spec: update it (what it reports so far is kept).
    Update {
        /// What the provider reports now.
        outputs: Outputs,
    },
    /// It is as the spec says: report how it stands.
    Report {
        /// How the provider reports it.
        readiness: Readiness,
        /// What it reports.
        outputs: Outputs,
    },
}

/// The next step for `observation`.
pub fn next(observation: Observation) -> Next {
    match observation {
        Observation::Absent => Next::Create,
        Observation::Present {
            up_to_date: false,
            outputs,
            ..
        } => Next::Update { outputs },
        Observation::Present {
            up_to_date: true,
            readiness,
            outputs,
        } => Next::Report { readiness, outputs },
    }
}

/// What one reconcile found, and when to look again.
#[derive(Debug)]
pub struct Step {
    /// What the status reports.
    pub outcome: Outcome,
    /// When to reconcile again.
    pub action: Action,
    /// A failure for the error policy (which backs off), besides the status it reports.
    pub error: Option<Error>,
}

impl Step {
    /// `outcome`, then `action`.
    pub fn done(outcome: Outcome, action: Action) -> Self {
        Self {
            outcome,
            action,
            error: None,
        }
    }

    /// A failed provider call: terminal errors wait (for a change, or the recheck), the others
    /// go to the error policy.
    pub fn failed(error: ProviderError) -> Self {
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

/// After a create or update: how the provider's answer says the resource stands, or else that
/// `what` is under way (with `outputs`, what was known before); polled every `progress_poll`.
pub fn after_write(
    started: Started,
    what: String,
    outputs: Outputs,
    progress_poll: Duration,
) -> Step {
    let (readiness, outputs) = started
        .state
        .unwrap_or((Readiness::Progressing(what), outputs));
    Step::done(
        Outcome::Observed {
            readiness,
            outputs: Outputs {
                operation: started.operation,
                ..outputs
            },
        },
        Action::requeue(progress_poll),
    )
}

/// Reporting a resource that is as the spec says: polled while it progresses, otherwise looked
/// at again after `resync`, spread by up to 10% either way (`unit` in 0..1).
pub fn report(
    readiness: Readiness,
    outputs: Outputs,
    progress_poll: Duration,
    resync: Duration,
    unit: f64,
) -> Step {
    let action = match readiness {
        Readiness::Progressing(_) => Action::requeue(progress_poll),
        Readiness::Ready | Readiness::Failed { .. } => {
            Action::requeue(resync.mul_f64(0.9 + 0.2 * unit.clamp(0.0, 1.0)))
        }
    };
    Step::done(Outcome::Observed { readiness, outputs }, action)
}

/// `first x 2^(failures-1)` up to `max`, then spread by up to 20% either way (`unit` in 0..1)
/// so objects that failed together do not retry together.
pub fn backoff(failures: u32, (first, max): (Duration, Duration), unit: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let base = first.saturating_mul(1 << exponent).min(max);
    base.mul_f64(0.8 + 0.4 * unit.clamp(0.0, 1.0))
}

/// How many failures in a row to reach a provider `deletionPolicy: Orphan` waits through
/// before it lets the object go anyway (with the default backoff, about half a minute).
pub const ORPHAN_ATTEMPTS: u32 = 5;

/// Whether a deletion with `deletionPolicy: Orphan` lets the object go although `error` kept
/// Ferry from untagging what it made, after `failures` earlier failures in a row. What only a
/// change can fix (the ProviderConfig or its credentials gone, a refusal) lets go at once;
/// throttling and outages get a few retries first, as the untagging is worth a short wait but
/// not a stranded object.
pub fn release_anyway(error: &ProviderError, failures: u32) -> bool {
    match error {
        ProviderError::Terminal { .. } | ProviderError::Auth(_) => true,
        ProviderError::Transient { .. } | ProviderError::Throttled { .. } => {
            failures + 1 >= ORPHAN_ATTEMPTS
        }
    }
}

/// What a status write is about.
pub struct StatusInput<'a> {
    /// The status the object has now.
    pub old: Option<&'a ServerlessServiceStatus>,
    /// Its provider.
    pub provider: ferry_api::Provider,
    /// Its `metadata.generation`.
    pub generation: Option<i64>,
    /// What the reconcile found.
    pub outcome: &'a Outcome,
    /// The cost estimate of its spec at rest (`None` when it cannot be priced).
    pub estimate: Option<ferry_api::CostEstimate>,
    /// Now.
    pub now: &'a Time,
}

/// The status for what a reconcile found (the caller writes it when it differs from the
/// object's).
pub fn desired_status(input: &StatusInput<'_>) -> ServerlessServiceStatus {
    let mut new = status::compute(
        input.old,
        input.provider,
        input.generation,
        input.outcome,
        input.now,
    );
    // An invalid spec is not priced; an unchanged estimate adds nothing to write.
    new.estimated_monthly_cost = match input.outcome {
        Outcome::Invalid(_) => None,
        _ => input.estimate.clone(),
    };
    new
}

/// A status's fingerprint, leaving out the conditions' transition times: a status computed
/// from a stale copy gets new times for the same conditions.
pub fn status_fingerprint(status: &impl serde::Serialize) -> u64 {
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

/// An Event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// Normal or Warning.
    pub kind: EventType,
    /// The Event's reason (the condition's).
    pub reason: String,
    /// What happened, for people.
    pub note: String,
}

/// The Event that announces a change of `Ready` from `old` to `new`: serving (with the URL) or
/// failing (with the provider's message); nothing while it is unknown or did not change.
pub fn ready_change(
    old: Option<&ServerlessServiceStatus>,
    new: &ServerlessServiceStatus,
) -> Option<Announcement> {
    let before = status::ready(old).map(|c| (c.status.as_str(), c.reason.as_str()));
    let after = status::ready(Some(new))?;
    if before == Some((after.status.as_str(), after.reason.as_str())) {
        return None;
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
        _ => return None,
    };
    Some(Announcement {
        kind,
        reason: after.reason.clone(),
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(id: &str) -> Outputs {
        Outputs {
            resource_id: Some(id.into()),
            ..Outputs::default()
        }
    }

    fn progressing(what: &str) -> Readiness {
        Readiness::Progressing(what.into())
    }

    const POLL: Duration = Duration::from_secs(5);
    const RESYNC: Duration = Duration::from_secs(600);

    #[test]
    fn every_observation_has_one_next_step() {
        let failed = Readiness::Failed {
            reason: "ImageNotFound",
            message: "no such image".into(),
        };
        let cases = [
            (Observation::Absent, Next::Create),
            (
                Observation::Present {
                    up_to_date: false,
                    readiness: Readiness::Ready,
                    outputs: outputs("a"),
                },
                Next::Update {
                    outputs: outputs("a"),
                },
            ),
            (
                Observation::Present {
                    up_to_date: false,
                    readiness: failed.clone(),
                    outputs: outputs("a"),
                },
                Next::Update {
                    outputs: outputs("a"),
                },
            ),
            (
                Observation::Present {
                    up_to_date: true,
                    readiness: failed.clone(),
                    outputs: outputs("a"),
                },
                Next::Report {
                    readiness: failed,
                    outputs: outputs("a"),
                },
            ),
            (
                Observation::Present {
                    up_to_date: true,
                    readiness: progressing("rolling"),
                    outputs: outputs("a"),
                },
                Next::Report {
                    readiness: progressing("rolling"),
                    outputs: outputs("a"),
                },
            ),
        ];
        for (observation, expected) in cases {
            assert_eq!(next(observation.clone()), expected, "{observation:?}");
        }
    }

    #[test]
    fn after_a_write_the_providers_answer_wins_over_the_step_under_way() {
        let answered = Started {
            operation: None,
            state: Some((progressing("not yet processed"), outputs("new"))),
        };
        let step = after_write(answered, "creating".into(), outputs("old"), POLL);
        assert_eq!(
            step.outcome,
            Outcome::Observed {
                readiness: progressing("not yet processed"),
                outputs: outputs("new"),
            }
        );
        assert_eq!(step.action, Action::requeue(POLL));

        let silent = Started {
            operation: Some("operations/1".into()),
            state: None,
        };
        let step = after_write(silent, "creating".into(), outputs("old"), POLL);
        assert_eq!(
            step.outcome,
            Outcome::Observed {
                readiness: progressing("creating"),
                outputs: Outputs {
                    operation: Some("operations/1".into()),
                    ..outputs("old")
                },
            }
        );
    }

    #[test]
    fn progress_is_polled_and_a_settled_resource_resyncs_with_jitter() {
        let step = report(progressing("rolling"), outputs("a"), POLL, RESYNC, 0.5);
        assert_eq!(step.action, Action::requeue(POLL));
        let step = report(Readiness::Ready, outputs("a"), POLL, RESYNC, 0.0);
        assert_eq!(step.action, Action::requeue(Duration::from_secs(540)));
        let step = report(Readiness::Ready, outputs("a"), POLL, RESYNC, 1.0);
        assert_eq!(step.action, Action::requeue(Duration::from_secs(660)));
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_spreads() {
        let bounds = (Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(backoff(1, bounds, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(4, bounds, 0.5), Duration::from_secs(8));
        assert_eq!(backoff(40, bounds, 0.5), Duration::from_secs(300));
        assert_eq!(backoff(1, bounds, 0.0), Duration::from_millis(800));
    }

    #[test]
    fn orphan_lets_go_at_once_when_only_a_change_helps_and_after_a_few_tries_otherwise() {
        let gone = ProviderError::Terminal {
            reason: ferry_api::conditions::reasons::PROVIDER_CONFIG_NOT_FOUND,
            message: "ProviderConfig aws does not exist".into(),
            recheck: None,
        };
        assert!(release_anyway(&gone, 0));
        assert!(release_anyway(&ProviderError::Auth("refused".into()), 0));
        let down = ProviderError::Transient {
            operation: "UntagResource",
            message: "connection refused".into(),
        };
        let throttled = ProviderError::Throttled {
            retry_after: None,
            message: "slow down".into(),
        };
        for error in [&down, &throttled] {
            assert!(!release_anyway(error, 0));
            assert!(!release_anyway(error, ORPHAN_ATTEMPTS - 2));
            assert!(release_anyway(error, ORPHAN_ATTEMPTS - 1));
        }
    }

    fn now() -> Time {
        Time("2026-12-07T10:00:00Z".parse().unwrap_or_default())
    }

    #[test]
    fn the_same_outcome_gives_the_same_status_and_ready_changes_are_announced_once() {
        let at = now();
        let ready = Outcome::Observed {
            readiness: Readiness::Ready,
            outputs: Outputs {
                url: Some("https://hello.example".into()),
                ..outputs("a")
            },
        };
        let input = |old, outcome| StatusInput {
            old,
            provider: ferry_api::Provider::Knative,
            generation: Some(1),
            outcome,
            estimate: None,
            now: &at,
        };
        let first = desired_status(&input(None, &ready));
        assert_eq!(desired_status(&input(Some(&first), &ready)), first);
        assert_eq!(
            ready_change(None, &first),
            Some(Announcement {
                kind: EventType::Normal,
                reason: "Available".into(),
                note: "Serving at https://hello.example".into(),
            })
        );
        assert_eq!(ready_change(Some(&first), &first), None);
        let rolling = Outcome::Observed {
            readiness: progressing("rolling"),
            outputs: outputs("a"),
        };
        let second = desired_status(&input(Some(&first), &rolling));
        assert_ne!(second, first);
        assert_eq!(
            ready_change(Some(&first), &second),
            None,
            "Unknown is not announced"
        );
        assert_eq!(
            status_fingerprint(&second),
            status_fingerprint(&desired_status(&input(None, &rolling))),
            "transition times do not count"
        );
    }
}
