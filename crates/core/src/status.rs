//! Status as a pure function: what one reconcile found becomes the `status` Ferry writes, with
//! `lastTransitionTime` moving only when a condition's status flips, so a reconcile that finds
//! nothing new computes the same status and writes nothing.

use ferry_api::conditions::{reasons, types};
use ferry_api::{Addressable, Instances, Provider, ResourceRef, ServerlessServiceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::findings::Invalid;

/// How the provider reports the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Serving at the desired state.
    Ready,
    /// Working towards it; the message says what it is doing.
    Progressing(String),
    /// Failed; `reason` is one of the documented reasons, `message` the provider's own words.
    Failed {
        /// A documented reason (`ImageNotFound`, `ContainerFailed`...).
        reason: &'static str,
        /// The provider's message.
        message: String,
    },
}

/// What the provider reports about the service, copied into status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outputs {
    /// Where it answers.
    pub url: Option<String>,
    /// The in-cluster address (Knative's `address.url`).
    pub address_url: Option<String>,
    /// The latest revision that became ready.
    pub latest_ready_revision: Option<String>,
    /// The provider's identifier.
    pub resource_id: Option<String>,
    /// Desired and ready instances.
    pub instances: Option<(i32, i32)>,
    /// A long-running operation still to be polled.
    pub operation: Option<String>,
}

/// What one reconcile found.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The spec cannot run: Ferry waits for it to change.
    Invalid(Invalid),
    /// The provider was reached; `synced` says whether the desired state was written (or was
    /// already there).
    Observed {
        /// How the provider reports it.
        readiness: Readiness,
        /// What it reports.
        outputs: Outputs,
    },
    /// Writing the desired state failed with a reason from the documented list.
    NotSynced {
        /// The reason (`ProviderError`, `Throttled`, `CredentialsInvalid`...).
        reason: &'static str,
        /// What happened.
        message: String,
        /// Whether Ferry waits for a change (or a long recheck) rather than retrying soon.
        stalled: bool,
    },
    /// The object is being deleted and Ferry waits for the provider.
    Deleting(String),
    /// Nothing new was learnt of the provider (a move removes a side, or waits for a change):
    /// the status stays as it was.
    Kept,
}

pub(crate) fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// The status for `outcome`, carrying over what `old` said that still holds.
pub fn compute(
    old: Option<&ServerlessServiceStatus>,
    provider: Provider,
    generation: Option<i64>,
    outcome: &Outcome,
    now: &Time,
) -> ServerlessServiceStatus {
    let old_conditions = old.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let previous = |t: &str| old_conditions.iter().find(|c| c.type_ == t);
    let c = |t: &str, s: &str, r: &str, m: &str| condition(t, s, r, m, generation, now);
    let mut status = ServerlessServiceStatus {
        observed_generation: generation,
        provider: Some(provider),
        ..old.cloned().unwrap_or_default()
    };
    let mut conditions = Vec::new();
    match outcome {
        Outcome::Invalid(invalid) => {
            let message = invalid.to_string();
            conditions.push(c(types::READY, "False", invalid.reason(), &message));
            conditions.push(c(types::SYNCED, "False", invalid.reason(), &message));
            conditions.push(c(types::STALLED, "True", invalid.reason(), &message));
        }
        Outcome::Observed { readiness, outputs } => {
            conditions.push(c(types::SYNCED, "True", reasons::RECONCILE_SUCCESS, ""));
            match readiness {
                Readiness::Ready => {
                    conditions.push(c(types::READY, "True", reasons::AVAILABLE, ""));
                }
                Readiness::Progressing(message) => {
                    conditions.push(c(types::READY, "Unknown", reasons::PROGRESSING, message));
                    conditions.push(c(types::RECONCILING, "True", reasons::PROGRESSING, message));
                }
                Readiness::Failed { reason, message } => {
                    conditions.push(c(types::READY, "False", reason, message));
                    // Ferry does not send the same spec again: kstatus (Flux) reads Stalled as
                    // Failed, where it would read a bare Ready=False as Current.
                    conditions.push(c(types::STALLED, "True", reason, message));
                }
            }
            status.url.clone_from(&outputs.url);
            status.address = outputs.address_url.as_ref().map(|url| Addressable {
                url: Some(url.clone()),
            });
            status
                .latest_ready_revision
                .clone_from(&outputs.latest_ready_revision);
            status.resource_ref = outputs
                .resource_id
                .as_ref()
                .map(|id| ResourceRef { id: id.clone() });
            status.operation.clone_from(&outputs.operation);
            status.instances = outputs.instances.map(|(desired, ready)| Instances {
                desired: Some(desired),
                ready: Some(ready),
            });
        }
        Outcome::NotSynced {
            reason,
            message,
            stalled,
        } => {
            conditions.push(c(types::SYNCED, "False", reason, message));
            match previous(types::READY) {
                // The provider's last word on readiness still stands, as Crossplane keeps it.
                Some(ready) if !*stalled => conditions.push(ready.clone()),
                _ => conditions.push(c(types::READY, "False", reason, message)),
            }
            if *stalled {
                conditions.push(c(types::STALLED, "True", reason, message));
            } else {
                // Ferry retries: for kstatus (Flux) the object is still in progress.
                conditions.push(c(types::RECONCILING, "True", reason, message));
            }
        }
        Outcome::Kept => conditions.extend(old_conditions.iter().cloned()),
        Outcome::Deleting(message) => {
            conditions.push(c(types::READY, "False", reasons::DELETING, message));
            conditions.push(c(types::RECONCILING, "True", reasons::DELETING, message));
            if let Some(synced) = previous(types::SYNCED) {
                conditions.push(synced.clone());
            }
        }
    }
    status.conditions = settle(conditions, old_conditions);
    status
}

/// `conditions` in their documented order, each whose status did not flip since
/// `old_conditions` with its old transition time.
pub(crate) fn settle(
    mut conditions: Vec<Condition>,
    old_conditions: &[Condition],
) -> Vec<Condition> {
    for condition in &mut conditions {
        if let Some(before) = old_conditions.iter().find(|c| c.type_ == condition.type_)
            && before.status == condition.status
        {
            condition.last_transition_time = before.last_transition_time.clone();
        }
    }
    conditions.sort_by_key(|c| order(&c.type_));
    conditions
}

fn order(type_: &str) -> usize {
    [
        types::READY,
        types::SYNCED,
        types::COMPLETE,
        types::FAILED,
        types::RECONCILING,
        types::STALLED,
    ]
    .iter()
    .position(|t| *t == type_)
    .unwrap_or(usize::MAX)
}

/// The `Ready` condition of a status, if any.
pub fn ready(status: Option<&ServerlessServiceStatus>) -> Option<&Condition> {
    status?.conditions.iter().find(|c| c.type_ == types::READY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{Finding, Severity};

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(seconds).unwrap())
    }

    fn observed(readiness: Readiness) -> Outcome {
        Outcome::Observed {
            readiness,
            outputs: Outputs {
                url: Some("https://hello.example.com".into()),
                ..Outputs::default()
            },
        }
    }

    fn get<'a>(s: &'a ServerlessServiceStatus, t: &str) -> Option<&'a Condition> {
        s.conditions.iter().find(|c| c.type_ == t)
    }

    #[test]
    fn ready_and_synced_when_the_provider_serves_it() {
        let s = compute(
            None,
            Provider::Knative,
            Some(3),
            &observed(Readiness::Ready),
            &at(10),
        );
        let ready = get(&s, types::READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Available")
        );
        assert_eq!(ready.observed_generation, Some(3));
        assert_eq!(get(&s, types::SYNCED).unwrap().reason, "ReconcileSuccess");
        assert!(get(&s, types::RECONCILING).is_none() && get(&s, types::STALLED).is_none());
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(s.url.as_deref(), Some("https://hello.example.com"));
    }

    #[test]
    fn the_same_outcome_later_computes_the_same_status() {
        let first = compute(
            None,
            Provider::Knative,
            Some(1),
            &observed(Readiness::Ready),
            &at(10),
        );
        let again = compute(
            Some(&first),
            Provider::Knative,
            Some(1),
            &observed(Readiness::Ready),
            &at(99),
        );
        assert_eq!(first, again, "nothing changed, so nothing is written");
    }

    #[test]
    fn last_transition_time_moves_only_on_a_flip() {
        let progressing = observed(Readiness::Progressing("Deploying".into()));
        let first = compute(None, Provider::Knative, Some(1), &progressing, &at(10));
        let ready = compute(
            Some(&first),
            Provider::Knative,
            Some(2),
            &observed(Readiness::Ready),
            &at(20),
        );
        assert_eq!(
            get(&ready, types::READY).unwrap().last_transition_time,
            at(20),
            "Unknown -> True flips"
        );
        assert_eq!(
            get(&ready, types::SYNCED).unwrap().last_transition_time,
            at(10),
            "Synced stayed True"
        );
        assert!(
            get(&ready, types::RECONCILING).is_none(),
            "Reconciling goes once ready"
        );
    }

    #[test]
    fn an_invalid_spec_stalls_with_its_reason() {
        let invalid = Invalid {
            errors: vec![Finding {
                field: "spec.concurrency".into(),
                severity: Severity::Unsupported,
                message: "Fargate does not support spec.concurrency".into(),
            }],
            warnings: vec![],
        };
        let s = compute(
            None,
            Provider::Fargate,
            Some(1),
            &Outcome::Invalid(invalid),
            &at(1),
        );
        let ready = get(&s, types::READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "Unsupported")
        );
        assert!(ready.message.contains("spec.concurrency"));
        assert_eq!(get(&s, types::STALLED).unwrap().status, "True");
    }

    #[test]
    fn a_transient_provider_error_keeps_the_last_readiness() {
        let ready = compute(
            None,
            Provider::Knative,
            Some(1),
            &observed(Readiness::Ready),
            &at(1),
        );
        let failed = Outcome::NotSynced {
            reason: reasons::PROVIDER_ERROR,
            message: "connection refused".into(),
            stalled: false,
        };
        let s = compute(Some(&ready), Provider::Knative, Some(1), &failed, &at(2));
        assert_eq!(get(&s, types::READY).unwrap().status, "True");
        assert_eq!(get(&s, types::SYNCED).unwrap().status, "False");
        assert_eq!(
            s.url.as_deref(),
            Some("https://hello.example.com"),
            "outputs stay"
        );
        // Ferry retries: kstatus (Flux) must read "in progress", not "current".
        assert_eq!(get(&s, types::RECONCILING).unwrap().status, "True");
        assert!(get(&s, types::STALLED).is_none());
    }

    #[test]
    fn a_failed_revision_stalls_so_kstatus_reads_it_as_failed() {
        let failed = Readiness::Failed {
            reason: reasons::IMAGE_NOT_FOUND,
            message: "image not found".into(),
        };
        let s = compute(None, Provider::Knative, Some(2), &observed(failed), &at(1));
        assert_eq!(get(&s, types::READY).unwrap().status, "False");
        let stalled = get(&s, types::STALLED).unwrap();
        assert_eq!(
            (stalled.status.as_str(), stalled.reason.as_str()),
            ("True", reasons::IMAGE_NOT_FOUND)
        );
        assert!(get(&s, types::RECONCILING).is_none());
        // Becoming ready clears it.
        let ready = compute(
            Some(&s),
            Provider::Knative,
            Some(2),
            &observed(Readiness::Ready),
            &at(2),
        );
        assert!(get(&ready, types::STALLED).is_none());
    }
}
