//! `--migrate-to`: after the other phases, every object is moved to another provider at once
//! (`spec.provider`, its `providerConfigRef`, the container and scaling that provider accepts,
//! and `spec.migration.drainSeconds`), and the benchmark times the move until each object
//! reports the new provider Ready with no move under way, and counts what it cost: the
//! operator's API calls and each cloud's calls. It also checks that the old sides are gone.

use std::time::{Duration, Instant, SystemTime};

use ferry_api::{Provider, ServerlessService};
use futures::{StreamExt as _, TryStreamExt as _};
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::cloud::CloudPhase;
use crate::{Args, Backend, Error, NAMESPACE, Pending, PhaseCalls};

/// A move in progress or done: what the benchmark needs to report it.
pub(crate) struct Moved {
    /// The target's backend, kept running until the report is written.
    pub(crate) backend: Backend,
    pub(crate) to: Provider,
    pub(crate) seconds: f64,
    /// Audit-log marks around the move.
    pub(crate) audit: (usize, usize),
    /// Wall-clock time around the move (for the clouds' calls).
    pub(crate) window: (SystemTime, SystemTime),
    /// Knative Services left in the namespace (a move from Knative), else `None`.
    pub(crate) knative_left: Option<usize>,
}

/// The figures of the move.
#[derive(Debug, Serialize)]
pub(crate) struct MigrationReport {
    pub(crate) from: Provider,
    pub(crate) to: Provider,
    pub(crate) drain_seconds: u64,
    /// From the first spec change until every object reported the new provider Ready with no
    /// move under way.
    pub(crate) seconds: f64,
    pub(crate) operator: PhaseCalls,
    /// The old provider's cloud calls (a move from a cloud).
    pub(crate) from_cloud: Option<CloudPhase>,
    /// The new provider's cloud calls (a move to a cloud).
    pub(crate) to_cloud: Option<CloudPhase>,
    /// Old sides still there afterwards (target 0): Knative Services left, or objects whose
    /// cloud service was not deleted.
    pub(crate) left_behind: u64,
}

/// Moves every object from `args.provider` to `to`: starts `to`'s backend, changes each
/// spec, and waits (at most ten minutes) until all report `to`, Ready, with no move.
pub(crate) async fn run(
    args: &Args,
    to: Provider,
    cluster: &e2e::Cluster,
    clients: (&Client, &Api<ServerlessService>),
    audit: &std::path::Path,
    pending: Pending,
    latencies: mpsc::UnboundedSender<Duration>,
) -> Result<Moved, Error> {
    let (admin, ssvs) = clients;
    let backend = Backend::start(to, args, cluster, admin, pending, latencies).await?;
    let mark = crate::audit_mark(audit);
    let sent = SystemTime::now();
    let start = Instant::now();
    let done = tokio::spawn(crate::count_where(ssvs.clone(), args.count, move |svc| {
        moved(svc, to)
    }));
    let patch = patch(to, args.migrate_drain);
    futures::stream::iter(0..args.count)
        .map(|i| {
            let (ssvs, patch) = (ssvs.clone(), &patch);
            async move {
                ssvs.patch(
                    &crate::ssv_name(i),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await
                .map(drop)
            }
        })
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    tokio::time::timeout(Duration::from_secs(600), done)
        .await
        .map_err(|_| Error::Other("the move took more than ten minutes".into()))?
        .map_err(|e| Error::Other(e.to_string()))??;
    let seconds = start.elapsed().as_secs_f64();
    // The Events of the last steps follow the status writes the watch saw.
    crate::settle(
        audit,
        backend.cloud(),
        Duration::from_secs(2),
        Duration::from_secs(60),
    )
    .await;
    let knative_left = if args.provider == Provider::Knative {
        let api: Api<DynamicObject> =
            Api::namespaced_with(admin.clone(), NAMESPACE, &crate::knative::services());
        let left = api.list_metadata(&ListParams::default()).await?;
        Some(left.items.len())
    } else {
        None
    };
    Ok(Moved {
        backend,
        to,
        seconds,
        audit: (mark, crate::audit_mark(audit)),
        window: (sent, SystemTime::now()),
        knative_left,
    })
}

/// Whether `svc` has moved to `to`: the status names it, Ready for the current generation, and
/// no move is under way.
fn moved(svc: &ServerlessService, to: Provider) -> bool {
    svc.status.as_ref().is_some_and(|s| {
        s.provider == Some(to)
            && s.migration.is_none()
            && s.observed_generation == svc.metadata.generation
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// The merge patch that moves an object to `to`: the spec the benchmark gives an object of
/// `to`, with `null` for what the old provider's spec had and `to`'s does not (a merge patch
/// keeps what it does not mention).
fn patch(to: Provider, drain: Duration) -> Value {
    let mut spec = crate::ssv("any", to)["spec"].take();
    spec["migration"] = json!({"drainSeconds": drain.as_secs()});
    if spec.get("providerConfigRef").is_none() {
        spec["providerConfigRef"] = Value::Null;
    }
    for key in ["minInstances", "maxInstances", "target", "metric"] {
        if spec["scaling"].get(key).is_none() {
            spec["scaling"][key] = Value::Null;
        }
    }
    json!({"spec": spec})
}

/// What is left of the old sides: Knative Services still in the namespace, or objects whose
/// cloud service was not deleted (`from_cloud`'s delete calls, see
/// [`crate::cloud::delete_operation`] of `from`, short of `count`).
pub(crate) fn left_behind(
    moved: &Moved,
    from: Provider,
    from_cloud: Option<&CloudPhase>,
    count: u64,
) -> u64 {
    if let Some(left) = moved.knative_left {
        return u64::try_from(left).unwrap_or(u64::MAX);
    }
    let delete = crate::cloud::delete_operation(from).unwrap_or_default();
    let deleted = from_cloud
        .and_then(|c| c.calls.writes_by_operation.get(delete))
        .copied()
        .unwrap_or(0);
    count.saturating_sub(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patch_names_the_target_and_clears_what_the_old_provider_had() {
        let to_knative = patch(Provider::Knative, Duration::ZERO);
        assert_eq!(to_knative["spec"]["provider"], "knative");
        assert_eq!(to_knative["spec"]["providerConfigRef"], Value::Null);
        assert_eq!(to_knative["spec"]["scaling"]["metric"], Value::Null);
        assert_eq!(to_knative["spec"]["migration"]["drainSeconds"], 0);
        let to_fargate = patch(Provider::Fargate, Duration::from_secs(5));
        assert_eq!(to_fargate["spec"]["scaling"]["metric"], "cpu");
        assert_eq!(to_fargate["spec"]["scaling"]["target"], Value::Null);
        assert_eq!(
            to_fargate["spec"]["providerConfigRef"]["name"],
            crate::cloud::provider_config(Provider::Fargate).unwrap()
        );
        assert_eq!(to_fargate["spec"]["migration"]["drainSeconds"], 5);
    }

    fn status(provider: Provider, ready: &str, moving: bool) -> ServerlessService {
        let mut svc: ServerlessService =
            serde_json::from_value(crate::ssv("svc-1", provider)).expect("the benchmark's object");
        svc.metadata.generation = Some(2);
        svc.status = Some(
            serde_json::from_value(json!({
                "observedGeneration": 2,
                "provider": provider.as_str(),
                "conditions": [{"type": "Ready", "status": ready, "reason": "Available",
                                "message": "", "lastTransitionTime": "2026-12-07T00:00:00Z"}],
                "migration": if moving {
                    json!({"from": "knative", "to": "cloudRun", "phase": "Draining",
                           "since": "2026-12-07T00:00:00Z"})
                } else {
                    Value::Null
                },
            }))
            .expect("a status"),
        );
        svc
    }

    #[test]
    fn an_object_has_moved_once_the_new_provider_is_ready_and_the_move_is_over() {
        assert!(moved(
            &status(Provider::CloudRun, "True", false),
            Provider::CloudRun
        ));
        assert!(!moved(
            &status(Provider::CloudRun, "True", true),
            Provider::CloudRun
        ));
        assert!(!moved(
            &status(Provider::CloudRun, "Unknown", false),
            Provider::CloudRun
        ));
        assert!(!moved(
            &status(Provider::Knative, "True", false),
            Provider::CloudRun
        ));
    }
}
