//! What a provider sells, checked before it prices a spec: `ferry cost` compares a spec across
//! providers, so each provider's column must price only a size that provider would run. The
//! spec is moved to the provider ([`moved`]: `spec.provider` set, the other providers' sections
//! left out, sized as that provider's estimate sizes it), checked by the same validation
//! `ferry validate` runs for that provider, and the refusals of what a bill is made of (the
//! containers and their resources; for a job also its tasks and their timeout) keep the
//! provider from pricing it: the column says why, in validation's own words, instead of a figure.
//!
//! Two kinds of refusal do not: those of fields the bill does not depend on (secrets, probes,
//! names: moving would need them changed, the price would not), and those of a field the
//! provider has no setting for at all (its capability cell is `no`), which its estimate gives
//! the provider's own behaviour, as the estimate's assumptions say (Cloud Run has no ephemeral
//! storage; Fargate keeps at least one task).

use std::collections::BTreeSet;

use ferry_api::{ServerlessJobSpec, ServerlessServiceSpec};
use serde::Serialize;

use crate::backend::Rules;
use crate::capabilities::{Feature, Level, occurrences};
use crate::desired::ObjectRef;
use crate::findings::Finding;
use crate::job::validate_job_spec;
use crate::validate::validate_spec;

/// One refusal of a spec by a provider's rules: what `ferry validate` says for the field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// The field, as validation names it (`spec.containers[0].resources.cpu`).
    pub field: String,
    /// Validation's message.
    pub message: String,
}

/// The object name validation checks a moved spec under: names are not billed, and a refusal
/// of the name is not one of what a bill is made of.
const PRICED_OBJECT: &str = "priced";

/// `spec` as it would be moved to the provider of `rules` and priced there: `provider` set to
/// it, the sections of other providers left out (the spec's own section applies only to its own
/// provider), then sized as that provider's estimate sizes it ([`Rules::as_priced`]). A spec
/// already on that provider is checked as it is.
pub fn moved(spec: &ServerlessServiceSpec, rules: &dyn Rules) -> ServerlessServiceSpec {
    if spec.provider == rules.provider() {
        return spec.clone();
    }
    let mut moved = spec.clone();
    moved.provider = rules.provider();
    moved.knative = None;
    moved.fargate = None;
    moved.cloud_run = None;
    moved.container_apps = None;
    moved.container_instances = None;
    moved.kubernetes = None;
    rules.as_priced(moved)
}

/// `spec` (a job's) moved to the provider of `rules`, as [`moved`] moves a service's: its
/// containers sized as that provider's estimate sizes them.
pub fn moved_job(spec: &ServerlessJobSpec, rules: &dyn Rules) -> ServerlessJobSpec {
    if spec.provider == rules.provider() {
        return spec.clone();
    }
    let mut moved = spec.clone();
    moved.provider = rules.provider();
    moved.fargate = None;
    moved.cloud_run = None;
    moved.container_apps = None;
    moved.kubernetes = None;
    moved.containers = rules.as_priced(moved.workload()).containers;
    moved
}

/// What the provider of `rules` refuses of what `spec`'s bill is made of, moved there
/// ([`moved`]); empty when it sells it.
pub fn refusals(spec: &ServerlessServiceSpec, rules: &dyn Rules) -> Vec<Refused> {
    let moved = moved(spec, rules);
    let Err(invalid) = validate_spec(object(), &moved, rules) else {
        return Vec::new();
    };
    billed(invalid.errors, &moved, rules, |field| {
        is_size(field) || is_resources(field)
    })
}

/// What the provider of `rules` refuses of what a run of the job `spec` is billed for (its
/// containers' sizes, its task count, its task timeout), moved there ([`moved_job`]).
pub fn job_refusals(spec: &ServerlessJobSpec, rules: &dyn Rules) -> Vec<Refused> {
    let moved = moved_job(spec, rules);
    let Err(invalid) = validate_job_spec(object(), &moved, rules) else {
        return Vec::new();
    };
    billed(invalid.errors, &moved.workload(), rules, |field| {
        is_size(field)
            || is_resources(field)
            || matches!(field, "spec.taskCount" | "spec.timeoutSeconds")
    })
}

/// The one line a column shows instead of a figure: each refusal, field and message.
pub fn not_sold(rules: &dyn Rules, refused: &[Refused]) -> String {
    let reasons: Vec<String> = refused
        .iter()
        .map(|r| format!("{}: {}", r.field, r.message))
        .collect();
    format!(
        "not sold on {}: {}",
        rules.provider().display_name(),
        reasons.join("; ")
    )
}

fn object() -> ObjectRef {
    ObjectRef {
        namespace: "default".to_owned(),
        name: PRICED_OBJECT.to_owned(),
        uid: None,
        generation: None,
    }
}

/// The `errors` on fields `counts` keeps, but not those on a field the provider has no setting
/// for at all (its estimate gives them the provider's own behaviour).
fn billed(
    errors: Vec<Finding>,
    workload: &ServerlessServiceSpec,
    rules: &dyn Rules,
    counts: impl Fn(&str) -> bool,
) -> Vec<Refused> {
    let unsupported: BTreeSet<String> = Feature::ALL
        .into_iter()
        .filter(|f| rules.support(*f).level == Level::No)
        .flat_map(|f| occurrences(f, workload))
        .collect();
    errors
        .into_iter()
        .filter(|e| counts(&e.field) && !unsupported.contains(&e.field))
        .map(|e| Refused {
            field: e.field,
            message: e.message,
        })
        .collect()
}

/// `spec.containers` itself: how many there are, or what they ask for together.
fn is_size(field: &str) -> bool {
    field == "spec.containers"
}

/// `spec.containers[N].resources` and what it holds.
fn is_resources(field: &str) -> bool {
    field
        .strip_prefix("spec.containers[")
        .and_then(|rest| rest.split_once(']'))
        .is_some_and(|(index, rest)| {
            index.bytes().all(|b| b.is_ascii_digit())
                && (rest == ".resources" || rest.starts_with(".resources."))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_containers_and_their_resources_are_sizes() {
        for field in [
            "spec.containers[0].resources",
            "spec.containers[12].resources.cpu",
            "spec.containers[1].resources.gpu.type",
        ] {
            assert!(is_resources(field), "{field}");
        }
        for field in [
            "spec.containers[0].env[0].secret",
            "spec.containers[0].resourcesX",
            "spec.containers[x].resources",
            "spec.concurrency",
            "spec.scaling.maxInstances",
        ] {
            assert!(!is_resources(field), "{field}");
        }
        assert!(is_size("spec.containers"));
    }
}
