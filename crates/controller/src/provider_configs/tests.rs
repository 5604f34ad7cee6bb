//! Who uses a ProviderConfig (services and jobs), what its finalizer needs, and what its
//! status says.

use super::*;
use ferry_api::{
    MigrationPhase, MigrationStatus, Provider, ProviderConfigReference, ServerlessServiceStatus,
};

fn registry() -> Registry {
    crate::test_registry()
}

fn at(second: i64) -> Time {
    Time(jiff::Timestamp::from_second(1_800_000_000 + second).unwrap_or_default())
}

/// `shop/NAME` (uid `NAME`) on `provider`, naming ProviderConfig `config` when given.
fn object(name: &str, provider: Provider, config: Option<&str>) -> ServerlessService {
    let mut svc: ServerlessService = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": name, "namespace": "shop", "uid": name},
        "spec": {"provider": provider.as_str(), "containers": [{"name": "app", "image": "nginx"}]},
    }))
    .expect("a valid object");
    svc.spec.provider_config_ref = config.map(|name| ProviderConfigReference { name: name.into() });
    svc
}

/// `svc` served by `provider` on `config`.
fn serving(
    mut svc: ServerlessService,
    provider: Provider,
    config: Option<&str>,
) -> ServerlessService {
    svc.status = Some(ServerlessServiceStatus {
        provider: Some(provider),
        provider_config: config.map(Into::into),
        ..ServerlessServiceStatus::default()
    });
    svc
}

/// The job `shop/NAME` (uid `job-NAME`) on `provider`, naming ProviderConfig `config` when
/// given.
fn job(name: &str, provider: Provider, config: Option<&str>) -> ServerlessJob {
    let mut job: ServerlessJob = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessJob",
        "metadata": {"name": name, "namespace": "shop", "uid": format!("job-{name}")},
        "spec": {"provider": provider.as_str(), "containers": [{"name": "app", "image": "nginx"}]},
    }))
    .expect("a valid job");
    job.spec.provider_config_ref = config.map(|name| ProviderConfigReference { name: name.into() });
    job
}

/// `job` being deleted, with Ferry's finalizer still on it when `cleaning_up`.
fn deleting_job(mut job: ServerlessJob, cleaning_up: bool) -> ServerlessJob {
    job.metadata.deletion_timestamp = Some(at(0));
    job.metadata.finalizers = cleaning_up.then(|| vec![FINALIZER.to_owned()]);
    job
}

fn users(services: &[&str], jobs: &[&str]) -> Users {
    let owned = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
    Users {
        services: owned(services),
        jobs: owned(jobs),
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn an_object_uses_the_provider_config_its_spec_names_and_every_one_it_still_has_a_side_on() {
    let backends = registry();
    let aws = object("web", Provider::Fargate, Some("aws"));
    assert_eq!(configs_used(&aws, &backends), set(&["aws"]));
    // No providerConfigRef: the one named `default`.
    assert_eq!(
        configs_used(&object("web", Provider::CloudRun, None), &backends),
        set(&["default"])
    );
    // In-cluster: none, even with a stray providerConfigRef.
    assert_eq!(
        configs_used(&object("web", Provider::Knative, Some("aws")), &backends),
        set(&[])
    );
    // Moving from Fargate (aws) to Cloud Run (gcp): both until the old side is gone.
    let moving = serving(
        object("web", Provider::CloudRun, Some("gcp")),
        Provider::Fargate,
        Some("aws"),
    );
    assert_eq!(configs_used(&moving, &backends), set(&["aws", "gcp"]));
    // Moving from Cloud Run to Knative: the Cloud Run side's until it is gone.
    let mut to_knative = serving(
        object("web", Provider::Knative, None),
        Provider::Knative,
        None,
    );
    to_knative.status.as_mut().expect("a status").migration = Some(MigrationStatus {
        from: Provider::CloudRun,
        from_provider_config: Some("gcp".into()),
        to: Provider::Knative,
        to_provider_config: None,
        phase: MigrationPhase::Draining,
        since: at(0),
        generation: Some(2),
        previous: None,
        message: None,
    });
    assert_eq!(configs_used(&to_knative, &backends), set(&["gcp"]));
}

#[test]
fn a_job_uses_the_provider_config_it_names_until_ferry_has_cleaned_up_after_it() {
    let backends = registry();
    let nightly = job("nightly", Provider::Fargate, Some("aws"));
    assert_eq!(job_config_used(&nightly, &backends), Some("aws"));
    assert_eq!(nightly.configs_used(&backends), set(&["aws"]));
    // No providerConfigRef: the one named `default`.
    let unnamed = job("nightly", Provider::ContainerApps, None);
    assert_eq!(job_config_used(&unnamed, &backends), Some("default"));
    // In-cluster: none, even with a stray providerConfigRef.
    let local = job("nightly", Provider::Kubernetes, Some("aws"));
    assert_eq!(job_config_used(&local, &backends), None);
    assert!(local.configs_used(&backends).is_empty());
    // Being deleted: still used while Ferry's finalizer waits for the cloud's delete...
    let cleaning_up = deleting_job(nightly.clone(), true);
    assert_eq!(job_config_used(&cleaning_up, &backends), Some("aws"));
    // ...and no more once it is off (other finalizers may keep the object a while).
    let mut cleaned_up = deleting_job(nightly, false);
    cleaned_up.metadata.finalizers = Some(vec!["example.com/keep".into()]);
    assert_eq!(job_config_used(&cleaned_up, &backends), None);
    assert!(!cleaned_up.uses(&backends, "aws"));
    // Its connector still resolves the one it names: a change to it reaches the job.
    assert_eq!(cleaned_up.config_named(&backends), Some("aws"));
}

#[test]
fn users_are_counted_across_namespaces_and_kinds_and_named_in_order() {
    let backends = registry();
    let mut other = object("api", Provider::Fargate, Some("aws"));
    other.metadata.namespace = Some("payments".into());
    let services: Vec<Arc<ServerlessService>> = vec![
        Arc::new(object("web", Provider::Fargate, Some("aws"))),
        Arc::new(other),
        Arc::new(object("site", Provider::CloudRun, Some("gcp"))),
        Arc::new(object("local", Provider::Knative, None)),
    ];
    let jobs: Vec<Arc<ServerlessJob>> = vec![
        Arc::new(job("report", Provider::Fargate, Some("aws"))),
        Arc::new(job("backup", Provider::Fargate, Some("aws"))),
        Arc::new(deleting_job(
            job("gone", Provider::Fargate, Some("aws")),
            false,
        )),
        Arc::new(job("batch", Provider::Kubernetes, None)),
        Arc::new(job("etl", Provider::CloudRun, None)),
    ];
    assert_eq!(
        users_of(&services, &jobs, &backends, "aws"),
        users(
            &["payments/api", "shop/web"],
            &["shop/backup", "shop/report"]
        )
    );
    assert_eq!(users_of(&services, &jobs, &backends, "aws").len(), 4);
    assert_eq!(
        users_of(&services, &jobs, &backends, "gcp"),
        users(&["shop/site"], &[])
    );
    assert_eq!(
        users_of(&services, &jobs, &backends, "default"),
        users(&[], &["shop/etl"])
    );
    assert!(users_of(&services, &jobs, &backends, "azure").is_empty());
}

#[test]
fn the_in_use_finalizer_stays_while_a_job_uses_the_config_and_goes_with_the_last_user() {
    let backends = registry();
    let finalizer = |services: &[Arc<ServerlessService>], jobs: &[Arc<ServerlessJob>]| {
        let users = users_of(services, jobs, &backends, "aws");
        finalizer_change(true, users.len(), true)
    };
    let web = Arc::new(object("web", Provider::Fargate, Some("aws")));
    let nightly = job("nightly", Provider::Fargate, Some("aws"));
    // A service and a job use it while it is being deleted: it stays.
    assert_eq!(
        finalizer(std::slice::from_ref(&web), &[Arc::new(nightly.clone())]),
        None
    );
    // The service is gone; the job alone keeps it...
    assert_eq!(finalizer(&[], &[Arc::new(nightly.clone())]), None);
    // ...while its cloud resources are deleted through it...
    let cleaning_up = Arc::new(deleting_job(nightly.clone(), true));
    assert_eq!(finalizer(&[], &[cleaning_up]), None);
    // ...and lets go once Ferry's finalizer is off the job, or the job is gone.
    let cleaned_up = Arc::new(deleting_job(nightly, false));
    assert_eq!(finalizer(&[], &[cleaned_up]), Some(FinalizerChange::Remove));
    assert_eq!(finalizer(&[], &[]), Some(FinalizerChange::Remove));
    // The last user a service: as before.
    assert_eq!(finalizer(&[web], &[]), None);
    // A job on a provider that uses none holds nothing.
    let local = Arc::new(job("batch", Provider::Kubernetes, Some("aws")));
    assert_eq!(finalizer(&[], &[local]), Some(FinalizerChange::Remove));
    // Not yet held: a job alone puts it on.
    let users = users_of(
        &[],
        &[Arc::new(job("etl", Provider::Fargate, Some("aws")))],
        &backends,
        "aws",
    );
    assert_eq!(
        finalizer_change(false, users.len(), false),
        Some(FinalizerChange::Add)
    );
}

#[test]
fn the_finalizer_is_held_while_used_and_let_go_when_not() {
    use FinalizerChange::{Add, Remove};
    // (has it, users, being deleted) -> change
    let table = [
        (false, 0, false, None),
        (false, 2, false, Some(Add)),
        (true, 2, false, None),
        (true, 0, false, Some(Remove)),
        (true, 2, true, None),
        (true, 0, true, Some(Remove)),
        // Deleted before Ferry saw a user: the API server refuses new finalizers.
        (false, 2, true, None),
        (false, 0, true, None),
    ];
    for (has, users, deleting, want) in table {
        assert_eq!(
            finalizer_change(has, users, deleting),
            want,
            "has {has}, {users} users, deleting {deleting}"
        );
    }
}

fn ready(status: &ProviderConfigStatus) -> &Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == types::READY)
        .expect("a Ready condition")
}

#[test]
fn a_provider_config_being_deleted_says_who_still_uses_it() {
    let users = Users {
        services: (1..=5).map(|i| format!("shop/web-{i}")).collect(),
        jobs: Vec::new(),
    };
    let status = desired_status(None, Some(3), &users, true, &[], &at(0));
    assert_eq!(status.users, Some(5));
    let ready = ready(&status);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reasons::IN_USE)
    );
    assert!(
        ready.message.contains("5 ServerlessServices")
            && ready
                .message
                .contains("shop/web-1, shop/web-2, shop/web-3 and 2 more"),
        "{}",
        ready.message
    );
    assert_eq!(ready.observed_generation, Some(3));
    assert_eq!(
        ready.message,
        "being deleted: it stays until the 5 ServerlessServices that use it are gone (shop/web-1, \
         shop/web-2, shop/web-3 and 2 more), so their cloud resources are deleted through it"
    );
}

#[test]
fn a_provider_config_being_deleted_tells_jobs_from_services() {
    let message = |users: &Users| {
        let status = desired_status(None, Some(1), users, true, &[], &at(0));
        assert_eq!(status.users, i32::try_from(users.len()).ok());
        let ready = ready(&status).clone();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", reasons::IN_USE)
        );
        ready.message
    };
    assert_eq!(
        message(&users(&["shop/web"], &["shop/nightly", "shop/report"])),
        "being deleted: it stays until the 1 ServerlessService and 2 ServerlessJobs that use it \
         are gone (ServerlessService shop/web, ServerlessJob shop/nightly, ServerlessJob \
         shop/report), so their cloud resources are deleted through it"
    );
    assert_eq!(
        message(&users(&[], &["shop/nightly"])),
        "being deleted: it stays until the 1 ServerlessJob that use it are gone (shop/nightly), \
         so their cloud resources are deleted through it"
    );
    let many = message(&users(
        &["shop/a", "shop/b", "shop/c"],
        &["shop/d", "shop/e"],
    ));
    assert!(
        many.contains("3 ServerlessServices and 2 ServerlessJobs")
            && many.contains(
                "(ServerlessService shop/a, ServerlessService shop/b, ServerlessService shop/c \
                 and 2 more)"
            ),
        "{many}"
    );
}

#[test]
fn ready_says_which_cloud_failed_and_why() {
    let checks: Vec<Check> = vec![
        (
            "AWS Fargate",
            Ok("ECS cluster prod in us-east-1 is ACTIVE".into()),
        ),
        (
            "Google Cloud Run",
            Err(ProviderError::Auth("the key was refused".into())),
        ),
    ];
    let status = desired_status(None, Some(1), &Users::default(), false, &checks, &at(0));
    let ready = ready(&status);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reasons::CREDENTIALS_INVALID)
    );
    assert_eq!(
        ready.message,
        "Google Cloud Run: credentials: the key was refused"
    );
    assert_eq!(status.users, Some(0));

    let fine = desired_status(
        None,
        Some(1),
        &Users::default(),
        false,
        &checks[..1],
        &at(0),
    );
    let ready = super::tests::ready(&fine);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", reasons::AVAILABLE)
    );
    assert_eq!(
        ready.message,
        "AWS Fargate: ECS cluster prod in us-east-1 is ACTIVE"
    );
}

#[test]
fn the_transition_time_moves_only_when_ready_flips() {
    let ok: Vec<Check> = vec![("AWS Fargate", Ok("fine".into()))];
    let first = desired_status(None, Some(1), &Users::default(), false, &ok, &at(0));
    // More users, same Ready: the time stays, so only the count is written.
    let users = users(&["shop/web"], &[]);
    let later = desired_status(Some(&first), Some(1), &users, false, &ok, &at(60));
    assert_eq!(ready(&later).last_transition_time, at(0));
    assert_eq!(later.users, Some(1));
    let failing: Vec<Check> = vec![(
        "AWS Fargate",
        Err(ProviderError::Transient {
            operation: "DescribeClusters",
            message: "timed out".into(),
        }),
    )];
    let flipped = desired_status(Some(&later), Some(1), &users, false, &failing, &at(120));
    assert_eq!(ready(&flipped).last_transition_time, at(120));
    // Nothing changed at all: the same status, so no write.
    let again = desired_status(Some(&flipped), Some(1), &users, false, &failing, &at(180));
    assert_eq!(again, flipped);
}

#[test]
fn memberships_name_the_provider_configs_whose_count_changed() {
    let backends = registry();
    let memberships = Memberships::default();
    let on_aws = object("web", Provider::Fargate, Some("aws"));
    assert_eq!(memberships.changed(&on_aws, &backends), vec!["aws"]);
    // A status write or an unrelated change: no ProviderConfig to look at again.
    assert!(memberships.changed(&on_aws, &backends).is_empty());
    // The spec moves to gcp while aws still serves: gcp gains a user.
    let moving = serving(
        object("web", Provider::CloudRun, Some("gcp")),
        Provider::Fargate,
        Some("aws"),
    );
    assert_eq!(memberships.changed(&moving, &backends), vec!["gcp"]);
    // The move completes: aws loses one.
    let moved = serving(
        object("web", Provider::CloudRun, Some("gcp")),
        Provider::CloudRun,
        Some("gcp"),
    );
    assert_eq!(memberships.changed(&moved, &backends), vec!["aws"]);
    // To Knative: gcp loses its last, and nothing is remembered of an in-cluster object.
    let local = object("web", Provider::Knative, None);
    assert_eq!(memberships.changed(&local, &backends), vec!["gcp"]);
    assert!(memberships.gone(&local).is_empty());
    // Deleted, and missed by a relist.
    let a = Arc::new(object("a", Provider::Fargate, Some("aws")));
    let b = Arc::new(object("b", Provider::CloudRun, Some("gcp")));
    memberships.changed(a.as_ref(), &backends);
    memberships.changed(b.as_ref(), &backends);
    assert_eq!(memberships.gone(a.as_ref()), vec!["aws"]);
    assert_eq!(memberships.retain::<ServerlessService>(&[]), vec!["gcp"]);
    assert!(memberships.retain::<ServerlessService>(&[]).is_empty());
}

#[test]
fn memberships_of_jobs_name_the_provider_configs_whose_count_changed() {
    let backends = registry();
    let memberships = Memberships::default();
    let on_aws = job("nightly", Provider::Fargate, Some("aws"));
    assert_eq!(memberships.changed(&on_aws, &backends), vec!["aws"]);
    // A status write: nothing to look at again.
    assert!(memberships.changed(&on_aws, &backends).is_empty());
    // The spec names another ProviderConfig: both counts change.
    let on_other = job("nightly", Provider::Fargate, Some("aws-eu"));
    assert_eq!(
        memberships.changed(&on_other, &backends),
        vec!["aws", "aws-eu"]
    );
    // Deleted: still a user while Ferry cleans up, none once its finalizer is off.
    let cleaning_up = deleting_job(on_other.clone(), true);
    assert!(memberships.changed(&cleaning_up, &backends).is_empty());
    let cleaned_up = deleting_job(on_other, false);
    assert_eq!(memberships.changed(&cleaned_up, &backends), vec!["aws-eu"]);
    assert!(memberships.gone(&cleaned_up).is_empty());
    // Gone without a last update, and missed by a relist.
    let a = Arc::new(job("a", Provider::Fargate, Some("aws")));
    let b = Arc::new(job("b", Provider::CloudRun, Some("gcp")));
    memberships.changed(a.as_ref(), &backends);
    memberships.changed(b.as_ref(), &backends);
    assert_eq!(memberships.gone(a.as_ref()), vec!["aws"]);
    assert_eq!(memberships.retain(&[a]), vec!["gcp"]);
    assert!(memberships.retain::<ServerlessJob>(&[]).is_empty());
}

#[test]
fn job_and_service_triggers_feed_one_stream_and_keep_their_own_memberships() {
    let (services, mut receive) = UsageTriggers::<ServerlessService>::new(registry());
    let jobs = services.for_kind::<ServerlessJob>();
    let svc = object("web", Provider::Fargate, Some("aws"));
    let nightly = job("nightly", Provider::CloudRun, Some("gcp"));
    services.applied(&svc);
    jobs.applied(&nightly);
    // A relist of the jobs forgets only jobs: the service still counts.
    jobs.relisted(&[]);
    services.relisted(&[Arc::new(svc.clone())]);
    jobs.applied(&nightly);
    services.deleted(&svc);
    drop((services, jobs));
    let mut sent = Vec::new();
    while let Ok(config) = receive.try_recv() {
        sent.push(config.name);
    }
    assert_eq!(sent, ["aws", "gcp", "gcp", "gcp", "aws"]);
}
