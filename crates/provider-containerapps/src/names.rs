//! The container app's name and tags, derived from the object's identity alone, so a
//! reconcile interrupted between "create" and "record" finds what it created.

use std::collections::BTreeMap;

use ferry_core::desired::ObjectRef;
use ferry_core::names::with_hash;

use crate::limits::MAX_APP_NAME;

/// Tag marking apps Ferry manages; kept when an object is orphaned, so a new object of the same
/// name may adopt the app.
pub const TAG_MANAGED_BY: &str = "managed-by";
/// The value of [`TAG_MANAGED_BY`].
pub const MANAGED_BY_FERRY: &str = "ferry";
/// Tag with the UID of the `ServerlessService` that owns an app; removed when it is orphaned.
pub const TAG_UID: &str = "ferry-uid";
/// Tag with the owner's `namespace/name`.
pub const TAG_OBJECT: &str = "ferry-object";
/// Tag with the fingerprint of the body Ferry last sent (see `build::Requests::fingerprint`).
pub const TAG_FINGERPRINT: &str = "ferry-fingerprint";
/// Longest tag value ARM takes.
const MAX_TAG_VALUE: usize = 256;

/// The container app name: `NAMESPACE-NAME-HASH`, 2 to 32 characters of lower-case letters,
/// digits and `-`, starting with a letter, ending with a letter or digit, without `--`. The
/// hash of the full `NAMESPACE/NAME` is always appended: `a-b/c` and `a/b-c` would collide
/// otherwise, and so would names trimmed to fit.
pub fn app_name(namespace: &str, name: &str) -> String {
    let mut readable = String::with_capacity(namespace.len() + name.len() + 3);
    if !namespace.starts_with(|c: char| c.is_ascii_lowercase()) {
        readable.push_str("a-");
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
    with_hash(&readable, MAX_APP_NAME, namespace, name)
}

/// The tags Ferry puts on the app of `object`, with the fingerprint of what it sends.
pub fn tags(object: &ObjectRef, fingerprint: &str) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        (TAG_MANAGED_BY.to_owned(), MANAGED_BY_FERRY.to_owned()),
        (
            TAG_OBJECT.to_owned(),
            tag_value(&format!("{}/{}", object.namespace, object.name)),
        ),
        (TAG_FINGERPRINT.to_owned(), fingerprint.to_owned()),
    ]);
    if let Some(uid) = &object.uid {
        tags.insert(TAG_UID.to_owned(), tag_value(uid));
    }
    tags
}

fn tag_value(text: &str) -> String {
    text.chars().take(MAX_TAG_VALUE).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MIN_APP_NAME;
    use proptest::prelude::*;

    #[test]
    fn names_are_readable_and_stable() {
        let name = app_name("shop", "hello");
        assert!(name.starts_with("shop-hello-"), "{name}");
        assert_eq!(name, app_name("shop", "hello"));
    }

    #[test]
    fn names_that_would_collide_do_not() {
        assert_ne!(app_name("a-b", "c"), app_name("a", "b-c"));
    }

    #[test]
    fn long_names_are_trimmed_with_the_hash_kept() {
        let name = app_name("payments-production", "checkout-api-with-a-long-name");
        assert!(name.len() <= MAX_APP_NAME, "{name}");
        assert!(name.starts_with("payments-production-che"), "{name}");
    }

    #[test]
    fn double_dashes_and_leading_digits_are_avoided() {
        let name = app_name("0-team", "web--api");
        assert!(name.starts_with("a-0-team-web-api-"), "{name}");
        assert!(!name.contains("--"), "{name}");
    }

    proptest! {
        #[test]
        fn names_are_always_valid(
            namespace in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
            name in "[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        ) {
            let n = app_name(&namespace, &name);
            prop_assert!(n.len() >= MIN_APP_NAME && n.len() <= MAX_APP_NAME, "{}", n);
            prop_assert!(n.starts_with(|c: char| c.is_ascii_lowercase()));
            prop_assert!(n.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()));
            prop_assert!(!n.contains("--"), "{}", n);
            prop_assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert_eq!(n.clone(), app_name(&namespace, &name));
        }
    }
}
