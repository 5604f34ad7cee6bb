//! Moving a service between providers, without downtime: expand, switch, contract. Pure: from
//! what the status records and what the spec wants, what a reconcile does about the two sides,
//! and the status that tells readers. [`crate::reconcile`] does the I/O.
//!
//! - **Creating**: the new side is reconciled; the old one serves, and the status keeps
//!   reporting it (URL, Ready), so `kubectl wait`, Argo CD and Flux see no outage.
//! - **Draining**: the new side is Ready and the status names it; the old one keeps serving
//!   `spec.migration.drainSeconds`, then is deleted (or released, with `deletionPolicy: Orphan`).
//! - **RollingBack**: the new side failed, or the spec no longer wants it: it is deleted; the old
//!   one serves.
//! - **RolledBack**: the move failed; the old side serves until the spec changes.
//!
//! Every step is recorded in `status.migration` before the next is taken, and each provider
//! finds what it made by the object's identity, so an operator killed at any point resumes from
//! what it finds: never two new sides, never a lost old one.

use std::time::Duration;

use ferry_api::conditions::{reasons, types};
use ferry_api::{
    MigrationPhase, MigrationStatus, PreviousSide, Provider, ServerlessService,
    ServerlessServiceStatus,
};
use ferry_core::status::Outcome;
use ferry_provider::backend::Registry;
use ferry_provider::provider_config;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Where a service runs: a provider and, for a cloud, the ProviderConfig it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Side {
    /// The provider.
    pub provider: Provider,
    /// Its ProviderConfig, for a provider that uses one.
    pub config: Option<String>,
}

impl Side {
    /// The side `status` says serves, if the object ever reported one.
    pub fn serving(status: Option<&ServerlessServiceStatus>) -> Option<Side> {
        let status = status?;
        Some(Side {
            provider: status.provider?,
            config: status.provider_config.clone(),
        })
    }

    /// The side a move leaves.
    pub fn from_of(m: &MigrationStatus) -> Side {
        Side {
            provider: m.from,
            config: m.from_provider_config.clone(),
        }
    }

    /// The side a move goes to.
    pub fn to_of(m: &MigrationStatus) -> Side {
        Side {
            provider: m.to,
            config: m.to_provider_config.clone(),
        }
    }

    /// Whether this and `other` are the same place to run. A status written before Ferry
    /// recorded ProviderConfigs has none: it counts as the same config. Two ProviderConfigs
    /// that name the same account and region (`same_location`) are the same place too.
    pub fn same_as(&self, other: &Side, same_location: bool) -> bool {
        self.provider == other.provider
            && match (&self.config, &other.config) {
                (Some(a), Some(b)) => a == b || same_location,
                _ => true,
            }
    }
}

/// Where the spec wants `svc` to run.
pub fn wanted_side(svc: &ServerlessService, backends: &Registry) -> Side {
    let uses_config = backends.get(svc.spec.provider).uses_provider_config();
    Side {
        provider: svc.spec.provider,
        config: uses_config.then(|| provider_config::name_for(svc).to_owned()),
    }
}

/// Every side `svc` has or wants: the wanted one, the serving one, and both of a move's.
pub fn sides_of(svc: &ServerlessService, wanted: &Side) -> Vec<Side> {
    let status = svc.status.as_ref();
    let mut sides = vec![wanted.clone()];
    sides.extend(Side::serving(status));
    if let Some(m) = status.and_then(|s| s.migration.as_ref()) {
        sides.push(Side::from_of(m));
        sides.push(Side::to_of(m));
    }
    let mut unique: Vec<Side> = Vec::with_capacity(sides.len());
    for side in sides {
        if !unique.iter().any(|u| u.same_as(&side, false)) {
            unique.push(side);
        }
    }
    unique
}

/// What a reconcile does about the sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// No move: the wanted side, as always.
    Steady,
    /// Create (or keep creating) the wanted side; the old one serves.
    Create(MigrationStatus),
    /// The wanted side serves; the old one drains, and goes once `remaining` is zero.
    Drain {
        /// The move.
        migration: MigrationStatus,
        /// How long the old side still serves.
        remaining: Duration,
    },
    /// Delete (or release) `side`, which the spec no longer wants.
    Remove {
        /// The side to remove.
        side: Side,
        /// The move as it stands: RollingBack when the side under construction goes, Draining
        /// when the drained one goes early.
        migration: MigrationStatus,
    },
    /// The move failed and was rolled back: nothing to do until the spec changes.
    Hold(MigrationStatus),
}

/// The facts a plan is made from.
pub struct Facts<'a> {
    /// The status the object has.
    pub status: Option<&'a ServerlessServiceStatus>,
    /// Where the spec wants it to run.
    pub wanted: &'a Side,
    /// Whether the serving side's ProviderConfig and the wanted one name the same account and
    /// region (a rename, not a move).
    pub same_location: bool,
    /// The spec's generation.
    pub generation: Option<i64>,
    /// `spec.migration.drainSeconds`, or its default.
    pub drain: Duration,
    /// Now.
    pub now: &'a Time,
}

/// What to do, from what the status records and what the spec wants.
pub fn plan(facts: &Facts<'_>) -> Plan {
    let wanted = facts.wanted;
    let Some(migration) = facts.status.and_then(|s| s.migration.clone()) else {
        return match Side::serving(facts.status) {
            Some(serving) if !serving.same_as(wanted, facts.same_location) => {
                Plan::Create(start(facts, &serving))
            }
            _ => Plan::Steady,
        };
    };
    let (from, to) = (Side::from_of(&migration), Side::to_of(&migration));
    match migration.phase {
        MigrationPhase::Creating if to.same_as(wanted, false) => Plan::Create(migration),
        // The spec changed back, or to a third side: the side under construction goes first.
        MigrationPhase::Creating => Plan::Remove {
            side: to,
            migration: MigrationStatus {
                phase: MigrationPhase::RollingBack,
                since: facts.now.clone(),
                message: Some(format!(
                    "the spec no longer asks for {}",
                    describe(&Side::to_of(&migration))
                )),
                ..migration
            },
        },
        MigrationPhase::Draining if to.same_as(wanted, false) => {
            let elapsed = seconds_between(&migration.since, facts.now);
            Plan::Drain {
                remaining: facts.drain.saturating_sub(elapsed),
                migration,
            }
        }
        // The new side serves and the spec wants yet another: the old side stops draining
        // now (nothing points at it any more), unless it is the one wanted again.
        MigrationPhase::Draining if from.same_as(wanted, false) => Plan::Create(MigrationStatus {
            from: migration.to,
            from_provider_config: migration.to_provider_config.clone(),
            to: migration.from,
            to_provider_config: migration.from_provider_config.clone(),
            phase: MigrationPhase::Creating,
            since: facts.now.clone(),
            generation: facts.generation,
            previous: previous_of(facts.status),
            message: None,
        }),
        // A third side is wanted: the drained side goes now, and the next reconcile moves
        // on from the one that serves. Nothing reconciles the third side before it is
        // recorded as the move's target.
        MigrationPhase::Draining => Plan::Remove {
            side: from,
            migration,
        },
        MigrationPhase::RollingBack => Plan::Remove {
            side: to,
            migration,
        },
        MigrationPhase::RolledBack
            if migration.generation == facts.generation && to.same_as(wanted, false) =>
        {
            Plan::Hold(migration)
        }
        // The spec changed after a rollback: the old side serves; start again from it.
        MigrationPhase::RolledBack => {
            if from.same_as(wanted, facts.same_location) {
                Plan::Steady
            } else {
                Plan::Create(MigrationStatus {
                    to: wanted.provider,
                    to_provider_config: wanted.config.clone(),
                    phase: MigrationPhase::Creating,
                    since: facts.now.clone(),
                    generation: facts.generation,
                    message: None,
                    ..migration
                })
            }
        }
    }
}

/// A move from `serving` to the wanted side, starting now.
fn start(facts: &Facts<'_>, serving: &Side) -> MigrationStatus {
    MigrationStatus {
        from: serving.provider,
        from_provider_config: serving.config.clone(),
        to: facts.wanted.provider,
        to_provider_config: facts.wanted.config.clone(),
        phase: MigrationPhase::Creating,
        since: facts.now.clone(),
        generation: facts.generation,
        previous: previous_of(facts.status),
        message: None,
    }
}

fn previous_of(status: Option<&ServerlessServiceStatus>) -> Option<PreviousSide> {
    let status = status?;
    Some(PreviousSide {
        url: status.url.clone(),
        resource_ref: status.resource_ref.clone(),
    })
}

/// `Fargate (ProviderConfig aws-prod)`.
pub fn describe(side: &Side) -> String {
    match &side.config {
        Some(config) => format!("{} (ProviderConfig {config})", side.provider.display_name()),
        None => side.provider.display_name().to_owned(),
    }
}

#[allow(clippy::cast_sign_loss)] // clamped to 0 and more
fn seconds_between(since: &Time, now: &Time) -> Duration {
    let seconds = now.0.as_second().saturating_sub(since.0.as_second()).max(0);
    Duration::from_secs(seconds as u64)
}

/// What a reconcile of the new side found, for the move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewSide {
    /// Ready: switch to it.
    Ready,
    /// Still coming up (or a retried error).
    Pending,
    /// Failed in a way only a change of the spec (or the account) mends: roll back.
    Failed(String),
}

impl NewSide {
    /// How the new side stands by `outcome`.
    pub fn of(outcome: &Outcome) -> Self {
        use ferry_core::status::Readiness;
        match outcome {
            Outcome::Observed {
                readiness: Readiness::Ready,
                ..
            } => NewSide::Ready,
            Outcome::Observed {
                readiness: Readiness::Failed { reason, message },
                ..
            }
            | Outcome::NotSynced {
                stalled: true,
                reason,
                message,
            } => NewSide::Failed(format!("{reason}: {message}")),
            Outcome::Invalid(invalid) => NewSide::Failed(invalid.to_string()),
            Outcome::Observed { .. }
            | Outcome::NotSynced { .. }
            | Outcome::Deleting(_)
            | Outcome::Kept => NewSide::Pending,
        }
    }
}

/// The move after the new side was reconciled in the Creating phase: switched (Draining from
/// now), rolling back with the reason, or as it was.
pub fn after_creating(
    migration: MigrationStatus,
    new_side: &NewSide,
    now: &Time,
) -> MigrationStatus {
    match new_side {
        NewSide::Ready => MigrationStatus {
            phase: MigrationPhase::Draining,
            since: now.clone(),
            ..migration
        },
        NewSide::Failed(why) => MigrationStatus {
            phase: MigrationPhase::RollingBack,
            since: now.clone(),
            message: Some(why.clone()),
            ..migration
        },
        NewSide::Pending => migration,
    }
}

/// The move once the side being removed is gone: after a failure it is rolled back (held until
/// the spec changes); when the spec simply stopped wanting that side, it is over.
pub fn after_removal(
    migration: MigrationStatus,
    wanted: &Side,
    now: &Time,
) -> Option<MigrationStatus> {
    let failed = migration.phase == MigrationPhase::RollingBack
        && Side::to_of(&migration).same_as(wanted, false);
    failed.then(|| MigrationStatus {
        phase: MigrationPhase::RolledBack,
        since: now.clone(),
        ..migration
    })
}

/// The status during a move: `computed` is what the reconcile of the wanted side found. While
/// the old side serves (Creating, RollingBack, RolledBack), what readers use to reach the
/// service (URL, address, identifier, revision, instance counts, `Ready`) stays the old
/// side's, as `old` reported it; `Synced`, `Reconciling`, `Stalled`, the operation and the cost
/// are the new side's. A `Migrating` condition says how far the move is.
pub fn status_during(
    old: Option<&ServerlessServiceStatus>,
    mut computed: ServerlessServiceStatus,
    migration: Option<&MigrationStatus>,
    now: &Time,
) -> ServerlessServiceStatus {
    computed.migration = migration.cloned();
    let Some(migration) = migration else {
        computed.conditions.retain(|c| c.type_ != types::MIGRATING);
        return computed;
    };
    let old_serves = migration.phase != MigrationPhase::Draining;
    if old_serves && let Some(old) = old {
        computed.provider = old.provider;
        computed.provider_config.clone_from(&old.provider_config);
        computed.url.clone_from(&old.url);
        computed.address.clone_from(&old.address);
        computed.resource_ref.clone_from(&old.resource_ref);
        computed
            .latest_ready_revision
            .clone_from(&old.latest_ready_revision);
        computed.instances.clone_from(&old.instances);
        let ready = old.conditions.iter().find(|c| c.type_ == types::READY);
        computed.conditions.retain(|c| c.type_ != types::READY);
        computed.conditions.extend(ready.cloned());
    }
    let (status, reason, message) = migrating_condition(migration);
    let previous = old.and_then(|s| s.conditions.iter().find(|c| c.type_ == types::MIGRATING));
    let transition = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => now.clone(),
    };
    computed.conditions.retain(|c| c.type_ != types::MIGRATING);
    computed.conditions.push(Condition {
        type_: types::MIGRATING.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: computed.observed_generation,
        last_transition_time: transition,
    });
    if migration.phase == MigrationPhase::RolledBack {
        // The spec cannot be served: kstatus reads Stalled as failed (the old side serves).
        let why = migration.message.clone().unwrap_or_default();
        for (type_, status) in [(types::SYNCED, "False"), (types::STALLED, "True")] {
            computed.conditions.retain(|c| c.type_ != type_);
            computed.conditions.push(Condition {
                type_: type_.to_owned(),
                status: status.to_owned(),
                reason: reasons::ROLLED_BACK.to_owned(),
                message: why.clone(),
                observed_generation: computed.observed_generation,
                last_transition_time: now.clone(),
            });
        }
        computed
            .conditions
            .retain(|c| c.type_ != types::RECONCILING);
    }
    computed.conditions.sort_by_key(|c| order(&c.type_));
    computed
}

fn order(type_: &str) -> usize {
    [
        types::READY,
        types::SYNCED,
        types::RECONCILING,
        types::STALLED,
        types::MIGRATING,
    ]
    .iter()
    .position(|t| *t == type_)
    .unwrap_or(usize::MAX)
}

fn migrating_condition(m: &MigrationStatus) -> (&'static str, &'static str, String) {
    let (from, to) = (describe(&Side::from_of(m)), describe(&Side::to_of(m)));
    match m.phase {
        MigrationPhase::Creating => (
            "True",
            reasons::MIGRATING,
            format!("Creating: {to} is coming up; {from} serves until it is Ready"),
        ),
        MigrationPhase::Draining => (
            "True",
            reasons::MIGRATING,
            format!(
                "Draining: {to} serves at status.url; {from} serves too until the drain ends, \
                 then goes"
            ),
        ),
        MigrationPhase::RollingBack => (
            "True",
            reasons::ROLLED_BACK,
            format!(
                "RollingBack: {to} is being removed ({}); {from} serves",
                m.message.as_deref().unwrap_or("no longer wanted")
            ),
        ),
        MigrationPhase::RolledBack => (
            "False",
            reasons::ROLLED_BACK,
            format!(
                "the move to {to} failed and was rolled back ({}); {from} serves; change the \
                 spec to try again",
                m.message.as_deref().unwrap_or("no reason given")
            ),
        ),
    }
}

#[cfg(test)]
mod tests;
