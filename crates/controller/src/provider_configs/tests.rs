//! Who uses a ProviderConfig, what its finalizer needs, and what its status says.

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
fn users_are_counted_across_namespaces_and_named_in_order() {
    let backends = registry();
    let mut other = object("api", Provider::Fargate, Some("aws"));
    other.metadata.namespace = Some("payments".into());
    let services: Vec<Arc<ServerlessService>> = vec![
        Arc::new(object("web", Provider::Fargate, Some("aws"))),
        Arc::new(other),
        Arc::new(object("site", Provider::CloudRun, Some("gcp"))),
        Arc::new(object("local", Provider::Knative, None)),
    ];
    assert_eq!(
        users_of(&services, &backends, "aws"),
        vec!["payments/api".to_owned(), "shop/web".to_owned()]
    );
    assert_eq!(users_of(&services, &backends, "gcp"), vec!["shop/site"]);
    assert!(users_of(&services, &backends, "default").is_empty());
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
    let users: Vec<String> = (1..=5).map(|i| format!("shop/web-{i}")).collect();
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
    let status = desired_status(None, Some(1), &[], false, &checks, &at(0));
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

    let fine = desired_status(None, Some(1), &[], false, &checks[..1], &at(0));
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
    let first = desired_status(None, Some(1), &[], false, &ok, &at(0));
    // More users, same Ready: the time stays, so only the count is written.
    let users = vec!["shop/web".to_owned()];
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
    memberships.changed(&a, &backends);
    memberships.changed(&b, &backends);
    assert_eq!(memberships.gone(&a), vec!["aws"]);
    assert_eq!(memberships.retain(&[]), vec!["gcp"]);
    assert!(memberships.retain(&[]).is_empty());
}
