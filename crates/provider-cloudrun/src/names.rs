//! The Cloud Run service's name, derived from the object's alone, so a reconcile interrupted
//! between "create" and "record" finds what it created.

use ferry_core::names::with_hash;

/// Longest Cloud Run service name.
pub const MAX_SERVICE_NAME: usize = 49;

/// The Cloud Run service name: `NAMESPACE-NAME-HASH`, at most 49 characters, starting with a
/// letter. Cloud Run names allow only `[a-z0-9-]`, where `a-b/c` and `a/b-c` would collide, so
/// the hash of the full `NAMESPACE/NAME` is always appended.
pub fn service_name(namespace: &str, name: &str) -> String {
    let readable = format!("{namespace}-{name}");
    let readable = if readable.starts_with(|c: char| c.is_ascii_lowercase()) {
        readable
    } else {
        format!("s-{readable}")
    };
    with_hash(&readable, MAX_SERVICE_NAME, namespace, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_readable_and_stable() {
        assert_eq!(service_name("shop", "hello"), "shop-hello-cd5cea3a");
    }

    #[test]
    fn names_that_would_collide_do_not() {
        assert_ne!(service_name("a-b", "c"), service_name("a", "b-c"));
    }

    #[test]
    fn long_names_are_trimmed_with_the_hash_kept() {
        let name = service_name("payments-production", "checkout-api-with-a-long-name");
        assert!(
            name.len() <= MAX_SERVICE_NAME && name.len() >= MAX_SERVICE_NAME - 1,
            "{name}"
        );
        assert!(
            name.starts_with("payments-production-checkout-api"),
            "{name}"
        );
    }

    proptest! {
        #[test]
        fn names_are_always_valid(
            namespace in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
            name in "[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        ) {
            let n = service_name(&namespace, &name);
            prop_assert!(n.len() <= MAX_SERVICE_NAME);
            prop_assert!(n.starts_with(|c: char| c.is_ascii_lowercase()));
            prop_assert!(!n.ends_with('-'));
            prop_assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert_eq!(n.clone(), service_name(&namespace, &name));
        }
    }
}
