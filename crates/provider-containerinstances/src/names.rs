//! The container group's name, derived from the object's alone, so a reconcile interrupted
//! between "create" and "record" finds what it created.

use ferry_core::names::with_hash;

/// Longest container group name.
pub const MAX_GROUP_NAME: usize = 63;

/// The container group name: `NAMESPACE-NAME-HASH`, at most 63 characters of `[a-z0-9-]`,
/// starting with a letter (so that it is also a valid default DNS label) and without `--`.
/// Group names allow only `[a-z0-9-]`, where `a-b/c` and `a/b-c` would collide, so the hash of
/// the full `NAMESPACE/NAME` is always appended.
pub fn group_name(namespace: &str, name: &str) -> String {
    let mut readable = String::with_capacity(namespace.len() + name.len() + 3);
    if !namespace.starts_with(|c: char| c.is_ascii_lowercase()) {
        readable.push_str("g-");
    }
    for c in format!("{namespace}-{name}").chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && readable.ends_with('-')) {
            readable.push(c);
        }
    }
    with_hash(&readable, MAX_GROUP_NAME, namespace, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_readable_and_stable() {
        assert_eq!(group_name("shop", "hello"), "shop-hello-cd5cea3a");
    }

    #[test]
    fn names_that_would_collide_do_not() {
        assert_ne!(group_name("a-b", "c"), group_name("a", "b-c"));
    }

    #[test]
    fn names_start_with_a_letter_and_have_no_double_dash() {
        let name = group_name("1st--team", "api");
        assert!(name.starts_with("g-1st-team-api-"), "{name}");
    }

    #[test]
    fn long_names_are_trimmed_with_the_hash_kept() {
        let name = group_name(
            "payments-production-europe-west",
            "checkout-api-with-a-rather-long-name-indeed",
        );
        assert!(name.len() <= MAX_GROUP_NAME, "{name}");
        assert!(
            name.starts_with("payments-production-europe-west-checkout"),
            "{name}"
        );
    }

    proptest! {
        #[test]
        fn names_are_always_valid(
            namespace in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
            name in "[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        ) {
            let n = group_name(&namespace, &name);
            prop_assert!(!n.is_empty() && n.len() <= MAX_GROUP_NAME);
            prop_assert!(n.starts_with(|c: char| c.is_ascii_lowercase()));
            prop_assert!(!n.ends_with('-'));
            prop_assert!(!n.contains("--"), "{}", n);
            prop_assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert_eq!(n.clone(), group_name(&namespace, &name));
        }
    }
}
