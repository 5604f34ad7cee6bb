//! The public invoker binding merged into, and removed from, the policy Cloud Run holds, with
//! every other binding, member, condition and the etag kept.

use ferry_provider_cloudrun::build::{
    ALL_USERS, INVOKER_ROLE, grants, invoker_policy, public_invoker, with_binding, without_binding,
};
use google_cloud_iam_v1::model::{Binding, Policy};

use crate::common::{requests, simple};

const PUBLIC: &str = "cloudRun: {allowUnauthenticated: true}";

fn binding(role: &str, members: &[&str]) -> Binding {
    Binding::new()
        .set_role(role)
        .set_members(members.iter().copied())
}

/// What a service's policy often holds: a developer group may invoke, an admin administers.
fn observed() -> Policy {
    Policy::new()
        .set_version(1)
        .set_etag(bytes_of("BwYyE0Zb3lQ="))
        .set_bindings([
            binding(INVOKER_ROLE, &["group:checkout-devs@acme.com"]),
            binding("roles/run.admin", &["user:ops@acme.com"]),
        ])
}

fn bytes_of(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

#[test]
fn a_public_service_adds_all_users_to_the_invoker_binding_and_keeps_the_rest() {
    let p = requests(&simple("", PUBLIC));
    let policy = invoker_policy(&p, &observed()).expect("a change");
    assert_eq!(
        policy.bindings,
        [
            binding(INVOKER_ROLE, &["group:checkout-devs@acme.com", ALL_USERS]),
            binding("roles/run.admin", &["user:ops@acme.com"]),
        ]
    );
    assert_eq!(
        policy.etag,
        observed().etag,
        "a concurrent change fails the write"
    );
    assert_eq!(policy.version, 1);
    assert_eq!(invoker_policy(&p, &policy), None, "then nothing to do");
}

#[test]
fn an_empty_policy_gets_its_first_binding() {
    let p = requests(&simple("", PUBLIC));
    let policy = invoker_policy(&p, &Policy::new()).unwrap();
    assert_eq!(policy.bindings, [public_invoker()]);
}

#[test]
fn a_private_service_removes_all_users_and_only_them() {
    let p = requests(&simple("", ""));
    assert_eq!(
        invoker_policy(&p, &observed()),
        None,
        "nothing public to remove"
    );

    let public = with_binding(&observed(), &public_invoker());
    let policy = invoker_policy(&p, &public).unwrap();
    assert_eq!(policy, observed());

    let only_public = Policy::new().set_bindings([public_invoker()]);
    assert_eq!(
        invoker_policy(&p, &only_public).unwrap().bindings,
        [],
        "a binding without members is dropped"
    );
}

#[test]
fn switching_allow_unauthenticated_off_makes_the_service_private_again() {
    let public = requests(&simple("", PUBLIC));
    let private = requests(&simple("", "cloudRun: {allowUnauthenticated: false}"));
    let granted = invoker_policy(&public, &observed()).unwrap();
    let revoked = invoker_policy(&private, &granted).unwrap();
    assert!(!grants(&revoked, &public_invoker()));
    assert!(grants(
        &revoked,
        &binding(INVOKER_ROLE, &["group:checkout-devs@acme.com"])
    ));
}

#[test]
fn conditional_bindings_are_neither_counted_nor_touched() {
    let conditional: Binding = serde_json::from_value(serde_json::json!({
        "role": INVOKER_ROLE,
        "members": [ALL_USERS],
        "condition": {"title": "office hours",
                      "expression": "request.time.getHours('Europe/Berlin') < 18"},
    }))
    .unwrap();
    assert!(conditional.condition.is_some());
    let policy = Policy::new()
        .set_version(3)
        .set_bindings([conditional.clone()]);
    assert!(!grants(&policy, &public_invoker()));

    let public = invoker_policy(&requests(&simple("", PUBLIC)), &policy).unwrap();
    assert_eq!(public.bindings, [conditional.clone(), public_invoker()]);
    assert_eq!(public.version, 3);

    assert_eq!(
        invoker_policy(&requests(&simple("", "")), &policy),
        None,
        "a conditional grant is someone's deliberate choice"
    );
    assert_eq!(
        without_binding(&public, &public_invoker()).bindings,
        [conditional]
    );
}

#[test]
fn adding_twice_or_removing_what_is_absent_changes_nothing() {
    let once = with_binding(&observed(), &public_invoker());
    assert_eq!(with_binding(&once, &public_invoker()), once);
    assert_eq!(without_binding(&observed(), &public_invoker()), observed());
}
