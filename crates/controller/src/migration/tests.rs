//! The move's state machine, phase by phase and event by event.

use super::*;
use ferry_api::{Addressable, ResourceRef};
use ferry_core::status::{Outputs, Readiness};

fn at(second: i64) -> Time {
    Time(jiff::Timestamp::from_second(1_800_000_000 + second).unwrap_or_default())
}

fn knative() -> Side {
    Side {
        provider: Provider::Knative,
        config: None,
    }
}

fn cloud_run() -> Side {
    Side {
        provider: Provider::CloudRun,
        config: Some("gcp".into()),
    }
}

fn fargate() -> Side {
    Side {
        provider: Provider::Fargate,
        config: Some("aws".into()),
    }
}

const DRAIN: Duration = Duration::from_secs(300);

/// A status served by `side`, Ready at `url`, with `migration`.
fn serving(side: &Side, url: &str, migration: Option<MigrationStatus>) -> ServerlessServiceStatus {
    ServerlessServiceStatus {
        observed_generation: Some(2),
        provider: Some(side.provider),
        provider_config: side.config.clone(),
        url: Some(url.into()),
        address: Some(Addressable {
            url: Some(url.into()),
        }),
        resource_ref: Some(ResourceRef {
            id: format!("{url}/id"),
        }),
        conditions: vec![Condition {
            type_: types::READY.into(),
            status: "True".into(),
            reason: reasons::AVAILABLE.into(),
            message: String::new(),
            observed_generation: Some(1),
            last_transition_time: at(0),
        }],
        migration,
        ..ServerlessServiceStatus::default()
    }
}

fn moving(from: &Side, to: &Side, phase: MigrationPhase, since: i64) -> MigrationStatus {
    MigrationStatus {
        from: from.provider,
        from_provider_config: from.config.clone(),
        to: to.provider,
        to_provider_config: to.config.clone(),
        phase,
        since: at(since),
        generation: Some(2),
        previous: Some(PreviousSide {
            url: Some("https://old".into()),
            resource_ref: None,
        }),
        message: None,
    }
}

fn plan_for(
    status: Option<&ServerlessServiceStatus>,
    wanted: &Side,
    generation: i64,
    now: i64,
) -> Plan {
    let now = at(now);
    plan(&Facts {
        status,
        wanted,
        same_location: false,
        generation: Some(generation),
        drain: DRAIN,
        now: &now,
    })
}

#[test]
fn a_new_object_and_one_that_stays_put_are_steady() {
    assert_eq!(plan_for(None, &knative(), 1, 0), Plan::Steady);
    let on_knative = serving(&knative(), "https://old", None);
    assert_eq!(plan_for(Some(&on_knative), &knative(), 2, 0), Plan::Steady);
}

#[test]
fn a_change_of_provider_starts_creating_with_the_old_side_recorded() {
    let on_knative = serving(&knative(), "https://old", None);
    let Plan::Create(m) = plan_for(Some(&on_knative), &cloud_run(), 2, 10) else {
        panic!("a move")
    };
    assert_eq!((m.from, m.to), (Provider::Knative, Provider::CloudRun));
    assert_eq!(m.to_provider_config.as_deref(), Some("gcp"));
    assert_eq!(m.phase, MigrationPhase::Creating);
    assert_eq!(m.since, at(10));
    assert_eq!(
        m.previous.and_then(|p| p.url).as_deref(),
        Some("https://old")
    );
}

#[test]
fn another_account_is_a_move_and_a_rename_to_the_same_account_is_not() {
    let on_aws = serving(&fargate(), "https://old", None);
    let other = Side {
        provider: Provider::Fargate,
        config: Some("aws-eu".into()),
    };
    assert!(matches!(
        plan_for(Some(&on_aws), &other, 2, 0),
        Plan::Create(_)
    ));
    let now = at(0);
    let renamed = plan(&Facts {
        status: Some(&on_aws),
        wanted: &other,
        same_location: true,
        generation: Some(2),
        drain: DRAIN,
        now: &now,
    });
    assert_eq!(renamed, Plan::Steady);
    // A status from before Ferry recorded ProviderConfigs: the same config.
    let mut old = on_aws;
    old.provider_config = None;
    assert_eq!(plan_for(Some(&old), &fargate(), 2, 0), Plan::Steady);
}

#[test]
fn every_phase_meets_every_change_of_the_spec() {
    use MigrationPhase::{Creating, Draining, RolledBack, RollingBack};
    let (a, b, c) = (knative(), cloud_run(), fargate());
    // (phase, the side the spec wants, seconds since the phase began) -> what happens.
    let cases: Vec<(MigrationPhase, &Side, i64, &str)> = vec![
        (Creating, &b, 10, "create b from a"),
        (Creating, &a, 10, "remove b"),
        (Creating, &c, 10, "remove b"),
        (Draining, &b, 10, "drain 290s"),
        (Draining, &b, 300, "drain 0s"),
        (Draining, &b, 900, "drain 0s"),
        (Draining, &a, 10, "create a from b"),
        (Draining, &c, 10, "remove a"),
        (RollingBack, &b, 10, "remove b"),
        (RollingBack, &a, 10, "remove b"),
        (RollingBack, &c, 10, "remove b"),
        (RolledBack, &b, 10, "hold"),
        (RolledBack, &a, 10, "steady"),
        (RolledBack, &c, 10, "create c from a"),
    ];
    for (phase, wanted, elapsed, expected) in cases {
        let m = moving(&a, &b, phase, 0);
        let status = serving(&a, "https://old", Some(m));
        // A rolled-back move holds only for the spec it failed on.
        let generation = if phase == RolledBack && wanted != &b {
            3
        } else {
            2
        };
        let got = match plan_for(Some(&status), wanted, generation, elapsed) {
            Plan::Steady => "steady".to_owned(),
            Plan::Create(m) => {
                assert_eq!(m.phase, Creating);
                format!(
                    "create {} from {}",
                    name(&Side::to_of(&m)),
                    name(&Side::from_of(&m))
                )
            }
            Plan::Drain { remaining, .. } => format!("drain {}s", remaining.as_secs()),
            Plan::Remove { side, migration } => {
                let why = if phase == Draining {
                    Draining
                } else {
                    RollingBack
                };
                assert_eq!(migration.phase, why);
                format!("remove {}", name(&side))
            }
            Plan::Hold(_) => "hold".to_owned(),
        };
        assert_eq!(got, expected, "{phase:?} wanting {}", name(wanted));
    }
}

fn name(side: &Side) -> &'static str {
    match side.provider {
        Provider::Knative => "a",
        Provider::CloudRun => "b",
        Provider::Fargate => "c",
        Provider::ContainerApps => "d",
        Provider::ContainerInstances => "e",
        Provider::Kubernetes => "f",
    }
}

#[test]
fn the_new_side_switches_when_ready_rolls_back_when_it_fails_and_waits_otherwise() {
    let m = moving(&knative(), &cloud_run(), MigrationPhase::Creating, 0);
    let ready = Outcome::Observed {
        readiness: Readiness::Ready,
        outputs: Outputs::default(),
    };
    let switched = after_creating(m.clone(), &NewSide::of(&ready), &at(50));
    assert_eq!(
        (switched.phase, switched.since),
        (MigrationPhase::Draining, at(50))
    );

    let failed = Outcome::Observed {
        readiness: Readiness::Failed {
            reason: "ImageNotFound",
            message: "no such image".into(),
        },
        outputs: Outputs::default(),
    };
    let rolled = after_creating(m.clone(), &NewSide::of(&failed), &at(50));
    assert_eq!(rolled.phase, MigrationPhase::RollingBack);
    assert_eq!(
        rolled.message.as_deref(),
        Some("ImageNotFound: no such image")
    );

    let refused = Outcome::NotSynced {
        reason: "Unsupported",
        message: "no GPUs".into(),
        stalled: true,
    };
    assert_eq!(
        after_creating(m.clone(), &NewSide::of(&refused), &at(50)).phase,
        MigrationPhase::RollingBack
    );
    for pending in [
        Outcome::Observed {
            readiness: Readiness::Progressing("rolling".into()),
            outputs: Outputs::default(),
        },
        Outcome::NotSynced {
            reason: "Throttled",
            message: "slow down".into(),
            stalled: false,
        },
    ] {
        assert_eq!(
            after_creating(m.clone(), &NewSide::of(&pending), &at(50)),
            m
        );
    }
}

#[test]
fn a_removed_side_ends_the_move_or_holds_it_rolled_back() {
    let m = moving(&knative(), &cloud_run(), MigrationPhase::RollingBack, 0);
    let held = after_removal(m.clone(), &cloud_run(), &at(9)).expect("held");
    assert_eq!(held.phase, MigrationPhase::RolledBack);
    assert_eq!(
        after_removal(m, &knative(), &at(9)),
        None,
        "back where it was"
    );
    let drained = moving(&knative(), &cloud_run(), MigrationPhase::Draining, 0);
    assert_eq!(
        after_removal(drained, &fargate(), &at(9)),
        None,
        "the drained side went early: the next reconcile moves on"
    );
}

fn ready_of(status: &ServerlessServiceStatus) -> (&str, &str) {
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == types::READY)
        .expect("Ready");
    (c.status.as_str(), c.reason.as_str())
}

fn condition<'a>(status: &'a ServerlessServiceStatus, type_: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

#[test]
fn readers_see_the_old_side_until_the_switch_and_the_new_one_after() {
    let old = serving(&knative(), "https://old", None);
    // What the reconcile of the new side computed: still progressing, no URL yet.
    let mut computed = serving(&cloud_run(), "https://new", None);
    computed.url = None;
    computed.conditions = vec![Condition {
        type_: types::READY.into(),
        status: "Unknown".into(),
        reason: reasons::PROGRESSING.into(),
        message: "creating".into(),
        observed_generation: Some(2),
        last_transition_time: at(5),
    }];
    let creating = moving(&knative(), &cloud_run(), MigrationPhase::Creating, 0);
    let shown = status_during(Some(&old), computed.clone(), Some(&creating), &at(5));
    assert_eq!(shown.url.as_deref(), Some("https://old"));
    assert_eq!(shown.provider, Some(Provider::Knative));
    assert_eq!(ready_of(&shown), ("True", reasons::AVAILABLE));
    let migrating = condition(&shown, types::MIGRATING).expect("Migrating");
    assert_eq!(
        (migrating.status.as_str(), migrating.reason.as_str()),
        ("True", reasons::MIGRATING)
    );
    assert!(
        migrating.message.starts_with("Creating:"),
        "{}",
        migrating.message
    );

    // Switched: the new side's URL and readiness.
    let mut ready = serving(&cloud_run(), "https://new", None);
    ready.observed_generation = Some(2);
    let draining = moving(&knative(), &cloud_run(), MigrationPhase::Draining, 6);
    let shown = status_during(Some(&shown), ready, Some(&draining), &at(6));
    assert_eq!(shown.url.as_deref(), Some("https://new"));
    assert_eq!(shown.provider, Some(Provider::CloudRun));
    assert_eq!(ready_of(&shown), ("True", reasons::AVAILABLE));
    let migrating = condition(&shown, types::MIGRATING).expect("Migrating");
    assert!(
        migrating.message.starts_with("Draining:"),
        "{}",
        migrating.message
    );
    assert_eq!(
        migrating.last_transition_time,
        at(5),
        "still True since the move began"
    );

    // Done: no Migrating condition, no migration.
    let done = status_during(
        Some(&shown),
        serving(&cloud_run(), "https://new", None),
        None,
        &at(400),
    );
    assert_eq!(done.migration, None);
    assert!(condition(&done, types::MIGRATING).is_none());
}

#[test]
fn a_rolled_back_move_stalls_the_spec_while_the_old_side_stays_ready() {
    let old = serving(&knative(), "https://old", None);
    let mut m = moving(&knative(), &cloud_run(), MigrationPhase::RolledBack, 0);
    m.message = Some("ImageNotFound: no such image".into());
    let shown = status_during(Some(&old), old.clone(), Some(&m), &at(9));
    assert_eq!(ready_of(&shown), ("True", reasons::AVAILABLE));
    for (type_, status) in [
        (types::MIGRATING, "False"),
        (types::SYNCED, "False"),
        (types::STALLED, "True"),
    ] {
        let c = condition(&shown, type_).expect(type_);
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            (status, reasons::ROLLED_BACK)
        );
    }
    assert!(
        condition(&shown, types::MIGRATING)
            .is_some_and(|c| c.message.contains("ImageNotFound: no such image")),
        "{shown:?}"
    );
}
